"""Forking from the main window: right-click a plot at a step, "Fork here…", propose the change in
the schedule-edit panel (its ghost curve starts at that step), "Fork and run".

The fork itself is the core's (:func:`lrlab.core.runs.fork_session`: the parent's exact state at
the step, from its snapshots); the window only picks the parent and the step, shows the parent
faintly under the fork while it trains, and hands the edits to the run controller.
:class:`ForkComponent` owns this: the fork proposed, a fork waiting for its paused parent to end,
and the edit panel's fork mode. It is given the controller, the plots, the edit panel (with its
dock), the status line and the sessions component, whose session on view can be forked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QPoint
from PySide6.QtWidgets import QDockWidget, QLabel, QMenu, QMessageBox, QWidget

from lrlab.core.decl.schedules import Timeline
from lrlab.core.decl.spec import RunSpec, editable_hyperparameters
from lrlab.core.runs.kinds import RUN_KINDS
from lrlab.gui.controller import RunController, RunState
from lrlab.gui.edit_panel import EditPanel
from lrlab.gui.plots import PlotPanel
from lrlab.gui.session_view import SessionsComponent, read_references

#: the parent drawn under a fork: neutral, so the fork's curves are the ones in colour
PARENT_COLOUR = "#8c8c8c"


@dataclass(frozen=True)
class ForkPoint:
    """A session that can be forked, as the window shows it: which file, and its steps."""

    path: str
    spec: RunSpec
    first: int  # the first step it recorded (a fork's step; 0 for a run)
    end: int  # one past the last step it can be forked at
    total: int  # the steps it planned
    events: tuple  # its events (edits and plateau decisions rebuild its LR timeline)
    live: bool  # the controller's paused run: forking ends it first

    def clamp(self, step: int) -> int:
        return min(max(step, self.first), self.end - 1)

    def timeline_at(self, step: int) -> Timeline:
        """The run's LR timeline as it stood at ``step``: its later edits are the run's future,
        which the fork replaces."""
        return Timeline.from_events(self.spec.schedule, self.spec.lr, [e for e in self.events if e.step < step])


class ForkComponent(QObject):
    """The main window's forking (see the module docstring).

    ``menu`` is the last plot context menu offered (kept alive while it shows, and for tests).
    """

    def __init__(self, window: QWidget, controller: RunController, plots: PlotPanel, edit_panel: EditPanel,
                 dock_edit: QDockWidget, status: QLabel, sessions: SessionsComponent) -> None:
        super().__init__(window)
        self.window, self.controller, self.plots, self.edit_panel = window, controller, plots, edit_panel
        self.dock_edit, self.status, self.sessions = dock_edit, status, sessions
        self.menu: QMenu | None = None
        self._fork_from: ForkPoint | None = None
        self._pending_fork: tuple[ForkPoint, int, list] | None = None
        plots.sig_context.connect(self.plot_menu)
        edit_panel.sig_fork.connect(self.run_fork)
        edit_panel.sig_fork_cancelled.connect(self._fork_cancelled)
        controller.sig_finished.connect(self._start_fork_pending)  # "fork here" on a paused run: it ended, fork now

    def fork_point(self) -> ForkPoint | None:
        """What a right-click would fork now: the session on view, the finished run, or the paused
        run; None while a run trains (or nothing is shown)."""
        c = self.controller
        if self.sessions.viewing is not None and not c.state.busy:
            v = self.sessions.viewing
            if not forkable(v.kind):
                return None
            first = v.first_step
            return ForkPoint(v.path, v.spec, first, first + len(v.steps["step"]), v.planned,
                             tuple(v.events), False)
        if c.state not in (RunState.IDLE, RunState.PAUSED) or not c.session_path or c.spec is None:
            return None
        if not forkable(c.kind):
            return None
        first = self.plots.data.first_step
        return ForkPoint(c.session_path, c.spec, first, first + len(self.plots.data), c.total_steps,
                         tuple(c.events), c.state == RunState.PAUSED)

    def plot_menu(self, step: int, where: QPoint) -> None:
        """The plots' context menu at ``step``: "Fork here…", or why not now."""
        point = self.fork_point()
        menu = QMenu(self.window)
        if point is None or point.end <= point.first:
            act = menu.addAction("Fork here… (pause the run, or open or finish one, to fork it)")
            act.setEnabled(False)
        else:
            at = point.clamp(step)
            text = f"Fork here at step {at}…" + (" (ends the paused run)" if point.live else "")
            menu.addAction(text, lambda: self.propose_fork(at, point))
        menu.popup(where)
        self.menu = menu

    def propose_fork(self, at: int, point: ForkPoint | None = None) -> bool:
        """Fork mode in the schedule-edit panel at step ``at`` of what is shown."""
        point = point or self.fork_point()
        if point is None:
            return False
        at = point.clamp(at)
        self._fork_from = point
        self.dock_edit.show()
        self.dock_edit.raise_()
        self.edit_panel.steps_per_epoch = max(1, self.plots.steps_per_epoch)  # for "3ep"
        self.edit_panel.start_fork(point.timeline_at(at), editable_hyperparameters(point.spec.optimizer), at,
                                   point.total)
        self.status.setStyleSheet("")
        self.status.setText(f"fork at step {at} of {point.path}: choose the change, then Fork and run")
        return True

    def _fork_cancelled(self) -> None:
        """Fork mode ended (the panel then edits the live run again: the window refreshes it)."""
        self._fork_from = None
        self.plots.set_ghost(*(self.plots.ghost[0][:0],) * 2)

    def run_fork(self, edits: list[dict[str, Any]]) -> None:
        """Train the fork with ``edits`` at its step (from the panel's "Fork and run")."""
        point, at = self._fork_from, self.edit_panel.fork_at
        if point is None or at is None:
            return
        self.edit_panel.end_fork()
        if point.live:  # the paused run ends first (its session keeps every step); the fork follows
            self._pending_fork = (point, at, edits)
            self.controller.stop()
            return
        self._start_fork(point, at, edits)

    def _start_fork_pending(self) -> None:
        if self._pending_fork is not None and not self.controller.state.busy:
            point, at, edits = self._pending_fork
            self._pending_fork = None
            self._start_fork(point, at, edits)

    def _start_fork(self, point: ForkPoint, at: int, edits: list[dict[str, Any]]) -> None:
        from lrlab.core.storage.session import SessionError
        from lrlab.gui.usercode import confirm_code

        if not confirm_code(self.window, point.spec):  # a session that names code: ask first
            return

        try:  # the parent stays drawn under the fork, in grey: the fork's curves keep the live colours
            ((_, _, series),) = read_references([point.path])
        except SessionError as err:
            QMessageBox.warning(self.window, "Cannot fork", str(err))
            return
        if self.controller.start(point.spec, [(at, e) for e in edits], kind="fork", parent=point.path, at=at):
            # the fork's own reference, after its start has cleared the previous run's: the next
            # Start clears it in turn ("parent run": its file name would crowd the legends)
            self.plots.set_references([("parent run", PARENT_COLOUR, series)], pinned=False)


def forkable(kind: str) -> bool:
    """Whether sessions of the run kind ``kind`` can be forked (its record says; an unknown kind,
    from a newer lrlab, cannot)."""
    record = RUN_KINDS.get(kind)
    return record is not None and record.forkable


def fork_info(session: Any) -> tuple[int, dict[str, Any] | None]:
    """(first recorded step, parent) of an open core session: a fork records from its step."""
    parent = session.parent
    return (int(parent["step"]) if parent else 0), parent

