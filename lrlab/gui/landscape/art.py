"""What the Landscape window draws, piece by piece: contour helpers, growing paths, one trajectory's art.

Paths are drawn in chunks of :data:`CHUNK` points: a frame re-sends only the newest chunk to
pyqtgraph, so its cost does not grow with the length of a path. A trajectory that leaves the view
box stops there (:func:`clip_to_box`): diverged, not drawn off to infinity.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem

from lrlab.core.features.landscape import DIVERGED, Surface, Trajectory, grid
from lrlab.gui.style import faint

#: points per drawn piece of a path; only the newest piece is re-sent each frame
CHUNK = 64
#: loss gaps below this are drawn at it (a log axis has no zero)
LOSS_FLOOR = 1e-12
#: contour band colours from the lowest level to the highest, light and dark palettes: greys with a
#: little blue, so every palette colour (with its halo) stays readable on every band
BANDS_LIGHT = ("#8ea3b5", "#f4f4ef")
BANDS_DARK = ("#161b21", "#4d5660")
N_LEVELS = 14


def pretty(formula: str) -> str:
    """``x^2`` as ``x²`` for the window (the core's formulas are ASCII for every terminal)."""
    return formula.replace("^2", "²").replace("^3", "³").replace("^4", "⁴").replace(" * ", " · ")


def isolines(surface: Surface, levels: np.ndarray, n: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """The contour lines at ``levels`` of f - f* as one NaN-separated polyline (x, y), traced by
    pyqtgraph's marching squares on an n x n grid (once per surface: about 0.1 s)."""
    x0, x1, y0, y1 = surface.box
    _, _, z = grid(surface, n=n)
    data = (z - surface.f_min).T  # index [i, j] = (x_i, y_j)
    xs: list[float] = []
    ys: list[float] = []
    for level in levels[1:-1]:
        for line in pg.functions.isocurve(data, level, connected=True):
            for i, j in line:
                xs.append(x0 + i * (x1 - x0) / (n - 1))
                ys.append(y0 + j * (y1 - y0) / (n - 1))
            xs.append(math.nan)
            ys.append(math.nan)
    return np.array(xs), np.array(ys)


def ramp(low: str, high: str, n: int) -> np.ndarray:
    a, b = QColor(low), QColor(high)
    t = np.linspace(0, 1, n)[:, None] ** 0.8
    lo = np.array([a.red(), a.green(), a.blue()], dtype=np.float64)
    hi = np.array([b.red(), b.green(), b.blue()], dtype=np.float64)
    return np.round(lo + (hi - lo) * t).astype(np.uint8)


class GrowingPath:
    """A polyline that only grows, drawn as pieces of at most CHUNK points (plus an optional
    halo under it). Each :meth:`update` re-sends the newest piece only, and full pieces keep
    their rendering as a pixmap (``DeviceCoordinateCache``): a wide pen costs its stroke once,
    not once per frame. The plot's ranges are the window's business: these curves never make
    the view box recompute its bounds."""

    def __init__(self, plot: pg.PlotItem, colour: str, width: float, halo: str | None = None,
                 chunk: int = CHUNK):
        self.plot = plot
        self.chunk = chunk
        self.pen = pg.mkPen(colour, width=width)
        self.halo_pen = pg.mkPen(halo, width=width + 2.5) if halo else None
        self.items: list[pg.PlotCurveItem] = []
        self.start = 0  # first point of the live piece
        self.shown = 0  # points drawn so far

    def _new_piece(self) -> None:
        for item in self._live():
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # frozen from now on
        for pen, z in ((self.halo_pen, 1), (self.pen, 2)):
            if pen is None:
                continue
            item = pg.PlotCurveItem(pen=pen, skipFiniteCheck=True)
            item.setZValue(z)
            self.plot.addItem(item, ignoreBounds=True)
            self.items.append(item)

    def _live(self) -> list[pg.PlotCurveItem]:
        return self.items[-2:] if self.halo_pen is not None else self.items[-1:]

    def update(self, xs: np.ndarray, ys: np.ndarray) -> None:
        n = len(xs)
        if n == self.shown:
            return
        if not self.items:
            self._new_piece()
        while n - self.start > self.chunk:  # freeze full pieces; the next one starts at their last point
            end = self.start + self.chunk
            self._draw(xs[self.start:end + 1], ys[self.start:end + 1])
            self.start = end
            self._new_piece()
        self._draw(xs[self.start:n], ys[self.start:n])
        self.shown = n

    def _draw(self, xs: np.ndarray, ys: np.ndarray) -> None:
        for item in self._live():
            item.setData(xs, ys)

    def clear(self) -> None:
        for item in self.items:
            self.plot.removeItem(item)
        self.items, self.start, self.shown = [], 0, 0


def clip_to_box(x0: float, y0: float, x1: float, y1: float, box: tuple[float, float, float, float]
                ) -> tuple[float, float]:
    """Where the segment from (x0, y0) inside the box towards (x1, y1) outside it crosses the
    box's edge (the end of a diverged path); a non-finite end stays at the start."""
    if not (math.isfinite(x1) and math.isfinite(y1)):
        return x0, y0
    bx0, bx1, by0, by1 = box
    t = 1.0
    for p, d, lo, hi in ((x0, x1 - x0, bx0, bx1), (y0, y1 - y0, by0, by1)):
        if d > 0 and p + d > hi:
            t = min(t, (hi - p) / d)
        elif d < 0 and p + d < lo:
            t = min(t, (lo - p) / d)
    return x0 + t * (x1 - x0), y0 + t * (y1 - y0)


class TrajectoryArt:
    """What one trajectory draws: its path on the surface, its loss and LR curves and the LR
    planned ahead. Heads and crosses of all trajectories share one scatter item each (the
    surface view's)."""

    def __init__(self, traj: Trajectory, colour: str, contour: pg.PlotItem, loss_plot: pg.PlotItem,
                 lr_plot: pg.PlotItem, halo: str):
        self.traj = traj
        self.colour = colour
        self.lr_plot = lr_plot
        self.path = GrowingPath(contour, colour, 2, halo)
        self.loss = GrowingPath(loss_plot, colour, 1.5, chunk=4 * CHUNK)  # thin pens: longer pieces
        self.lr = GrowingPath(lr_plot, colour, 1.5, chunk=4 * CHUNK)
        self.log_gap = (math.inf, -math.inf)  # the range of log10(f - f*) drawn so far
        self.planned = pg.PlotCurveItem(pen=pg.mkPen(faint(colour, 150), width=1, style=Qt.PenStyle.DashLine))
        self.planned.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # redrawn only after an edit
        lr_plot.addItem(self.planned, ignoreBounds=True)
        self.steps_drawn = -1
        self.end: tuple[float, float] = (math.nan, math.nan)  # the head, or where it left the box

    def draw(self) -> bool:
        """Send what is new since the last frame; True if anything was."""
        t = self.traj
        n_points = len(t.x.data)
        if n_points - 1 == self.steps_drawn:
            return False
        self.steps_drawn = n_points - 1
        xs, ys = t.x.data, t.y.data
        if t.status == DIVERGED and n_points >= 2:  # end the path at the box's edge, with a cross
            ex, ey = clip_to_box(xs[-2], ys[-2], xs[-1], ys[-1], t.box)
            xs, ys = np.append(xs[:-1], ex), np.append(ys[:-1], ey)
        self.end = (float(xs[-1]), float(ys[-1]))
        self.path.update(xs, ys)
        # the loss of every point inside the box, above the surface's minimum, on a log axis
        inside = n_points - 1 if t.status == DIVERGED else n_points
        gap = np.log10(np.maximum(t.loss.data[:inside] - t.surface.f_min, LOSS_FLOOR))
        if inside > self.loss.shown:
            new = gap[self.loss.shown:]
            self.log_gap = (min(self.log_gap[0], float(new.min())), max(self.log_gap[1], float(new.max())))
        self.loss.update(np.arange(inside, dtype=np.float64), gap)
        lrs = t.lr.data
        self.lr.update(np.arange(len(lrs), dtype=np.float64), lrs)
        return True

    def draw_planned(self, total: int) -> None:
        """The LR ahead of the current step (the schedule and every edit so far), dashed."""
        if self.traj.status == DIVERGED:
            self.planned.setData([], [])
            return
        steps = np.arange(self.traj.steps, total, dtype=np.int64)
        self.planned.setData(steps.astype(np.float64), self.traj.timeline.at(steps))

    def remove(self) -> None:
        for g in (self.path, self.loss, self.lr):
            g.clear()
        self.lr_plot.removeItem(self.planned)


def nbsp(text: str) -> str:
    """Plain text as HTML whose spaces never break: a legend entry wraps as a whole."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(" ", "&nbsp;")
    return text.replace("/", "\u2060/\u2060")  # word joiners: Qt would break "2/L" after the slash
