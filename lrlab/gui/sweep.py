"""The Sweep window: K learning rates trained at once, their loss curves and the U-curve.

The sweep is a run of kind ``sweep`` started by the main window's run controller (so it
trains in the background and pauses, stops and takes schedule edits like any run); this
window only sets it up (an LR range or list, seeds) and draws what arrives: each member's
smoothed loss coloured by its LR on a log colour scale, and the latest smoothed loss and
validation metric of every member against its LR, the U-curve forming as the run goes. A
click on a curve or a point selects a member: "Use this LR" puts it in the form, "Compare
members" opens the whole group in the compare view.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from lrlab.core.decl.metrics import TRAIN_LOSS, VAL_METRIC
from lrlab.core.decl.palette import lr_colour
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.stacked import PATH_WORDS
from lrlab.core.features.series import MinMaxPyramid, debiased_ema
from lrlab.core.runs.recorded import recorded_path
from lrlab.core.runs.sweep import engine_note, log_range
from lrlab.gui.fastcurve import FastCurve
from lrlab.gui.members import MembersWindow, lr_colour_map
from lrlab.gui.ranges import AXIS_WIDTH, SteadyRange
from lrlab.gui.style import colours, fit_to_screen

SMOOTHING = 0.9  # the members' loss curves and the U-curve use a strongly smoothed loss


def stacked_words(folder: Path) -> str:
    """"; path vmap (torch.func.vmap over the members)": how the sweep in ``folder`` ran."""
    path = recorded_path(folder)
    return f"; path {path} ({PATH_WORDS[path]})" if path in PATH_WORDS else ""


def parse_lrs(text: str) -> list[float]:
    """"LO:HI:K" (K learning rates from LO to HI on a log scale) or a list "0.001, 0.01, 0.1".
    Raises SpecError naming the field ("lrs") and what is allowed."""
    text = text.strip()
    try:
        if ":" in text:
            lo, hi, k = text.split(":")
            return log_range(float(lo), float(hi), int(k), "lrs")
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise SpecError([("lrs", f"expected LO:HI:K (e.g. 1e-4:1:9) or a list (e.g. 0.001, 0.01, 0.1), got "
                                 f"{text!r}")]) from None
    if not values or any(not (v > 0 and math.isfinite(v)) for v in values):
        raise SpecError([("lrs", f"every LR must be a finite number > 0, got {text!r}")])
    return values


def lr_colours(cmap: pg.ColorMap, lrs: Any) -> tuple[list[Any], tuple[float, float]]:
    """A colour per LR on the core's log LR scale (:func:`lrlab.core.decl.palette.lr_colour`: compare
    colours a group's members alike), and that scale's (log10 low, log10 high) for a colour bar
    drawn with ``cmap``."""
    values = [float(v) for v in np.asarray(lrs, dtype=np.float64)]
    lo, hi = min(values), max(values)
    colours_ = [pg.mkColor(lr_colour(v, lo, hi)) for v in values]
    log_lo, log_hi = math.log10(lo), math.log10(hi)
    return colours_, (log_lo, log_hi if log_hi > log_lo else log_lo + 1)


class MemberCurves:
    """One curve per member of a run of several members (a sweep, a population) on one plot:
    a step column of each member's Updates (the training loss by default, smoothed with a
    debiased EMA; ``smoothing=None`` draws it raw), kept in a :class:`MinMaxPyramid` so a frame
    costs the same however long the run. ``latest`` holds each member's latest finite value;
    ``on_click(member)`` is called when a curve is clicked."""

    def __init__(self, plot: Any, column: str = TRAIN_LOSS.name, smoothing: float | None = SMOOTHING,
                 on_click: Any = None):
        self.plot, self.column, self.smoothing, self.on_click = plot, column, smoothing, on_click
        self.curves: list[FastCurve] = []
        self.data: list[MinMaxPyramid] = []
        self.colours: list[Any] = []
        self.latest: np.ndarray = np.empty(0)
        self._ema: list[float] = []
        self._n: list[int] = []

    def begin(self, colours_: list[Any]) -> None:
        """Fresh curves, one per member, in these colours."""
        for c in self.curves:
            self.plot.removeItem(c)
        k = len(colours_)
        self.colours, self.curves = list(colours_), []
        for i in range(k):
            # a FastCurve: 16 of them are redrawn every frame (lrlab.gui.fastcurve)
            curve = FastCurve(pen=pg.mkPen(self.colours[i], width=1))
            self.plot.addItem(curve)
            if self.on_click is not None:
                curve.setClickable(True, width=6)
                curve.sigClicked.connect(lambda _, i=i: self.on_click(i))
            self.curves.append(curve)
        self.data = [MinMaxPyramid() for _ in range(k)]
        self._ema, self._n = [0.0] * k, [0] * k
        self.latest = np.full(k, np.nan)

    def add(self, i: int, member: Any) -> None:
        """Member i's Update: its new steps."""
        if not member.n:
            return
        values = np.asarray(member.steps[self.column], dtype=np.float64)
        if self.smoothing is not None:
            values, self._ema[i] = debiased_ema(values, self.smoothing, self._n[i], self._ema[i])
        self._n[i] += len(values)
        self.data[i].append(member.steps["step"].astype(np.float64), values)
        finite = values[np.isfinite(values)]
        if len(finite):
            self.latest[i] = finite[-1]

    def highlight(self, member: int | None, width: int = 4) -> None:
        for i, c in enumerate(self.curves):
            c.setPen(pg.mkPen(self.colours[i], width=width if i == member else 1))

    def draw(self, members_per_budget: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
        """Redraw every curve (each gets a share of the plot's pixels); returns what was drawn."""
        budget = max(100, int(self.plot.getViewBox().width()) // max(1, len(self.data) // members_per_budget))
        drawn = []
        for curve, pyramid in zip(self.curves, self.data, strict=True):
            x, y = pyramid.view(-np.inf, np.inf, budget, True)
            curve.set_points(x, y)
            drawn.append((x, y))
        return drawn


class SweepWindow(MembersWindow):
    sig_run = Signal(list, int)  # LRs, seeds per LR
    #: a sweep on Ray: members back, members sent, and how it ended ("" while it runs); emitted in
    #: the GUI thread, for the main window's progress bar and status line
    sig_cluster_progress = Signal(int, int, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Sweep — many learning rates at once", "Run sweep",
                         "train the Experiment form's setup at every LR at once", "1e-4:1:9",
                         "seeds per LR (the spread shows noise)",
                         "Set up the experiment in the main window, choose learning rates here, then Run sweep.",
                         parent)
        self.spec: RunSpec | None = None
        self.lrs: list[float] = []
        self.seeds = 1
        self.files: list[str] = []
        self.path_words = ""  # how the members ran ("; path vmap (...)"), once a sweep has ended
        self.selected: int | None = None
        self.main_layout.insertLayout(1, self._cluster_row())
        self.p_loss = self.view.addPlot(row=0, col=0, rowspan=2, title="smoothed training loss of each member")
        self.p_u = self.view.addPlot(row=0, col=1, title="the U-curve: latest loss against LR")
        self.p_metric = self.view.addPlot(row=1, col=1, title="latest validation metric against LR")
        # losses on log y: a diverging member would flatten everyone else's curve on a linear axis
        self.p_loss.setLogMode(y=True)
        self.p_u.setLogMode(x=True, y=True)
        self.p_metric.setLogMode(x=True)
        self.p_metric.setXLink(self.p_u)
        for p, (x, y) in ((self.p_loss, ("step", "loss")), (self.p_u, ("learning rate", "loss")),
                          (self.p_metric, ("learning rate", "accuracy / R²"))):
            p.setLabel("bottom", x)
            p.setLabel("left", y)
            for axis in ("left", "bottom"):
                p.getAxis(axis).enableAutoSIPrefix(False)  # an accuracy of 0.97 is not "970 (x0.001)"
            # a fixed width: tick labels of a new width re-laid the plots out, and the linked x of
            # the U-curve and the metric followed, a paint each (lrlab.gui.ranges)
            p.getAxis("left").setWidth(AXIS_WIDTH)
        self.cmap = lr_colour_map()
        self.colour_bar = pg.ColorBarItem(values=(-4, 0), colorMap=self.cmap, label="log10 LR", interactive=False)
        self.view.addItem(self.colour_bar, row=0, col=2, rowspan=2)
        self.u_curve = self.p_u.plot(pen=pg.mkPen(colours()["event"], width=1))
        self.u_points = pg.ScatterPlotItem(size=11, hoverable=True, tip=self._tip)
        self.u_points.sigClicked.connect(lambda _, points, *a: self.select(int(points[0].data())))
        self.p_u.addItem(self.u_points)
        self.m_points = pg.ScatterPlotItem(size=9, hoverable=True, tip=self._tip)
        self.m_points.sigClicked.connect(lambda _, points, *a: self.select(int(points[0].data())))
        self.p_metric.addItem(self.m_points)
        self.crosses = pg.ScatterPlotItem(symbol="x", size=14, pen=pg.mkPen(colours()["diverged"], width=2))
        self.p_loss.addItem(self.crosses)
        self.use_button = QPushButton("Use this LR", enabled=False)
        self.use_button.clicked.connect(self._use)
        self.compare_button = QPushButton("Compare members", enabled=False,
                                          toolTip="open every member's session in the compare view")
        self.compare_button.clicked.connect(lambda: self.sig_compare.emit(list(self.files)))
        self.add_buttons(self.use_button, self.compare_button)
        fit_to_screen(self, 1200, 760)
        self.losses = MemberCurves(self.p_loss, on_click=self.select)
        # ranges fitted by the frames, rarely: auto-ranging cost five paints a frame (lrlab.gui.ranges)
        self.ranges = (SteadyRange(self.p_loss, grow_x=True), SteadyRange(self.p_u),
                       SteadyRange(self.p_metric, fit_x=False))
        self.latest_metric: np.ndarray = np.empty(0)
        self.status_of: list[str] = []

    @property
    def latest_loss(self) -> np.ndarray:
        """Each member's latest smoothed training loss (NaN before its first)."""
        return self.losses.latest

    def _cluster_row(self) -> QHBoxLayout:
        """Run on: this machine, or a Ray cluster (greyed, with the install hint, without ray)."""
        from lrlab.core.runs.cluster import INSTALL_HINT, ray_available

        row = QHBoxLayout()
        self.run_on = QComboBox()
        self.run_on.addItem("this machine", "local")
        self.run_on.addItem("Ray cluster", "ray")
        self.ray_address = QLineEdit(placeholderText="HOST:6379 (empty: RAY_ADDRESS, or a local Ray instance)",
                                     enabled=False)
        available = ray_available()
        if not available:
            item = self.run_on.model().item(1)
            item.setEnabled(False)
            item.setToolTip(f"needs the ray package: {INSTALL_HINT}")
            self.run_on.setToolTip(f"a Ray cluster needs the ray package: {INSTALL_HINT}")
        else:
            self.run_on.setToolTip("where the members train: here, all at once, or as Ray tasks on a cluster (the "
                                   "sessions come back here; the curves show each member's result as it arrives)")
        self.run_on.currentIndexChanged.connect(
            lambda _: self.ray_address.setEnabled(self.run_on.currentData() == "ray"))
        for w in (QLabel("run on"), self.run_on, self.ray_address):
            row.addWidget(w)
        row.addStretch(1)
        return row

    def cluster_address(self) -> str | None:
        """None to run here; the Ray address to run on a cluster ('' for RAY_ADDRESS or a local instance)."""
        return self.ray_address.text().strip() if self.run_on.currentData() == "ray" else None

    def add_rows(self, rows: list[dict[str, Any]]) -> None:
        """Members finished on a cluster (their summary rows): their points on the U-curve."""
        index = {(lr, i % self.seeds): i for i, lr in enumerate(self.member_lr)}  # members by LR, then seed
        for row in rows:
            i = index.get((row["lr"], (row["seed"] - self.spec.seed) if self.spec else 0))
            if i is None:
                continue
            loss, metric = row.get("final_train_loss"), row.get("final_val_metric")
            self.latest_loss[i] = np.nan if loss is None else loss
            self.latest_metric[i] = np.nan if metric is None else metric
            self.status_of[i] = row["status"]
        self.status.setText(f"{len(rows)} of {len(self.member_lr)} members back from the cluster…")
        self._dirty = True
        self.sig_cluster_progress.emit(len(rows), len(self.member_lr), "")

    @Slot(list)
    def set_cluster_failures(self, failures: list[str]) -> None:
        self.cluster_failures = failures

    @Slot(str, str)
    def cluster_finished(self, status: str, folder: str) -> None:
        """A sweep on Ray ended; the members that came back are in ``folder``."""
        self.finish(folder)
        self.sig_cluster_progress.emit(len(self.member_lr), len(self.member_lr), f"{status}: {folder}")
        failures = getattr(self, "cluster_failures", [])
        if failures:
            self.status.setText(f"{status}: {len(self.files)} sessions in {folder}; failed on the cluster: "
                                + "; ".join(failures))

    @Slot(str)
    def cluster_failed(self, message: str) -> None:
        self.status.setText(message)
        self.run_button.setEnabled(True)
        self.sig_cluster_progress.emit(0, len(self.member_lr), message)

    # --- setting up ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            lrs = parse_lrs(self.lr_text.text())
        except SpecError as err:
            self.show_error(err.first_line())
            return
        self.show_error("")
        self.sig_run.emit(lrs, self.seed_count.value())

    def begin(self, spec: RunSpec, lrs: list[float], seeds: int) -> None:
        """A sweep of ``spec`` over ``lrs`` x ``seeds`` is starting: fresh curves, one per member."""
        self.spec, self.lrs, self.seeds = spec, sorted(lrs), seeds
        k = len(self.lrs) * seeds
        self.member_lr = [lr for lr in self.lrs for _ in range(seeds)]  # members by LR, then seed
        self.colour_of, levels = lr_colours(self.cmap, self.member_lr)
        self.colour_bar.setLevels(levels)
        self.losses.begin(self.colour_of)
        for r in self.ranges:
            r.reset()
        self.latest_metric = np.full(k, np.nan)
        self.status_of = ["running"] * k
        self.files, self.selected = [], None
        self.path_words = ""  # how the members ran, once the sweep has said (finish)
        self.use_button.setEnabled(False)
        self.compare_button.setEnabled(False)
        self.run_button.setEnabled(False)
        note = engine_note(spec.optimizer)  # Prodigy, Schedule-Free: one real optimizer per member
        self.status.setText(f"training {k} members at once…" + (f" ({note})" if note else ""))
        self._dirty = True

    def add(self, update: Any) -> None:
        """An Update of the sweep: each member's new steps, evaluations and status (its ``members``)."""
        for i, member in enumerate(update.members[:len(self.losses.data)]):
            self.losses.add(i, member)
            if member.evals:
                self.latest_metric[i] = member.evals[-1][VAL_METRIC.name]
            self.status_of[i] = str(member.status)
        self._dirty = True

    def finish(self, folder: str) -> None:
        """The sweep ended: its members' sessions are in ``folder``."""
        self.files = sorted(str(p) for p in Path(folder).glob("*.lrlab"))
        self.path_words = stacked_words(Path(folder))
        self.run_button.setEnabled(True)
        self.compare_button.setEnabled(len(self.files) >= 2)
        best = self.best_member()
        diverged = sum(s == "diverged" for s in self.status_of)
        self.status.setText(f"done: {len(self.files)} sessions in {folder}; {diverged} diverged"
                            + (f"; best validation at LR {self.member_lr[best]:.3g}" if best is not None else "")
                            + self.path_words)
        if best is not None and self.selected is None:
            self.select(best)
        self._dirty = True
        self._frame()

    # --- selecting ------------------------------------------------------------------------------

    def best_member(self) -> int | None:
        """The member to suggest: the best latest validation metric (accuracy or R², what the
        model is for), among those that did not diverge; the lowest training loss when none
        was validated. The lowest training loss alone would favour an overfitting LR."""
        alive = np.array([s != "diverged" for s in self.status_of], dtype=bool)
        metric = np.where(alive & np.isfinite(self.latest_metric), self.latest_metric, np.nan)
        if np.isfinite(metric).any():
            return int(np.nanargmax(metric))
        loss = np.where(alive & np.isfinite(self.latest_loss), self.latest_loss, np.nan)
        return int(np.nanargmin(loss)) if np.isfinite(loss).any() else None

    def select(self, member: int) -> None:
        self.selected = member
        self.losses.highlight(member)
        lr = self.member_lr[member]
        self.use_button.setEnabled(self.spec is not None)
        self.use_button.setToolTip(f"set the Experiment form's LR to {lr:.4g}")
        self.status.setText(f"member {member}: LR {lr:.4g}, {self.status_of[member]}, latest smoothed loss "
                            f"{self.latest_loss[member]:.4g}{self.path_words}")
        self._dirty = True

    def confirm(self, text: str) -> None:
        """Say in this window what "Use this LR" did (the main window may be hidden)."""
        self.status.setText(text)

    def _use(self) -> dict[str, Any] | None:
        if self.selected is None or self.spec is None:
            return None
        data = self.spec.to_json()
        data["optimizer"] = {**data["optimizer"], "lr": self.member_lr[self.selected]}
        self.sig_use.emit(data)
        return data

    def _tip(self, x: float, y: float, data: Any) -> str:
        i = int(data)
        return f"member {i}: LR {self.member_lr[i]:.4g}\n{self.status_of[i]}"

    # --- drawing ----------------------------------------------------------------------------------

    def _can_draw(self) -> bool:
        return bool(self.losses.data)

    def _draw(self) -> None:
        ends = []
        for i, (x, y) in enumerate(self.losses.draw()):
            if self.status_of[i] == "diverged" and len(x):
                finite = np.isfinite(y)
                if finite.any():  # scatter items are not log-transformed by the plot: do it here
                    j = int(np.flatnonzero(finite)[-1])
                    ends.append({"pos": (x[j], math.log10(max(y[j], 1e-300))), "data": i})
        self.crosses.setData(ends)
        lrs = np.asarray(self.member_lr)
        alive = np.array([s != "diverged" for s in self.status_of], dtype=bool)
        for points, values, log_y in ((self.u_points, self.latest_loss, True),
                                      (self.m_points, self.latest_metric, False)):
            # a diverged member is a cross at its last loss, and has no validation point to show
            keep = np.isfinite(values) & ((values > 0) if log_y else alive)
            points.setData([{"pos": (math.log10(lrs[i]), math.log10(values[i]) if log_y else values[i]), "data": i,
                             "brush": self.colour_of[i], "size": 15 if i == self.selected else 10,
                             "symbol": "o" if alive[i] else "x"}
                            for i in np.flatnonzero(keep)])
        keep = np.isfinite(self.latest_loss) & np.array([s != "diverged" for s in self.status_of])
        order = np.argsort(lrs[keep])
        self.u_curve.setData(lrs[keep][order], self.latest_loss[keep][order])
        for r in self.ranges:
            r.fit()
