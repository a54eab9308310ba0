"""The main window: layout and wiring of the experiment dock, live plots, edits and events.

The run itself belongs to the :class:`RunController` (state, worker thread, events, the
schedule timeline, progress); this window lays out the widgets, builds the actions and menus,
and connects them to it and to three components that own their own state, each given what it
uses in its constructor: :class:`SessionsComponent` (the session on view, the Sessions window,
recent files, saving and exporting; :mod:`lrlab.gui.session_view`), :class:`ToolsComponent`
(Find LR, the Sweep and the Landscape windows; :mod:`lrlab.gui.tools`) and
:class:`ForkComponent` (forking from the plots; :mod:`lrlab.gui.fork`). Specs come from the
Experiment panel and are validated by the core; settings are kept by :mod:`lrlab.gui.settings`.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from lrlab.core.decl.events import Event, Status
from lrlab.core.decl.fmt import clock
from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs.kinds import run_kind
from lrlab.gui import exports
from lrlab.gui import settings as app_settings
from lrlab.gui.controller import Progress, RunController, RunState
from lrlab.gui.edit_link import EditLink
from lrlab.gui.edit_panel import EditPanel
from lrlab.gui.experiment import ExperimentPanel
from lrlab.gui.fork import ForkComponent
from lrlab.gui.menus import PaceBox, about, fill_menu, fill_presets_menu, make_action
from lrlab.gui.plot_width import keep_plots_whole
from lrlab.gui.plots import PlotPanel
from lrlab.gui.presenter import PresenterMode
from lrlab.gui.session_view import SessionsComponent
from lrlab.gui.style import fit_to_screen
from lrlab.gui.tools import ToolsComponent
from lrlab.gui.views import view_of

EMPTY = np.empty(0)
PROBLEM_STYLE = "color: #c0392b; font-weight: bold"


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("lrlab — learning-rate lab")
        self.controller = c = RunController(self)
        self._save_form = QTimer(self, singleShot=True, interval=1000)
        self._save_form.timeout.connect(lambda: app_settings.save_experiment(self.experiment.json()))

        self.plots = PlotPanel()
        self.experiment = ExperimentPanel()
        self.edit_panel = EditPanel()
        self.events = QListWidget()
        self.events.setWordWrap(True)
        self.progress = QProgressBar(maximumWidth=220, format="%p%")
        self.status_label = QLabel("ready")
        self.sessions = SessionsComponent(self, c, self.plots, self.events, self.experiment, self.status_label,
                                          self.progress)
        self.banner = self.sessions.banner
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.banner)
        cl.addWidget(self.plots, 1)
        self.setCentralWidget(central)
        self.dock_experiment = self._dock("Experiment", self.experiment, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.dock_edit = self._dock("Change the schedule", self.edit_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.dock_events = self._dock("Events", self.events, Qt.DockWidgetArea.RightDockWidgetArea)

        # the window's slots first: the components' own (a fork waiting for its paused parent to
        # end, the Sweep and Find LR windows) follow the window's account of the run
        c.sig_state.connect(self._state_changed)
        c.sig_started.connect(self._run_started)
        c.sig_metrics.connect(self._metrics)
        c.sig_events.connect(self._new_events)
        self.edit_link = EditLink(self, c, self.edit_panel, self.plots)  # the planned curve, the edit panel
        c.sig_progress.connect(self._show_progress)
        c.sig_finished.connect(self._run_finished)
        c.sig_failed.connect(self._run_failed)
        self.tools = ToolsComponent(self, c, self.experiment, self.status_label, self.progress,
                                    self.sessions.compare_sessions, self.sessions.open_session)
        self.fork = ForkComponent(self, c, self.plots, self.edit_panel, self.dock_edit, self.status_label,
                                  self.sessions)
        self.sessions.sig_changed.connect(self._update_controls)
        self.experiment.sig_spec_changed.connect(self._spec_changed)
        self.experiment.sig_preset.connect(self._preset_loaded)
        self.edit_panel.sig_apply.connect(self._apply_edit)
        self.edit_panel.sig_ghost.connect(self.plots.set_ghost)
        self.edit_panel.sig_fork_cancelled.connect(self.edit_link.refresh)  # after the fork's own slot
        self.plots.sig_hover.connect(self.plots.readout.setText)

        self._make_actions()
        self._make_toolbar()
        self.presenter = PresenterMode(self)  # View > Presenter mode (F11), before the View menu is made
        self._make_menus()
        self.fix_link = QLabel('<a href="fix">Start is disabled: show why</a>', visible=False,
                               toolTip="scroll the Experiment panel to the field that needs fixing")
        self.fix_link.linkActivated.connect(lambda _: self.experiment.reveal_problem())
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.fix_link)
        self.statusBar().addPermanentWidget(self.progress)
        self.resizeDocks([self.dock_experiment, self.dock_edit], [360, 300], Qt.Orientation.Horizontal)
        self._restore()
        self._update_controls()
        self.plots.sig_painted.connect(self.experiment.warm_up)  # once painted; unshown: in 1 s
        QTimer.singleShot(1000, self.experiment.warm_up)
        QTimer.singleShot(300, self.plots.prepare)
        keep_plots_whole(self)  # the docks give way on a 1280x720 screen (lrlab/gui/plot_width.py)

    # --- construction ---------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _make_actions(self) -> None:
        c, sessions, tools = self.controller, self.sessions, self.tools
        self.act_start = make_action(self, "Start", self.start, "Ctrl+R", "Start training (Ctrl+R)", "start.svg")
        self.act_pause = make_action(self, "Pause", c.toggle_pause, Qt.Key.Key_Space, "Pause or resume (Space)",
                                     "pause.svg")
        self.act_stop = make_action(self, "Stop", c.stop, "Ctrl+.", "Stop; the session keeps every step (Ctrl+.)",
                                    "stop.svg")
        self.act_find = make_action(self, "Find LR…", tools.find_lr, "Ctrl+F", "LR range test on this experiment: "
                                    "suggested learning rates in seconds, your settings untouched (Ctrl+F)")
        self.act_sweep = make_action(self, "Sweep…", tools.show_sweep, "Ctrl+Shift+W",
                                     "train K learning rates (x seeds) of this experiment at once and watch the "
                                     "loss-vs-LR U-curve form")
        self.act_pbt = make_action(self, "Population (PBT)…", tools.show_pbt, tip="population-based training: "
                                   "members copy the best and perturb their LR, discovering a schedule")
        self.act_grid = make_action(self, "Batch size x LR…", tools.show_grid, tip="train LRs x batch sizes and "
                                    "see where the linear and square-root scaling rules hold")
        self.act_new = make_action(self, "New experiment", self.new_experiment, QKeySequence.StandardKey.New)
        self.act_open = make_action(self, "Open session…", sessions.open_dialog, QKeySequence.StandardKey.Open)
        self.act_save = make_action(self, "Save session as…", lambda: sessions.save_session_as(), "Ctrl+Shift+S")
        self.act_csv = make_action(self, "Export steps as CSV…", sessions.export_csv)
        self.act_tensorboard = exports.tensorboard_action(self, sessions.shown_session, sessions.exported)
        self.act_png = make_action(self, "Export plots as PNG…", lambda: sessions.export_plots("png"))
        self.act_svg = make_action(self, "Export plots as SVG…", lambda: sessions.export_plots("svg"))
        self.act_spec = make_action(self, "Export run spec (JSON)…", sessions.export_spec)
        self.act_quit = make_action(self, "Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_sessions = make_action(self, "Sessions…", sessions.show_sessions, "Ctrl+L",
                                        "every saved session: open, compare, rename, delete")
        self.act_compare = make_action(self, "Compare sessions…", sessions.compare_dialog, "Ctrl+Shift+C",
                                       "overlay two or more saved sessions")

    def _make_toolbar(self) -> None:
        tb = QToolBar("Run", objectName="run_toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(tb)
        for a in (self.act_start, self.act_pause, self.act_stop, self.act_find):
            tb.addAction(a)
        pause = tb.widgetForAction(self.act_pause)  # as wide as "Resume": the toolbar must not shift
        pause.setMinimumWidth(pause.sizeHint().width() + pause.fontMetrics().horizontalAdvance("Resume")
                              - pause.fontMetrics().horizontalAdvance("Pause"))
        tb.addWidget(QLabel(" pace "))
        self.pace_combo = PaceBox(self.controller.set_pace)
        tb.addWidget(self.pace_combo)
        tb.addSeparator()
        for w in self.plots.make_controls():
            tb.addWidget(w)

    def _make_menus(self) -> None:
        mb, sessions = self.menuBar(), self.sessions
        fill_menu(mb.addMenu("&File"), [self.act_new, self.act_open, self.act_sessions, self.act_compare,
                                        sessions.recent_menu, None, self.act_save,
                                        ("Export", [self.act_csv, self.act_tensorboard, self.act_png, self.act_svg,
                                                    self.act_spec]),
                                        None, self.act_quit])
        fill_menu(mb.addMenu("&Run"), [self.act_start, self.act_pause, self.act_stop, None, self.act_find,
                                       self.act_sweep, self.act_grid, self.act_pbt,
                                       make_action(self, "Auto-tune showdown…", self.tools.show_autotune)])
        fill_presets_menu(mb.addMenu("&Presets"), self.experiment.load_preset, self.run_all_and_compare)
        fill_menu(mb.addMenu("&View"), [
            make_action(self, "Reset zoom", self.plots.reset_zoom, "Ctrl+0", "show the whole run and every curve"),
            make_action(self, "Show saved sessions here…", lambda: sessions.show_references(), "Ctrl+Shift+R",
                        "draw saved runs faintly under the live one (loss, LR, validation metric)"),
            make_action(self, "Clear saved sessions from the plots", lambda: sessions.show_references([])),
            self.presenter.action,
            make_action(self, "Landscape…", self.tools.show_landscape, "Ctrl+Shift+L",
                        "the loss landscape playground: step sizes overshooting, crawling and converging on "
                        "2-D surfaces"),
            None, *(d.toggleViewAction() for d in (self.dock_experiment, self.dock_edit, self.dock_events))])
        fill_menu(mb.addMenu("&Help"), [make_action(self, "About lrlab", lambda: about(self))])

    # --- following the run controller --------------------------------------------------------

    @Slot(object)
    def _spec_changed(self, spec: RunSpec | None) -> None:
        self._update_controls()
        if not (self.controller.state.busy or self.sessions.viewing is not None or len(self.plots.data)):
            self.plots.preview_spec(spec)  # before Start, with nothing else on the plots: the form's plan
        self._save_form.start()  # nothing typed is lost if the app dies: the form is saved a second later

    def _update_controls(self) -> None:
        state = self.controller.state
        problems = self.experiment.problems
        self.act_start.setEnabled(not state.busy and self.experiment.spec is not None)
        self.act_find.setEnabled(not state.busy and self.experiment.spec is not None)
        why = next((f"{p}: {m}" if p else m for p, m in problems.items()), "") if self.experiment.spec is None else ""
        self.act_start.setToolTip(f"Start is disabled until this is fixed — {why}" if why
                                  else "Start training (Ctrl+R)")
        self.fix_link.setVisible(bool(why) and not state.busy)
        self.fix_link.setToolTip(f"{why} (click to show the field)")
        self.act_pause.setEnabled(state in (RunState.RUNNING, RunState.PAUSED))
        self.act_pause.setText("Resume" if state == RunState.PAUSED else "Pause")
        self.act_stop.setEnabled(state in (RunState.STARTING, RunState.RUNNING, RunState.PAUSED))
        self.experiment.setEnabled(not state.busy)
        has_run = bool(self.sessions.shown_session())
        for a in (self.act_save, self.act_csv, self.act_spec):
            a.setEnabled(has_run and not state.busy)
        self.act_tensorboard.setEnabled(has_run and not state.busy and exports.TENSORBOARD)
        self.edit_link.refresh()

    @Slot(object)
    def _state_changed(self, state: RunState) -> None:
        c = self.controller
        if state == RunState.STARTING and not view_of(c.kind).own_window:
            # the form (not a fork's: the user's stays), plots and Events describe the run that starts
            if not run_kind(c.kind).starter:  # a fork (started from its parent) leaves the user's form
                self.experiment.show_run(c.spec, c.label)
            self.sessions.close_session_view()
            self.events.clear()
            self.plots.drop_run_references()  # a fork's parent belongs to the fork, not to this run
            self.plots.reset(c.spec.task, 1, 0)
            self.status_label.setStyleSheet("")
            self.status_label.setText("loading data and building the model…" if self.experiment.warmed else
                                      "loading torch, then the data and the model (the first "
                                      "run after launch waits for them; later runs start at once)…")
        self._update_controls()
        if state == RunState.STOPPING:
            self.status_label.setText("stopping after the current step…")
        elif state == RunState.PAUSED:
            self._show_progress(self.controller.progress())

    def start(self, spec: RunSpec | None = None, edits: list | None = None, label: str = "",
              kind: str = "train", **options: Any) -> None:
        from_form = spec is None
        spec = spec or self.experiment.validate()
        if spec is None or self.controller.state.busy:
            return
        if from_form and not label:  # a preset as loaded names its session after itself
            preset = self.experiment.current_preset()
            label = preset.name if preset is not None and RunSpec.from_json(preset.spec) == spec else ""
        self.controller.start(spec, edits or [], label, kind, **options)

    @Slot(object)
    def _run_started(self, info: dict) -> None:
        c = self.controller
        view_of(c.kind).started(self, info)
        if view_of(c.kind).own_window:
            return
        self.plots.reset(info["task"], info["steps_per_epoch"], c.total_steps, info.get("first_step", 0), live=True)
        self.plots.lower_right_for(c.spec.optimizer.kind)
        self.plots.set_x_mode(self.plots.x_mode)
        self.progress.setRange(0, c.total_steps)
        self.status_label.setText(f"training… saving to {c.session_path}")

    @Slot(object)
    def _metrics(self, update: Any) -> None:
        view_of(self.controller.kind).metrics(self, update)  # the live plots, or the kind's own window
        self.edit_panel.advance(update.step)

    @Slot(list)
    def _new_events(self, events: list[Event]) -> None:
        if view_of(self.controller.kind).own_window:  # a tool's run (Find LR, Sweep): in its own window
            return
        for ev in events:
            self.events.addItem(f"step {ev.step}: {ev.describe()}")
        self.edit_link.refresh()

    @Slot(object)
    def _show_progress(self, p: Progress) -> None:
        state = self.controller.state
        view_of(self.controller.kind).progress(self, p)
        if state not in (RunState.RUNNING, RunState.PAUSED):
            return
        self.progress.setValue(min(p.steps_done, p.total_steps))
        eta = clock(p.eta_seconds) if state == RunState.RUNNING else "--:--"
        self.status_label.setText(f"{state} · step {p.steps_done}/{p.total_steps} · epoch {p.epoch} · "
                                  f"{p.steps_per_second:,.0f} steps/s · ETA {eta}")

    @Slot(str, str)
    def _run_finished(self, status: str, path: str) -> None:
        c = self.controller
        if view_of(c.kind).own_window:  # its window shows how it ended; the plots keep the last run
            self.status_label.setText(f"{c.kind.replace('_', ' ')} {status} · saved to {path}")
            return self._update_controls() or view_of(c.kind).finished(self, path)
        self.plots.set_ghost(EMPTY, EMPTY)
        self.plots.set_planned(EMPTY, EMPTY)
        if status != Status.FINISHED:
            self.plots.fit_to_data()
        else:
            self.plots.stop_following()
            self.progress.setRange(0, max(c.steps_done, 1))  # the run is over: a full bar of what it did
        self.plots.flush()
        self.progress.setValue(min(c.steps_done, c.total_steps))
        if c.file_problem:  # the run went on in memory; only Save As has all of it
            self.status_label.setText(f"{status} · {c.steps_done} steps · {c.file_problem}; File > Save session "
                                      "as… writes the whole run elsewhere")
            self.status_label.setStyleSheet(PROBLEM_STYLE)
        elif Status(status).problem and c.problem:
            self.status_label.setText(f"{status}: {c.problem}")
            self.status_label.setStyleSheet(PROBLEM_STYLE)
        else:
            self.status_label.setText(f"{status} · {c.steps_done} steps · saved to {path}")
        if not run_kind(c.kind).per_member:  # a folder of member sessions is no recent session
            self.sessions.remember(path)
        self._update_controls()
        view_of(c.kind).finished(self, path)

    @Slot(str)
    def _run_failed(self, message: str) -> None:
        self.status_label.setText(message)
        QMessageBox.warning(self, "lrlab", message)

    @Slot(dict)
    def _apply_edit(self, edit: dict) -> None:
        self.controller.edit(edit)
        self.status_label.setText(f"edit sent; it applies at step {self.controller.steps_done} or the next one")

    def _preset_loaded(self, preset: Any) -> None:
        """A new lesson: its suggested pace, and nothing left of the previous run on screen."""
        if preset.pace:
            self.set_pace(preset.pace)
        if not self.controller.state.busy:
            self.sessions.close_session_view()
            self.plots.reset(self.experiment.spec.task if self.experiment.spec else "classification", 1, 0)
            self.events.clear()
            self.status_label.setStyleSheet("")
            self.status_label.setText(f"ready: {preset.title}")
            self.plots.preview_spec(self.experiment.spec)

    def set_pace(self, steps_per_second: float | None) -> None:
        """Choose the toolbar's pace (steps per second, None: full speed), adding it if new."""
        self.pace_combo.set_pace(steps_per_second)

    def run_all_and_compare(self, presets: list) -> None:
        """Train each preset in turn (as if started one after another), then compare them."""
        self.controller.run_all([(RunSpec.from_json(p.spec), p.name) for p in presets])

    def new_experiment(self) -> None:
        if not self.controller.state.busy:
            self.experiment.set_json(RunSpec.from_json({}).to_json())
            self.sessions.close_session_view()

    # --- window ---------------------------------------------------------------------------------

    def _restore(self) -> None:
        geometry, state = app_settings.window_layout()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            fit_to_screen(self, 1400, 860)
        if state is not None:
            self.restoreState(state)
        warnings = [w for w in (app_settings.legacy_warning(),
                                self.experiment.restore(app_settings.last_experiment())) if w]
        warnings += app_settings.take_problems()
        for warning in warnings:
            print(f"lrlab: warning: {warning}", file=sys.stderr)
        if warnings:
            self.status_label.setText(warnings[0])
            self.status_label.setToolTip("\n".join(warnings))

    def save_settings(self) -> None:
        app_settings.save_window(self.saveGeometry(), self.saveState())
        app_settings.save_experiment(self.experiment.json())

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.controller.state.busy and self.controller.thread is not None:
            answer = QMessageBox.question(
                self, "A run is in progress", "Stop the run and quit? The session keeps every step trained so far.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes)
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self.controller.stop_and_wait(2000)
        self.tools.close()  # a sweep on Ray: cancel what is still out
        self.save_settings()
        self.sessions.close_windows()
        event.accept()
