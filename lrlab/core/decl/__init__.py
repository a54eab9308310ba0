"""Declarations: what a run is, as data, and the torch-free basics they stand on.

Run specs and their fields (:mod:`.params`, :mod:`.spec`), LR schedules (:mod:`.schedules`),
datasets (:mod:`.datasets`), metric columns (:mod:`.metrics`), events and statuses, names,
presets (:mod:`.resources`), colours, per-user folders (:mod:`.paths`) and whole-or-nothing
files (:mod:`.files`). Nothing here imports torch or any other layer of the core, so the GUI
validates a form on every keystroke without waiting for torch (tests/core/test_architecture.py).
"""

# the user's own tables and image folders declare themselves beside the bundled datasets; imported
# here so that every reader of the dataset declarations sees them
from lrlab.core.decl import owndata  # noqa: F401
