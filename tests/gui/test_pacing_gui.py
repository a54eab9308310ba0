"""The shared frame pacer, and the live curves drawing their own log axis (issue 31)."""

from __future__ import annotations

import numpy as np
import pytest

from lrlab.gui.pacing import (
    GUI_SHARE,
    MAX_BATCH_S,
    MAX_FRAME_MS,
    MIN_BATCH_S,
    FramePacer,
    TimedGraphicsLayout,
    batch_seconds,
)


def test_the_pacer_slows_frames_so_drawing_keeps_its_share_of_the_time(qtbot):
    view = TimedGraphicsLayout()
    qtbot.addWidget(view)
    pacer = FramePacer(view, lambda: None, view, min_ms=100)
    assert pacer.timer.isActive() and pacer.timer.interval() == 100
    pacer.record(1.0)  # cheap frames: the window's fastest pace
    assert pacer.timer.interval() == 100
    pacer.record(5.0)  # a 5 ms frame may come every 5 / GUI_SHARE ms
    assert pacer.timer.interval() == int(5.0 / GUI_SHARE)
    view.last_paint_ms = 100.0  # Qt's paint counts too, and the pace never drops under one a second
    pacer.record(5.0)
    assert pacer.timer.interval() == MAX_FRAME_MS == 1000
    pacer.restart()  # a new run: its frames are cheap again, whatever the last one's cost
    assert pacer.timer.interval() == 100 and pacer.cost == 0.0


def test_a_new_run_in_the_window_draws_at_full_pace_again(window, qtbot):
    pacer = window.plots.pacer
    for _ in range(20):
        pacer.record(100.0)  # the last run's history made frames slow (its cost is smoothed)
    assert pacer.timer.interval() == MAX_FRAME_MS
    window.plots.reset("classification", 10, 1000, live=True)
    assert pacer.timer.interval() == pacer.min_ms
    pacer.record(20.0)  # its first frame's cost counts whole: 20 ms frames come every 800 ms at once
    assert pacer.timer.interval() >= 800


def test_a_run_hands_over_its_metrics_twice_a_frame_at_the_windows_pace(qtbot):
    view = TimedGraphicsLayout()
    qtbot.addWidget(view)
    pacer = FramePacer(view, lambda: None, view)
    assert batch_seconds(pacer) == MIN_BATCH_S == 0.1  # 30 frames a second: ten batches a second
    pacer.record(10.0)  # 400 ms frames: a batch every ~200 ms, as a third of the commit interval
    assert batch_seconds(pacer) == pytest.approx(0.5 / 3)
    pacer.record(16.0)  # 640 ms frames: 0.32 s would commit every 0.64 s; 0.25 s keeps it at 0.5 s
    assert batch_seconds(pacer) == pytest.approx(0.25)
    pacer.record(100.0)  # one frame a second: two batches, not ten
    assert batch_seconds(pacer) == MAX_BATCH_S == 0.5


def test_the_window_slows_a_live_runs_batches_to_its_frame_pace(window, qtbot):
    from guitools import LONG, set_spec, wait_idle

    set_spec(window, LONG)
    window.plots.pacer.min_ms = 1000  # frames as slow as over a long history
    window.plots.pacer.timer.setInterval(1000)
    window.start()
    qtbot.waitUntil(lambda: window.controller.steps_done > 0, timeout=60_000)
    runner = window.controller.worker.runner
    assert runner.flush_seconds == 0.5  # half a frame (was 0.1 however slow the frames)
    got = []
    window.controller.worker.sig_metrics.connect(lambda u: got.append(u))
    qtbot.wait(2000)
    window.controller.stop()
    wait_idle(qtbot, window)
    assert 2 <= len(got) <= 7  # ~4 batches in 2 s, not ~20


def test_log_axes_draw_log10_of_the_values_and_gaps_where_they_are_not_positive(qtbot):
    from lrlab.gui.plots import PlotPanel

    panel = PlotPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.reset("classification", 10, 100)
    steps = np.arange(50)
    loss = np.where(steps == 10, 0.0, 2.0 / (1 + steps * 0.1))
    panel.add({"step": steps, "epoch": steps // 10, "samples": (steps + 1) * 16, "wall_time": steps * 1e-3,
               "train_loss": loss, "lr": np.full(50, 0.1), "grad_norm": np.ones(50),
               "update_ratio": np.full(50, np.nan)})
    panel.flush()
    _, y = panel.c_loss.getData()
    assert y[0] == pytest.approx(2.0)  # linear: the loss as recorded
    panel.set_log_loss(True)
    panel.flush()
    _, y = panel.c_loss.getData()
    assert y[0] == pytest.approx(np.log10(2.0)) and np.isnan(y[10])  # what the log axis draws
    assert panel.c_loss.getOriginalDataset()[1][0] == pytest.approx(2.0)  # the values as given
    _, lr = panel.curves["lr"].getData()
    assert lr[0] == pytest.approx(0.1)  # the LR panel is still linear
    panel.set_log_lr(True)
    panel.flush()
    assert panel.curves["lr"].getData()[1][0] == pytest.approx(-1.0)
    panel.set_log_loss(False)  # back: the same curve, the values again
    panel.flush()
    assert panel.c_loss.getData()[1][0] == pytest.approx(2.0)


def test_a_live_plots_range_holds_its_data_changes_rarely_and_leaves_the_users_zoom(qtbot):
    import pyqtgraph as pg

    from lrlab.gui.fastcurve import FastCurve
    from lrlab.gui.ranges import SteadyRange

    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    plot = widget.getPlotItem()
    curve = FastCurve()
    plot.addItem(curve)
    keeper = SteadyRange(plot, grow_x=True)
    curve.set_points(np.arange(100.0), np.linspace(1.0, 0.5, 100))
    keeper.fit()
    (x0, x1), (y0, y1) = plot.getViewBox().viewRange()
    assert x0 <= 0 and x1 >= 99 * 1.4 and y0 <= 0.5 and y1 >= 1.0  # room to grow to the right
    curve.set_points(np.arange(120.0), np.linspace(1.0, 0.48, 120))  # a little more: same range
    keeper.fit()
    assert plot.getViewBox().viewRange() == [[x0, x1], [y0, y1]]
    curve.set_points(np.arange(400.0), np.linspace(1.0, 0.2, 400))  # out of it: refitted
    keeper.fit()
    assert plot.getViewBox().viewRange()[0][1] >= 399
    plot.getViewBox().sigRangeChangedManually.emit([True, True])  # the user zoomed
    plot.getViewBox().setRange(xRange=(10, 20), padding=0)
    curve.set_points(np.arange(1000.0), np.linspace(1.0, 0.1, 1000))
    keeper.fit()
    assert plot.getViewBox().viewRange()[0] == [10.0, 20.0]
