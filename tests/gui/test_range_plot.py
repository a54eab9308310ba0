"""The LR range test: pure rules on constructed curves, the seeded run kind, sessions and `lrlab find-lr`.

Here: the window (they need Qt); the rest are in tests/core/test_range_test.py.
"""

from __future__ import annotations

import math

import numpy as np

from lrlab.core.features.lrfind import (
    lr_ramp,
)

# --- the ramp, the smoothing, the stop rule --------------------------------------------------------


def test_the_plot_marks_each_suggestion_and_copes_with_curves_without_one(qtbot):
    from lrlab.core.features.lrfind import RangeTestResult
    from lrlab.gui.range_plot import RangePlot, y_range

    lrs = lr_ramp(1e-7, 10.0, 100)
    fall = 2 - np.tanh((np.log(lrs[:80]) - math.log(1e-2)) / 1.0)
    y = np.concatenate([fall, fall[-1] + np.linspace(0, 8, 21)[1:]])
    seeds = [(0, y, y), (1, y + 0.1, y + 0.1)]
    result = RangeTestResult.from_curves(lrs, y, y, y, y + 0.1, seeds)
    plot = RangePlot()
    qtbot.addWidget(plot)
    plot.set_result(result, "digits")
    for rule in ("steepest", "valley", "minimum"):
        xs, _ = plot.markers[rule].getData()
        assert len(xs) == 1 and plot.labels[rule].toPlainText().startswith(rule)
    low, high = y_range(result)
    assert low < 1.0 < 3.0 < high < 5.0  # the blow-up after the minimum is cut off
    for lrs_, y_ in ((lrs[:3], np.array([2.0, 1.5, 1.0])), (lrs[:20], np.full(20, np.nan)), (lrs[:0], y[:0])):
        plot.set_result(RangeTestResult.from_curves(lrs_, y_, y_, y_, y_, [(0, y_, y_)]))
        assert all(m.xData is None or len(m.xData) == 0 for m in plot.markers.values())
        assert all(label.toPlainText() == "" for label in plot.labels.values())
