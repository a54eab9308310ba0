"""The two plots under the surface: the loss above the minimum (log) and the LR of every trajectory by step.

The LR plot marks the critical LR 2/L of plain gradient descent (L the largest curvature at a
minimum: above it, gradient descent diverges). The loss plot's y range moves in whole decades
only, so a frame rarely changes a range (a range change redraws every curve piece).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from lrlab.gui.landscape.art import TrajectoryArt
from lrlab.gui.style import DIVERGED_COLOUR


class LossLrPlots:
    """``loss_widget`` and ``lr_widget`` side by side (the window lays them out), x-linked."""

    def __init__(self, dark: bool):
        self.loss_widget = pg.PlotWidget()
        self.loss_plot = self.loss_widget.getPlotItem()
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.setLabel("left", "f − f* (log, floor 1e-12)")
        self.loss_plot.setLabel("bottom", "step")
        self.lr_widget = pg.PlotWidget()
        self.lr_plot = self.lr_widget.getPlotItem()
        self.lr_plot.setLabel("left", "learning rate")
        self.lr_plot.getAxis("left").enableAutoSIPrefix(False)
        self.lr_plot.setLabel("bottom", "step")
        self.lr_plot.setXLink(self.loss_plot)
        for p in (self.loss_plot, self.lr_plot):
            p.getAxis("left").setWidth(58)
            p.setMenuEnabled(False)
        dashed = pg.mkPen(DIVERGED_COLOUR, width=1, style=Qt.PenStyle.DashLine)
        backdrop = QColor("#1e1e1e" if dark else "#ffffff")
        backdrop.setAlpha(210)  # the label stays readable where an LR curve runs through it
        self.critical_line = pg.InfiniteLine(angle=0, pen=dashed, label="",
                                             labelOpts={"position": 0.8, "color": DIVERGED_COLOUR, "fill": backdrop,
                                                        "anchors": [(0.5, 1), (0.5, 1)]})
        self.critical_line.setZValue(10)  # over the LR curves
        self.lr_plot.addItem(self.critical_line, ignoreBounds=True)
        self._loss_span: tuple[int, int] | None = None

    def set_up(self, max_curvature: float, base_lrs: Sequence[float], steps: int) -> None:
        """A new set-up: 2/L marked, the LR axis from 0 to above every base LR and 2/L, the step
        axis over the whole run; the loss axis is fitted again from the first draw."""
        crit = 2.0 / max_curvature
        self.critical_line.setValue(crit)
        self.critical_line.label.setFormat(f"2/L = {crit:.3g}")
        top = max([crit * 1.15, *(lr * 1.1 for lr in base_lrs)])
        self.lr_plot.setYRange(0, top, padding=0)
        self.loss_plot.setXRange(0, steps, padding=0.01)
        self._loss_span = None

    def fit_loss_axis(self, arts: Sequence[TrajectoryArt]) -> None:
        """The loss plot's y range in whole decades around everything drawn: it changes only when
        a curve crosses into a new decade (a range change redraws every curve piece)."""
        lo = min(a.log_gap[0] for a in arts)
        hi = max(a.log_gap[1] for a in arts)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return
        span = (math.floor(lo), max(math.ceil(hi), math.floor(lo) + 1))
        if span != self._loss_span:
            self._loss_span = span
            self.loss_plot.setYRange(span[0] - 0.05, span[1] + 0.05, padding=0)
            # ticks at whole decades only (log axes otherwise label 2, 3, ... 9 within a decade), at most ~6
            every = max(1, math.ceil((span[1] - span[0]) / 6))
            self.loss_plot.getAxis("left").setTickSpacing(major=every, minor=every)
