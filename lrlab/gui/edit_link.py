"""The run controller's run as the "Change the schedule" panel and the LR panel's planned curve
see it: a component of the main window, given the controller, the panel and the plots.

The planned LR ahead of the current step follows the controller's timeline (every edit and
plateau reduction); the panel edits the running or paused run, unless it proposes a fork's
change or the run is one it cannot edit (a range test: its LR is the test). A tool's run in a
window of its own (Find LR, a sweep) draws no plan on the main plots, which keep the last run.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from lrlab.core.decl.spec import editable_hyperparameters
from lrlab.gui.controller import RunController, RunState
from lrlab.gui.edit_panel import EditPanel
from lrlab.gui.plots import PlotPanel
from lrlab.gui.views import view_of

EMPTY = np.empty(0)


class EditLink(QObject):
    """Follows the controller for the edit panel and the planned curve (see the module docstring)."""

    def __init__(self, parent: QObject, controller: RunController, edit_panel: EditPanel, plots: PlotPanel) -> None:
        super().__init__(parent)
        self.controller, self.edit_panel, self.plots = controller, edit_panel, plots
        controller.sig_timeline.connect(self.timeline_changed)

    def timeline_changed(self) -> None:
        """The planned LR ahead of the current step, from the controller's timeline."""
        c = self.controller
        start = max(c.steps_done, 0)
        if view_of(c.kind).own_window:
            return
        if c.timeline is None or start >= c.total_steps or not c.state.busy:
            self.plots.set_planned(EMPTY, EMPTY)
        else:
            self.plots.set_planned(*c.timeline.sample(start, c.total_steps))
        self.refresh()

    def refresh(self) -> None:
        """What the panel edits now: the running or paused run, or nothing."""
        c = self.controller
        if self.edit_panel.fork_at is not None:  # proposing a fork's change, not a live edit
            return
        if (c.state in (RunState.RUNNING, RunState.PAUSED) and c.timeline is not None and c.spec is not None
                and view_of(c.kind).takes_edits):
            self.edit_panel.set_context(c.timeline, editable_hyperparameters(c.spec.optimizer), c.steps_done,
                                        c.total_steps, c.steps_per_epoch)
        else:
            self.edit_panel.set_context(None)
