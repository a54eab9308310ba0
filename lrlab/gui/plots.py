"""The live plot panels: loss, learning rate, validation metric, gradient statistics.

The four panels are laid out here; which metrics each draws, in what style and colour and
under which legend, comes from their declarations (:data:`lrlab.core.decl.metrics.CURVES`), so a
new metric with a curve appears here without a change to this module.

Batches are queued as they arrive and appended together into min/max pyramids
(:mod:`lrlab.core.features.series`) by the next frame. Frames redraw only the panels whose data or
view changed, handing pyqtgraph about two points per horizontal pixel of the visible range,
so a frame costs the same with ten thousand or a million steps of history; they are paced
so that the window's work stays at a small share of the time (the training thread waits for
the GIL while we draw), up to 30 a second, while what the user does is drawn at once. All
positions are kept in steps; the x axis shows steps, epochs or samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from lrlab.core.decl.events import Event
from lrlab.core.decl.metrics import CURVES, LR, QUANTILE_NAMES, TRAIN_LOSS, Column
from lrlab.core.features.series import Growable, MinMaxPyramid, debiased_ema
from lrlab.gui.fastcurve import FastCurve
from lrlab.gui.legends import CORNERS, place_legend
from lrlab.gui.pacing import FramePacer, TimedGraphicsLayout
from lrlab.gui.style import colours, faint

X_MODES = ("step", "epoch", "samples")
#: the lower right panel's title while it shows the gradient statistics (one log axis: the norm,
#: the update ratio and the noise scale B_simple, whose legend says it counts samples)
GRADIENTS_TITLE = "gradient norm, update ratio, noise scale"
#: event kind -> (colour role in style.colours(), line style) of its marker; others: grey dashes
MARKER_STYLES = {"edit": ("edit", Qt.PenStyle.SolidLine), "plateau": ("lr", Qt.PenStyle.DashDotLine),
                 "pause": ("event", Qt.PenStyle.DotLine), "resume": ("event", Qt.PenStyle.DotLine),
                 "stop": ("event", Qt.PenStyle.DashDotDotLine), "diverged": ("diverged", Qt.PenStyle.SolidLine),
                 "out_of_memory": ("diverged", Qt.PenStyle.SolidLine)}
#: a young live run's x axis spans at least this many steps, and at least 1.5 times the steps it
#: has, growing to the planned run: a run that blows up at step 20 of 700 is watched blowing up,
#: not drawn as a sliver at x=0 (re-laid out only a few times, as the span grows by 2.5x)
MIN_X_SPAN = 20
#: the declared curves of step metrics (one point per step, or per sampled step) and of evaluations
STEP_CURVES = tuple(m for m in CURVES if m.table == "steps")
EVAL_CURVES = tuple(m for m in CURVES if m.table == "evals")


def readable_log_ticks(axis: pg.AxisItem) -> None:
    """On a log axis, label only 1, 2 and 5 times a power of ten: pyqtgraph labels every minor
    tick of a short range, which piled up as "0.9 0.8 0.7 0.6" on the gradient-norm panel."""
    original = axis.logTickStrings

    def strings(values: list[float], scale: float, spacing: float) -> list[str]:
        texts = original(values, scale, spacing)
        keep = []
        for v, text in zip(values, texts, strict=False):
            mantissa = 10 ** (v - np.floor(v))
            keep.append(text if any(abs(mantissa - m) < 1e-6 * m for m in (1, 2, 5, 10)) else "")
        return keep

    axis.logTickStrings = strings


class RunData:
    """Everything drawn for one run, kept in step order from ``first_step`` (0, or a fork's step:
    a fork records from where it branched off its parent)."""

    def __init__(self, smoothing: float = 0.6, first_step: int = 0) -> None:
        self.first_step = first_step
        #: each drawn step metric's series by name (a sampled one holds only the steps it was measured at)
        self.series = {m.name: MinMaxPyramid() for m in STEP_CURVES}
        #: the debiased EMA of those drawn with one (:attr:`lrlab.core.decl.metrics.Curve.ema`)
        self.smoothed = {m.name: MinMaxPyramid() for m in STEP_CURVES if m.curve.ema}
        self.samples = Growable()
        self.eval_steps = Growable(64)
        #: each drawn evaluation metric's values, one per entry of :attr:`eval_steps`
        self.evals = {m.name: Growable(64) for m in EVAL_CURVES}
        self.markers: list[Event] = []
        self.smoothing = smoothing
        self._ema_state = dict.fromkeys(self.smoothed, 0.0)
        #: layer ("all", "0.weight", ...) -> quantile name -> its series over steps
        self.effective: dict[str, dict[str, MinMaxPyramid]] = {}

    def __len__(self) -> int:
        return self.samples.n

    @property
    def loss(self) -> MinMaxPyramid:
        """The training loss as recorded."""
        return self.series[TRAIN_LOSS.name]

    @property
    def smooth(self) -> MinMaxPyramid:
        """The training loss smoothed with :attr:`smoothing`."""
        return self.smoothed[TRAIN_LOSS.name]

    @property
    def lr(self) -> MinMaxPyramid:
        """The LR each step used."""
        return self.series[LR.name]

    def add_steps(self, cols: dict[str, np.ndarray]) -> None:
        steps = cols["step"].astype(np.float64)
        if len(steps) == 0:
            return
        for m in STEP_CURVES:
            x, y = steps, cols.get(m.name)
            if y is None:  # a run that does not measure it: not measured at these steps
                y = np.full(len(steps), np.nan)
            if m.sparse:  # measured every few steps: the others are no points, not gaps
                sampled = np.isfinite(y)
                x, y = x[sampled], y[sampled]
            if m.name in self.smoothed:
                smooth, self._ema_state[m.name] = debiased_ema(y, self.smoothing, len(self.series[m.name]),
                                                               self._ema_state[m.name])
                self.smoothed[m.name].append(x, smooth)
            self.series[m.name].append(x, y)
        self.samples.extend(cols["samples"].astype(np.float64))

    def add_effective(self, rows: Sequence[dict[str, Any]]) -> None:
        """Effective-LR quantile rows (step, layer, p5 ... p95), as a run records them."""
        by_layer: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_layer.setdefault(row["layer"], []).append(row)
        for layer, items in by_layer.items():
            series = self.effective.setdefault(layer, {q: MinMaxPyramid() for q in QUANTILE_NAMES})
            steps = np.array([r["step"] for r in items], dtype=np.float64)
            for q, pyramid in series.items():
                pyramid.append(steps, np.array([r[q] for r in items], dtype=np.float64))

    def add_evals(self, evals: Sequence[dict[str, float]]) -> None:
        if evals:
            self.eval_steps.extend(np.array([e["step"] for e in evals], dtype=np.float64))
            for name, values in self.evals.items():  # None or absent: not measured (NaN)
                values.extend(np.array([e.get(name) for e in evals], dtype=np.float64))

    def set_smoothing(self, s: float) -> None:
        """Recompute the smoothed series for the whole history (a slider move, not per frame)."""
        self.smoothing = s
        for name, smoothed in self.smoothed.items():
            raw = self.series[name]
            smoothed.clear()
            smooth, self._ema_state[name] = debiased_ema(raw.y.data, s)
            smoothed.append(raw.x.data, smooth)


class PlotPanel(QWidget):
    """Four linked plots; feed it with :meth:`add`, it redraws itself at most 30 times a second
    (1 to 5 while a run trains over a long history: see lrlab.gui.pacing)."""

    sig_hover = Signal(str)
    sig_context = Signal(int, object)  # a right-click on a plot: the step under it, the global position
    #: once, when the window's first frame with the four plots has been painted: the window is up
    sig_painted = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.task = "classification"
        self.steps_per_epoch = 1
        self.total_steps = 0
        #: a live run's x axis follows its data while it is young (see MIN_X_SPAN); off for a
        #: saved session, a finished run, or once the user pans or zooms x
        self.following = False
        self._x_end = 0.0  # the last step the x axis shows (in steps)
        self.x_mode = "step"
        self.log_lr = False
        self.planned: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self.ghost: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self.frames = 0  # redraws done (tests and benchmarks read it)
        self.scale = 1.0  # fonts and line widths (1.5 in presenter mode: set_presenter)

        self.view = TimedGraphicsLayout()
        self.view.after_first_paint = self.build  # then, after the next paint, sig_painted
        self.readout = QLabel("Pick a preset (Presets menu) or set up an experiment on the left, then press "
                              "Start (Ctrl+R). Hover a plot to read its values here.")
        # a long read-out wraps onto a second line; it must never widen the window
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.readout.setWordWrap(True)
        self.readout.setFixedHeight(2 * self.readout.fontMetrics().lineSpacing() + 4)
        self.readout.setMinimumWidth(0)
        # the saved runs pinned under the live one, in plain sight with a way to drop them
        self.references_chip = QPushButton(visible=False, flat=True,
                                           toolTip="saved sessions drawn under the runs: click to clear them")
        self.references_chip.clicked.connect(lambda: self.set_references([]))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.view, 1)
        below = QHBoxLayout()
        below.addWidget(self.readout, 1)
        below.addWidget(self.references_chip, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(below)

        self._building = False
        self._data = RunData()
        #: batches received but not yet appended to the series: appended together, at most once a
        #: frame (or when something reads :attr:`data`), so a paced frame pays for them once
        self._pending: list[tuple[dict[str, np.ndarray] | None, Sequence[dict[str, float]],
                                  Sequence[dict[str, Any]]]] = []
        self.lower_right, self.eff_layer = "gradients", "all"
        self.lower_right_chosen = False  # the user picked it: a run's optimizer no longer does
        self.pyramids: tuple = ()  # (curve, pyramid, plot, smooth), once the curves exist
        self._references: tuple = ()  # the same for saved runs shown under the live one
        #: the references as given: pinned by the user (stay until cleared), and the run's own
        #: (a fork's parent: cleared when the next run starts)
        self._reference_sources: dict[str, list] = {"pinned": [], "run": []}
        self._curves_made = False
        self._markers: list[pg.InfiniteLine] = []
        self._dirty: set[Any] = set()
        self._auto_y: dict[Any, bool] = {}
        self._fitting = False
        # paced so that drawing takes at most GUI_SHARE of the time (lrlab.gui.pacing), smoothed
        # over frames: one slow frame (a re-laid axis) does not halve the rate
        self.pacer = FramePacer(self, self._frame, self.view, smoothing=0.2)
        # what the user does (pan, zoom, a proposed edit, a smoothing change) is drawn at once,
        # whatever pace the live data's frames have slowed to
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(0)
        self._soon.timeout.connect(self._frame)
        self._hover = pg.SignalProxy(self.view.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved)
        self.view.scene().sigMouseClicked.connect(self._clicked)

    #: built by :meth:`build`, on first use
    _LAZY = frozenset({"p_loss", "p_lr", "p_metric", "p_grad", "plots", "step_plots", "eval_plots"})

    def __getattr__(self, name: str) -> Any:
        # only once __init__ has set _building (False), and not while build() itself runs
        if name in PlotPanel._LAZY and not self.__dict__.get("_building", True):
            self.build()
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def built(self) -> bool:
        """Whether the four plots exist (see :meth:`build`)."""
        return "plots" in self.__dict__

    def build(self) -> None:
        """Create the four plots. The window's first frame goes without them (four PlotItems cost
        ~50 ms of the time to a visible window, measured): they are built right after it has been
        painted, or by whatever needs them first."""
        if self.built:
            return
        self._building = True
        try:
            self.p_loss = self._plot(0, 0, "training loss", "loss", (-5, 5))
            self.p_lr = self._plot(0, 1, "learning rate", "LR", (-5, 5))
            self.p_metric = self._plot(1, 0, "validation accuracy", "accuracy", (-5, -5))
            self.p_grad = self._plot(1, 1, GRADIENTS_TITLE, "", (-5, 5))
            #: the plots that a batch of steps, and of evaluations, changes (their declared panels)
            self.step_plots = frozenset(self.panel_of(m) for m in STEP_CURVES)
            self.eval_plots = frozenset(self.panel_of(m) for m in EVAL_CURVES)
            self.plots = (self.p_loss, self.p_lr, self.p_metric, self.p_grad)
        finally:
            self._building = False
        for p in self.plots[1:]:
            p.setXLink(self.p_loss)
        for i in (0, 1):  # the two columns and rows share the room equally, whatever their legends
            self.view.ci.layout.setColumnStretchFactor(i, 1)
            self.view.ci.layout.setRowStretchFactor(i, 1)
        self.p_grad.setLogMode(y=True)
        for p in self.plots:
            readable_log_ticks(p.getAxis("left"))
            p.getViewBox().sigRangeChangedManually.connect(lambda mask, p=p: self._user_moved(p, mask))
        self.p_loss.getViewBox().sigXRangeChanged.connect(self._view_changed)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.set_x_mode(self.x_mode)
        self.view.after_first_paint = self.sig_painted.emit  # (replaces a pending self.build)

    def prepare(self) -> None:
        """Create the curves now (the window calls this once it is on screen): the first run
        then starts drawing at once."""
        self._make_curves()

    def _make_curves(self) -> None:
        """Create the curves, once, after the first frame or when the first run or session is
        shown: an empty window needs none, and they are a third of the panel's start-up cost."""
        if self._curves_made:
            return
        self._curves_made = True
        # each curve is created once; frames only call setData (width-1 pens: wider is slower)
        c = self.colours = colours()  # for the palette in use now (light or dark)
        #: metric name -> its curve, and its EMA's for those drawn with one, as declared
        # the lines redrawn every frame are FastCurves (a PlotDataItem's setData costs 7x more)
        self.curves: dict[str, pg.PlotDataItem | FastCurve] = {}
        self.ema_curves: dict[str, FastCurve] = {}
        for m in CURVES:
            self.curves[m.name] = self._curve(m, c[m.curve.colour])
            if m.curve.ema:
                self.ema_curves[m.name] = self._line(self.panel_of(m), pg.mkPen(c[m.curve.colour], width=2),
                                                     m.curve.ema)
        self.c_loss = self.curves[TRAIN_LOSS.name]
        self.c_planned = self._line(self.p_lr, pg.mkPen(c["lr"], width=1, style=Qt.PenStyle.DashLine), "planned")
        self.c_ghost = self._line(self.p_lr, pg.mkPen(c["validation"], width=2, style=Qt.PenStyle.DotLine),
                                  "proposed edit")
        # the effective LR in the same panel (chosen with the "lower right" control): the median
        # per-parameter step size, its p25-p75 and p5-p95 bands, and the scheduled LR for reference
        # (the edges need a pen: pyqtgraph builds no path for a curve without one, and the bands fill between paths)
        self.c_eff_edges = {q: pg.PlotDataItem(pen=pg.mkPen(faint(c["extra"], 70), width=1))
                            for q in ("p5", "p25", "p75", "p95")}
        for edge in self.c_eff_edges.values():
            self.p_grad.addItem(edge)
        e = self.c_eff_edges
        self.c_eff_bands = (pg.FillBetweenItem(e["p5"], e["p95"], brush=faint(c["extra"], 45)),
                            pg.FillBetweenItem(e["p25"], e["p75"], brush=faint(c["extra"], 110)))
        for band in self.c_eff_bands:
            self.p_grad.addItem(band)
        self.c_eff = self.p_grad.plot(pen=pg.mkPen(c["extra"], width=2), name="effective LR (median)")
        self.c_eff_lr = self.p_grad.plot(pen=pg.mkPen(c["lr"], width=1, style=Qt.PenStyle.DashLine),
                                         name="scheduled LR")
        self._show_lower_right()
        for p in self.plots:  # legends list a curve once it has data (frames add them)
            p.legend.clear()
            p.legend.setVisible(False)

    def panel_of(self, metric: Column) -> pg.PlotItem:
        """The plot that draws ``metric`` (its declared panel)."""
        assert metric.curve is not None
        return getattr(self, f"p_{metric.curve.panel}")

    @staticmethod
    def _line(plot: pg.PlotItem, pen: Any, name: str) -> FastCurve:
        """A live line in ``plot`` (see lrlab.gui.fastcurve): frames call its ``set_points``."""
        curve = FastCurve(pen=pen, name=name)
        plot.addItem(curve)
        return curve

    def _curve(self, metric: Column, colour: str) -> pg.PlotDataItem | FastCurve:
        """A metric's curve in its declared panel and style (see lrlab.core.decl.metrics.STYLES)."""
        cv, plot = metric.curve, self.panel_of(metric)
        assert cv is not None
        if cv.style == "envelope":  # faint under its EMA
            return self._line(plot, pg.mkPen(faint(colour) if cv.ema else colour, width=1), cv.legend)
        if cv.style == "line":
            return self._line(plot, pg.mkPen(colour, width=2), cv.legend)
        joined = cv.style == "markers+line"
        return plot.plot(pen=pg.mkPen(colour, width=1) if joined else None, symbol="o", symbolSize=5 if joined else 6,
                         symbolBrush=colour, symbolPen=None, name=cv.legend)

    @property
    def data(self) -> RunData:
        """The series of the run shown, holding every batch :meth:`add` has received."""
        if self._pending:
            self._drain()
        return self._data

    def _drain(self) -> None:
        """Append the queued batches as one: fewer, larger appends cost the GUI thread (and so
        the training thread, which waits for the GIL) less than one per batch."""
        pending, self._pending = self._pending, []
        chunks = [steps for steps, _, _ in pending if steps is not None]
        if chunks:
            self._data.add_steps(chunks[0] if len(chunks) == 1 else
                                 {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]})
        evals = [e for _, batch, _ in pending for e in batch]
        if evals:
            self._data.add_evals(evals)
        effective = [r for _, _, rows in pending for r in rows]
        if effective:
            self._data.add_effective(effective)
            self._offer_layers()

    def _bind(self, data: RunData) -> None:
        self._pending.clear()
        self._data = data
        # (curve, data, plot, smooth): smooth curves are sampled, noisy ones drawn as min/max envelopes
        pyramids = []
        for m in STEP_CURVES:
            plot = self.panel_of(m)
            pyramids.append((self.curves[m.name], data.series[m.name], plot, m.curve.style == "line"))
            if m.name in self.ema_curves:
                pyramids.append((self.ema_curves[m.name], data.smoothed[m.name], plot, True))
        self.pyramids = (*pyramids, *self._references)

    def set_references(self, references: Sequence[tuple[str, str, dict[str, tuple[np.ndarray, np.ndarray]]]],
                       pinned: bool = True) -> None:
        """Saved runs drawn faintly under the live one ("the too-low run from before; now watch
        this one"): (name, colour, {metric: (steps, values)}) each, for the metrics declared with
        ``reference`` (others are ignored). ``pinned`` (the user's choice): they stay while new
        runs start, until replaced or cleared with an empty list (or the "references: N ×" chip);
        not pinned: they belong to the run about to start (a fork's parent), and
        :meth:`drop_run_references` clears them when the next one starts."""
        self._reference_sources["pinned" if pinned else "run"] = list(references)
        self._draw_references()

    def drop_run_references(self) -> None:
        """A new run starts: the previous run's own references (a fork's parent) go; pinned stay."""
        if self._reference_sources["run"]:
            self._reference_sources["run"] = []
            self._draw_references()

    def _draw_references(self) -> None:
        self._make_curves()
        for curve, _, plot, _ in self._references:
            plot.removeItem(curve)
        refs = []
        for name, colour, series in (*self._reference_sources["pinned"], *self._reference_sources["run"]):
            for m in CURVES:
                if not m.curve.reference or m.name not in series or not len(series[m.name][0]):
                    continue
                pyramid = MinMaxPyramid()
                pyramid.append(*(np.asarray(a, dtype=np.float64) for a in series[m.name]))
                plot = self.panel_of(m)
                curve = self._line(plot, pg.mkPen(faint(colour, 170), width=2 * self.scale), name)
                refs.append((curve, pyramid, plot, True))
        self._references = tuple(refs)
        pinned = len(self._reference_sources["pinned"])
        self.references_chip.setText(f"references: {pinned} ×")
        self.references_chip.setVisible(pinned > 0)
        self._bind(self.data)
        self._auto_y = {p: True for p in self.plots}  # a reference gone no longer stretches the axes
        self._redraw_soon()

    def _plot(self, row: int, col: int, title: str, ylabel: str, legend_at: tuple[int, int]) -> pg.PlotItem:
        # No grid: pyqtgraph's translucent grid lines made each repaint ~10x dearer (measured),
        # and every millisecond painting is a millisecond the training thread waits for the GIL.
        # no per-plot context menus: they cost ~3 ms each at start-up; View > Reset zoom and
        # the File > Export actions cover what they offered
        p = self.view.addPlot(row=row, col=col, title=title, enableMenu=False)
        p.setLabel("left", ylabel)
        for axis in ("left", "bottom"):
            p.getAxis(axis).enableAutoSIPrefix(False)  # no "(x0.001)" on accuracies and LRs
        legend = p.addLegend(offset=legend_at, labelTextSize="8pt")
        legend.corner = ("top " if legend_at[1] > 0 else "bottom ") + ("right" if legend_at[0] < 0 else "left")
        # translucent, so curves show through; users can drag it aside
        legend.setBrush(self._backdrop(150))
        legend.setVisible(False)  # until a curve with data is listed (no empty box)
        # set on the PlotItem: its addItem overrides per-curve settings. No pyqtgraph
        # downsampling: the pyramids already hand over ~2 points per pixel, and its "peak"
        # mode turned the smooth LR into stairs (in exports too).
        p.setClipToView(True)
        return p

    def set_presenter(self, on: bool, factor: float = 1.5) -> None:
        """Fonts (ticks, axis labels, titles, legends) and line widths ``factor`` times larger
        (presenter mode: read from the back of a room), or back to normal."""
        scale = factor if on else 1.0
        if scale == self.scale:
            return
        ratio, self.scale = scale / self.scale, scale
        self._make_curves()
        base = QFont(self.font()).pointSizeF()
        tick = QFont(self.font())
        tick.setPointSizeF(base * scale)
        for p in self.plots:
            for name in ("left", "bottom"):
                axis = p.getAxis(name)
                axis.setTickFont(tick if on else None)
                axis.setLabel(axis.labelText, units=axis.labelUnits, **{"font-size": f"{base * scale:g}pt"})
            title = p.titleLabel
            title.setText(title.text, size=f"{base * 1.2 * scale:g}pt")
            p.legend.setLabelTextSize(f"{8 * scale:g}pt")
            # two columns when large: in one, three entries took half a 1280x720 panel's height,
            # too tall to be given headroom, and the legend covered the noise-scale curve
            p.legend.setColumnCount(2 if on else 1)
            for _, label in p.legend.items:
                label.setText(label.text)
            for item in p.listDataItems():
                pen = item.opts.get("pen")
                if pen is not None:
                    pen = pg.mkPen(pen)
                    pen.setWidthF(max(pen.widthF(), 1.0) * ratio)
                    item.setPen(pen)
                if item.opts.get("symbolSize"):
                    item.setSymbolSize(item.opts["symbolSize"] * ratio)
        for line in self._markers:
            pen = pg.mkPen(line.pen)
            pen.setWidthF(max(pen.widthF(), 1.0) * ratio)
            line.setPen(pen)
        self._redraw_soon()

    def _backdrop(self, alpha: int) -> Any:
        """A brush of the panel's background at ``alpha``: legends and marker labels sit on it so
        that they stay readable over curves."""
        return pg.mkBrush(faint(self.palette().color(self.backgroundRole()).name(), alpha))

    def make_controls(self) -> list[QWidget]:
        """Toolbar widgets that drive this panel: x axis, smoothing of the loss, log LR."""
        x_combo = QComboBox()
        for mode in X_MODES:  # "x: step": a label of its own would crowd a 1366-pixel toolbar
            x_combo.addItem(f"x: {mode}", mode)
        x_combo.setToolTip("what the x axis counts")
        x_combo.currentIndexChanged.connect(lambda _: self.set_x_mode(x_combo.currentData()))
        smooth = QSlider(Qt.Orientation.Horizontal, maximumWidth=90)
        smooth.setRange(0, 99)
        smooth.setValue(round(self.data.smoothing * 100))
        smooth.setToolTip("exponential moving average of the training loss (0 = raw)")
        smooth.valueChanged.connect(lambda v: self.set_smoothing(v / 100))
        log_loss = QCheckBox("log loss", toolTip="log y axis for the loss: shows the slow late progress too")
        log_loss.toggled.connect(self.set_log_loss)
        log_lr = QCheckBox("log LR")
        log_lr.toggled.connect(self.set_log_lr)
        self.lower_combo = QComboBox(toolTip="what the lower right panel shows: gradient statistics, or the "
                                             "effective LR of every parameter (all, or one layer's weights or "
                                             "biases), which Adam, RMSProp and AdaGrad set per parameter")
        self.lower_combo.addItem("gradient norms", ("gradients", "all"))
        self.lower_combo.addItem("effective LR: all parameters", ("effective", "all"))
        self.lower_combo.currentIndexChanged.connect(
            lambda _: self.lower_combo.currentData() and self.set_lower_right(*self.lower_combo.currentData()))
        self.lower_combo.activated.connect(lambda _: setattr(self, "lower_right_chosen", True))
        self.x_combo, self.log_loss_box = x_combo, log_loss
        return [x_combo, QLabel(" smooth "), smooth, log_loss, log_lr, QLabel(" lower right panel "),
                self.lower_combo]

    def set_lower_right(self, what: str, layer: str = "all") -> None:
        """"gradients" (gradient norm and update ratio) or "effective" (the effective LR of
        ``layer``: "all" parameters or one parameter tensor such as "0.weight")."""
        self.lower_right, self.eff_layer = what, layer
        if self._curves_made:
            self._show_lower_right()
        self._offer_layers()
        self._redraw_soon("p_grad")

    def lower_right_for(self, optimizer: str) -> None:
        """The default lower right panel for a run with ``optimizer``: the effective LR for the
        adaptive ones (a step size per parameter is their point), gradient norms for SGD; a
        choice the user made in the toolbar stays."""
        if self.lower_right_chosen:
            return
        what = "gradients" if optimizer == "sgd" else "effective"
        combo = getattr(self, "lower_combo", None)
        if combo is not None:  # sets the panel through its signal
            combo.setCurrentIndex(next(i for i in range(combo.count()) if tuple(combo.itemData(i)) == (what, "all")))
        else:
            self.set_lower_right(what)

    def _show_lower_right(self) -> None:
        effective = self.lower_right == "effective"
        for item in (self.c_eff, self.c_eff_lr, *self.c_eff_bands, *self.c_eff_edges.values()):
            item.setVisible(effective)
        for item in self._curves_in(self.p_grad):
            item.setVisible(not effective)
            self._in_legend(self.p_grad, item, False)
        if not effective:
            for item in (self.c_eff, self.c_eff_lr):
                self._in_legend(self.p_grad, item, False)
        self.p_grad.setTitle(f"effective LR per parameter ({self.eff_layer})" if effective
                             else GRADIENTS_TITLE)
        self.p_grad.setLabel("left", "step size (LR)" if effective else "")

    def _curves_in(self, plot: pg.PlotItem) -> list[pg.PlotDataItem | FastCurve]:
        """The metric curves (and their EMAs) drawn in ``plot``."""
        return [curve for m in CURVES if self.panel_of(m) is plot
                for curve in (self.curves[m.name], self.ema_curves.get(m.name)) if curve is not None]

    def _offer_layers(self) -> None:
        """One "effective LR: <layer>" entry per parameter tensor with data."""
        combo = getattr(self, "lower_combo", None)
        if combo is None:
            return
        known = {combo.itemData(i)[1] for i in range(combo.count()) if combo.itemData(i)[0] == "effective"}
        for layer in self.data.effective:
            if layer not in known:
                combo.addItem(f"effective LR: {layer}", ("effective", layer))

    # --- feeding -----------------------------------------------------------------------------

    def reset(self, task: str = "classification", steps_per_epoch: int = 1, total_steps: int = 0,
              first_step: int = 0, live: bool = False) -> None:
        """A new run (or session) of ``total_steps``, recorded from ``first_step`` (a fork's step);
        ``live``: a run that is starting, whose x axis follows its data while it is young."""
        self._make_curves()
        self.pacer.restart()
        self._bind(RunData(smoothing=self._data.smoothing, first_step=first_step))
        self.task, self.steps_per_epoch, self.total_steps = task, max(steps_per_epoch, 1), total_steps
        self.p_metric.setTitle("validation accuracy" if task == "classification" else "validation R²")
        self.p_metric.setLabel("left", "accuracy" if task == "classification" else "R²")
        for line in self._markers:
            for p in self.plots:
                p.removeItem(line)
        self._markers.clear()
        self.planned = self.ghost = (np.empty(0), np.empty(0))
        self.readout.setText(" ")  # the previous run's values are not this run's
        self._auto_y = {p: True for p in self.plots}
        self.following = live and total_steps > 0
        self._x_end = float(min(total_steps, first_step + MIN_X_SPAN) if self.following else total_steps)
        for p in self.plots:  # an empty plot shows no axes of the previous run (a loss of 0-180)
            p.getViewBox().setYRange(*((-3, 0) if p is self.p_grad else (0, 1)))
            if total_steps <= 0:
                p.getViewBox().setXRange(0, 1)
        self._fix_x_range()
        self._dirty = set(self.plots)

    def preview_plan(self, steps: np.ndarray, lrs: np.ndarray, total_steps: int) -> None:
        """The form's planned LR before Start, dashed, on a whole-plan x axis (plots with no run)."""
        self.total_steps, self.following, self._x_end = total_steps, False, float(total_steps)
        if self.built:
            self._fix_x_range()
        self.set_planned(steps, lrs)

    def preview_spec(self, spec: Any) -> None:
        """A run spec's whole planned LR before Start (None: an invalid form, nothing), and the
        lower right panel its optimizer wants."""
        from lrlab.core.decl.spec import planned_steps, preview_timeline

        if spec is None:
            self.set_planned(np.empty(0), np.empty(0))
            return
        total = planned_steps(spec)
        self.preview_plan(*preview_timeline(spec).sample(0, total), total)
        self.lower_right_for(spec.optimizer.kind)

    def stop_following(self) -> None:
        """The run is over: the x axis shows the whole plan from now on."""
        self.following = False
        self._x_end = float(self.total_steps)
        self._fix_x_range()

    def _follow(self) -> None:
        """Widen a young run's x axis when its data reach two thirds of it (to 2.5x the steps it
        has, at most the plan): the axes re-layout a few times per run, not every frame."""
        d = self._data
        n = len(d)
        if not self.following or n == 0:
            return
        if d.first_step + 1.5 * n > self._x_end and self._x_end < self.total_steps:
            self._x_end = float(min(self.total_steps, d.first_step + max(MIN_X_SPAN, 2.5 * n)))
            self._fix_x_range()

    def _fix_x_range(self) -> None:
        """Show the whole planned run (a young live run: the part :meth:`_follow` chose):
        progress reads left to right, and the axes do not re-layout every frame as the data
        grow (that alone was most of a frame's cost)."""
        end_step = self._x_end if self.following else float(self.total_steps)
        if end_step > 0:
            end = self._to_display(np.array([end_step]))[0]
            for p in self.plots[1:]:  # linked: their auto-range (the planned LR's end) would win
                p.disableAutoRange(axis=pg.ViewBox.XAxis)
            self.p_loss.setXRange(0, end, padding=0.02)

    def add(self, steps: dict[str, np.ndarray] | None = None, evals: Sequence[dict[str, float]] = (),
            events: Sequence[Event] = (), effective: Sequence[dict[str, Any]] = ()) -> None:
        """Queue a batch for the next frame (events are drawn at once: they are few)."""
        has_steps = steps is not None and len(steps["step"]) > 0
        if has_steps or evals or effective:
            self._pending.append((steps if has_steps else None, evals, effective))
        if effective:
            self._dirty.add(self.p_grad)
        if has_steps:
            self._dirty.update(self.step_plots)
        if evals:
            self._dirty.update(self.eval_plots)
        for ev in events:
            self.add_marker(ev)

    def add_marker(self, marker: Event) -> None:
        """A vertical line at the event's step on every panel, styled by kind, its description as
        tooltip; on the LR panel it carries a short label ("×0.3", "hold 0.01", "pause")."""
        self.data.markers.append(marker)
        role, style = MARKER_STYLES.get(marker.kind, ("event", Qt.PenStyle.DashLine))
        colour = self.colours[role]
        # level text beside the line, on the side facing the middle of the panel (pyqtgraph
        # picks between the two anchors), at its foot (the legend holds the top right corner), on
        # a backdrop that keeps it readable where a curve runs through; rotated along the line,
        # as it was, it was hard to read and sat on the line
        fill = self._backdrop(210)
        for p in self.plots:
            labelled = p is self.p_lr and marker.kind not in ("resume", "test")
            line = pg.InfiniteLine(self._to_display(np.array([marker.step]))[0], angle=90,
                                   pen=pg.mkPen(colour, width=2 if marker.kind == "edit" else 1, style=style),
                                   label=marker.label() if labelled else None,
                                   labelOpts={"position": 0.03, "color": colour, "anchors": [(0, 1), (1, 1)],
                                              "fill": fill})
            line.setToolTip(f"step {marker.step}: {marker.describe()}")
            line.marker = marker  # type: ignore[attr-defined]
            p.addItem(line, ignoreBounds=True)
            self._markers.append(line)

    def set_planned(self, steps: np.ndarray, lrs: np.ndarray) -> None:
        self.planned = (np.asarray(steps, dtype=np.float64), np.asarray(lrs, dtype=np.float64))
        self._redraw_soon("p_lr")

    def set_ghost(self, steps: np.ndarray, lrs: np.ndarray) -> None:
        self.ghost = (np.asarray(steps, dtype=np.float64), np.asarray(lrs, dtype=np.float64))
        self._redraw_soon("p_lr")

    def set_smoothing(self, s: float) -> None:
        self.data.set_smoothing(s)
        self._redraw_soon("p_loss")

    def set_log_loss(self, on: bool) -> None:
        self.p_loss.setLogMode(y=on)
        self._fix_x_range()  # pyqtgraph re-ranges x on a log switch: keep the whole run in view
        self._redraw_soon("p_loss")

    def set_log_lr(self, on: bool) -> None:
        self.log_lr = on
        self.p_lr.setLogMode(y=on)
        self._fix_x_range()
        self._redraw_soon("p_lr")

    def set_x_mode(self, mode: str) -> None:
        self.x_mode = mode
        self.p_loss.setLabel("bottom", {"step": "step", "epoch": "epoch", "samples": "samples seen"}[mode])
        for p in self.plots[1:]:
            p.setLabel("bottom", self.p_loss.getAxis("bottom").labelText)
        for line in self._markers:
            line.setValue(self._to_display(np.array([line.marker.step]))[0])
        for p in self.plots:
            p.enableAutoRange(x=True)
        self._fix_x_range()
        self._redraw_soon()

    # --- drawing -----------------------------------------------------------------------------

    def _to_display(self, steps: np.ndarray) -> np.ndarray:
        if self.x_mode == "epoch":
            return steps / self.steps_per_epoch
        if self.x_mode == "samples":
            samples = self.data.samples.data
            if len(samples) == 0:
                return steps.astype(np.float64)
            known = np.arange(len(samples), dtype=np.float64) + self.data.first_step
            # past the recorded steps (the planned LR), extrapolate at one batch per step
            per_step = samples[-1] / (known[-1] + 1)
            inside = np.interp(steps, known, samples)
            return np.where(steps > known[-1], samples[-1] + (steps - known[-1]) * per_step, inside)
        return steps.astype(np.float64)

    def _to_steps(self, x: float) -> float:
        if self.x_mode == "epoch":
            return x * self.steps_per_epoch
        if self.x_mode == "samples":
            samples = self.data.samples.data
            if len(samples) == 0:
                return x
            return float(np.interp(x, samples, np.arange(len(samples), dtype=np.float64) + self.data.first_step))
        return x

    def _view_changed(self) -> None:
        self._dirty.update(self.plots)
        self._soon.start()

    def _redraw_soon(self, *names: str) -> None:
        """Mark the plots ``names`` ("p_lr", ...; none: all) for redrawing and draw them at the
        next turn of the event loop: a user's change, not the live data's pace. Before the plots
        are built there is nothing to redraw (building them draws everything)."""
        if not self.built:
            return
        self._dirty.update([getattr(self, n) for n in names] if names else self.plots)
        self._soon.start()

    def _visible_steps(self, plot: pg.PlotItem) -> tuple[float, float]:
        vb = plot.getViewBox()
        if vb.autoRangeEnabled()[0]:
            return -np.inf, np.inf
        x0, x1 = vb.viewRange()[0]
        return self._to_steps(x0), self._to_steps(x1)

    def _frame(self) -> None:
        """Redraw the panels whose data or view changed; a bounded amount of work.

        The interval adapts so that drawing (our work here plus Qt's paint that follows)
        takes at most GUI_SHARE of the time (lrlab.gui.pacing): 30 Hz when frames are cheap, fewer when not.
        """
        if not self._dirty or not self._curves_made:
            return
        with self.pacer.measured():
            self._draw_dirty()

    def _draw_dirty(self) -> None:
        self._drain()
        self._follow()
        dirty, self._dirty = self._dirty, set()
        s0, s1 = self._visible_steps(self.p_loss)
        budget = max(200, 2 * int(self.p_loss.getViewBox().width()))
        drawn: dict[Any, list[np.ndarray]] = {p: [] for p in dirty}
        for curve, pyramid, plot, smooth in self.pyramids:
            if plot in dirty and curve.isVisible():
                # a smooth curve needs a point per pixel at most, a noisy one two (its envelope)
                x, y = pyramid.view(s0, s1, budget // 2 if smooth else budget, smooth)
                curve.set_points(self._to_display(x), y)
                drawn[plot].append(y)
                self._in_legend(plot, curve, len(y) > 0)
        if dirty & self.eval_plots:
            ex = self._to_display(self.data.eval_steps.data)
            for m in EVAL_CURVES:
                plot, curve, y = self.panel_of(m), self.curves[m.name], self.data.evals[m.name].data
                curve.setData(ex, y)
                if plot in drawn:
                    drawn[plot].append(y)
                    self._in_legend(plot, curve, len(y) > 0)
        if self.p_grad in dirty and self.lower_right == "effective":
            drawn[self.p_grad] = self._draw_effective(s0, s1, budget)
        if self.p_lr in dirty:
            # the plan is drawn ahead of the last recorded step; a proposal from where it starts
            # (the next step of a live run, or an earlier step a fork would branch off at)
            for curve, (x, y), ahead in ((self.c_planned, self.planned, True), (self.c_ghost, self.ghost, False)):
                keep = (x >= self.data.first_step + len(self.data) - 1) if len(x) and ahead else slice(None)
                curve.set_points(self._to_display(x[keep]), y[keep])
                drawn[self.p_lr].append(y[keep])
                self._in_legend(self.p_lr, curve, len(y[keep]) > 0)
        for plot, ys in drawn.items():
            self._fit_y(plot, ys)
            # in the corner the data leave free (or above them): never over a point, nor over
            # the marker labels at the LR panel's foot
            place_legend(plot, ("top right", "top left") if plot is self.p_lr and self._markers else CORNERS)
        self.frames += 1

    def _draw_effective(self, s0: float, s1: float, budget: int) -> list[np.ndarray]:
        """The effective-LR bands, median and scheduled LR; returns what the y range must hold."""
        series = self.data.effective.get(self.eff_layer, {})
        ys = []
        for q, item in (*self.c_eff_edges.items(), ("p50", self.c_eff)):
            x, y = series[q].view(s0, s1, budget, True) if q in series else (np.empty(0), np.empty(0))
            item.setData(self._to_display(x), y)
            ys.append(y)
        self._in_legend(self.p_grad, self.c_eff, len(ys[-1]) > 0)
        x, y = self.data.lr.view(s0, s1, budget, True)
        self.c_eff_lr.setData(self._to_display(x), y)
        self._in_legend(self.p_grad, self.c_eff_lr, len(y) > 0)
        return [*ys, y]

    @staticmethod
    def _in_legend(plot: pg.PlotItem, curve: pg.PlotDataItem | FastCurve, show: bool) -> None:
        """List a curve in its legend only while it has data (no empty "proposed edit" in exports)."""
        legend = plot.legend
        listed = any(getattr(sample, "item", None) is curve for sample, _ in legend.items)
        if show and not listed:
            legend.addItem(curve, curve.name())
        elif not show and listed:
            legend.removeItem(curve)
        legend.setVisible(bool(legend.items))  # no empty box on an empty plot

    def _fit_y(self, plot: pg.PlotItem, ys: list[np.ndarray]) -> None:
        """Keep the data in view, changing the y range only when the data leave it or fill
        under half of it: a new range re-lays the axes, the dearest part of a repaint.
        pyqtgraph's own auto-range would do that every frame while a run grows."""
        vb = plot.getViewBox()
        if not self._auto_y.get(plot, True):
            if not vb.autoRangeEnabled()[1]:
                return
            self._auto_y[plot] = True  # the user pressed the "A" button: ours again
        vb.disableAutoRange(axis=pg.ViewBox.YAxis)
        log = plot.ctrl.logYCheck.isChecked()
        values = [v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)] for v in ys if len(v)]
        values = [v for v in values if len(v)]
        if not values:
            return
        lo = min(float(v.min()) for v in values)
        hi = max(float(v.max()) for v in values)
        if log:
            lo, hi = np.log10(lo), np.log10(hi)
        elif plot in (self.p_lr, self.p_loss):
            lo = min(lo, 0.0)  # LRs and losses read best from zero (a constant LR is not a flat zoom)
        y0, y1 = vb.viewRange()[1]
        span = max(hi - lo, abs(hi) * 1e-3, 1e-12)
        if plot is self.p_metric and not log and span < 0.05:  # one evaluation: 0.636 +- 0.05, not +- 3e-5
            lo, hi, span = (lo + hi) / 2 - 0.025, (lo + hi) / 2 + 0.025, 0.05
        if lo < y0 or hi > y1 or span < 0.5 * (y1 - y0):
            self._fitting = True
            vb.setYRange(lo - 0.05 * span, hi + 0.05 * span, padding=0)
            self._fitting = False

    def _user_moved(self, plot: pg.PlotItem, mask: Any = None) -> None:
        if not self._fitting:
            self._auto_y[plot] = False
        if mask is None or mask[0]:  # the user moved x: the axis is theirs now
            self.following = False

    def fit_to_data(self) -> None:
        """Show the steps that exist: a run that ended early (diverged after 8 of 700 planned
        steps, stopped) would otherwise be a line at the left edge."""
        self.total_steps = max(len(self.data), 1)
        self.following = False
        self.reset_zoom()

    def reset_zoom(self) -> None:
        """The whole run on x, every curve in view on y."""
        self._auto_y = {p: True for p in self.plots}
        self._fix_x_range()
        self.flush()

    def flush(self) -> None:
        """Draw now (tests, screenshots and exports need the current state)."""
        self._dirty.update(self.plots)
        self._frame()

    # --- hover ---------------------------------------------------------------------------------

    def _mouse_moved(self, event: Any) -> None:
        step = self.step_at(event[0])
        if step is not None:
            self.sig_hover.emit(self.describe_step(step))

    def step_at(self, scene_pos: Any) -> int | None:
        """The step under a scene position on any of the plots (None: not over a plot)."""
        for p in self.plots:
            if p.sceneBoundingRect().contains(scene_pos):
                return max(round(self._to_steps(p.getViewBox().mapSceneToView(scene_pos).x())), 0)
        return None

    def _clicked(self, event: Any) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            step = self.step_at(event.scenePos())
            if step is not None:
                event.accept()
                self.sig_context.emit(step, event.screenPos().toPoint())

    def describe_step(self, step_f: float) -> str:
        """'step 120 · epoch 5.2 · loss 0.31 (smoothed 0.33) · LR 0.05 …' for the step nearest x."""
        d = self.data
        n = len(d)
        if n == 0:
            return " "
        k = int(min(max(round(step_f) - d.first_step, 0), n - 1))  # index of the nearest recorded step
        i = k + d.first_step
        parts = [f"step {i}", f"epoch {i / self.steps_per_epoch:.2f}", f"samples {int(d.samples.data[k])}"]
        for m in STEP_CURVES:  # as declared: "loss 0.31 (smoothed 0.33)", "LR 0.05", ...
            cv, series = m.curve, d.series[m.name]
            if not cv.readout:
                continue
            # a sampled metric: its latest measurement at or before the step
            at = int(np.searchsorted(series.x.data, i, "right")) - 1 if m.sparse else k
            if at < 0 or at >= len(series):
                continue
            text = f"{cv.readout} {series.y.data[at]:{cv.fmt}}"
            if m.name in d.smoothed:
                text += f" (smoothed {d.smoothed[m.name].y.data[at]:{cv.fmt}})"
            parts.append(text)
        ev = d.eval_steps.data
        if len(ev):
            j = int(np.searchsorted(ev, i, "right")) - 1
            if j >= 0:
                task = "acc" if self.task == "classification" else "R²"
                values = ", ".join(f"{m.curve.readout.format(task=task)} {d.evals[m.name].data[j]:{m.curve.fmt}}"
                                   for m in EVAL_CURVES if m.curve.readout)
                parts.append(f"{values} (at step {int(ev[j])})")
        for m in d.markers:
            if abs(m.step - i) <= max(1, n // 200):
                parts.append(f"step {m.step}: {m.describe()}")
        return " · ".join(parts)

