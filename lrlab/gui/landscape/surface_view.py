"""The surface view: the contour of f with its minima, the start point, every trajectory's head or
cross, the header that says what the surface is, and the legend under it.

The surface is drawn once per surface as a filled contour: bands between log-spaced levels of
f - f* (:func:`~lrlab.core.features.landscape.log_levels`), so a basin and its cliffs both show, with the
isolines traced over them. A frame only moves the heads; the crosses of diverged trajectories are
re-sent only when one appears.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtWidgets import QLabel, QSizePolicy

from lrlab.core.features.landscape import DIVERGED, Landscape, critical_lr, grid, log_levels
from lrlab.core.features.landscape.surfaces import Box, Point, Surface
from lrlab.gui.landscape.art import N_LEVELS, TrajectoryArt, isolines, nbsp, pretty, ramp
from lrlab.gui.style import DIVERGED_COLOUR, faint


class SurfaceView:
    """The contour plot (``widget``) with its ``header`` above and ``legend`` below, as three
    widgets the window lays out. Owns what is drawn on the surface and which surface that is."""

    def __init__(self, halo: str, bands: tuple[str, str]):
        self.halo = halo
        self.bands = bands
        self.header = _wrapping_label()
        self.widget = pg.PlotWidget()
        self.contour = self.widget.getPlotItem()
        self.contour.setMenuEnabled(False)
        self.contour.hideButtons()
        self.contour.getViewBox().setMouseEnabled(False, False)
        self.contour.setLabel("bottom", "x")
        self.contour.setLabel("left", "y")
        self.widget.setCursor(Qt.CursorShape.CrossCursor)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        self.contour.addItem(self.image)
        self.isolines = pg.PlotDataItem(pen=pg.mkPen(faint(bands[0], 170), width=1), connect="finite")
        self.isolines.setZValue(-5)
        self.contour.addItem(self.isolines)
        light = halo == "#ffffff"
        self.minima = pg.ScatterPlotItem(size=13, symbol="star", pen=pg.mkPen(halo, width=1),
                                         brush=pg.mkBrush("#333333" if light else "#dddddd"))
        self.minima.setZValue(3)
        self.contour.addItem(self.minima)
        self.start_marker = pg.ScatterPlotItem(size=12, symbol="o", pen=pg.mkPen("#000000" if light else "#ffffff",
                                                                                 width=2),
                                               brush=pg.mkBrush(None))
        self.start_marker.setZValue(4)
        self.contour.addItem(self.start_marker)
        self.heads = pg.ScatterPlotItem(size=11, pen=pg.mkPen(halo, width=1.5))
        self.heads.setZValue(5)
        self.contour.addItem(self.heads)
        self.crosses = pg.ScatterPlotItem(size=18, symbol="x", pen=pg.mkPen(halo, width=1))
        self.crosses.setZValue(6)
        self.contour.addItem(self.crosses)
        self.legend = _wrapping_label()
        self._ends: tuple | None = None
        self._surface_key: str | None = None
        self._legend_texts: list[str] = []

    def show_landscape(self, land: Landscape) -> None:
        """A new set-up: its surface (drawn only when it changed), its start, no crosses yet."""
        key = json.dumps(land.spec.surface.to_json(), sort_keys=True)
        if key != self._surface_key:
            self._draw_surface(land.surface)
            self._surface_key = key
        x, y = land.start
        self.start_marker.setData([x], [y])
        self._ends = None  # nothing drawn yet: the last set-up's crosses are cleared by the next draw_ends
        self._legend_texts = []

    def _draw_surface(self, surface: Surface) -> None:
        x0, x1, y0, y1 = surface.box
        _, _, z = grid(surface, n=400)
        levels = log_levels(z, surface.f_min, N_LEVELS)
        bands = np.clip(np.searchsorted(levels, z - surface.f_min), 0, N_LEVELS - 1).astype(np.uint8)
        self.image.setImage(bands, levels=(0, N_LEVELS - 1), lut=ramp(*self.bands, N_LEVELS), autoLevels=False)
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.isolines.setData(*isolines(surface, levels))
        # a little room around the box, so a cross on its edge shows whole
        self.contour.setXRange(x0, x1, padding=0.015)
        self.contour.setYRange(y0, y1, padding=0.02)
        self.minima.setData([m[0] for m in surface.minima], [m[1] for m in surface.minima])
        where = "" if surface.kind in ("quadratic", "noisy_bowl") else " at a minimum"
        self.header.setText(f"<b>{surface.title}</b>: {pretty(surface.describe())}. "
                            f"Contours at log-spaced levels of f − f*; ★ minimum, ○ start. "
                            f"2/L = {2 / surface.max_curvature:.3g} (L = {surface.max_curvature:.3g}, the "
                            f"largest curvature{where}): plain gradient descent diverges above it.")

    def draw_ends(self, arts: Sequence[TrajectoryArt]) -> None:
        """Heads of running trajectories, crosses where diverged ones left the box: one scatter
        item each for all trajectories, the crosses re-sent only when one appears."""
        heads = [a for a in arts if a.traj.status != DIVERGED]
        crosses = [a for a in arts if a.traj.status == DIVERGED]
        self.heads.setData([a.end[0] for a in heads], [a.end[1] for a in heads],
                           brush=[pg.mkBrush(a.colour) for a in heads])
        ends = tuple(a.end for a in crosses)
        if ends != self._ends:
            self._ends = ends
            self.crosses.setData([e[0] for e in ends], [e[1] for e in ends],
                                 brush=[pg.mkBrush(a.colour) for a in crosses])

    def show_legend(self, land: Landscape, colours: Sequence[str]) -> list[str] | None:
        """Each trajectory's colour, name, LR as a multiple of its critical LR (2/L for plain
        gradient descent) and status; returns the statuses when they changed, else None."""
        texts = [t.describe(land.done) for t in land.trajectories]
        if texts == self._legend_texts:
            return None
        self._legend_texts = texts
        parts = []
        big = land.surface.max_curvature
        for t, text in zip(land.trajectories, texts, strict=True):
            colour = colours[t.index % len(colours)]
            crit = critical_lr(t.spec.optimizer, big)
            ratio = None if crit is None else t.spec.optimizer["lr"] / crit
            where = ("" if ratio is None else f" (lr = {ratio:.3g} × 2/L)" if t.spec.optimizer["momentum"] == 0
                     else f" (lr = {ratio:.3g} × its critical LR)")
            entry = nbsp(f"{t.index + 1} {t.name}{where}: ")
            shown = f"<b style='color:{DIVERGED_COLOUR}'>{nbsp(text)}</b>" if t.status == DIVERGED else nbsp(text)
            parts.append(f"<span style='color:{colour}; font-size:large'>━━</span>&nbsp;{entry}{shown}")
        self.legend.setText(" &nbsp; ".join(parts))  # entries break between each other, never inside
        return texts

    def point_at(self, scene_pos: QPointF, box: Box) -> Point | None:
        """The surface point under a click, to 3 significant digits, or None outside the view box."""
        vb = self.contour.getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        x0, x1, y0, y1 = box
        if x0 < p.x() < x1 and y0 < p.y() < y1:
            return float(f"{p.x():.3g}"), float(f"{p.y():.3g}")
        return None


def _wrapping_label() -> QLabel:
    """A label that wraps to the figure's width instead of widening it."""
    label = QLabel()
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label
