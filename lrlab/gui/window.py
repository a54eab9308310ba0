"""The main window: experiment dock, live plots, schedule editing, events and run controls.

The window only wires things together: specs come from the Experiment panel and are
validated by the core; training runs in a :class:`TrainingWorker` on a QThread; metric
batches go to the plot panel; sessions are read and exported by the core.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from lrlab import __version__
from lrlab.core import paths
from lrlab.core.fmt import clock
from lrlab.core.resources import icon_path, list_presets
from lrlab.core.schedules import Timeline
from lrlab.core.spec import RunSpec, planned_steps
from lrlab.gui.edit_panel import EditPanel
from lrlab.gui.experiment import ExperimentPanel
from lrlab.gui.plots import X_MODES, Marker, PlotPanel
from lrlab.gui.worker import TrainingWorker, start_in_thread

SESSION_FILTER = "lrlab sessions (*.lrlab)"
MAX_RECENT = 10


def settings() -> QSettings:
    """Window state and the last experiment, in the lrlab settings folder (LRLAB_HOME aware)."""
    return QSettings(str(paths.settings_dir() / "lrlab.ini"), QSettings.Format.IniFormat)


def marker_for(event: Any) -> Marker:
    """A plot marker for a trainer or session event."""
    kind, data = event.kind, event.data
    if kind == "edit":
        e = data["edit"]
        text = {"scale": lambda: f"LR x{e['factor']:g}", "hold": lambda: f"hold LR {e['lr']:g}",
                "schedule": lambda: f"new schedule: {e['schedule']['kind']}",
                "params": lambda: "schedule " + ", ".join(f"{k}={v}" for k, v in e["params"].items()),
                "optimizer": lambda: ", ".join(f"{k}={v}" for k, v in e.items() if k != "kind"
                                               and v is not None)}[e["kind"]]()
    elif kind == "diverged":
        text = data["message"]
    elif kind == "plateau":
        text = f"plateau: LR reduced to {data['lr']:.3g}"
    elif kind == "rejected":
        text = f"edit rejected: {data['message']}"
    elif kind == "out_of_memory":
        text = data["message"]
    elif kind == "test":
        text = f"test split: loss {data['loss']:.4g}, metric {data['metric']:.4g}"
    else:
        text = kind
    return Marker(event.step, f"step {event.step}: {text}", kind)


def export_svg(view: QWidget, out: str) -> None:
    """SVG through Qt's own QSvgGenerator: pyqtgraph 0.14's SVGExporter fails on the path data
    current Qt writes (pyqtgraph issue #3485), so the scene is rendered straight to SVG."""
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    gen = QSvgGenerator()
    gen.setFileName(out)
    gen.setSize(QSize(view.width(), view.height()))
    gen.setViewBox(QRectF(0, 0, view.width(), view.height()))
    gen.setTitle("lrlab plots")
    painter = QPainter(gen)
    try:
        view.render(painter)
    finally:
        painter.end()


class MainWindow(QMainWindow):
    sig_devices = Signal(list)  # from the background import of torch

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("lrlab — learning-rate lab")
        self.setAcceptDrops(True)
        self.worker: TrainingWorker | None = None
        self.thread_: QThread | None = None
        self.timeline: Timeline | None = None
        self.run_spec: RunSpec | None = None
        self.session_path = ""
        self.state = "idle"  # idle, starting, running, paused, stopping
        self.total_steps = 0
        self.steps_done = 0
        self.started_at = 0.0
        self.viewing: Any = None  # an opened session's path when showing one
        self.problem = ""  # why the current run diverged or failed
        self._sessions: Any = None  # the Sessions/Compare window, made on first use
        self._save_form = QTimer(self)
        self._save_form.setSingleShot(True)
        self._save_form.setInterval(1000)
        self._save_form.timeout.connect(self._save_experiment)
        self._batch: list[RunSpec] = []  # presets still to run for "Run all and compare"
        self._batch_paths: list[str] = []
        self.epoch = 0
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(250)
        self._progress_timer.timeout.connect(self._show_progress)
        self._progress_timer.start()

        self.plots = PlotPanel()
        self.banner = self._make_banner()
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.banner)
        cl.addWidget(self.plots, 1)
        self.setCentralWidget(central)

        self.experiment = ExperimentPanel()
        self.dock_experiment = self._dock("Experiment", self.experiment, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.edit_panel = EditPanel()
        self.dock_edit = self._dock("Change the schedule", self.edit_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.events = QListWidget()
        self.events.setWordWrap(True)
        self.dock_events = self._dock("Events", self.events, Qt.DockWidgetArea.RightDockWidgetArea)

        self._make_actions()
        self._make_toolbar()
        self._make_menus()
        self._make_statusbar()

        self.experiment.sig_spec_changed.connect(self._spec_changed)
        self.edit_panel.sig_apply.connect(self._apply_edit)
        self.edit_panel.sig_ghost.connect(self._show_ghost)
        self.plots.sig_hover.connect(self._hover)
        self.sig_devices.connect(self._devices_found)
        self.resizeDocks([self.dock_experiment, self.dock_edit], [360, 300], Qt.Orientation.Horizontal)
        self._restore()
        self._spec_changed(self.experiment.spec)
        self._update_controls()
        # list devices once torch is imported, off the path to a visible window
        QTimer.singleShot(200, self._probe_devices)

    # --- construction ---------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _make_banner(self) -> QFrame:
        banner = QFrame()
        banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        rerun = QPushButton("Re-run")
        rerun.setToolTip("train the same spec, seed and edits again as a new session")
        rerun.clicked.connect(self.rerun_session)
        use = QPushButton("Use these settings")
        use.clicked.connect(self.use_session_settings)
        close = QPushButton("Close")
        close.clicked.connect(self.close_session_view)
        lay = QHBoxLayout(banner)
        lay.addWidget(self.banner_text, 1)
        for b in (rerun, use, close):
            lay.addWidget(b)
        banner.hide()
        return banner

    def _action(self, text: str, slot: Any, shortcut: Any = None, tip: str = "", icon: str = "") -> QAction:
        act = QAction(text, self)
        if icon:
            act.setIcon(QIcon(str(icon_path(icon))))
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setToolTip(tip or text)
        act.setStatusTip(tip or text)
        act.triggered.connect(slot)
        return act

    def _make_actions(self) -> None:
        self.act_start = self._action("Start", self.start, "Ctrl+R", "Start training (Ctrl+R)", "start.svg")
        self.act_pause = self._action("Pause", self.toggle_pause, Qt.Key.Key_Space, "Pause or resume (Space)",
                                      "pause.svg")
        self.act_stop = self._action("Stop", self.stop, "Ctrl+.", "Stop; the session keeps every step (Ctrl+.)",
                                     "stop.svg")
        self.act_new = self._action("New experiment", self.new_experiment, QKeySequence.StandardKey.New)
        self.act_open = self._action("Open session…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.act_save = self._action("Save session as…", self.save_session_as, "Ctrl+Shift+S")
        self.act_csv = self._action("Export steps as CSV…", self.export_csv)
        self.act_png = self._action("Export plots as PNG…", lambda: self.export_plots("png"))
        self.act_svg = self._action("Export plots as SVG…", lambda: self.export_plots("svg"))
        self.act_spec = self._action("Export run spec (JSON)…", self.export_spec)
        self.act_quit = self._action("Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_sessions = self._action("Sessions…", self.show_sessions, "Ctrl+L",
                                         "every saved session: open, compare, rename, delete")
        self.act_compare = self._action("Compare sessions…", self.compare_dialog, "Ctrl+Shift+C",
                                        "overlay two or more saved sessions")

    def _make_toolbar(self) -> None:
        tb = QToolBar("Run")
        tb.setObjectName("run_toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(tb)
        for a in (self.act_start, self.act_pause, self.act_stop):
            tb.addAction(a)
        tb.addSeparator()
        tb.addWidget(QLabel(" x axis "))
        self.x_combo = QComboBox()
        self.x_combo.addItems(list(X_MODES))
        self.x_combo.currentTextChanged.connect(self.plots.set_x_mode)
        tb.addWidget(self.x_combo)
        tb.addWidget(QLabel("  smoothing "))
        self.smooth_slider = QSlider(Qt.Orientation.Horizontal)
        self.smooth_slider.setRange(0, 99)
        self.smooth_slider.setValue(60)
        self.smooth_slider.setMaximumWidth(120)
        self.smooth_slider.setToolTip("exponential moving average of the training loss (0 = raw)")
        self.smooth_slider.valueChanged.connect(lambda v: self.plots.set_smoothing(v / 100))
        tb.addWidget(self.smooth_slider)
        self.log_lr = QCheckBox("log LR")
        self.log_lr.toggled.connect(self.plots.set_log_lr)
        tb.addWidget(self.log_lr)

    def _make_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        for a in (self.act_new, self.act_open, self.act_sessions, self.act_compare):
            m.addAction(a)
        self.recent_menu = m.addMenu("Recent sessions")
        m.addSeparator()
        m.addAction(self.act_save)
        exp = m.addMenu("Export")
        for a in (self.act_csv, self.act_png, self.act_svg, self.act_spec):
            exp.addAction(a)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = mb.addMenu("&Run")
        for a in (self.act_start, self.act_pause, self.act_stop):
            m.addAction(a)
        m = mb.addMenu("&Presets")
        group = None
        presets = list_presets()
        for preset in presets:
            if preset.group != group:
                if group is not None:
                    m.addSeparator()
                group = preset.group
                members = [p for p in presets if p.group == group]
                run_all = m.addAction(f"Run all {len(members)} '{group}' presets and compare")
                run_all.triggered.connect(lambda _=False, ms=members: self.run_all_and_compare(ms))
            act = m.addAction(preset.title)
            act.setToolTip(preset.explanation)
            act.setStatusTip(preset.explanation)
            act.triggered.connect(lambda _=False, p=preset: self.experiment.load_preset(p))
        m.setToolTipsVisible(True)
        m = mb.addMenu("&View")
        m.addAction(self._action("Reset zoom", self.plots.reset_zoom, "Ctrl+0",
                                 "show the whole run and every curve"))
        m.addSeparator()
        for d in (self.dock_experiment, self.dock_edit, self.dock_events):
            m.addAction(d.toggleViewAction())
        m = mb.addMenu("&Help")
        m.addAction(self._action("About lrlab", self.about))
        self._fill_recent()

    def _make_statusbar(self) -> None:
        sb = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("%p%")
        self.status_label = QLabel("ready")
        sb.addWidget(self.status_label, 1)
        sb.addPermanentWidget(self.progress)

    # --- devices ----------------------------------------------------------------------------

    def _probe_devices(self) -> None:
        def probe() -> None:
            from lrlab.core.devices import available_devices

            self.sig_devices.emit(available_devices())

        threading.Thread(target=probe, name="lrlab-device-probe", daemon=True).start()

    @Slot(list)
    def _devices_found(self, names: list) -> None:
        self.experiment.set_devices(list(names))

    # --- running ------------------------------------------------------------------------------

    @Slot(object)
    def _spec_changed(self, spec: RunSpec | None) -> None:
        self._update_controls()
        self._save_form.start()  # nothing typed is lost if the app dies: the form is saved a second later

    def _save_experiment(self) -> None:
        import json

        settings().setValue("last_experiment", json.dumps(self.experiment.json()))

    def _update_controls(self) -> None:
        running = self.state in ("starting", "running", "paused", "stopping")
        self.act_start.setEnabled(not running and self.experiment.spec is not None)
        self.act_pause.setEnabled(self.state in ("running", "paused"))
        self.act_pause.setText("Resume" if self.state == "paused" else "Pause")
        self.act_stop.setEnabled(self.state in ("starting", "running", "paused"))
        self.experiment.setEnabled(not running)
        has_run = bool(self.session_path) or self.viewing is not None
        for a in (self.act_save, self.act_csv, self.act_spec):
            a.setEnabled(has_run and not running)
        if not running:
            self.edit_panel.set_context(None)

    def start(self, spec: RunSpec | None = None, edits: list | None = None) -> None:
        spec = spec or self.experiment.validate()
        if spec is None or self.state != "idle":
            return
        self.close_session_view()
        self.run_spec = spec
        self.timeline = Timeline(spec.schedule, spec.lr)
        self.total_steps = planned_steps(spec)
        self.steps_done = 0
        self.problem = ""
        self.events.clear()
        self.plots.reset(spec.task, 1, self.total_steps)
        self.worker = TrainingWorker(spec, edits=edits or [])
        self.worker.sig_started.connect(self._run_started)
        self.worker.sig_metrics.connect(self._metrics)
        self.worker.sig_finished.connect(self._run_finished)
        self.worker.sig_failed.connect(self._run_failed)
        self.state = "starting"
        self.status_label.setText("loading data and building the model…")
        self._update_controls()
        self.thread_ = start_in_thread(self.worker)

    @Slot(object)
    def _run_started(self, info: dict) -> None:
        self.session_path = info["path"]
        self.total_steps = info["total_steps"]
        self.plots.reset(info["task"], info["steps_per_epoch"], self.total_steps)
        self.plots.set_x_mode(self.x_combo.currentText())
        self.progress.setRange(0, self.total_steps)
        self.started_at = time.monotonic()
        if self.state == "starting":
            self.state = "running"
        self._refresh_planned()
        self._update_controls()
        self._refresh_edit_context()
        self.status_label.setText(f"training… saving to {self.session_path}")

    @Slot(object)
    def _metrics(self, update: Any) -> None:
        self.plots.add(update.steps, update.evals, [marker_for(e) for e in update.events])
        for ev in update.events:
            self.events.addItem(marker_for(ev).text)
            if ev.kind in ("diverged", "out_of_memory"):
                self.problem = ev.data["message"]
            if ev.kind == "edit" and self.timeline is not None:
                from lrlab.core.schedules import parse_edit

                self.timeline.apply(ev.step, parse_edit(ev.data["edit"]))
                self._refresh_planned()
        self.steps_done = update.step
        if update.n:
            self.epoch = int(update.steps["epoch"][-1])
        before = self.state
        if update.status == "paused":
            self.state = "paused"
        elif update.status == "running" and self.state == "paused":
            self.state = "running"
        self.edit_panel.advance(update.step)
        if self.state != before or update.events:  # controls change with the state, not per batch
            self._update_controls()
            self._refresh_edit_context()
            self._show_progress()

    def _show_progress(self) -> None:
        """Progress bar and status line, a few times a second (each update relays the status bar)."""
        if self.state not in ("running", "paused"):
            return
        self.progress.setValue(min(self.steps_done, self.total_steps))
        elapsed = time.monotonic() - self.started_at
        rate = self.steps_done / elapsed if elapsed > 0 else 0.0
        eta = (self.total_steps - self.steps_done) / rate if rate > 0 else float("inf")
        self.status_label.setText(f"{self.state} · step {self.steps_done}/{self.total_steps} · epoch {self.epoch} · "
                                  f"{rate:,.0f} steps/s · ETA {clock(eta) if self.state == 'running' else '--:--'}")

    @Slot(str, str)
    def _run_finished(self, status: str, path: str) -> None:
        self._end_thread()
        self.plots.flush()
        self.progress.setValue(min(self.steps_done, self.total_steps))
        self.state = "idle"
        if status in ("diverged", "failed") and self.problem:
            self.status_label.setText(f"{status}: {self.problem}")
            self.status_label.setStyleSheet("color: #d62728; font-weight: bold")
        else:
            self.status_label.setStyleSheet("")
            self.status_label.setText(f"{status} · {self.steps_done} steps · saved to {path}")
        self._remember_recent(path)
        self.plots.set_ghost(np.empty(0), np.empty(0))
        self.plots.set_planned(np.empty(0), np.empty(0))
        self._update_controls()
        if self._batch or self._batch_paths:
            self._batch_paths.append(path)
            if status == "stopped":  # stopping one run of a batch stops the batch
                self._batch = []
            QTimer.singleShot(0, self._next_in_batch)

    @Slot(str)
    def _run_failed(self, message: str) -> None:
        self._end_thread()
        self.state = "idle"
        self.status_label.setText(message)
        self._update_controls()
        QMessageBox.warning(self, "lrlab", message)

    def _end_thread(self) -> None:
        if self.thread_ is not None:
            self.thread_.quit()
            self.thread_.wait(5000)
            self.thread_.deleteLater()
        self.thread_ = None
        if self.worker is not None:
            self.worker.deleteLater()
        self.worker = None

    def toggle_pause(self) -> None:
        if self.worker is None:
            return
        if self.state == "running":
            self.worker.pause()
        elif self.state == "paused":
            self.worker.resume()
            self.state = "running"  # the trainer records the resume at its next step
            self._update_controls()

    def stop(self) -> None:
        if self.worker is not None and self.state in ("starting", "running", "paused"):
            self.worker.stop()
            self.state = "stopping"
            self.status_label.setText("stopping after the current step…")
            self._update_controls()

    def stop_and_wait(self, timeout_ms: int = 2000) -> bool:
        """Stop a run and wait for its thread (closing the window); True if it ended in time."""
        if self.thread_ is None:
            return True
        self.stop()
        # quit() is thread-safe; the thread's event loop ends as soon as the run returns.
        # (Waiting for sig_finished would deadlock: it is delivered to this, blocked, thread.)
        self.thread_.quit()
        return self.thread_.wait(timeout_ms)

    # --- mid-run edits ------------------------------------------------------------------------

    def _refresh_edit_context(self) -> None:
        if self.state in ("running", "paused") and self.timeline is not None and self.run_spec is not None:
            fields = tuple(k for k in ("momentum", "weight_decay", "betas", "dampening", "alpha", "eps")
                           if k in self.run_spec.optimizer.params)
            self.edit_panel.set_context(self.timeline, fields, self.steps_done, self.total_steps)

    @Slot(dict)
    def _apply_edit(self, edit: dict) -> None:
        if self.worker is not None:
            self.worker.edit(edit)
            self.status_label.setText(f"edit sent; it applies at step {self.steps_done} or the next one")

    @Slot(object, object)
    def _show_ghost(self, steps: Any, lrs: Any) -> None:
        self.plots.set_ghost(steps, lrs)

    def _refresh_planned(self) -> None:
        if self.timeline is None:
            return
        start = max(self.steps_done, 0)
        if start >= self.total_steps:
            self.plots.set_planned(np.empty(0), np.empty(0))
            return
        self.plots.set_planned(*self.timeline.sample(start, self.total_steps))

    # --- sessions -----------------------------------------------------------------------------

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
        files, _ = QFileDialog.getOpenFileNames(self, "Compare sessions", str(paths.sessions_dir()), SESSION_FILTER)
        if len(files) >= 2:
            self.compare_sessions(files)

    def compare_sessions(self, files: list[str]) -> bool:
        return self.sessions_window().compare_paths(files)

    def run_all_and_compare(self, presets: list) -> None:
        """Train each preset in turn (as if started one after another), then compare them."""
        if self.state != "idle" or not presets:
            return
        self._batch = [RunSpec.from_json(p.spec) for p in presets]
        self._batch_paths = []
        self._next_in_batch()

    def _next_in_batch(self) -> None:
        if self._batch:
            self.start(self._batch.pop(0))
        elif self._batch_paths:
            done, self._batch_paths = self._batch_paths, []
            self.compare_sessions(done)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", str(paths.sessions_dir()), SESSION_FILTER)
        if path:
            self.open_session(path)

    def open_session(self, path: str) -> bool:
        """Show a saved session's curves, events and spec; a bad file gets a dialog, nothing else."""
        from lrlab.core.session import Session, SessionError

        if self.state != "idle":
            QMessageBox.information(self, "lrlab", "Stop the current run before opening a session.")
            return False
        try:
            with Session.open(path) as s:
                spec, status, steps, evals = s.spec, s.status, s.steps(), s.evals()
                events, summary = s.events(), s.summary
                total = s.meta.get("total_steps") or len(steps["step"])
                s_meta_spe = s.meta.get("steps_per_epoch")
        except SessionError as err:
            QMessageBox.warning(self, "Cannot open session", str(err))
            return False
        self.viewing = path
        self.session_path = path
        self.run_spec = spec
        spe = s_meta_spe or max(1, int((steps["epoch"] == 0).sum()))
        self.plots.reset(spec.task, spe, total)
        self.plots.set_x_mode(self.x_combo.currentText())
        self.plots.add(steps, [dict(zip(("step", "epoch", "val_loss", "val_metric"), row, strict=True))
                               for row in zip(*(evals[c].tolist() for c in ("step", "epoch", "val_loss",
                                                                            "val_metric")), strict=True)],
                       [marker_for(e) for e in events])
        self.plots.flush()
        self.events.clear()
        for e in events:
            self.events.addItem(marker_for(e).text)
        metric = summary.get("final_val_metric")
        self.banner_text.setText(f"<b>{Path(path).name}</b> — {status}, {len(steps['step'])} steps, "
                                 f"{spec.dataset.kind} / {spec.model.kind} / {spec.optimizer.kind} "
                                 f"LR {spec.lr:g} / {spec.schedule.kind}, seed {spec.seed}"
                                 + (f", final validation metric {metric:.4g}" if metric is not None else ""))
        self.banner.show()
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(len(steps["step"]))
        self.status_label.setText(f"viewing {path}")
        self._remember_recent(path)
        self._update_controls()
        return True

    def close_session_view(self) -> None:
        self.viewing = None
        self.banner.hide()
        self._update_controls()

    def use_session_settings(self) -> None:
        if self.run_spec is not None:
            self.experiment.set_json(self.run_spec.to_json())

    def rerun_session(self) -> None:
        from lrlab.core.session import Session

        if self.viewing is None:
            return
        with Session.open(self.viewing) as s:
            spec, edits = s.spec, s.edits()
        self.start(spec, edits)

    def save_session_as(self) -> None:
        if not self.session_path:
            return
        out, _ = QFileDialog.getSaveFileName(self, "Save session as", self.session_path, SESSION_FILTER)
        if out:
            shutil.copyfile(self.session_path, out)
            self.status_label.setText(f"saved a copy to {out}")

    def export_csv(self) -> None:
        from lrlab.core.export import write_csv
        from lrlab.core.session import Session

        if not self.session_path:
            return
        out, _ = QFileDialog.getSaveFileName(self, "Export steps", str(Path(self.session_path).with_suffix(".csv")),
                                             "CSV (*.csv)")
        if out:
            with Session.open(self.session_path) as s:
                write_csv(s, out)
            self.status_label.setText(f"exported {out}")

    def export_spec(self) -> None:
        import json

        if self.run_spec is None:
            return
        out, _ = QFileDialog.getSaveFileName(self, "Export run spec", "spec.json", "JSON (*.json)")
        if out:
            Path(out).write_text(json.dumps(self.run_spec.to_json(), indent=2) + "\n", encoding="utf-8")
            self.status_label.setText(f"exported {out}")

    def export_plots(self, fmt: str, out: str | None = None) -> str | None:
        """PNG (pyqtgraph's ImageExporter) or SVG of all four plots."""
        if out is None:
            out, _ = QFileDialog.getSaveFileName(self, f"Export plots as {fmt.upper()}", f"lrlab-plots.{fmt}",
                                                 f"{fmt.upper()} (*.{fmt})")
        if not out:
            return None
        self.plots.flush()
        if fmt == "png":
            import pyqtgraph.exporters as pgx

            exporter = pgx.ImageExporter(self.plots.view.ci)
            exporter.parameters()["width"] = max(1600, int(self.plots.view.width()))
            exporter.export(out)
        else:
            export_svg(self.plots.view, out)
        self.status_label.setText(f"exported {out}")
        return out

    def new_experiment(self) -> None:
        if self.state == "idle":
            self.experiment.set_json(RunSpec.from_json({}).to_json())
            self.close_session_view()

    def _remember_recent(self, path: str) -> None:
        s = settings()
        recent = [p for p in (s.value("recent") or []) if p != path]
        if isinstance(recent, str):
            recent = [recent]
        s.setValue("recent", [path, *recent][:MAX_RECENT])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = settings().value("recent") or []
        if isinstance(recent, str):
            recent = [recent]
        for p in recent:
            act = self.recent_menu.addAction(Path(p).name)
            act.setToolTip(p)
            act.triggered.connect(lambda _=False, p=p: self.open_session(p))
        self.recent_menu.setEnabled(bool(recent))

    # --- window ---------------------------------------------------------------------------------

    def _hover(self, text: str) -> None:
        self.plots.readout.setText(text)

    def about(self) -> None:
        from importlib.metadata import PackageNotFoundError, version

        import pyqtgraph
        import PySide6
        from PySide6.QtCore import qVersion

        try:
            torch_version = version("torch")  # without importing it
        except PackageNotFoundError:
            torch_version = "not installed"
        QMessageBox.about(self, "About lrlab",
                          f"<b>lrlab {__version__}</b><br>A desktop learning-rate lab.<br>License: MIT<br><br>"
                          f"Qt {qVersion()} · PySide6 {PySide6.__version__} · torch {torch_version} · "
                          f"pyqtgraph {pyqtgraph.__version__}")

    def _restore(self) -> None:
        s = settings()
        geometry = s.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 860)
        state = s.value("window_state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        last = s.value("last_experiment")
        if isinstance(last, str) and last:
            import contextlib
            import json

            with contextlib.suppress(ValueError, TypeError):  # an old or damaged setting: keep defaults
                self.experiment.set_json(json.loads(last))

    def save_settings(self) -> None:
        import json

        s = settings()
        s.setValue("geometry", self.saveGeometry())
        s.setValue("window_state", self.saveState())
        s.setValue("last_experiment", json.dumps(self.experiment.json()))
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.state in ("starting", "running", "paused", "stopping") and self.thread_ is not None:
            answer = QMessageBox.question(
                self, "A run is in progress",
                "Stop the run and quit? The session keeps every step trained so far.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Yes)
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self.stop_and_wait(2000)
            self._end_thread()
        self.save_settings()
        if self._sessions is not None:
            self._sessions.close()
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(u.toLocalFile().endswith(".lrlab") for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.toLocalFile().endswith(".lrlab")]
        if len(files) == 1:
            self.open_session(files[0])
        elif files:
            self.compare_sessions(files)
        if files:
            event.acceptProposedAction()

