"""Runs of every kind, recorded to session files, and replays that verify them.

The kinds are declared once, in :mod:`lrlab.core.runs.kinds` (``train``, ``fork``,
``range_test``, ``sweep``, ``sweep_member``, ``pbt``, ``pbt_member``, ``landscape``); each has a *runner*
(:mod:`lrlab.core.runs.base`), and every runner that trains runs the one loop there. Clients
start a run of any kind with :func:`record` (one session, or one per member for a sweep), so a
run saved from the CLI, the GUI or a script replays the same way, and a replay builds the
runner of the kind the session names.

This package loads lazily: ``lrlab.core.runs.kinds`` is read by the GUI while its window opens,
without torch; the recorders (:mod:`lrlab.core.runs.recorded`) and the runners import torch
when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from lrlab.core.runs.kinds import RUN_KINDS, RunKind, run_kind

__all__ = ["RUN_KINDS", "Collector", "Listener", "RecordedRun", "RecordedSweep", "RunKind", "Runner", "Update",
           "Verification", "compare_steps", "environment_differences", "fork", "fork_session", "landscape",
           "range_finder", "record", "replay_runner", "run_kind", "seed_list", "sweep", "train",
           "write_group_summary"]

_SUBMODULES = ("base", "fork", "grid", "landscape", "loop", "pbt", "range_finder", "recorded", "sweep", "train")


def __getattr__(name: str) -> Any:
    """Everything but the kinds comes from :mod:`lrlab.core.runs.recorded` (or is a submodule),
    imported on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    recorded = importlib.import_module(f"{__name__}.recorded")
    try:
        return getattr(recorded, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
