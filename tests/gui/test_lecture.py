"""A teacher's second pass (issue 29): what a class sees while a lecture's runs go."""

from __future__ import annotations

import pytest
from guitools import LONG, set_spec, wait_idle

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
