"""The Population (PBT) window: population-based training, live, and the schedule it discovers.

The population is a run of kind ``pbt`` started by the main window's run controller (it trains
in the background, pauses and stops like any run); this window sets it up (population, interval,
quantile, perturb factors, seed) and draws what arrives, with the Sweep window's parts
(:class:`~lrlab.gui.sweep.MemberCurves`, the LR colour scale): each member's smoothed loss and
its LR, coloured by its first LR, and the lineage as a tree: one lane per member, an arrow
from lane s to lane b where member b copied member s. When the population ends, the winner is
highlighted (its lanes back through its lineage drawn bold) with its discovered schedule:
"Use this schedule" puts it in the Experiment form, "Train it from scratch" trains it as one
run and then compares that run with the winner.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lrlab.core.decl.metrics import LR, VAL_METRIC
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import RunSpec, planned_steps
from lrlab.gui.forms import ERROR_STYLE
from lrlab.gui.members import lr_colour_map
from lrlab.gui.pacing import MEMBERS_FRAME_MS, FramePacer, TimedGraphicsLayout
from lrlab.gui.ranges import AXIS_WIDTH, SteadyRange
from lrlab.gui.style import colours, fit_to_screen
from lrlab.gui.sweep import MemberCurves, lr_colours


def lineage_path(lineage: list[list[tuple[int, int, float]]], member: int, end: int) -> tuple[list[float], list[float]]:
    """The lanes a member's weights came along, as one polyline (steps, lanes) from step 0 to
    ``end``: back from the end, along each lane to the exploit that filled it, across to the
    source's lane, and so on to the start."""
    xs, ys = [float(end)], [float(member)]
    cur, until = member, end
    while True:
        earlier = [e for e in lineage[cur] if e[0] <= until]
        if not earlier:
            break
        step, source, _ = earlier[-1]
        xs += [step, step]
        ys += [cur, source]
        cur, until = source, step
        if step == 0:
            break
    xs.append(0.0)
    ys.append(float(cur))
    return xs[::-1], ys[::-1]


class PBTWindow(QMainWindow):
    sig_run = Signal(dict)  # the population's settings: population, interval, quantile, perturb, pbt_seed
    sig_use = Signal(dict)  # the experiment JSON with the winner's schedule
    sig_transfer = Signal(dict, str)  # that JSON, and the winner's session: train it from scratch, compare
    sig_compare = Signal(list)  # the members' session files
    sig_pause = Signal()
    sig_stop = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Population (PBT) — a population discovers its LR schedule")
        self.spec: RunSpec | None = None
        self.files: list[str] = []
        self.result: dict[str, Any] | None = None
        central = QWidget()
        lay = QVBoxLayout(central)
        row = QHBoxLayout()
        self.population = QSpinBox(minimum=2, maximum=256, value=8, toolTip="members trained at once")
        self.interval = QSpinBox(minimum=1, maximum=10_000_000, value=100,
                                 toolTip="steps between two exploit/explore rounds")
        self.quantile = QDoubleSpinBox(minimum=0.01, maximum=0.5, singleStep=0.05, value=0.25, decimals=2,
                                       toolTip="share of the population replaced (bottom) and copied from (top)")
        self.perturb = QLineEdit("0.8, 1.25", toolTip="the two factors an inherited LR is multiplied by")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0, toolTip="seed of the exploit and explore draws")
        self.run_button = QPushButton("Run population", toolTip="train the Experiment form's setup as a population")
        self.run_button.clicked.connect(self._run)
        self.pause_button = QPushButton("Pause/Resume")
        self.pause_button.clicked.connect(self.sig_pause.emit)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.sig_stop.emit)
        for w in (QLabel("population"), self.population, QLabel("interval"), self.interval, QLabel("quantile"),
                  self.quantile, QLabel("perturb"), self.perturb, QLabel("seed"), self.seed, self.run_button,
                  self.pause_button, self.stop_button):
            row.addWidget(w)
        lay.addLayout(row)
        self.error = QLabel(styleSheet=ERROR_STYLE, visible=False)
        lay.addWidget(self.error)
        for w in (self.population, self.interval, self.quantile, self.seed):
            w.valueChanged.connect(self._check)
        self.perturb.textChanged.connect(self._check)

        self.view = TimedGraphicsLayout()
        self.p_loss = self.view.addPlot(row=0, col=0, title="smoothed training loss of each member")
        self.p_lr = self.view.addPlot(row=1, col=0, title="learning rate of each member")
        self.p_tree = self.view.addPlot(row=0, col=1, rowspan=2,
                                        title="lineage: who copied whom (bold: the winner's weights)")
        self.p_loss.setLogMode(y=True)
        self.p_lr.setLogMode(y=True)
        self.p_lr.setXLink(self.p_loss)
        for p, (x, y) in ((self.p_loss, ("step", "loss")), (self.p_lr, ("step", "learning rate")),
                          (self.p_tree, ("step", "member"))):
            p.setLabel("bottom", x)
            p.setLabel("left", y)
            for axis in ("left", "bottom"):
                p.getAxis(axis).enableAutoSIPrefix(False)
        self.p_tree.invertY(True)  # member 0 on top, as the lists read
        # ranges fitted by the frames, left axes of a fixed width: as the Sweep window (lrlab.gui.ranges)
        for p in (self.p_loss, self.p_lr):
            p.getAxis("left").setWidth(AXIS_WIDTH)
        self.ranges = (SteadyRange(self.p_loss, grow_x=True), SteadyRange(self.p_lr, fit_x=False))
        self.cmap = lr_colour_map()
        self.colour_bar = pg.ColorBarItem(values=(-4, 0), colorMap=self.cmap, label="log10 first LR",
                                          interactive=False)
        self.view.addItem(self.colour_bar, row=0, col=2, rowspan=2)
        self.losses = MemberCurves(self.p_loss, on_click=self.select)
        self.lrs = MemberCurves(self.p_lr, column=LR.name, smoothing=None, on_click=self.select)
        self.lanes: list[pg.PlotDataItem] = []
        event = colours()["event"]
        self.arrows = self.p_tree.plot(pen=pg.mkPen(event, width=1.5), connect="pairs")
        self.heads = pg.ScatterPlotItem(size=10, pen=pg.mkPen(event), brush=pg.mkBrush(event))
        self.p_tree.addItem(self.heads)
        self.winner_path = self.p_tree.plot(pen=pg.mkPen(colours()["edit"], width=5))
        # before a run the empty plots say what will fill them
        self.hint = pg.TextItem("each member's lane, and an arrow where it copied\na better member's weights, "
                                "appear here once\nthe population runs", color=pg.getConfigOption("foreground"),
                                anchor=(0.5, 0.5))
        self.p_tree.addItem(self.hint, ignoreBounds=True)
        self.hint.setPos(0.5, 0.5)
        lay.addWidget(self.view, 1)

        bottom = QHBoxLayout()
        self.status = QLabel("Set up the experiment in the main window, choose the population here, then Run "
                             "population.", wordWrap=True)
        self.use_button = QPushButton("Use this schedule", enabled=False,
                                      toolTip="put the winner's discovered schedule in the Experiment form")
        self.use_button.clicked.connect(self._use)
        self.transfer_button = QPushButton("Train it from scratch", enabled=False,
                                           toolTip="does the discovered schedule transfer? Train it as one run "
                                                   "from the start, then compare it with the winner")
        self.transfer_button.clicked.connect(self._transfer)
        self.compare_button = QPushButton("Compare members", enabled=False,
                                          toolTip="open every member's session in the compare view")
        self.compare_button.clicked.connect(lambda: self.sig_compare.emit(list(self.files)))
        bottom.addWidget(self.status, 1)
        for b in (self.use_button, self.transfer_button, self.compare_button):
            bottom.addWidget(b)
        lay.addLayout(bottom)
        self.setCentralWidget(central)
        fit_to_screen(self, 1300, 800)

        self.lineage: list[list[tuple[int, int, float]]] = []
        self.status_of: list[str] = []
        self.latest_metric = np.empty(0)
        self.steps_done = 0
        self.selected: int | None = None
        self._dirty = False
        self.pacer = FramePacer(self, self._frame, self.view, min_ms=MEMBERS_FRAME_MS)

    # --- setting up ----------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The population's settings from the fields, validated (SpecError names the field)."""
        from lrlab.core.runs.pbt import check_pbt

        try:
            perturb = tuple(float(x) for x in self.perturb.text().replace(";", ",").split(","))
        except ValueError:
            raise SpecError([("perturb", f"expected two factors LOW, HIGH (e.g. 0.8, 1.25), got "
                                         f"{self.perturb.text()!r}")]) from None
        population, interval, quantile, factors = check_pbt(self.population.value(), self.interval.value(),
                                                            self.quantile.value(), perturb)
        return {"population": population, "interval": interval, "quantile": quantile, "perturb": list(factors),
                "pbt_seed": self.seed.value()}

    def check(self, spec: RunSpec | None = None) -> dict[str, Any] | None:
        """The settings, or None with the message shown inline and Run disabled; with ``spec``, the
        interval is checked against its run's length too."""
        from lrlab.core.runs.pbt import check_interval

        try:
            settings = self.settings()
            if spec is not None:
                check_interval(settings["interval"], planned_steps(spec))
        except SpecError as err:
            self.error.setText(err.first_line())
            self.error.show()
            self.run_button.setEnabled(False)
            return None
        self.error.hide()
        self.run_button.setEnabled(True)
        return settings

    def _check(self) -> None:
        self.check(self.spec)

    def _run(self) -> None:
        settings = self.check()
        if settings is not None:
            self.sig_run.emit(settings)

    def begin(self, spec: RunSpec, lrs: list[float]) -> None:
        """A population of ``spec`` is starting from the first LRs ``lrs``: fresh curves and lanes."""
        self.spec = spec
        k = len(lrs)
        self.first_lr = list(lrs)
        self.colour_of, levels = lr_colours(self.cmap, lrs)
        self.colour_bar.setLevels(levels)
        self.losses.begin(self.colour_of)
        self.lrs.begin(self.colour_of)
        for r in self.ranges:
            r.reset()
        for lane in self.lanes:
            self.p_tree.removeItem(lane)
        self.lanes = [self.p_tree.plot(pen=pg.mkPen(c, width=2)) for c in self.colour_of]
        self.p_tree.getAxis("left").setTicks([[(i, f"{i}") for i in range(k)]])
        self.p_tree.setYRange(-0.5, k - 0.5)
        self.hint.hide()
        self.winner_path.setData([], [])
        self.lineage = [[] for _ in range(k)]
        self.status_of = ["running"] * k
        self.latest_metric = np.full(k, np.nan)
        self.steps_done = 0
        self.files, self.result, self.selected = [], None, None
        for b in (self.use_button, self.transfer_button, self.compare_button, self.run_button):
            b.setEnabled(False)
        self.status.setText(f"training {k} members at once…")
        self._dirty = True

    def add(self, update: Any) -> None:
        """An Update of the population: each member's steps, evaluations, exploits and status."""
        for i, member in enumerate(update.members[:len(self.lineage)]):
            self.losses.add(i, member)
            self.lrs.add(i, member)
            if member.evals:
                self.latest_metric[i] = member.evals[-1][VAL_METRIC.name]
            for e in member.events:
                if e.kind == "exploit":
                    self.lineage[i].append((e.step, int(e.data["source"]), float(e.data["lr"])))
            self.status_of[i] = str(member.status)
        self.steps_done = max(self.steps_done, int(update.step))
        exploits = sum(len(x) for x in self.lineage)
        self.status.setText(f"training {len(self.lineage)} members at once: step {self.steps_done}, "
                            f"{exploits} exploits")
        self._dirty = True

    def finish(self, folder: str) -> None:
        """The population ended: its sessions and summary are in ``folder``."""
        from lrlab.core.runs.pbt import read_result

        self.files = sorted(str(p) for p in Path(folder).glob("*.lrlab"))
        self.run_button.setEnabled(True)
        self.compare_button.setEnabled(len(self.files) >= 2)
        try:
            self.result = read_result(folder)
        except (OSError, ValueError, KeyError) as err:  # a population stopped before its summary
            self.status.setText(f"ended: {len(self.files)} sessions in {folder} ({err})")
            return
        self.lineage = [[(int(s), int(src), float(lr)) for s, src, lr in m["lineage"]]
                        for m in self.result["members"]]
        won = self.result["winner"]
        if won is None:
            self.status.setText(f"done: {len(self.files)} sessions in {folder}; every member diverged")
        else:
            self.select(won["member"])
            self.status.setText(f"done: {self.result['exploits']} exploits; winner member {won['member']}, final "
                                f"validation {won['final_val_metric']:.4g}. Its schedule: "
                                f"{describe_schedule(won['schedule'])}")
            self.use_button.setEnabled(True)
            self.transfer_button.setEnabled(True)
        self._dirty = True
        self._frame()

    # --- the winner ------------------------------------------------------------------------------

    def select(self, member: int) -> None:
        self.selected = member
        self.losses.highlight(member)
        self.lrs.highlight(member)
        self._dirty = True

    def winner_spec(self) -> dict[str, Any] | None:
        """The experiment JSON with the winner's discovered schedule (None before a winner)."""
        if self.spec is None or self.result is None or self.result["winner"] is None:
            return None
        return {**self.spec.to_json(), "schedule": self.result["winner"]["schedule"]}

    def _use(self) -> dict[str, Any] | None:
        data = self.winner_spec()
        if data is not None:
            self.sig_use.emit(data)
        return data

    def _transfer(self) -> dict[str, Any] | None:
        data = self.winner_spec()
        if data is not None and self.result is not None:
            winner = self.result["members"][self.result["winner"]["member"]]["session"]
            self.sig_transfer.emit(data, winner)
            self.status.setText("training the winner's schedule from scratch in the main window; the compare view "
                                "opens when it ends")
        return data

    # --- drawing ----------------------------------------------------------------------------------

    def _frame(self) -> None:
        """At most ten frames a second, fewer when drawing is dear (as the Sweep window)."""
        if not self._dirty or not self.losses.data:
            return
        self._dirty = False
        with self.pacer.measured():
            self.losses.draw()
            self.lrs.draw()
            for r in self.ranges:
                r.fit()
            self._draw_tree()

    def _draw_tree(self) -> None:
        """Lanes to the current step, an arrow (a segment and its head) per exploit, the
        winner's lineage bold."""
        end = float(self.steps_done)
        for i, lane in enumerate(self.lanes):
            lane.setData([0.0, end], [i, i])
        xs: list[float] = []
        ys: list[float] = []
        heads = []
        for target, exploits in enumerate(self.lineage):
            for step, source, _ in exploits:
                # the head stops short of the target lane, pointing at it (y grows downwards)
                xs += [step, step]
                ys += [source, target - 0.25 * math.copysign(1, target - source)]
                heads.append({"pos": (step, target - 0.2 * math.copysign(1, target - source)),
                              "symbol": "t" if target > source else "t1"})
        self.arrows.setData(xs, ys, connect="pairs")
        self.heads.setData(heads)
        won = None if self.result is None or self.result["winner"] is None else self.result["winner"]["member"]
        if won is not None:
            self.winner_path.setData(*lineage_path(self.lineage, won, int(end)))
        else:
            self.winner_path.setData([], [])


def describe_schedule(schedule: dict[str, Any]) -> str:
    """A discovered schedule in a few words: "x0.1 of the LR, then x0.125 from step 100, ..."."""
    if schedule.get("kind") != "sequence":
        return f"the spec's schedule ({schedule.get('kind')})"
    starts = [0, *schedule["milestones"]]
    parts = [f"x{f:.3g}" + (f" from step {s}" if s else "") for s, f in zip(starts, schedule["factors"], strict=True)]
    shown = parts if len(parts) <= 6 else [*parts[:3], "…", *parts[-2:]]
    return f"{schedule['schedules'][0]['kind']} × ({', '.join(shown)})"
