"""The LR range test's plot: loss against LR on a log axis, with a marker per suggestion.

Raw loss (the median over seeds) faint, the smoothed median bold (zero-phase: no lag, and
the suggestions sit on it), the band between the lowest
and highest smoothed loss of any seed shaded, and one labelled marker per suggestion on the
smoothed curve. The y range stops a little above the starting loss, so the blow-up at the end
(which ended the test) does not squash the part worth reading, as fastai's plot skips its last
points. It draws a :class:`lrlab.core.features.lrfind.RangeTestResult`, so a test just run, a session
opened later (``lrlab.core.runs.range_finder.result_of``) and ``lrlab find-lr --png`` look alike.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from lrlab.core.features.lrfind import RULES, RangeTestResult
from lrlab.gui.style import colours, faint

#: marker colour of each rule (Okabe-Ito, apart from the curve's blue)
#: suggestion rule -> colour role (lrlab.gui.style.colours(): readable on the light or dark palette)
RULE_COLOURS = {"steepest": "validation", "valley": "lr", "minimum": "grad"}
#: where each rule's label sits against its marker (TextItem anchors), so that two suggestions
#: close together (steepest and minimum often are) do not print over each other
RULE_ANCHORS = {"steepest": (-0.1, 1.1), "valley": (0.5, 1.3), "minimum": (1.1, -0.1)}


def y_range(result: RangeTestResult) -> tuple[float, float] | None:
    """The loss range worth showing: every point of the curves, the band and the raw loss up to
    the smoothed curve's minimum, with a quarter more on top; the blow-up after it is cut off."""
    smoothed = result.curve if len(result.curve) else result.smoothed
    finite = np.isfinite(smoothed)
    if not finite.any():
        return None
    bottom = int(np.argmin(np.where(finite, smoothed, np.inf)))
    parts = [smoothed[: bottom + 1], result.losses[: bottom + 1], result.low[: bottom + 1],
             result.high[: bottom + 1], smoothed[bottom:]]
    values = np.concatenate([p[np.isfinite(p)] for p in parts])
    low = float(values.min())
    top = float(np.concatenate([p[np.isfinite(p)] for p in parts[:4]]).max())
    span = max(top - low, abs(top) * 1e-3, 1e-12)
    return low - 0.05 * span, top + 0.25 * span


class RangePlot(pg.PlotWidget):
    """A plot of one range test; :meth:`set_result` draws it (again)."""

    def __init__(self, parent: object = None):
        super().__init__(parent)
        item = self.getPlotItem()
        item.setLogMode(x=True, y=False)
        item.setLabel("bottom", "learning rate (log)")
        item.setLabel("left", "training loss")
        item.addLegend(offset=(-10, 10))
        c = colours()
        self._band_edges = (pg.PlotDataItem(connect="finite"), pg.PlotDataItem(connect="finite"))
        for edge in self._band_edges:
            edge.setPen(None)
            item.addItem(edge)
        self._band = pg.FillBetweenItem(*self._band_edges, brush=faint(c["loss"], 45))
        item.addItem(self._band)
        self.raw = item.plot(pen=pg.mkPen(faint(c["loss"], 110), width=1), connect="finite", name="loss (median)")
        self.smoothed = item.plot(pen=pg.mkPen(c["loss"], width=3), connect="finite",
                                  name="smoothed (no lag; the suggestions read it)")
        self.markers: dict[str, pg.PlotDataItem] = {}
        self.labels: dict[str, pg.TextItem] = {}
        for rule in RULES:
            colour = c[RULE_COLOURS[rule]]
            self.markers[rule] = item.plot(pen=None, symbol="o", symbolSize=11, symbolBrush=colour,
                                           symbolPen=pg.mkPen("w", width=1), name=rule)
            label = pg.TextItem(color=colour, anchor=RULE_ANCHORS[rule])
            item.addItem(label, ignoreBounds=True)
            self.labels[rule] = label
        self.result: RangeTestResult | None = None

    def set_planned(self, start_lr: float, end_lr: float) -> None:
        """A test starting: the axes of the LRs it will ramp through, empty (not -500..500)."""
        for item in (self.raw, self.smoothed, *self.markers.values(), *self._band_edges):
            item.setData([], [])
        for label in self.labels.values():
            label.setText("")
        plot = self.getPlotItem()
        plot.setXRange(math.log10(start_lr), math.log10(end_lr), padding=0.02)
        plot.setYRange(0, 1, padding=0)
        plot.setTitle(None)

    def set_result(self, result: RangeTestResult, title: str = "") -> None:
        """Draw ``result``: curves, band and a labelled marker per suggestion that has an LR."""
        self.result = result
        lrs = result.lrs
        self.raw.setData(lrs, result.losses)
        curve = result.curve if len(result.curve) == len(lrs) else result.smoothed
        self.smoothed.setData(lrs, curve)
        several = len(result.seeds) > 1
        self._band_edges[0].setData(lrs if several else [], result.low if several else [])
        self._band_edges[1].setData(lrs if several else [], result.high if several else [])
        self._band.setVisible(several)
        for rule in RULES:
            s = result.suggestions[rule]
            marker, label = self.markers[rule], self.labels[rule]
            if not s.ok or s.index is None or not math.isfinite(curve[s.index]):
                marker.setData([], [])
                label.setText("")
                continue
            y = float(curve[s.index])
            marker.setData([s.lr], [y])
            label.setText(result.describe(rule).split(",")[0])  # "steepest 0.11"
            label.setPos(math.log10(s.lr), y)  # view coordinates of a log axis are log10(x)
        item = self.getPlotItem()
        item.setTitle(title or None)
        span = y_range(result)
        if span is not None:
            item.setYRange(*span, padding=0)
        if len(lrs):
            item.setXRange(math.log10(lrs[0]), math.log10(lrs[-1]), padding=0.02)
        item.getViewBox().setMouseEnabled(x=True, y=True)
        item.showGrid(x=False, y=False)
        self.setCursor(Qt.CursorShape.CrossCursor)


def save_png(result: RangeTestResult, out: str, title: str = "", width: int = 1200, height: int = 700) -> None:
    """Draw ``result`` into a PNG file (needs a QApplication; offscreen is fine)."""
    from lrlab.gui.exports import export_png, shown_for_export

    plot = RangePlot()
    plot.set_result(result, title)
    with shown_for_export(plot, width, height):
        export_png(plot.getPlotItem(), out, width)
