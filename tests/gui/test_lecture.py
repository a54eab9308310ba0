"""A teacher's second pass (issue 29): what a class sees while a lecture's runs go."""

from __future__ import annotations

import numpy as np
import pytest
from guitools import LONG, QUICK, set_spec, wait_idle
from PySide6.QtCore import Qt

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_a_young_run_s_x_axis_follows_its_data_then_grows_to_the_plan(window, qtbot):
    set_spec(window, dict(LONG, epochs=200))
    window.set_pace(40.0)
    window.start()
    qtbot.waitUntil(lambda: len(window.plots.data) >= 6, timeout=30_000)
    window.plots.flush()
    total = window.controller.total_steps
    _x0, x1 = window.plots.p_loss.getViewBox().viewRange()[0]
    steps = len(window.plots.data)
    assert steps - 1 <= x1 < 0.05 * total  # the steps so far fill the axis, not a sliver at x=0
    window.set_pace(None)
    qtbot.waitUntil(lambda: len(window.plots.data) >= 200, timeout=30_000)
    window.plots.flush()
    n = len(window.plots.data)
    assert n <= window.plots.p_loss.getViewBox().viewRange()[0][1] <= 3 * n  # grows with the run
    window.controller.stop()
    wait_idle(qtbot, window)


def _train(qtbot, window, spec) -> str:
    set_spec(window, spec)
    window.start()
    wait_idle(qtbot, window)
    return window.controller.session_path


def _fork(qtbot, window, at: int, edit: dict) -> None:
    assert window.fork.propose_fork(at)
    window.edit_panel.editor.set_value(edit)
    assert window.edit_panel.check()
    window.edit_panel.apply_button.click()
    wait_idle(qtbot, window)
    assert window.controller.kind == "fork"


def test_a_fork_s_parent_belongs_to_the_fork_and_pinned_references_show_a_chip(window, qtbot, tmp_path):
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedRun

    _train(qtbot, window, dict(QUICK, epochs=10))
    _fork(qtbot, window, 40, {"kind": "scale", "factor": 0.1})
    assert window.plots._references  # the grey parent under the fork
    assert not window.plots.references_chip.isVisible()  # not the user's pin
    _train(qtbot, window, dict(QUICK, epochs=5, optimizer={"name": "adam", "lr": 0.01}))
    window.plots.flush()
    assert window.plots._references == ()  # an unrelated run starts clean
    assert window.plots.p_lr.getViewBox().viewRange()[1][1] < 0.05  # and its LR axis is its own
    # a saved session the user pins stays, with a visible chip that clears it
    saved = RecordedRun(RunSpec.from_json(dict(QUICK, epochs=3)), tmp_path / "saved.lrlab")
    saved.run()
    assert window.sessions.show_references([str(saved.path)])
    _train(qtbot, window, dict(QUICK, epochs=5))
    chip = window.plots.references_chip
    assert window.plots._references and chip.isVisible() and chip.text() == "references: 1 ×"
    chip.click()
    assert window.plots._references == () and not chip.isVisible()


def _no_legend_covers_a_point(plots) -> None:
    from lrlab.gui.legends import covered_points, drawn_points

    for plot in plots:
        assert covered_points(plot) == 0, plot.titleLabel.text
    assert any(len(drawn_points(p)[0]) for p in plots)


def test_no_legend_covers_a_data_point_live_compare_and_export(window, qtbot, tmp_path):
    from lrlab.gui.compare import CompareView

    window.plots.set_lower_right("effective")  # the effective-LR bands, median and scheduled LR
    window.plots.set_log_loss(True)  # the validation loss low in log view
    adam = _train(qtbot, window, dict(QUICK, epochs=20, optimizer={"name": "adam", "lr": 0.05}))
    window.plots.flush()
    _no_legend_covers_a_point(window.plots.plots)
    window.plots.set_log_loss(False)
    window.plots.set_lower_right("gradients")
    high = _train(qtbot, window, dict(QUICK, optimizer={"name": "sgd", "lr": 40.0, "momentum": 0.9}))
    assert window.controller.problem  # diverged: the explosion's top is the top right corner
    window.plots.flush()
    _no_legend_covers_a_point(window.plots.plots)
    low = _train(qtbot, window, dict(QUICK, epochs=10, optimizer={"name": "sgd", "lr": 0.01}))
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    view.open_paths([adam, high, low])
    for log in (False, True):
        view.log_y.setChecked(log)
        qtbot.wait(50)
        _no_legend_covers_a_point([view.plot.getPlotItem()])
    view.export("png", str(tmp_path / "compare.png"))
    _no_legend_covers_a_point([view.plot.getPlotItem()])


def test_mid_run_schedule_edits_take_run_percent_and_epochs_and_continue_from_the_current_lr(window, qtbot):
    from PySide6.QtWidgets import QLabel

    window.resize(1280, 720)
    set_spec(window, dict(LONG, epochs=100, schedule={"kind": "cosine", "T_max": "run"}))
    window.set_pace(20.0)
    window.start()
    qtbot.waitUntil(lambda: window.controller.steps_done >= 30, timeout=30_000)
    window.controller.toggle_pause()
    qtbot.waitUntil(lambda: window.controller.state == "paused", timeout=10_000)
    panel, c = window.edit_panel, window.controller
    panel.editor.combo.setCurrentIndex(panel.editor.combo.findData("schedule"))
    nested = panel.editor.form.fields["schedule"].widget
    nested.combo.setCurrentIndex(nested.combo.findData("cosine"))
    t_max = nested.form.fields["T_max"]
    assert t_max.get() == "run" and panel.check()  # not an empty box under an error
    left = c.total_steps - panel.next_step
    edit = panel.proposal()
    assert edit["schedule"]["T_max"] == left
    assert edit["lr"] == pytest.approx(c.timeline(panel.next_step))  # no jump up to the base LR
    _ghost_steps, ghost_lrs = window.plots.ghost
    assert ghost_lrs[0] == pytest.approx(c.timeline(panel.next_step))
    for text, steps in (("25%", int(0.25 * left + 0.5)), ("3ep", 3 * c.steps_per_epoch)):
        t_max.widget.setText(text)
        assert panel.check() and panel.proposal()["schedule"]["T_max"] == steps
    start = panel.editor.form.fields["lr"].widget
    start.base.setChecked(True)  # the base LR, as an option
    assert panel.check() and panel.proposal().get("lr") is None
    t_max.widget.setText("soon")  # an error: shown whole, its field keeps its height
    assert not panel.check()
    qtbot.wait(100)
    error = nested.form.errors["T_max"]
    assert error.isVisible() and error.text()
    assert t_max.widget.height() >= t_max.widget.sizeHint().height()
    assert error.height() >= error.heightForWidth(error.width())
    assert all(lab.height() >= lab.heightForWidth(lab.width()) for lab in panel.findChildren(QLabel)
               if lab.isVisible() and lab.wordWrap() and lab.text())
    t_max.widget.setText("run")
    panel.apply_button.click()
    window.controller.stop()
    wait_idle(qtbot, window)
    from lrlab.core.storage.session import Session

    with Session.open(c.session_path) as s:
        edits = [e for e in s.events() if e.kind == "edit"]
    assert edits and edits[0].data["edit"]["schedule"]["T_max"] == c.total_steps - edits[0].step


def test_find_lr_and_the_sweep_keep_the_main_window_s_run_and_confirm_in_their_own_window(window, qtbot):
    _train(qtbot, window, dict(QUICK, epochs=10, optimizer={"name": "sgd", "lr": 40.0, "momentum": 0.9}))
    window.plots.flush()
    steps = len(window.plots.data)
    events = [window.events.item(i).text() for i in range(window.events.count())]
    assert steps > 0 and events  # the diverged run, and its event
    x_loss = window.plots.c_loss.getData()[0].copy()

    def unchanged() -> None:
        window.plots.flush()
        assert len(window.plots.data) == steps
        assert np.array_equal(window.plots.c_loss.getData()[0], x_loss)
        assert [window.events.item(i).text() for i in range(window.events.count())] == events

    set_spec(window, dict(QUICK, epochs=10))
    window.act_find.trigger()
    wait_idle(qtbot, window, 120_000)
    unchanged()
    found = window.tools.find_lr_window()
    found.rows["steepest"][1].click()
    assert found.confirmation.isVisible() and "Experiment form" in found.confirmation.text()
    unchanged()
    window.tools.run_sweep([0.01, 0.1], 1)
    wait_idle(qtbot, window, 120_000)
    unchanged()
    sweep = window.tools.sweep
    sweep.use_button.click()
    assert "Experiment form" in sweep.status.text()
    unchanged()
    found.close()
    sweep.close()


def test_a_fork_leaves_the_form_alone_and_steps_per_second_follows_the_pace_box(window, qtbot):
    from lrlab.core.decl.resources import list_presets

    _train(qtbot, window, dict(QUICK, epochs=10, optimizer={"name": "sgd", "lr": 0.2, "momentum": 0.9},
                               schedule={"kind": "cosine", "T_max": "run"}))
    preset = next(p for p in list_presets() if p.name == "lr-too-low")
    set_spec(window, preset.spec)  # the user sets up the next run (loading a preset would clear the plots)
    form = window.experiment.json()
    _fork(qtbot, window, 40, {"kind": "scale", "factor": 0.1})
    assert window.experiment.json() == form  # still the preset the user loaded
    window.set_pace(5.0)
    window.start()  # the form's run, not the fork's
    assert window.controller.spec.lr == 0.0005 and window.controller.kind == "train"
    qtbot.waitUntil(lambda: window.controller.steps_done >= 15, timeout=30_000)
    window.set_pace(50.0)
    assert window.pace_combo.currentText() == "50 steps/s"
    # within a few seconds the status says the pace the box says (a whole-run average would lag)
    qtbot.waitUntil(lambda: window.controller.progress().steps_per_second >= 35, timeout=4000)
    qtbot.wait(300)  # the status line's next refresh
    shown = int(window.status_label.text().split(" steps/s")[0].split()[-1])
    assert 35 <= shown <= 60, window.status_label.text()
    window.controller.stop()
    wait_idle(qtbot, window)


def test_presenter_mode_fills_a_1280x720_projector_with_four_large_plots(window, qtbot):
    from PySide6.QtGui import QFontMetrics

    from lrlab.core.decl.resources import list_presets

    window.experiment.load_preset(next(p for p in list_presets() if p.name == "lr-too-high"))
    window.resize(1280, 720)
    qtbot.wait(50)
    act = next(a for m in window.menuBar().actions() if m.text() == "&View" for a in m.menu().actions()
               if a.text() == "Presenter mode")
    assert act.shortcut().toString() == "F11"
    window.presenter.enter(full_screen=False)  # offscreen has no 1280x720 screen to fill: the window is one
    window.resize(1280, 720)
    window.plots.reset(window.experiment.spec.task, 1, 100)
    window.plots.add(_steps(100))
    window.plots.flush()
    qtbot.wait(100)
    assert not any(d.isVisible() for d in (window.dock_experiment, window.dock_edit, window.dock_events))
    bar = window.presenter.bar
    assert bar.isVisible() and "Learning rate too high" in bar.title.text() and bar.line.text()
    assert bar.pace.currentText() == window.pace_combo.currentText()
    assert all(b.isVisible() for b in bar.buttons)  # Start, Pause, Stop
    for plot in window.plots.plots:
        rect = plot.sceneBoundingRect()
        assert rect.width() >= 600 and rect.height() >= 300, (plot.titleLabel.text, rect)
        for name in ("left", "bottom"):
            font = plot.getAxis(name).style["tickFont"]
            assert font is not None and QFontMetrics(font).height() >= 14
    assert window.plots.c_loss.opts["pen"].widthF() >= 1.5
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.presenter.active and not bar.isVisible()
    assert window.dock_experiment.isVisible() and window.menuBar().isVisible()
    assert window.plots.c_loss.opts["pen"].widthF() == 1.0


def _steps(n: int) -> dict:
    steps = np.arange(n)
    return {"step": steps, "samples": (steps + 1) * 16.0, "train_loss": 2.0 / (1 + steps / 10.0),
            "lr": np.full(n, 0.05), "grad_norm": np.full(n, 1.0)}


def test_the_landscape_s_play_button_has_a_real_pause_icon_and_done_is_done(qtbot, lrlab_home):
    from lrlab.gui.landscape import LandscapeWindow

    w = LandscapeWindow()
    qtbot.addWidget(w)
    w.load_preset("too low")
    w.play_button.click()
    assert w.play_button.text() == "Pause" and not w.play_button.icon().isNull()  # no "⏸" tofu box
    w.pause()
    assert w.play_button.text() == "Play" and not w.play_button.icon().isNull()
    w.advance(10_000)
    w._refresh_text()
    assert "done" in w.playback.step_label.text()
    listed = w.controls.trajectories.traj_list
    texts = [listed.item(i).toolTip() for i in range(listed.count())]
    legend = w.legend.text().replace("&nbsp;", " ")
    assert texts and not any("running" in t for t in texts) and "running" not in legend, (texts, legend)
    assert "not settled after" in legend


def test_smaller_points_empty_axes_planned_preview_lower_right_panel_and_preset_names(window, qtbot):
    from PySide6.QtWidgets import QLabel

    from lrlab.core.decl.resources import list_presets

    presets = {p.name: p for p in list_presets()}
    window.set_pace(None)
    _train(qtbot, window, dict(QUICK, optimizer={"name": "sgd", "lr": 40.0, "momentum": 0.9}))
    window.plots.flush()
    assert window.plots.p_loss.getViewBox().viewRange()[1][1] > 5  # the explosion
    window.experiment.load_preset(presets["lr-too-low"])
    window.plots.flush()
    # the empty plots forget the last run's axes, and the LR panel previews the plan, dashed
    assert window.plots.p_loss.getViewBox().viewRange()[1][1] <= 1.5
    x, y = window.plots.c_planned.getData()
    assert len(x) and np.allclose(y, 0.0005) and x[-1] >= 600
    assert window.plots.c_planned.opts["pen"].style() == Qt.PenStyle.DashLine
    # the chooser says what it chooses; adaptive optimizers show the effective LR by default
    labels = [w.text().strip() for w in window.findChildren(QLabel)]
    assert "lower right panel" in labels
    assert window.plots.lower_right == "gradients"
    window.experiment.load_preset(presets["adaptive-adam"])
    assert window.plots.lower_right == "effective"
    window.set_pace(None)
    window.start()
    wait_idle(qtbot, window)
    assert window.plots.lower_right == "effective"
    assert "adaptive-adam" in window.controller.session_path  # named after the preset




def test_find_lr_s_axes_show_the_planned_lr_range_from_the_start(window, qtbot):
    set_spec(window, dict(QUICK))
    window.set_pace(20.0)
    window.act_find.trigger()
    found = window.tools.find_lr_window()
    qtbot.waitUntil(lambda: window.controller.steps_done > 1, timeout=30_000)
    (x0, x1), (y0, y1) = found.plot.getPlotItem().getViewBox().viewRange()
    assert x0 < -6.5 and 0.9 < x1 < 1.5 and (y0, y1) != (-500, 500)  # 1e-7 to 10 on the log axis
    found.cancel.click()
    wait_idle(qtbot, window, 20_000)
    assert "no lag" in found.plot.smoothed.name()
    found.close()


def test_compare_and_the_sweep_window_colour_a_sweep_s_members_alike(window, qtbot):
    from lrlab.gui.compare import CompareView

    set_spec(window, dict(QUICK, epochs=3))
    window.set_pace(None)
    assert window.tools.run_sweep([1e-4, 0.01, 1.0], 1)
    wait_idle(qtbot, window, 120_000)
    sweep = window.tools.sweep
    view = CompareView()
    qtbot.addWidget(view)
    view.open_paths(sweep.files)
    by_lr = {lr: c.name().upper() for lr, c in zip(sweep.member_lr, sweep.colour_of, strict=True)}
    assert len(set(by_lr.values())) == 3  # lr 0.0001 and lr 1 are not the same blue
    for r in view.runs:
        assert r.colour.upper() == by_lr[r.spec_json["optimizer"]["lr"]]
        assert view.curves[r.name].opts["pen"].color().name().upper() == r.colour.upper()
    sweep.close()
