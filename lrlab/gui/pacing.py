"""One frame pacer for every window that draws a live run (the main plots, the Sweep and Grid
windows, PBT).

The rule is the same everywhere: drawing (our work in a frame plus Qt's paint that follows it)
may take at most :data:`GUI_SHARE` of the wall time. The training thread waits for the GIL while
the GUI thread draws, so what it loses is about twice that share (PySide holds the GIL while Qt
paints, and each hand-off costs both threads a wake-up; measured with bench_gui: 0.05 cost 9%
of the steps, 0.025 cost 5%). A frame's interval is therefore ``cost / GUI_SHARE``, kept between
the window's fastest pace and :data:`MAX_FRAME_MS`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer

#: at most ~30 redraws a second
FRAME_MS = 33
#: ... and at least one: a frame over a long history costs ~25 ms (our work and Qt's paint), and
#: at two a second that was 5-6% of the GUI thread, which the training thread lost twice over
MAX_FRAME_MS = 1000
#: the windows of several members (Sweep, Grid, PBT) at most ten a second: each frame draws K curves
MEMBERS_FRAME_MS = 100
#: the share of wall time frames may take, measured from our side (see the module docstring)
GUI_SHARE = 0.025


#: a live run hands over its metrics at least this often, at most every half second
MIN_BATCH_S, MAX_BATCH_S = 0.1, 0.5


def batch_seconds(pacer: FramePacer) -> float:
    """How often a run should hand over its metrics to a window drawing at ``pacer``'s pace: about
    twice a frame, between MIN_BATCH_S and MAX_BATCH_S, rounded down to half a second divided by a
    whole number (0.5, 0.25, 0.167, ... s). Batches faster than the frames that draw them only wake
    the GUI thread (and take the GIL from training) for nothing: at a million points of history,
    frames come once a second and ten batches a second were eight wake-ups too many. The rounding
    keeps the session's commits, made at the first batch half a second after the last
    (``SessionWriter.commit_seconds``), twice a second: a 0.4 s batch would have made them 0.8 s
    apart."""
    wanted = min(max(pacer.timer.interval() / 2000, MIN_BATCH_S), MAX_BATCH_S)
    return MAX_BATCH_S / math.ceil(MAX_BATCH_S / wanted - 1e-9)


class TimedGraphicsLayout(pg.GraphicsLayoutWidget):
    """Remembers how long its paints took, so the frame rate can adapt to them; calls
    ``after_first_paint`` (once, from the event loop) when it has been painted the first time.

    A frame's changes may cost several paints (pyqtgraph re-ranges an auto-ranged view at the
    next paint, which asks for another; a window's other widgets repaint it): the pacer counts
    them all (:meth:`take_paint_ms`), not the last one only."""

    last_paint_ms = 0.0
    #: milliseconds painted since :meth:`take_paint_ms` last read them
    painted_ms = 0.0
    after_first_paint: Callable[[], None] | None = None

    def paintEvent(self, event: Any) -> None:
        t0 = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_ms = (time.perf_counter() - t0) * 1000
        self.painted_ms += self.last_paint_ms
        if self.after_first_paint is not None:
            QTimer.singleShot(0, self.after_first_paint)
            self.after_first_paint = None

    def take_paint_ms(self) -> float:
        """The milliseconds painted since the last call (the last paint's when none since)."""
        ms, self.painted_ms = self.painted_ms, 0.0
        return ms or self.last_paint_ms


class FramePacer:
    """A repeating timer that calls ``frame`` and slows itself so that drawing stays within
    ``share`` of the time: the frame wraps its drawing in :meth:`measured`, and the next
    interval is ``cost / share`` between ``min_ms`` and ``max_ms``, where cost is the frame's
    milliseconds plus ``view``'s paints since the last frame (an exponential average with weight ``smoothing``
    on the newest frame: 1 follows each frame, 0.2 rides out a single slow one)."""

    def __init__(self, owner: QObject, frame: Callable[[], None], view: TimedGraphicsLayout,
                 min_ms: int = FRAME_MS, max_ms: int = MAX_FRAME_MS, share: float = GUI_SHARE,
                 smoothing: float = 1.0) -> None:
        self.view, self.min_ms, self.max_ms, self.share, self.smoothing = view, min_ms, max_ms, share, smoothing
        self.cost = 0.0  # smoothed milliseconds per frame (0: none measured yet)
        self.timer = QTimer(owner)
        self.timer.setInterval(min_ms)
        self.timer.timeout.connect(frame)
        self.timer.start()

    def restart(self) -> None:
        """Forget the frames' cost (a new run): the last run's long history slowed the frames to
        one a second, and a smoothed cost would take seconds to fall back. The next frame's cost
        is then taken whole, so a run that starts over a long history (a session continued) is
        slowed at once, not over ten frames."""
        self.cost = 0.0
        self.view.take_paint_ms()
        self.timer.setInterval(self.min_ms)

    @contextmanager
    def measured(self) -> Iterator[None]:
        """Time the drawing inside, then set the next interval (also when drawing raised)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.record((time.perf_counter() - t0) * 1000)

    def record(self, ms: float) -> None:
        """A frame's own work took ``ms``: pace the next ones (Qt's paints since the last frame
        are added here)."""
        cost = ms + self.view.take_paint_ms()
        self.cost = (1 - self.smoothing) * self.cost + self.smoothing * cost if self.cost else cost
        interval = int(min(max(self.cost / self.share, self.min_ms), self.max_ms))
        if abs(interval - self.timer.interval()) > 5:  # setInterval restarts the timer: only on a real change
            self.timer.setInterval(interval)
