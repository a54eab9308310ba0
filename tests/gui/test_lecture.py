"""A teacher's second pass (issue 29): what a class sees while a lecture's runs go."""

from __future__ import annotations

import pytest
from guitools import LONG, QUICK, set_spec, wait_idle

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
