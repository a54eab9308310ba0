"""The Landscape window: optimizers stepping on a 2-D loss surface, animated.

The surface is drawn once as a filled contour (bands between log-spaced levels of f - f*,
so a basin and its cliffs both show), with its known minima and the start point; a click on
it moves the start. Up to six trajectories, each with its own optimizer, LR and schedule in
the stable palette, advance on a QTimer in the GUI thread: a step of six trajectories is a few
hundred microseconds of 2-D maths (:class:`lrlab.core.landscape.Landscape`), so no worker
thread is needed, and a frame takes at most :data:`MAX_STEPS_PER_FRAME` steps whatever the
speed asked for. Paths are drawn in chunks of :data:`CHUNK` points: a frame re-sends only the
newest chunk to pyqtgraph, so its cost does not grow with the length of a path.

Under the surface: the loss above the minimum (log) and the LR of every trajectory by step,
with the planned LR ahead dashed and 2/L marked. A trajectory that leaves the view box stops
there with a cross at the edge: diverged, not drawn off to infinity.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGraphicsItem,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lrlab.core.decl.palette import palette
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.schedules import SCHEDULES
from lrlab.core.decl.spec import OPTIMIZERS
from lrlab.core.landscape import (
    DEMOS,
    DIVERGED,
    MAX_STEPS,
    MAX_TRAJECTORIES,
    QUADRATIC_PRESETS,
    SURFACES,
    Landscape,
    LandscapeSpec,
    Note,
    Trajectory,
    critical_lr,
    grid,
    log_levels,
    quadratic_preset,
)
from lrlab.gui.forms import ERROR_STYLE, KindedEditor
from lrlab.gui.style import DIVERGED_COLOUR, faint, fit_to_screen, is_dark

#: animation speeds offered, in steps per second
SPEEDS = (1, 5, 15, 30, 60, 120, 240)
FRAME_MS = 33  # about 30 frames a second: smooth to the eye, half the painting of 60
#: the most steps one frame takes, whatever the speed: a frame's work stays bounded
MAX_STEPS_PER_FRAME = 16
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


def isolines(surface: Any, levels: np.ndarray, n: int = 160) -> tuple[np.ndarray, np.ndarray]:
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


def _ramp(low: str, high: str, n: int) -> np.ndarray:
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
    planned ahead. Heads and crosses of all trajectories share one scatter item each (the window's)."""

    def __init__(self, window: LandscapeWindow, traj: Trajectory, colour: str):
        self.traj = traj
        self.colour = colour
        self.window = window
        self.path = GrowingPath(window.contour, colour, 2, window.halo)
        self.loss = GrowingPath(window.loss_plot, colour, 1.5, chunk=4 * CHUNK)  # thin pens: longer pieces
        self.lr = GrowingPath(window.lr_plot, colour, 1.5, chunk=4 * CHUNK)
        self.log_gap = (math.inf, -math.inf)  # the range of log10(f - f*) drawn so far
        self.planned = pg.PlotCurveItem(pen=pg.mkPen(faint(colour, 150), width=1, style=Qt.PenStyle.DashLine))
        self.planned.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # redrawn only after an edit
        window.lr_plot.addItem(self.planned, ignoreBounds=True)
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
            ex, ey = clip_to_box(xs[-2], ys[-2], xs[-1], ys[-1], self.window.land.box)
            xs, ys = np.append(xs[:-1], ex), np.append(ys[:-1], ey)
        self.end = (float(xs[-1]), float(ys[-1]))
        self.path.update(xs, ys)
        # the loss of every point inside the box, above the surface's minimum, on a log axis
        inside = n_points - 1 if t.status == DIVERGED else n_points
        gap = np.log10(np.maximum(t.loss.data[:inside] - self.window.land.surface.f_min, LOSS_FLOOR))
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
        self.window.lr_plot.removeItem(self.planned)


class LandscapeWindow(QWidget):
    """The loss landscape playground (View > Landscape). ``LandscapeWindow()`` is ready to show:
    the quadratic with its four teaching LRs around 2/L, paused at step 0."""

    sig_message = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Landscape — lrlab")
        dark = is_dark()
        self.colours = palette(dark)
        self.halo = "#1e1e1e" if dark else "#ffffff"
        self.bands = BANDS_DARK if dark else BANDS_LIGHT
        self.spec = LandscapeSpec.from_json(quadratic_preset(list(QUADRATIC_PRESETS)))
        self.land = Landscape(self.spec)
        self.arts: list[TrajectoryArt] = []
        self.playing = False
        self.speed = 30.0
        self._t_play = 0.0
        self._steps_played = 0
        self._loading = False
        self._status_text: list[str] = []
        self._surface_key: Any = None

        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._tick)

        controls = self._build_controls()
        figure_side = self._build_figure()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(controls)
        lay.addWidget(figure_side, 1)
        self._load_editors()
        self._rebuild()
        fit_to_screen(self, 1366, 768)

    # --- layout --------------------------------------------------------------------------------

    def _build_controls(self) -> QWidget:
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(0, 0, 6, 0)

        self.demo = QComboBox()
        self.demo.addItem("Demos…", None)
        for key, demo in DEMOS.items():
            self.demo.addItem(demo.title, key)
            self.demo.setItemData(self.demo.count() - 1, demo.explanation, Qt.ItemDataRole.ToolTipRole)
        self.demo.activated.connect(self._demo_chosen)
        col.addWidget(self.demo)

        presets = QGroupBox("Quadratic: plain gradient descent at")
        grid_ = QHBoxLayout(presets)
        grid_.setContentsMargins(4, 2, 4, 4)
        self.preset_buttons: dict[str, QPushButton] = {}
        for name, frac in QUADRATIC_PRESETS.items():
            b = QPushButton(name)
            b.setToolTip(f"{frac:g} x 2/L: {DEMOS['quadratic-' + name.replace(' ', '-')].explanation}")
            b.clicked.connect(lambda _=False, n=name: self.load_preset(n))
            grid_.addWidget(b)
            self.preset_buttons[name] = b
        col.addWidget(presets)

        surf = QGroupBox("Surface")
        form = QVBoxLayout(surf)
        form.setContentsMargins(4, 2, 4, 4)
        self.surface_editor = KindedEditor(SURFACES, "surface")
        self.surface_editor.sig_changed.connect(self._setup_changed)
        form.addWidget(self.surface_editor)
        row = QFormLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, MAX_STEPS)
        self.steps_spin.valueChanged.connect(self._setup_changed)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2_000_000_000)
        self.seed_spin.setToolTip("seeds the noisy bowl's gradient noise (the same for every trajectory)")
        self.seed_spin.valueChanged.connect(self._setup_changed)
        row.addRow("steps", self.steps_spin)
        row.addRow("seed", self.seed_spin)
        form.addLayout(row)
        self.start_label = QLabel()
        self.start_label.setWordWrap(True)
        reset_start = QPushButton("Default start")
        reset_start.clicked.connect(lambda: self.set_start(None))
        form.addWidget(self.start_label)
        form.addWidget(reset_start)
        self.setup_error = QLabel()
        self.setup_error.setStyleSheet(ERROR_STYLE)
        self.setup_error.setWordWrap(True)
        self.setup_error.hide()
        form.addWidget(self.setup_error)
        col.addWidget(surf)

        trajs = QGroupBox(f"Trajectories (up to {MAX_TRAJECTORIES})")
        tl = QVBoxLayout(trajs)
        tl.setContentsMargins(4, 2, 4, 4)
        self.traj_list = QListWidget()
        self.traj_list.setMaximumHeight(6 * 22 + 6)
        self.traj_list.currentRowChanged.connect(self._select)
        tl.addWidget(self.traj_list)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("another trajectory: a copy of the selected one with half its LR")
        self.add_button.clicked.connect(self.add_trajectory)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_trajectory)
        self.halve = QPushButton("LR ×½ now")
        self.halve.setToolTip("a mid-run edit of the selected trajectory: scale its LR by 0.5 from this step on")
        self.halve.clicked.connect(lambda: self.edit_selected({"kind": "scale", "factor": 0.5}))
        self.double = QPushButton("LR ×2 now")
        self.double.setToolTip("a mid-run edit of the selected trajectory: scale its LR by 2 from this step on")
        self.double.clicked.connect(lambda: self.edit_selected({"kind": "scale", "factor": 2.0}))
        for b in (self.add_button, self.remove_button, self.halve, self.double):
            buttons.addWidget(b)
        tl.addLayout(buttons)
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("label (empty: the optimizer and its LR)")
        self.label_edit.textChanged.connect(self._trajectory_changed)
        tl.addWidget(self.label_edit)
        self.opt_editor = KindedEditor(OPTIMIZERS, "optimizer")
        self.opt_editor.sig_changed.connect(self._trajectory_changed)
        self.sched_editor = KindedEditor(SCHEDULES, "schedule")
        self.sched_editor.sig_changed.connect(self._trajectory_changed)
        tl.addWidget(QLabel("optimizer"))
        tl.addWidget(self.opt_editor)
        tl.addWidget(QLabel("LR schedule"))
        tl.addWidget(self.sched_editor)
        self.traj_error = QLabel()
        self.traj_error.setStyleSheet(ERROR_STYLE)
        self.traj_error.setWordWrap(True)
        self.traj_error.hide()
        tl.addWidget(self.traj_error)
        col.addWidget(trajs)

        saves = QHBoxLayout()
        for text, slot, tip in (("Save session…", self.save_session_dialog, "save as an .lrlab session (kind "
                                 "landscape) that replays with lrlab replay"),
                                ("PNG…", lambda: self._export_dialog("png"), "the picture as PNG"),
                                ("CSV…", lambda: self._export_dialog("csv"), "every point of every trajectory")):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            saves.addWidget(b)
        col.addLayout(saves)
        col.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setFixedWidth(max(330, inner.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
                                 + 8))
        return scroll

    def _build_figure(self) -> QWidget:
        dark = is_dark()
        side = QWidget()
        col = QVBoxLayout(side)
        col.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.play_button = QPushButton("▶ Play")
        self.play_button.setShortcut("Space")
        self.play_button.setMinimumWidth(self.play_button.fontMetrics().horizontalAdvance("⏸ Pause") + 24)
        self.play_button.clicked.connect(self.toggle_play)
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("one step of every trajectory")
        self.step_button.clicked.connect(self.step_once)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("back to step 0")
        self.reset_button.clicked.connect(self.reset)
        self.speed_combo = QComboBox()
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s} steps/s", float(s))
        self.speed_combo.setCurrentIndex(SPEEDS.index(30))
        self.speed_combo.currentIndexChanged.connect(lambda _: self.set_speed(self.speed_combo.currentData()))
        self.step_label = QLabel()
        for w in (self.play_button, self.step_button, self.reset_button, QLabel("speed"), self.speed_combo):
            bar.addWidget(w)
        bar.addSpacing(12)
        bar.addWidget(self.step_label, 1)
        col.addLayout(bar)

        self.figure = QWidget()
        self.figure.setAutoFillBackground(True)
        fig = QVBoxLayout(self.figure)
        fig.setContentsMargins(4, 4, 4, 4)
        fig.setSpacing(2)
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        fig.addWidget(self.header)
        self.contour_widget = pg.PlotWidget()
        self.contour = self.contour_widget.getPlotItem()
        self.contour.setMenuEnabled(False)
        self.contour.hideButtons()
        self.contour.getViewBox().setMouseEnabled(False, False)
        self.contour.setLabel("bottom", "x")
        self.contour.setLabel("left", "y")
        self.contour_widget.setCursor(Qt.CursorShape.CrossCursor)
        self.contour_widget.scene().sigMouseClicked.connect(self._clicked)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        self.contour.addItem(self.image)
        self.isolines = pg.PlotDataItem(pen=pg.mkPen(faint(self.bands[0], 170), width=1), connect="finite")
        self.isolines.setZValue(-5)
        self.contour.addItem(self.isolines)
        self.minima = pg.ScatterPlotItem(size=13, symbol="star", pen=pg.mkPen(self.halo, width=1),
                                         brush=pg.mkBrush("#333333" if self.halo == "#ffffff" else "#dddddd"))
        self.minima.setZValue(3)
        self.contour.addItem(self.minima)
        self.start_marker = pg.ScatterPlotItem(size=12, symbol="o", pen=pg.mkPen("#000000" if self.halo == "#ffffff"
                                                                                 else "#ffffff", width=2),
                                               brush=pg.mkBrush(None))
        self.start_marker.setZValue(4)
        self.contour.addItem(self.start_marker)
        self.heads = pg.ScatterPlotItem(size=11, pen=pg.mkPen(self.halo, width=1.5))
        self.heads.setZValue(5)
        self.contour.addItem(self.heads)
        self.crosses = pg.ScatterPlotItem(size=18, symbol="x", pen=pg.mkPen(self.halo, width=1))
        self.crosses.setZValue(6)
        self.contour.addItem(self.crosses)
        self._ends: tuple | None = None
        self._loss_span: tuple[int, int] | None = None
        fig.addWidget(self.contour_widget, 3)
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        fig.addWidget(self.legend)
        bottom = QHBoxLayout()
        bottom.setSpacing(4)
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
        bottom.addWidget(self.loss_widget)
        bottom.addWidget(self.lr_widget)
        fig.addLayout(bottom, 2)
        col.addWidget(self.figure, 1)
        self.hint = QLabel("Click the surface to start every trajectory there. Space plays and pauses.")
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.hint.setWordWrap(True)
        col.addWidget(self.hint)
        return side

    # --- the set-up ------------------------------------------------------------------------------

    def _load_editors(self) -> None:
        """Show ``self.spec`` in the controls without reacting to the changes this makes."""
        self._loading = True
        try:
            self.surface_editor.set_value(self.spec.surface.to_json())
            self.steps_spin.setValue(self.spec.steps)
            self.seed_spin.setValue(self.spec.seed)
            self.traj_list.clear()
            for i, t in enumerate(self.spec.trajectories):
                item = QListWidgetItem(self._swatch(i), f"{i + 1}  {t.name}")
                self.traj_list.addItem(item)
            self.traj_list.setCurrentRow(0)
            self._show_trajectory(0)
        finally:
            self._loading = False

    def _swatch(self, i: int) -> QIcon:
        pix = QPixmap(14, 14)
        pix.fill(QColor(self.colours[i % len(self.colours)]))
        return QIcon(pix)

    def _show_trajectory(self, i: int) -> None:
        if not 0 <= i < len(self.spec.trajectories):
            return
        t = self.spec.trajectories[i]
        was = self._loading
        self._loading = True
        try:
            self.label_edit.setText(t.label)
            self.opt_editor.set_value(t.optimizer.to_json())
            self.sched_editor.set_value(t.schedule.to_json())
            self.opt_editor.show_errors({})
            self.sched_editor.show_errors({})
            self.traj_error.hide()
        finally:
            self._loading = was

    def _select(self, row: int) -> None:
        if not self._loading:
            self._show_trajectory(row)

    def _setup_changed(self) -> None:
        if self._loading:
            return
        data = self.spec.to_json()
        surface = self.surface_editor.value()
        if surface.get("kind") != self.spec.surface.kind:
            data["start"] = None  # another surface, another box: its own start point
        data.update(surface=surface, steps=self.steps_spin.value(), seed=self.seed_spin.value())
        self._try_spec(data, self.setup_error, lambda p: self.surface_editor.show_errors(p))

    def _trajectory_changed(self) -> None:
        if self._loading:
            return
        i = max(self.traj_list.currentRow(), 0)
        data = self.spec.to_json()
        data["trajectories"][i] = {"optimizer": self.opt_editor.value(), "schedule": self.sched_editor.value(),
                                   "label": self.label_edit.text().strip()}
        prefix = f"trajectories[{i}]."

        def show(problems: dict[str, str]) -> list[str]:
            mine = {p[len(prefix):]: m for p, m in problems.items() if p.startswith(prefix)}
            left = self.opt_editor.show_errors({p: m for p, m in mine.items() if p.startswith("optimizer")})
            left += self.sched_editor.show_errors({p: m for p, m in mine.items() if p.startswith("schedule")})
            return left + [p for p in problems if not p.startswith(prefix)]

        if self._try_spec(data, self.traj_error, show):
            item = self.traj_list.item(i)
            if item is not None:
                item.setText(f"{i + 1}  {self.spec.trajectories[i].name}")

    def _try_spec(self, data: dict[str, Any], error_label: QLabel, show: Any) -> bool:
        """Validate ``data``; on success make it the set-up (back to step 0), else show why."""
        try:
            spec = LandscapeSpec.from_json(data)
        except SpecError as err:
            problems = dict(err.problems)
            left = show(problems)
            rest = [f"{p}: {problems[p]}" if p else problems[p] for p in left]
            error_label.setText("\n".join(rest))
            error_label.setVisible(bool(rest))
            return False
        show({})
        error_label.hide()
        self.set_spec(spec, reload_editors=False)
        return True

    def set_spec(self, spec: LandscapeSpec | dict[str, Any], reload_editors: bool = True,
                 edits: Any = ()) -> None:
        """Make ``spec`` the set-up and go back to step 0 (playing on if it was playing)."""
        self.spec = spec if isinstance(spec, LandscapeSpec) else LandscapeSpec.from_json(spec)
        self.land = Landscape(self.spec, edits)
        if reload_editors:
            self._load_editors()
        self._rebuild()

    def load_preset(self, name: str) -> None:
        """One of the quadratic's teaching presets (``too low`` ... ``divergent``), at the bowl's
        current condition number when the quadratic is already shown."""
        condition = self.spec.surface["condition"] if self.spec.surface.kind == "quadratic" else 10.0
        self.set_spec(quadratic_preset([name], condition, self.spec.steps))
        self._explain(DEMOS["quadratic-" + name.replace(" ", "-")].explanation)

    def load_demo(self, key: str) -> None:
        demo = DEMOS[key]
        self.set_spec(demo.spec)
        self._explain(demo.explanation)

    def _explain(self, text: str) -> None:
        """What the set-up now on screen shows, under the controls and on the status line (a
        preset chosen after a demo used to leave the demo's text under the controls)."""
        self.hint.setText(text)
        self.sig_message.emit(text)

    def _demo_chosen(self, index: int) -> None:
        key = self.demo.itemData(index)
        if key:
            self.load_demo(key)
        self.demo.setCurrentIndex(0)

    def set_start(self, point: tuple[float, float] | None) -> None:
        """Start every trajectory at ``point`` (None: the surface's default) and go back to step 0."""
        self.set_spec(self.spec.with_changes(start=None if point is None else [float(point[0]), float(point[1])]),
                      reload_editors=False)

    def add_trajectory(self) -> None:
        if len(self.spec.trajectories) >= MAX_TRAJECTORIES:
            return
        i = max(self.traj_list.currentRow(), 0)
        data = self.spec.to_json()
        copy = dict(data["trajectories"][i])
        copy["optimizer"] = {**copy["optimizer"], "lr": float(f"{copy['optimizer']['lr'] / 2:.3g}")}
        copy["label"] = ""
        data["trajectories"].append(copy)
        self.set_spec(data)
        self.traj_list.setCurrentRow(len(self.spec.trajectories) - 1)

    def remove_trajectory(self) -> None:
        if len(self.spec.trajectories) <= 1:
            return
        i = max(self.traj_list.currentRow(), 0)
        data = self.spec.to_json()
        del data["trajectories"][i]
        self.set_spec(data)
        self.traj_list.setCurrentRow(min(i, len(self.spec.trajectories) - 1))

    def edit_selected(self, edit: dict[str, Any]) -> None:
        """A mid-run edit of the selected trajectory from the current step on (recorded, so a saved
        session replays it)."""
        i = max(self.traj_list.currentRow(), 0)
        try:
            note = self.land.apply_edit(edit, i + 1)
        except SpecError as err:
            self.sig_message.emit(f"edit rejected: {err}")
            return
        self._notes([note])
        for art in self.arts:
            art.draw_planned(self.spec.steps)

    # --- drawing ---------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        """Everything for a new set-up: the surface (when it changed), fresh trajectory art."""
        for art in self.arts:
            art.remove()
        land = self.land
        key = json.dumps(self.spec.surface.to_json(), sort_keys=True)  # the surface is drawn only when it changes
        if key != self._surface_key:
            self._draw_surface()
            self._surface_key = key
        x, y = land.start
        self.start_marker.setData([x], [y])
        self.start_label.setText(f"start ({x:.3g}, {y:.3g}): click the surface to move it")
        self.arts = [TrajectoryArt(self, t, self.colours[t.index % len(self.colours)]) for t in land.trajectories]
        for art in self.arts:
            art.draw()
            art.draw_planned(self.spec.steps)
        self._ends = None  # nothing drawn yet: the last set-up's crosses are cleared below
        self._draw_ends()
        crit = 2.0 / land.surface.max_curvature
        self.critical_line.setValue(crit)
        self.critical_line.label.setFormat(f"2/L = {crit:.3g}")
        top = max([crit * 1.15, *(t.optimizer["lr"] * 1.1 for t in self.spec.trajectories)])
        self.lr_plot.setYRange(0, top, padding=0)
        self.loss_plot.setXRange(0, self.spec.steps, padding=0.01)
        self._loss_span = None
        self._fit_loss_axis()
        self.add_button.setEnabled(len(self.spec.trajectories) < MAX_TRAJECTORIES)
        self.remove_button.setEnabled(len(self.spec.trajectories) > 1)
        self._status_text = []
        self._refresh_text()
        if self.playing:
            self._t_play, self._steps_played = time.perf_counter(), 0

    def _draw_surface(self) -> None:
        surface = self.land.surface
        x0, x1, y0, y1 = surface.box
        _, _, z = grid(surface, n=400)
        levels = log_levels(z, surface.f_min, N_LEVELS)
        bands = np.clip(np.searchsorted(levels, z - surface.f_min), 0, N_LEVELS - 1).astype(np.uint8)
        self.image.setImage(bands, levels=(0, N_LEVELS - 1), lut=_ramp(*self.bands, N_LEVELS), autoLevels=False)
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

    def _refresh_text(self) -> None:
        """The step counter, the legend and the list's statuses (only when they changed)."""
        land = self.land
        self.step_label.setText(f"step {land.step} / {self.spec.steps}"
                                + ("   done" if land.done else ""))
        texts = [t.describe() for t in land.trajectories]
        if texts == self._status_text:
            return
        self._status_text = texts
        parts = []
        big = land.surface.max_curvature
        for t, text in zip(land.trajectories, texts, strict=True):
            colour = self.colours[t.index % len(self.colours)]
            crit = critical_lr(t.spec.optimizer, big)
            ratio = None if crit is None else t.spec.optimizer["lr"] / crit
            where = ("" if ratio is None else f" (lr = {ratio:.3g} × 2/L)" if t.spec.optimizer["momentum"] == 0
                     else f" (lr = {ratio:.3g} × its critical LR)")
            entry = _nbsp(f"{t.index + 1} {t.name}{where}: ")
            shown = f"<b style='color:{DIVERGED_COLOUR}'>{_nbsp(text)}</b>" if t.status == DIVERGED else _nbsp(text)
            parts.append(f"<span style='color:{colour}; font-size:large'>━━</span>&nbsp;{entry}{shown}")
            item = self.traj_list.item(t.index)
            if item is not None:
                item.setToolTip(text)
        self.legend.setText(" &nbsp; ".join(parts))  # entries break between each other, never inside

    def _draw(self) -> None:
        if any([art.draw() for art in self.arts]):
            self._draw_ends()
            self._fit_loss_axis()
        self._refresh_text()

    def _fit_loss_axis(self) -> None:
        """The loss plot's y range in whole decades around everything drawn: it changes only when
        a curve crosses into a new decade (a range change redraws every curve piece)."""
        lo = min(a.log_gap[0] for a in self.arts)
        hi = max(a.log_gap[1] for a in self.arts)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return
        span = (math.floor(lo), max(math.ceil(hi), math.floor(lo) + 1))
        if span != self._loss_span:
            self._loss_span = span
            self.loss_plot.setYRange(span[0] - 0.05, span[1] + 0.05, padding=0)
            # ticks at whole decades only (log axes otherwise label 2, 3, ... 9 within a decade), at most ~6
            every = max(1, math.ceil((span[1] - span[0]) / 6))
            self.loss_plot.getAxis("left").setTickSpacing(major=every, minor=every)

    def _draw_ends(self) -> None:
        """Heads of running trajectories, crosses where diverged ones left the box: one scatter
        item each for all trajectories, the crosses re-sent only when one appears."""
        heads = [a for a in self.arts if a.traj.status != DIVERGED]
        crosses = [a for a in self.arts if a.traj.status == DIVERGED]
        self.heads.setData([a.end[0] for a in heads], [a.end[1] for a in heads],
                           brush=[pg.mkBrush(a.colour) for a in heads])
        ends = tuple(a.end for a in crosses)
        if ends != self._ends:
            self._ends = ends
            self.crosses.setData([e[0] for e in ends], [e[1] for e in ends],
                                 brush=[pg.mkBrush(a.colour) for a in crosses])

    # --- playing ---------------------------------------------------------------------------------

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if self.land.done:
            self.reset()
        self.playing = True
        self._t_play, self._steps_played = time.perf_counter(), 0
        self.play_button.setText("⏸ Pause")
        self.timer.start()

    def pause(self) -> None:
        self.playing = False
        self.timer.stop()
        self.play_button.setText("▶ Play")

    def set_speed(self, steps_per_second: float) -> None:
        self.speed = float(steps_per_second)
        self._t_play, self._steps_played = time.perf_counter(), 0

    def reset(self) -> None:
        """Back to step 0 with the same set-up (edits made while playing are dropped)."""
        self.land = Landscape(self.spec)
        self._rebuild()

    def step_once(self) -> None:
        self.pause()
        self.advance(1)

    def advance(self, n: int) -> int:
        """Up to ``n`` steps of every trajectory, then one redraw; returns the steps taken."""
        done = 0
        notes: list[Note] = []
        while done < n and not self.land.done:
            notes += self.land.advance()
            done += 1
        if notes:
            self._notes(notes)
        self._draw()
        return done

    def _tick(self) -> None:
        """One frame: the steps due at the current speed since play began (at most
        MAX_STEPS_PER_FRAME; behind that, the animation slows down instead of stuttering)."""
        now = time.perf_counter()
        due = int((now - self._t_play) * self.speed) - self._steps_played
        if due > MAX_STEPS_PER_FRAME:  # too far behind: drop the backlog rather than burst
            self._t_play = now - (self._steps_played + MAX_STEPS_PER_FRAME) / self.speed
            due = MAX_STEPS_PER_FRAME
        if due > 0:
            self._steps_played += self.advance(due)
        if self.land.done:
            self.pause()

    def _notes(self, notes: list[Note]) -> None:
        for note in notes:
            if note.kind == "diverged":
                self.sig_message.emit(note.data["message"])
                self.hint.setText(note.data["message"])
            elif note.kind == "edit":
                self.hint.setText(f"step {note.step}: trajectory {note.data['trajectory'] or 'all'}: "
                                  f"{note.data['edit']}")

    def _clicked(self, event: Any) -> None:
        vb = self.contour.getViewBox()
        pos = event.scenePos()
        if not vb.sceneBoundingRect().contains(pos):
            return
        p = vb.mapSceneToView(pos)
        x0, x1, y0, y1 = self.land.box
        if x0 < p.x() < x1 and y0 < p.y() < y1:
            self.set_start((float(f"{p.x():.3g}"), float(f"{p.y():.3g}")))

    # --- files ------------------------------------------------------------------------------------

    def save_session(self, path: str) -> str:
        """Save the run as shown (as far as it got, with its mid-run edits) as a session of kind
        ``landscape``; a run not started yet is run to its end first. Returns the final status."""
        from lrlab.core.runs import record
        from lrlab.core.runs.landscape import run_spec_of

        land = self.land
        cut = land.step if 0 < land.step < self.spec.steps and not land.done else None
        run = record("landscape", run_spec_of(self.spec), path, label=f"landscape-{self.spec.surface.kind}",
                     overwrite=True, landscape=self.spec.to_json(), edits=list(land.applied), max_steps=cut)
        return str(run.run())

    def export_png(self, path: str) -> None:
        """The figure (surface, legend, loss and LR plots; no controls) as a PNG."""
        from lrlab.gui.exports import save_image

        save_image(self.figure.grab(), path)

    def export_csv(self, path: str) -> int:
        from lrlab.core.landscape import write_csv

        return write_csv(self.land, path)

    def save_session_dialog(self) -> None:
        from lrlab.core.decl import paths
        from lrlab.core.runs.landscape import run_spec_of
        from lrlab.core.storage.session import default_name

        name = default_name(run_spec_of(self.spec), f"landscape-{self.spec.surface.kind}")
        suggestion = str(paths.sessions_dir() / name)
        out, _ = QFileDialog.getSaveFileName(self, "Save landscape session", suggestion, "lrlab sessions (*.lrlab)")
        if out:
            status = self.save_session(out)
            self.hint.setText(f"saved {out} ({status})")

    def _export_dialog(self, fmt: str) -> None:
        out, _ = QFileDialog.getSaveFileName(self, f"Export {fmt.upper()}", f"landscape.{fmt}",
                                             f"{fmt.upper()} (*.{fmt})")
        if out:
            self.export_png(out) if fmt == "png" else self.export_csv(out)
            self.hint.setText(f"exported {out}")

    def closeEvent(self, event: Any) -> None:
        self.pause()
        super().closeEvent(event)


def _nbsp(text: str) -> str:
    """Plain text as HTML whose spaces never break: a legend entry wraps as a whole."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(" ", "&nbsp;")
    return text.replace("/", "\u2060/\u2060")  # word joiners: Qt would break "2/L" after the slash


def render_png(landscape: Landscape, out: str, width: int = 1700, height: int = 1000) -> None:
    """Draw a computed landscape into a PNG without a display (``lrlab landscape --png``)."""
    from lrlab.gui.exports import shown_for_export

    window = LandscapeWindow()
    window.spec, window.land = landscape.spec, landscape
    window._load_editors()
    window._rebuild()
    with shown_for_export(window, width, height):
        window.export_png(out)
