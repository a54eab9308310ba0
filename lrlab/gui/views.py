"""How the main window shows a run of each kind: one view per run kind, registered by its name.

The window never asks which kind a run is: it hands the run's start, metrics, progress and end
to the view of its kind (:func:`view_of`). The default view draws the run on the live plots,
which is what a training run and a fork want; the Find LR and Sweep windows register the
views of the range test and the sweep (:mod:`lrlab.gui.tools`). What the window needs to know
beyond that (is a run's path a folder of member sessions, can it be forked) it reads from the
kind's record in the core (:mod:`lrlab.core.runs.kinds`).
"""

from __future__ import annotations

from typing import Any

from lrlab.gui.pacing import batch_seconds


class KindView:
    """The main window's part in a run of one kind; each hook gets the window. The defaults
    draw the run on the window's live plots."""

    #: the kind's runs live in a window of their own (Find LR, Sweep): the main window's plots,
    #: Events and form keep its last run until the next Start
    own_window = False
    #: the "Change the schedule" panel edits its runs (not a range test's: its LR is the test)
    takes_edits = True

    def started(self, window: Any, info: dict[str, Any]) -> None:
        """The run has started (``info``: what the worker reports), before the plots reset."""

    def metrics(self, window: Any, update: Any) -> None:
        """A batch of metrics (an :class:`lrlab.core.runs.Update`)."""
        window.plots.add(update.steps, update.evals, update.events, update.effective)
        worker = window.controller.worker
        if worker is not None:  # the next batches at the plots' frame pace
            worker.set_batch_seconds(batch_seconds(window.plots.pacer))

    def progress(self, window: Any, progress: Any) -> None:
        """The controller's progress (a few times a second while the run goes, and at its end)."""

    def finished(self, window: Any, path: str) -> None:
        """The run has ended; ``path`` is its session (or, for a kind recorded per member, its folder)."""


#: run kind -> its view (kinds without one use :data:`DEFAULT`)
VIEWS: dict[str, KindView] = {}
DEFAULT = KindView()


def register_view(kind: str, view: KindView) -> KindView:
    """Make ``view`` the main window's view of runs of ``kind``."""
    VIEWS[kind] = view
    return view


def view_of(kind: str) -> KindView:
    return VIEWS.get(kind, DEFAULT)
