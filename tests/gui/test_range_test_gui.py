"""The Find LR window: a range test run from the experiment form, its suggestions, "Use this LR"."""

from __future__ import annotations

import pytest
from guitools import QUICK, set_spec, wait_idle

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_find_lr_runs_in_the_background_and_use_this_lr_sets_the_form(window, qtbot):
    from lrlab.core.decl.resources import list_presets

    window.experiment.load_preset(next(p for p in list_presets() if p.name == "lr-well-chosen"))
    window.set_pace(None)
    before = window.experiment.json()
    window.act_find.trigger()
    assert window.controller.kind == "range_test" and window.controller.state.busy
    found = window.tools.find_lr_window()
    assert found.isVisible() and found.cancel.isVisible()  # progress and Cancel while it runs
    wait_idle(qtbot, window, 120_000)
    assert found.result is not None and not found.cancel.isVisible()
    assert window.experiment.json() == before  # the test never touches the form
    steepest = found.result.suggestions["steepest"]
    label, button = found.rows["steepest"]
    assert steepest.ok and button.isEnabled() and "steepest" in label.text()
    assert "optimizer" in button.toolTip() or "lr" in button.toolTip().lower()
    button.click()
    assert window.experiment.spec.lr == pytest.approx(steepest.lr)
    found.close()


def test_find_lr_can_be_cancelled(window, qtbot):
    set_spec(window, dict(QUICK))
    window.set_pace(20.0)  # slow enough to cancel mid-way
    window.act_find.trigger()
    found = window.tools.find_lr_window()
    qtbot.waitUntil(lambda: window.controller.steps_done > 2, timeout=30_000)
    found.cancel.click()
    wait_idle(qtbot, window, 10_000)
    assert window.controller.steps_done < 100
    found.close()
