"""Legends that never cover a data point, for every plot that has one (live panels, compare).

A legend sits inside its plot, in whichever corner holds the fewest of the points drawn (the
vertices of every visible curve, in view coordinates), preferring the corner it is in so that
it moves only when data arrive there. Where every corner holds points (a loss that starts
high at the left and explodes at the right), the y range grows upward until the legend's band
at the top is empty: with ``f`` the share of the plot's height the legend takes and ``m`` the
highest point under it, the new top is ``(m - y0 f) / (1 - f)`` (then ``m`` sits exactly at
the legend's lower edge). :func:`covered_points` is the check the tests apply to what is on
screen and to exports.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF

#: corner -> (legend's anchor point, its parent's anchor point, offset sign); first is the default
CORNERS = {"top right": ((1, 0), (1, 0), (-1, 1)), "top left": ((0, 0), (0, 0), (1, 1)),
           "bottom right": ((1, 1), (1, 1), (-1, -1)), "bottom left": ((0, 1), (0, 1), (1, -1))}
MARGIN_PX = 6  # between the legend and the plot's edge
LARGEST_SHARE = 0.45  # a legend taller than this share of its plot is not given headroom (no room)


def drawn_points(plot: pg.PlotItem) -> tuple[np.ndarray, np.ndarray]:
    """The vertices of every visible curve of ``plot`` in view coordinates (log10 on a log axis),
    finite ones only (pyqtgraph hands back what it draws: mapped, clipped to the view)."""
    xs, ys = [], []
    for item in plot.listDataItems():
        if not item.isVisible():
            continue
        x, y = item.getData()
        if x is None or not len(x):
            continue
        keep = np.isfinite(x) & np.isfinite(y)
        xs.append(np.asarray(x, dtype=np.float64)[keep])
        ys.append(np.asarray(y, dtype=np.float64)[keep])
    if not xs:
        return np.empty(0), np.empty(0)
    return np.concatenate(xs), np.concatenate(ys)


def _size_in_view(plot: pg.PlotItem) -> tuple[float, float, float]:
    """The legend's (width, height) in view units with its margin, and its share of the height."""
    vb = plot.getViewBox()
    legend = plot.legend
    legend.layout.activate()  # its labels' sizes are laid out lazily: a new entry's width is not known yet
    legend.updateSize()
    rect = legend.boundingRect()
    width_px, height_px = max(vb.width(), 1.0), max(vb.height(), 1.0)
    (x0, x1), (y0, y1) = vb.viewRange()
    share_h = (rect.height() + MARGIN_PX) / height_px
    return (rect.width() + MARGIN_PX) / width_px * (x1 - x0), share_h * (y1 - y0), share_h


def _box(corner: str, view: list[list[float]], w: float, h: float) -> tuple[float, float, float, float]:
    (x0, x1), (y0, y1) = view
    left = x1 - w if "right" in corner else x0
    bottom = y1 - h if "top" in corner else y0
    return left, left + w, bottom, bottom + h


def _inside(x: np.ndarray, y: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    left, right, bottom, top = box
    return (x >= left) & (x <= right) & (y >= bottom) & (y <= top)


def place_legend(plot: pg.PlotItem, allowed: Iterable[str] = tuple(CORNERS)) -> bool:
    """Move ``plot``'s legend to the corner (of ``allowed``: the top ones where labels sit at the
    foot) with the fewest drawn points; when none is empty, raise the top of the y range so that
    the top band is. True when the y range changed."""
    legend = plot.legend
    if legend is None or not legend.isVisible() or not legend.items:
        return False
    vb = plot.getViewBox()
    view = vb.viewRange()
    x, y = drawn_points(plot)
    w, h, share = _size_in_view(plot)
    allowed = tuple(allowed)
    current = getattr(legend, "corner", "top right")
    order = list(dict.fromkeys(c for c in (current, *CORNERS) if c in allowed))
    counts = {c: int(_inside(x, y, _box(c, view, w, h)).sum()) for c in order}
    best = min(order, key=lambda c: counts[c])  # the first of the fewest: stays where it is if it can
    changed = False
    if counts[best] > 0 and share < LARGEST_SHARE:
        best = min((c for c in order if "top" in c), key=lambda c: counts[c])
        left, right, _, _ = _box(best, view, w, h)
        under = (x >= left) & (x <= right)
        y0, y1 = view[1]
        top = float(y[under].max())
        new_top = (top - y0 * share) / (1 - share)
        new_top += 0.01 * (new_top - y0)  # clear of the edge, not on it
        if new_top > y1:
            vb.setYRange(y0, new_top, padding=0)
            changed = True
    if best != current or not getattr(legend, "placed", False):
        item, parent, (sx, sy) = CORNERS[best]
        legend.anchor(item, parent, offset=(sx * MARGIN_PX / 2, sy * MARGIN_PX / 2))
        legend.corner, legend.placed = best, True
    return changed


def covered_points(plot: pg.PlotItem) -> int:
    """How many drawn points lie under ``plot``'s legend on screen (the tests want none)."""
    legend = plot.legend
    if legend is None or not legend.isVisible() or not legend.items:
        return 0
    x, y = drawn_points(plot)
    vb = plot.getViewBox()
    rect = legend.sceneBoundingRect()
    return sum(rect.contains(vb.mapViewToScene(QPointF(float(a), float(b)))) for a, b in zip(x, y, strict=True))
