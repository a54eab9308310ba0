"""Keep a live plot's data in view while changing its range as rarely as possible.

pyqtgraph's own auto-range re-ranges a view whenever its data grow, at the next paint, and a new
range re-lays the axes (their tick labels change width), which asks for another paint: measured
on the Sweep window with 16 members, every frame cost five paints (~90 ms of the GUI thread, and
as much GIL taken from the training thread). :class:`SteadyRange` fits the range itself, from
what is drawn, only when the data leave it or fill under half of it, with headroom on x for a run
that grows to the right; the user's pan or zoom is theirs until they press the plot's "A" button.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg

from lrlab.gui.legends import drawn_points

#: pixels for a live plot's left axis (ticks and label), fixed: tick labels of a new width re-lay
#: the plots out (and a linked plot's x follows), a paint each
AXIS_WIDTH = 60
#: a live x range is laid out this many times as wide as the data, so it is re-laid out only as
#: the run grows by that factor again
X_HEADROOM = 1.5
#: room on each side of the data (a share of their span): a falling loss stays in view for a
#: while before the range changes again
MARGIN = 0.15


class SteadyRange:
    """The range of ``plot`` (view coordinates: log10 on a log axis), fitted by :meth:`fit`;
    ``grow_x``: headroom to the right for a run that grows; ``fit_x`` False: x is another plot's
    (linked to it)."""

    def __init__(self, plot: pg.PlotItem, grow_x: bool = False, fit_x: bool = True) -> None:
        self.plot, self.grow_x, self.fit_x = plot, grow_x, fit_x
        self.users = False  # the user moved the view: leave it
        self._fitting = False
        vb = plot.getViewBox()
        vb.disableAutoRange()
        vb.sigRangeChangedManually.connect(self._moved)

    def _moved(self, *_: Any) -> None:
        if not self._fitting:
            self.users = True

    def fit(self) -> None:
        """Keep every drawn point in view; a range changes only when it must (see the module)."""
        vb = self.plot.getViewBox()
        if self.users:
            if not any(vb.autoRangeEnabled()):
                return
            self.users = False  # the "A" button: ours again
        vb.disableAutoRange()
        x, y = drawn_points(self.plot)
        if not len(x):
            return
        ranges = {}
        (x0, x1), (y0, y1) = vb.viewRange()
        for axis, values, current in ((("xRange", x, (x0, x1)),) if self.fit_x else ()) + (("yRange", y, (y0, y1)),):
            lo, hi = float(values.min()), float(values.max())
            span = max(hi - lo, abs(hi) * 1e-3, 1e-12)
            c0, c1 = current
            if lo < c0 or hi > c1 or span < 0.5 * (c1 - c0):
                ahead = (X_HEADROOM - 1) * span if axis == "xRange" and self.grow_x else MARGIN * span
                ranges[axis] = (lo - MARGIN * span, hi + ahead)
        if ranges:
            self._fitting = True
            try:
                vb.setRange(**ranges, padding=0)
            finally:
                self._fitting = False

    def reset(self) -> None:
        """A new run: the range is ours again."""
        self.users = False
        self.plot.getViewBox().disableAutoRange()
