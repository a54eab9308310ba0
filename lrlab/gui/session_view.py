"""Saved sessions in the main window: opening one onto the plots (with the banner that says
which and offers to re-run it or use its settings), the Sessions/Compare window, recent
sessions, dropping files, saved runs drawn under a live one, and saving or exporting what is
shown (the session on view, else the controller's run).

:class:`SessionsComponent` owns this: the session on view, the banner, the Recent menu and the
Sessions window. It is given the plots, the events list, the status line and the run controller
it draws on, and reads files only through the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QWidget,
)

from lrlab.core.decl import paths
from lrlab.core.decl.events import Event
from lrlab.core.decl.metrics import CURVES
from lrlab.core.decl.spec import RunSpec
from lrlab.gui import exports
from lrlab.gui import settings as app_settings
from lrlab.gui.controller import RunController
from lrlab.gui.experiment import ExperimentPanel
from lrlab.gui.exports import SESSION_FILTER
from lrlab.gui.plots import PlotPanel
from lrlab.gui.style import is_dark


@dataclass
class ViewedSession:
    """Everything the window shows of a saved session, read in one go."""

    path: str
    spec: RunSpec
    status: str
    steps: dict[str, np.ndarray]
    evals: list[dict[str, float]]
    events: list[Event]
    edits: list[tuple[int, dict[str, Any]]]
    summary: dict[str, Any]
    total_steps: int
    steps_per_epoch: int
    effective: list[dict[str, Any]]  # effective-LR quantile rows of every layer
    kind: str = "train"
    parent: dict[str, Any] | None = None  # a fork's parent: id, path, step
    first_step: int = 0  # a fork records from its step
    planned: int = 0  # the steps it was planned to run (its fork continues to there)


    @classmethod
    def read(cls, path: str) -> ViewedSession:
        """Raises :class:`lrlab.core.storage.session.SessionError` with a one-line message."""
        from lrlab.core.storage.session import Session

        with Session.open(path) as s:
            steps, evals, events = s.steps(), s.evals(), s.events()
            rows = [dict(zip(evals, row, strict=True))
                    for row in zip(*(v.tolist() for v in evals.values()), strict=True)]
            n = len(steps["step"])
            spe = s.meta.get("steps_per_epoch") or max(1, int((steps["epoch"] == 0).sum()))
            effective = []
            for layer in s.effective_lr_layers():
                q = s.effective_lr(layer)
                names = [k for k in q if k != "step"]
                effective += [{"step": int(step), "layer": layer, **dict(zip(names, row, strict=True))}
                              for step, *row in zip(q["step"].tolist(), *(q[k].tolist() for k in names),
                                                    strict=True)]
            status, parent = s.status, s.parent
            first = int(parent["step"]) if parent else 0
            # a run that ended early is shown over the steps it has, not the ones it planned
            planned = int(s.meta.get("total_steps") or first + n)
            total = planned if status == "finished" else max(first + n, 1)
            return cls(path, s.spec.offline(), str(status), steps, rows, events, s.edits(), s.summary, total, spe,
                       effective, s.kind, parent, first, planned)

    def describe(self) -> str:
        spec, metric = self.spec, self.summary.get("final_val_metric")
        return (f"<b>{Path(self.path).name}</b> — {self.status}, {len(self.steps['step'])} steps, "
                f"{spec.dataset.kind} / {spec.model.kind} / {spec.optimizer.kind} LR {spec.lr:g} / "
                f"{spec.schedule.kind}, seed {spec.seed}"
                + (f", final validation metric {metric:.4g}" if metric is not None else "")
                + (f"; forked at step {self.parent['step']} from {Path(self.parent['path']).name}"
                   if self.parent else ""))


class SessionBanner(QFrame):
    sig_rerun = Signal()
    sig_use = Signal()
    sig_close = Signal()

    def __init__(self) -> None:
        super().__init__(frameShape=QFrame.Shape.StyledPanel)
        self.text = QLabel(wordWrap=True)
        lay = QHBoxLayout(self)
        lay.addWidget(self.text, 1)
        for label, sig, tip in (("Re-run", self.sig_rerun, "train the same spec, seed and edits again as a "
                                 "new session"), ("Use these settings", self.sig_use, "copy this session's "
                                 "settings into the Experiment form"), ("Close", self.sig_close, "")):
            button = QPushButton(label, toolTip=tip)
            button.clicked.connect(sig.emit)
            lay.addWidget(button)
        self.hide()


def read_references(paths: list[str], dark: bool = False) -> list[tuple[str, str, dict[str, Any]]]:
    """Saved sessions to draw under a live run: (name, colour, {metric: (steps, values)}) each,
    the training loss smoothed as the live panel smooths it, colours from the core's palette.
    Raises :class:`lrlab.core.storage.session.SessionError` naming a file that cannot be read."""
    from lrlab.core.features.compare import assign_colours, open_runs

    runs = open_runs(paths)
    try:
        assign_colours(runs, dark=dark)
        return [(r.name, r.colour, {m.name: r.series(m.name, "step", 0.6 if m.curve.ema else 0.0)
                                    for m in CURVES if m.curve.reference}) for r in runs]
    finally:
        for r in runs:
            r.close()


class SessionsComponent(QObject):
    """Saved sessions for the main window (see the module docstring).

    ``viewing`` is the session on the plots (None: the controller's run is shown); only this
    component changes it, and it says so with ``sig_changed`` so the window's actions follow.
    """

    sig_changed = Signal()  # a session was opened or closed: what File > Save/Export act on changed

    def __init__(self, window: QWidget, controller: RunController, plots: PlotPanel, events: QListWidget,
                 experiment: ExperimentPanel, status: QLabel, progress: QProgressBar) -> None:
        super().__init__(window)
        self.window, self.controller, self.plots, self.events = window, controller, plots, events
        self.experiment, self.status, self.progress = experiment, status, progress
        self.viewing: ViewedSession | None = None
        self._sessions: Any = None  # the Sessions/Compare window, made on first use
        self.banner = SessionBanner()  # the window lays it out above the plots
        self.banner.sig_rerun.connect(self.rerun_session)
        self.banner.sig_use.connect(self.use_session_settings)
        self.banner.sig_close.connect(self.close_session_view)
        self.recent_menu = QMenu("Recent sessions", window)  # the window puts it in File
        self.fill_recent(app_settings.recent_sessions())
        controller.sig_batch_done.connect(self.compare_sessions)  # "run all and compare" ends here
        window.setAcceptDrops(True)
        window.installEventFilter(self)  # .lrlab files dropped on the window open or compare

    # --- the Sessions/Compare window ----------------------------------------------------------

    def sessions_window(self) -> Any:
        if self._sessions is None:
            from lrlab.gui.sessions import SessionsWindow

            self._sessions = SessionsWindow(self.open_session)
        return self._sessions

    def show_sessions(self) -> None:
        w = self.sessions_window()
        w.sessions.refresh()
        w.tabs.setCurrentIndex(0)
        w.show()
        w.raise_()

    def compare_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.window, "Compare sessions", str(paths.sessions_dir()),
                                                SESSION_FILTER)
        if len(files) >= 2:
            self.compare_sessions(files)

    def compare_sessions(self, files: list[str]) -> bool:
        return self.sessions_window().compare_paths(files)

    def close_windows(self) -> None:
        """The main window closes: so does the Sessions window (it has no life of its own)."""
        if self._sessions is not None:
            self._sessions.close()

    def show_references(self, files: list[str] | None = None) -> bool:
        """Overlay saved sessions on the live panels; asks for the files unless given ([] clears)."""
        from lrlab.core.storage.session import SessionError

        if files is None:
            files, _ = QFileDialog.getOpenFileNames(self.window, "Show saved sessions here",
                                                    str(paths.sessions_dir()), SESSION_FILTER)
            if not files:
                return False
        try:
            self.plots.set_references(read_references(list(files), dark=is_dark()))
        except SessionError as err:
            QMessageBox.warning(self.window, "Cannot show session", str(err))
            return False
        return True

    # --- a session on view --------------------------------------------------------------------

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session", str(paths.sessions_dir()),
                                              SESSION_FILTER)
        if path:
            self.open_session(path)

    def open_session(self, path: str) -> bool:
        """Show a saved session's curves, events and spec; a bad file gets a dialog, nothing else."""
        from lrlab.core.storage.session import SessionError

        if self.controller.state.busy:
            QMessageBox.information(self.window, "lrlab", "Stop the current run before opening a session.")
            return False
        try:
            view = ViewedSession.read(path)
        except SessionError as err:
            QMessageBox.warning(self.window, "Cannot open session", str(err))
            return False
        self.viewing = view
        self.plots.reset(view.spec.task, view.steps_per_epoch, view.total_steps, view.first_step)
        self.plots.set_x_mode(self.plots.x_mode)
        self.plots.add(view.steps, view.evals, view.events, view.effective)
        self.plots.flush()
        self.events.clear()
        self.events.addItems([f"step {e.step}: {e.describe()}" for e in view.events])
        self.banner.text.setText(view.describe())
        self.banner.show()
        self.progress.setRange(0, max(view.total_steps, 1))
        self.progress.setValue(len(view.steps["step"]))
        self.status.setStyleSheet("")
        self.status.setText(f"viewing {path}")
        self.remember(path)
        self.sig_changed.emit()
        return True

    def close_session_view(self) -> None:
        self.viewing = None
        self.banner.hide()
        self.sig_changed.emit()

    def use_session_settings(self) -> None:
        if self.viewing is not None:
            self.experiment.set_json(self.viewing.spec.to_json())

    def rerun_session(self) -> None:
        from lrlab.gui.usercode import confirm_code

        if self.viewing is not None and confirm_code(self.window, self.viewing.spec):  # code: ask first
            self.controller.start(self.viewing.spec, self.viewing.edits)

    def remember(self, path: str) -> None:
        """A session just opened or written goes to the top of File > Recent sessions."""
        self.fill_recent(app_settings.remember_recent(path))

    def fill_recent(self, recent: list[str]) -> None:
        self.recent_menu.clear()
        for p in recent:
            act = self.recent_menu.addAction(Path(p).name)
            act.setToolTip(p)
            act.triggered.connect(lambda _=False, p=p: self.open_session(p))
        self.recent_menu.setEnabled(bool(recent))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Files dragged onto the window: one session opens, several are compared."""
        if event.type() == QEvent.Type.DragEnter:
            assert isinstance(event, QDragEnterEvent)
            if any(u.toLocalFile().endswith(".lrlab") for u in event.mimeData().urls()):
                event.acceptProposedAction()
            return True
        if event.type() == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            files = [u.toLocalFile() for u in event.mimeData().urls() if u.toLocalFile().endswith(".lrlab")]
            if len(files) == 1:
                self.open_session(files[0])
            elif files:
                self.compare_sessions(files)
            if files:
                event.acceptProposedAction()
            return True
        return super().eventFilter(watched, event)

    # --- saving and exporting what is shown ---------------------------------------------------

    def shown_session(self) -> str:
        """The file of what the plots show: the session on view, else the controller's run."""
        return self.viewing.path if self.viewing else self.controller.session_path

    def shown_spec(self) -> RunSpec | None:
        return self.viewing.spec if self.viewing else self.controller.spec

    def export_csv(self) -> str | None:
        return self.exported(exports.export_csv(self.window, self.shown_session()))

    def export_spec(self) -> str | None:
        return self.exported(exports.export_spec(self.window, self.shown_spec()))

    def export_plots(self, fmt: str, out: str | None = None) -> str | None:
        """PNG (pyqtgraph's ImageExporter) or SVG of all four plots."""
        self.plots.flush()
        return self.exported(exports.export_plots(self.window, self.plots.view, fmt, out))

    def save_session_as(self, out: str | None = None) -> str | None:
        """A copy of the shown session; for the run just made, the whole run even where its file
        stopped taking steps (a full disk), written from what the run kept in memory."""
        from lrlab.core.storage.session import SessionError

        path = self.shown_session()
        recorded = None if self.viewing else self.controller.recorded
        if recorded is None or not hasattr(recorded, "save_as") or self.controller.state.busy:
            return self.exported(exports.save_session_copy(self.window, path, out), "saved a copy to")
        out = out or exports.ask_save_path(self.window, "Save session as", path, exports.SESSION_FILTER)
        if not out:
            return None
        try:
            recorded.save_as(out)
        except SessionError as err:
            self.status.setText(str(err))
            QMessageBox.warning(self.window, "lrlab", str(err))
            return None
        return self.exported(out, "saved the whole run to")

    def exported(self, out: str | None, what: str = "exported") -> str | None:
        """Say on the status line where a file went (None: nothing was written)."""
        if out:
            self.status.setText(f"{what} {out}")
        return out
