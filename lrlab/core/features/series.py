"""Long metric series made cheap to draw and smooth, for the live plots and comparisons.

Drawing a million-point curve at 30 Hz would starve the training thread (PySide holds
the GIL while Qt paints), so plots never hand pyqtgraph the raw history. A
:class:`MinMaxPyramid` keeps, next to the raw points, the minimum and maximum of
every block of ``factor**k`` points, updated incrementally as batches arrive; a view
of any x range comes back as at most ``max_points`` points (min and max of each block,
so spikes stay visible), at a cost that does not grow with the history.
"""

from __future__ import annotations

import math

import numpy as np


class Growable:
    """A float64 array that grows by an eighth more than it needs, at least doubling; ``data`` is
    the filled part (a view). (Growing to exactly what was needed made a long history arriving in
    one batch, a run resumed or continued live, copy itself again at the next batch; an eighth
    keeps a session that never grows, opened or compared, near its own size.)"""

    def __init__(self, capacity: int = 1024):
        self._buf = np.empty(capacity, dtype=np.float64)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.n + len(values)
        if need > len(self._buf):
            new = np.empty(max(need + need // 8, 2 * len(self._buf)), dtype=np.float64)
            new[: self.n] = self._buf[: self.n]
            self._buf = new
        self._buf[self.n:need] = values
        self.n = need

    @property
    def data(self) -> np.ndarray:
        return self._buf[: self.n]

    def clear(self) -> None:
        self.n = 0


class MinMaxPyramid:
    """A growing series (x increasing) with min/max summaries for bounded-cost views."""

    def __init__(self, factor: int = 8):
        self.factor = factor
        self.x = Growable()
        self.y = Growable()
        self.lo: list[Growable] = []  # level k+1: min of each block of factor**(k+1) points
        self.hi: list[Growable] = []

    def __len__(self) -> int:
        return self.x.n

    def clear(self) -> None:
        self.x.clear()
        self.y.clear()
        self.lo.clear()
        self.hi.clear()

    def append(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add points; only the blocks they touch are summarised again."""
        if len(x) == 0:
            return
        start = self.x.n
        self.x.extend(x)
        self.y.extend(y)
        n = self.x.n
        built = len(self.lo)
        while self.factor ** (len(self.lo) + 1) * 64 < n:  # enough levels for any zoom level
            self.lo.append(Growable())
            self.hi.append(Growable())
        lo_src, hi_src = self.y.data, self.y.data
        size_below = 1
        for k in range(len(self.lo)):
            size = size_below * self.factor
            first_block = start // size if k < built else 0  # a new level is built whole
            # the source entries (points or lower-level blocks) of the touched blocks
            s0 = first_block * self.factor
            s1 = len(lo_src)
            offsets = np.arange(0, s1 - s0, self.factor)
            with np.errstate(invalid="ignore"):
                lows = np.fmin.reduceat(lo_src[s0:s1], offsets)
                highs = np.fmax.reduceat(hi_src[s0:s1], offsets)
            for level, values in ((self.lo[k], lows), (self.hi[k], highs)):
                level.n = first_block  # rewrite the last partial block and everything after
                level.extend(values)
            lo_src, hi_src = self.lo[k].data, self.hi[k].data
            size_below = size

    def view(self, x0: float, x1: float, max_points: int, smooth: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Points covering [x0, x1] (plus one neighbour each side), at most ~max_points.

        Raw points when few enough are visible. A ``smooth`` curve (the LR, a smoothed loss)
        is then sampled every k-th point, last point included: min/max envelopes would draw
        its ramps as stairs. Otherwise, for the finest level that fits,
        each block as two points at its first x, its minimum and its maximum, in the order
        the block runs (falling blocks give the maximum first), so a step down in the LR
        draws as one clean edge and noise as an envelope.
        """
        xs, ys = self.x.data, self.y.data
        n = len(xs)
        if n == 0:
            return xs, ys
        i0 = max(int(np.searchsorted(xs, x0, "left")) - 1, 0)
        i1 = min(int(np.searchsorted(xs, x1, "right")) + 1, n)
        visible = i1 - i0
        if visible <= max_points:
            return xs[i0:i1], ys[i0:i1]
        if smooth:
            idx = np.arange(i0, i1, math.ceil(visible / max(max_points, 2)))
            idx = np.append(idx, i1 - 1) if idx[-1] != i1 - 1 else idx
            return xs[idx], ys[idx]
        half = max(max_points // 2, 1)
        level = 0
        size = 1
        while level < len(self.lo) and math.ceil(visible / size) > half:
            level += 1
            size = self.factor ** level
        if level == 0:
            return xs[i0:i1], ys[i0:i1]
        b0, b1 = i0 // size, (i1 - 1) // size + 1
        lo, hi = self.lo[level - 1].data[b0:b1], self.hi[level - 1].data[b0:b1]
        starts = np.arange(b0, b1) * size
        first, last = ys[starts], ys[np.minimum(starts + size, n) - 1]
        falling = first > last
        out_x = np.repeat(xs[starts], 2)
        out_y = np.empty(2 * len(lo))
        out_y[0::2] = np.where(falling, hi, lo)
        out_y[1::2] = np.where(falling, lo, hi)
        return out_x, out_y


def debiased_ema(y: np.ndarray, smoothing: float, start: int = 0,
                 state: float = 0.0) -> tuple[np.ndarray, float]:
    """Exponential moving average with bias correction, as TensorBoard draws it.

    m_t = s * m_{t-1} + (1 - s) * y_t with m_{-1} = 0, shown as m_t / (1 - s**(t+1)), so the
    curve starts at the first value instead of at zero. ``start`` and ``state`` (the last
    m of the previous chunk) continue a series chunk by chunk; returns (smoothed, state).
    NaN values (a diverged step) come out as NaN.
    """
    y = np.asarray(y, dtype=np.float64)
    if smoothing <= 0 or len(y) == 0:
        return y.copy(), float(y[-1]) if len(y) else state
    finite = np.isfinite(y)
    filled = np.where(finite, y, 0.0)
    if len(y) <= SHORT_SERIES:
        m = _ema_loop(filled, smoothing, state)
        last = float(m[-1])
    else:
        from scipy.signal import lfilter

        m, zf = lfilter([1 - smoothing], [1, -smoothing], filled, zi=[smoothing * state])
        last = float(zf[0] / smoothing)
    t = np.arange(start, start + len(y), dtype=np.float64)
    out = m / (1 - smoothing ** (t + 1))
    out[~finite] = np.nan
    return out, last


#: series up to this long are smoothed in a Python loop (about 1 ms); longer ones by scipy's
#: lfilter, whose import (1.5 s on a busy machine) a live run's small chunks never wait for
SHORT_SERIES = 4096


def _ema_loop(y: np.ndarray, smoothing: float, state: float) -> np.ndarray:
    """``lfilter([1 - s], [1, -s], y, zi=[s * state])``'s first output, in the same operations
    (each value is ``(1 - s) * y_t + s * m_{t-1}``, as lfilter's transposed direct form computes
    it), so chunks smoothed either way continue each other exactly."""
    b, s = 1 - smoothing, smoothing
    out = np.empty(len(y))
    m = state
    for i, v in enumerate(y.tolist()):
        m = b * v + s * m
        out[i] = m
    return out
