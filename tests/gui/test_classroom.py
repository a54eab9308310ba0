"""The app in a classroom: fits a laptop or projector screen, a watchable pace, pictures that teach."""

from __future__ import annotations

import numpy as np
import pytest
from guitools import QUICK, set_spec, wait_idle
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QSpinBox, QWidget

from lrlab.core.decl.spec import RunSpec
from lrlab.core.storage.session import Session

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768)])
def test_every_control_is_inside_a_laptop_or_projector_screen(window, qtbot, size):
    window.resize(*size)
    qtbot.wait(50)
    assert window.width() <= size[0] and window.height() <= size[1]  # no minimum size larger than the screen
    inside = window.rect()
    from PySide6.QtWidgets import QToolBar, QToolButton

    for tb in window.findChildren(QToolBar):  # no control hidden behind the toolbar's "»"
        ext = tb.findChild(QToolButton, "qt_toolbar_ext_button")
        assert ext is None or not ext.isVisible(), tb.windowTitle()
    central = QRect(window.centralWidget().mapTo(window, window.centralWidget().rect().topLeft()),
                    window.centralWidget().size())
    for dock in (window.dock_experiment, window.dock_edit, window.dock_events):
        g = dock.geometry()
        assert inside.contains(g), (dock.windowTitle(), g, inside)
        assert not g.intersects(central), (dock.windowTitle(), g, central)  # docks never cover the plots
    assert central.width() >= 400 and central.height() >= 300  # room left for the plots
    controls = [c for c in window.findChildren(QWidget) if isinstance(c, (QAbstractButton, QComboBox, QSpinBox,
                                                                           QLineEdit))]
    assert len(controls) > 20
    for child in controls:
        if child.isVisible() and child.window() is window and not child.visibleRegion().isEmpty():
            top_left = child.mapTo(window, child.rect().topLeft())
            assert top_left.x() < size[0] and top_left.y() < size[1], child


def test_hovering_never_widens_the_window(window, qtbot):
    window.resize(1280, 720)
    qtbot.wait(50)
    before = window.width()
    window.plots.readout.setText("step 120 · epoch 5.25 · " * 40)  # a read-out far wider than the window
    qtbot.wait(50)
    assert window.width() == before and window.minimumSizeHint().width() <= 1280


def test_paced_run_is_watchable_and_replays_identical(window, qtbot):
    window.experiment.set_json(RunSpec.from_json(dict(QUICK, epochs=100)).to_json())
    window.set_pace(50.0)
    assert window.pace_combo.currentText() == "50 steps/s"
    window.start()
    qtbot.waitUntil(lambda: window.controller.steps_done >= 20, timeout=30_000)
    runner = window.controller.worker.runner
    assert runner.pace == 50.0  # the pace reached the loop (how it waits: test_trainer's paced tests)
    window.set_pace(None)  # full speed from the next step on
    qtbot.waitUntil(lambda: runner.pace is None, timeout=5000)
    wait_idle(qtbot, window)
    from lrlab.cli import main

    assert main(["replay", window.controller.session_path, "--verify", "--quiet"]) == 0


def test_presets_carry_a_suggested_pace(window):
    from lrlab.core.decl.resources import list_presets

    too_high = next(p for p in list_presets() if p.name == "lr-too-high")
    assert too_high.pace is not None and too_high.pace <= 20  # slow enough to watch it blow up
    window.experiment.load_preset(too_high)
    assert window.pace_combo.currentData() == too_high.pace


def test_a_diverged_run_fills_the_x_axis_and_the_ghost_needs_a_proposal(window, qtbot):
    window.experiment.set_json(RunSpec.from_json(dict(QUICK, optimizer={"name": "sgd", "lr": 40.0,
                                                                         "momentum": 0.9})).to_json())
    window.start()
    wait_idle(qtbot, window)
    n = len(window.plots.data)
    assert n < 50  # it diverged within a few steps of the 320 planned
    _, x1 = window.plots.p_loss.getViewBox().viewRange()[0]
    assert x1 <= n * 1.1 + 1  # the explosion fills the plot instead of hugging its left edge
    assert len(window.plots.ghost[0]) == 0  # nothing was proposed, so no ghost curve
    legend = [label.text for _, label in window.plots.p_lr.legend.items]
    assert "proposed edit" not in legend and "planned" not in legend


def test_start_tooltip_names_the_field_that_blocks_it(window, qtbot):
    window.experiment.set_json(RunSpec.from_json(QUICK).to_json())
    window.experiment.lr.edit.setText("-1")
    qtbot.waitUntil(lambda: not window.act_start.isEnabled())
    assert "optimizer.lr: must be a finite number > 0" in window.act_start.toolTip()
    window.experiment.lr.edit.setText("0.1")
    qtbot.waitUntil(window.act_start.isEnabled)
    assert window.act_start.toolTip() == "Start training (Ctrl+R)"


def test_run_all_shows_each_runs_settings_in_the_form(window, qtbot, monkeypatch):

    opened = []
    monkeypatch.setattr(window.sessions, "compare_sessions", lambda files: opened.append(files) or True)
    window.controller.sig_batch_done.disconnect()
    window.controller.sig_batch_done.connect(window.sessions.compare_sessions)
    import dataclasses

    # the presets' own paces (5 and 50 steps/s) would take a minute here: same lesson, quicker pace
    window.experiment.presets = [dataclasses.replace(p, pace=p.pace * 40 if p.pace else None)
                                 for p in window.experiment.presets]  # (the ResNet and grokking presets have none)
    group = [p for p in window.experiment.presets if p.group == "lr-range"]
    forms = []
    window.controller.sig_started.connect(lambda info: forms.append(
        (window.experiment.spec.optimizer["lr"], window.experiment.explanation.text(), window.pace_combo.currentData(),
         window.events.count())))
    window.set_pace(None)
    window.run_all_and_compare(group)
    qtbot.waitUntil(lambda: bool(opened), timeout=120_000)
    # each run shows its own settings, words and pace, and an Events list of its own
    assert forms == [(RunSpec.from_json(p.spec).lr, p.explanation, p.pace, 0) for p in group]
    assert len(opened[0]) == 3
    for path in opened[0]:
        with Session.open(path) as s:
            assert s.status in ("finished", "diverged")


def test_a_preset_started_from_the_form_names_its_session_after_the_preset(window, qtbot):
    from lrlab.core.decl.resources import list_presets

    window.experiment.load_preset(next(p for p in list_presets() if p.name == "lr-too-high"))
    window.set_pace(None)
    window.start()
    wait_idle(qtbot, window)
    assert "lr-too-high" in window.controller.session_path


def test_log_loss_in_the_live_panel(window, qtbot):
    set_spec(window, QUICK)
    window.start()
    wait_idle(qtbot, window)
    window.plots.log_loss_box.setChecked(True)
    window.plots.flush()
    assert window.plots.p_loss.ctrl.logYCheck.isChecked()
    y0, y1 = window.plots.p_loss.getViewBox().viewRange()[1]
    loss = window.plots.data.loss.y.data
    assert y0 <= np.log10(loss.min()) and y1 >= np.log10(loss.max())  # the range is in decades


def _two_sessions(tmp_path):
    from lrlab.core.runs import RecordedRun

    paths = []
    for lr in (3.0, 0.01):
        run = RecordedRun(RunSpec.from_json(dict(QUICK, epochs=5, optimizer={"name": "sgd", "lr": lr})),
                          tmp_path / f"lr{lr}.lrlab")
        run.run()
        paths.append(str(run.path))
    return paths


def test_compare_legends_say_what_differs_and_log_y_is_remembered_per_metric(qtbot, tmp_path):
    from lrlab.core.features.compare import LIGHT_PALETTE
    from lrlab.gui.app import make_app
    from lrlab.gui.compare import CompareView

    make_app()
    view = CompareView()
    qtbot.addWidget(view)
    view.open_paths(_two_sessions(tmp_path))
    assert sorted(view.labels.values()) == ["lr 0.01", "lr 3"]
    assert [view.legend.item(i).text().split("  ")[0] for i in range(2)] == ["■ lr 3", "■ lr 0.01"]
    assert {r.colour for r in view.runs} == set(LIGHT_PALETTE[:2])  # distinct, never yellow
    view.metric_box.setCurrentIndex(view.metric_box.findData("train_loss"))
    view.log_y.setChecked(True)
    view.metric_box.setCurrentIndex(view.metric_box.findData("val_metric"))
    assert not view.log_y.isChecked()  # a log loss does not make the accuracy log
    view.metric_box.setCurrentIndex(view.metric_box.findData("grad_norm"))
    assert view.log_y.isChecked()  # gradient norms are log by default
    view.metric_box.setCurrentIndex(view.metric_box.findData("train_loss"))
    assert view.log_y.isChecked() and view.plot.getPlotItem().ctrl.logYCheck.isChecked()


def test_cli_compare_logy(tmp_path):
    from lrlab.cli import main

    a, b = _two_sessions(tmp_path)
    assert main(["compare", a, b, "--logy", "--png", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").stat().st_size > 5000


def test_the_fix_link_scrolls_to_the_bad_field_and_schedule_warnings_show(window, qtbot):
    window.resize(1280, 720)
    set_spec(window, dict(QUICK, schedule={"kind": "cosine", "T_max": 40}))  # 40 of 320 steps: restarts
    qtbot.waitUntil(lambda: window.experiment.schedule_warning.isVisible())
    assert "T_max" in window.experiment.schedule_warning.text()
    window.experiment.verticalScrollBar().setValue(window.experiment.verticalScrollBar().maximum())
    window.experiment.lr.edit.setText("-1")
    qtbot.waitUntil(lambda: window.fix_link.isVisible())
    assert "optimizer.lr" in window.fix_link.toolTip()
    window.fix_link.linkActivated.emit("fix")
    label = window.experiment.optimizer.form.errors["lr"]
    top = label.mapTo(window.experiment.widget(), label.rect().topLeft()).y()
    bar = window.experiment.verticalScrollBar().value()
    assert bar <= top <= bar + window.experiment.viewport().height()  # the message is in view


def test_the_sessions_window_fits_the_screen(window):
    from lrlab.gui.app import make_app

    make_app()
    screen = window.screen().availableGeometry()
    w = window.sessions.sessions_window()
    assert w.width() <= screen.width() and w.height() <= screen.height()
    w.close()


def test_saved_sessions_drawn_under_the_live_run(window, qtbot, tmp_path):
    _fast, slow = _two_sessions(tmp_path)  # lr 3 and lr 0.01 (crawls)
    assert window.sessions.show_references([slow])
    set_spec(window, QUICK)
    window.start()
    wait_idle(qtbot, window)
    window.plots.flush()
    names = {label.text for _, label in window.plots.p_loss.legend.items}
    assert "lr0.01" in names and "train (smoothed)" in names  # the reference stays while a new run trains
    ref_curves = [c for c, _, plot, _ in window.plots._references]
    assert len(ref_curves) == 3  # loss, LR and validation metric
    x, y = ref_curves[1].getData()  # the reference's LR: constant 0.01 over its 40 steps
    assert len(x) == 40 and np.allclose(y, 0.01)
    assert window.sessions.show_references([])
    assert window.plots._references == ()


def test_warm_up_loads_the_core_without_touching_torchs_random_state():
    """The GUI warms the core in a thread while a run may be starting in another: it must not
    draw from torch's global generator (that would change the run's initial weights)."""
    import torch

    from lrlab.core.runs.warm import warm_up

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    devices = warm_up(RunSpec.from_json(QUICK))
    assert torch.equal(torch.rand(3), expected)
    assert isinstance(devices, list)



def test_user_pass_findings(window, qtbot, tmp_path, monkeypatch):
    """Seen on screen by a tester at 1366x768; each fixed."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication, QFileDialog

    # View > Show saved sessions here… asks for files (the menu's click used to be taken as the files)
    _fast, slow = _two_sessions(tmp_path)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([slow], ""))
    act = next(a for m in window.menuBar().actions() if m.text() == "&View" for a in m.menu().actions()
               if a.text().startswith("Show saved sessions"))
    act.trigger()
    assert len(window.plots._references) == 3
    # scrolling the form with the wheel does not change the spin box under the pointer
    epochs = window.experiment.epochs
    before = epochs.value()
    wheel = QWheelEvent(QPointF(5, 5), QPointF(5, 5), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(epochs, wheel)
    assert epochs.value() == before
    # a new pace takes its place in the list: full speed, then fastest to slowest
    window.set_pace(5.0)
    paces = [window.pace_combo.itemData(i) for i in range(window.pace_combo.count())]
    assert paces[0] is None and paces[1:] == sorted(paces[1:], reverse=True)
    window.set_pace(None)
    # switching the loss to log keeps the whole planned run on the x axis
    window.sessions.show_references([])
    set_spec(window, QUICK)
    window.start()
    wait_idle(qtbot, window)
    window.plots.flush()
    qtbot.wait(50)
    x_before = window.plots.p_loss.getViewBox().viewRange()[0]
    window.plots.log_loss_box.setChecked(True)
    window.plots.flush()
    qtbot.wait(50)
    x0, x1 = window.plots.p_loss.getViewBox().viewRange()[0]
    span = x_before[1] - x_before[0]
    assert abs(x0 - x_before[0]) < 0.05 * span and abs(x1 - x_before[1]) < 0.05 * span


def test_view_menu_opens_the_landscape_playground(window):
    act = next(a for m in window.menuBar().actions() if m.text() == "&View" for a in m.menu().actions()
               if a.text() == "Landscape…")
    act.trigger()
    land = window.tools.landscape
    assert land is not None and land.isVisible()
    hint = land.minimumSizeHint()  # usable on a 1280x720 projector
    assert hint.width() <= 1280 and hint.height() <= 720
    land.close()
