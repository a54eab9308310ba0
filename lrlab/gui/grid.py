"""The Batch size x LR window: the grid run kind (:mod:`lrlab.core.runs.grid`) drawn as a heatmap.

The grid is a run of kind ``grid`` started by the main window's run controller; this window sets
it up (LRs, batch sizes, budget, seeds, what picks the best LR) and draws what arrives: the
metric of each cell over log10 LR (x) and log2 batch size (y), filled in as cells end (the batch
sizes train one after another), diverged cells marked with a cross, the best LR of each row as a
dot joined by a line, and the linear- and square-root-rule lines from the smallest batch size's
best LR over it. Best LRs and rules come from the core (:func:`lrlab.core.runs.grid.analyse`),
fed the cells as they end. A click on a cell selects it: "Open curves" opens its session in the
main window, "Use these settings" puts its LR and batch size in the form, "Compare row" and
"Compare column" open its batch size's or its LR's sessions in the compare view.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from lrlab.core.decl.metrics import NOISE_SCALE, TRAIN_LOSS, VAL_METRIC
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import RunSpec
from lrlab.gui.members import MembersWindow, lr_colour_map
from lrlab.gui.style import colours, fit_to_screen
from lrlab.gui.sweep import SMOOTHING, parse_lrs


def parse_batch_sizes(text: str) -> list[int]:
    """"16, 64, 256": whole numbers; SpecError names the field ("batch_sizes")."""
    try:
        values = [int(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise SpecError([("batch_sizes", f"expected whole numbers such as 16, 64, 256, got {text!r}")]) from None
    if not values:
        raise SpecError([("batch_sizes", "needs at least one batch size")])
    return values


def edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres: midway between neighbours, the ends mirrored (one cell: +-0.5)."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


class GridWindow(MembersWindow):
    sig_run = Signal(dict)  # the grid's options: lrs, batch_sizes, budget, seeds (a count), best
    sig_open = Signal(str)  # a cell's session, to open in the main window

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Batch size x LR — where the scaling rules hold", "Run grid",
                         "train the Experiment form's setup at every LR and batch size: each batch size's LRs at "
                         "once, the batch sizes one after another", "1e-3:1:7", "seeds per cell",
                         "Set up the experiment in the main window, choose LRs and batch sizes here, then Run grid.",
                         parent)
        self.batch_text = QLineEdit("16, 64, 256, 1024", toolTip="the batch sizes, e.g. 16, 64, 256")
        for text in (self.lr_text, self.batch_text):
            text.setMinimumWidth(text.fontMetrics().horizontalAdvance("16, 64, 256, 1024") + 16)
        self.budget = QComboBox(toolTip="epochs: every cell sees the same samples, so larger batches take fewer "
                                        "steps; steps: every cell takes the same steps")
        self.budget.addItems(["epochs", "steps"])
        self.best_by = QComboBox(toolTip="what picks each batch size's best LR")
        self.best_by.addItem("validation metric", VAL_METRIC.name)
        self.best_by.addItem("smoothed training loss", TRAIN_LOSS.name)
        self.target_text = QLineEdit(placeholderText="val_metric=0.9",
                                     toolTip="optional: a target such as val_metric=0.9 or train_loss=0.3; each "
                                             "cell's steps to reach it give the knee of steps against batch size")
        self.target_text.setMinimumWidth(self.target_text.fontMetrics().horizontalAdvance("val_metric=0.95") + 16)
        # a second row of controls: in one row they made the window wider than a 1280-pixel screen
        self.grid_controls = QHBoxLayout()
        for w in (QLabel("batch sizes"), self.batch_text, QLabel("budget"), self.budget, QLabel("best by"),
                  self.best_by, QLabel("target"), self.target_text):
            self.grid_controls.addWidget(w)
        self.grid_controls.addStretch(1)
        self.main_layout.insertLayout(self.main_layout.indexOf(self.error), self.grid_controls)
        self.plot = self.view.addPlot(row=0, col=0, title="final metric of each cell (mean over seeds)")
        self.plot.setLabel("bottom", "log10 learning rate")
        self.plot.setLabel("left", "batch size (log2 scale)")
        self.heat_hint = pg.TextItem("Run grid: each cell's final metric fills in here,\none batch size after another",
                                     color=pg.getConfigOption("foreground"), anchor=(0.5, 0.5))
        self.plot.addItem(self.heat_hint, ignoreBounds=True)
        self.cmap = lr_colour_map()
        self.colour_bar = pg.ColorBarItem(values=(0, 1), colorMap=self.cmap, label="metric", interactive=False)
        self.view.addItem(self.colour_bar, row=0, col=1)
        self.cells = pg.BarGraphItem(x0=[0], y0=[0], width=[0], height=[0], brush="w", pen="w")
        self.plot.addItem(self.cells)
        self.crosses = pg.ScatterPlotItem(symbol="x", size=16, pen=pg.mkPen(colours()["diverged"], width=2))
        self.plot.addItem(self.crosses)
        self.best_line = self.plot.plot(pen=pg.mkPen("k", width=2), symbol="o", symbolSize=10, symbolBrush="w",
                                        symbolPen=pg.mkPen("k", width=1.5))
        self.linear_line = self.plot.plot(pen=pg.mkPen("k", width=2, style=pg.QtCore.Qt.PenStyle.DashLine))
        self.sqrt_line = self.plot.plot(pen=pg.mkPen("#666666", width=2, style=pg.QtCore.Qt.PenStyle.DotLine))
        self.selection = pg.ScatterPlotItem(symbol="s", size=34, pen=pg.mkPen("k", width=3),
                                            brush=pg.mkBrush(0, 0, 0, 0))
        self.plot.addItem(self.selection)
        # the legend sits under the heatmap, not over it: every corner of a heatmap holds a cell
        legend = pg.LegendItem(colCount=3)
        self.view.addItem(legend, row=1, col=0)
        self.legend = legend
        legend.addItem(self.best_line, "best LR")
        legend.addItem(self.linear_line, "linear rule")
        legend.addItem(self.sqrt_line, "square-root rule")
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        self._add_knee_plot()
        self.open_button = QPushButton("Open curves", enabled=False, toolTip="open the cell's session")
        self.open_button.clicked.connect(lambda: self.sig_open.emit(self.files[self.selected]))
        self.use_button = QPushButton("Use these settings", enabled=False)
        self.use_button.clicked.connect(self._use)
        self.row_button = QPushButton("Compare row", enabled=False, toolTip="every LR at the cell's batch size")
        self.row_button.clicked.connect(lambda: self._compare("batch_size"))
        self.column_button = QPushButton("Compare column", enabled=False, toolTip="every batch size at the cell's LR")
        self.column_button.clicked.connect(lambda: self._compare("lr"))
        self.add_buttons(self.open_button, self.use_button, self.row_button, self.column_button)
        fit_to_screen(self, 1100, 760)
        self.spec: RunSpec | None = None
        self.lrs: list[float] = []
        self.batch_sizes: list[int] = []
        self.seeds = 1
        self.files: list[str] = []
        self.members: list[tuple[int, float, int]] = []  # each cell's (batch size, lr, seed), in grid order
        self.rows: list[dict[str, Any] | None] = []  # each cell's row once it has ended
        self.selected: int | None = None
        self.found: dict[str, Any] = {}
        self.best = VAL_METRIC.name
        self.target: str | None = None
        self.knee_found: dict[str, Any] = {}  # what show_knee drew: the summary's knee and noise scale
        self.b_crit: float | None = None
        self.show_knee({})
        self._preview()
        for text in (self.lr_text, self.batch_text):
            text.textChanged.connect(self._preview)

    # --- setting up ------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            lrs = parse_lrs(self.lr_text.text())
            batch_sizes = parse_batch_sizes(self.batch_text.text())
        except SpecError as err:
            self.show_error(err.first_line())
            return
        self.show_error("")
        target = self.target_text.text().strip() or None
        if target is not None:
            from lrlab.core.runs.grid import target_text

            try:
                target = target_text(target)
            except SpecError as err:
                self.show_error(err.first_line())
                return
        self.show_error("")
        self.sig_run.emit({"lrs": lrs, "batch_sizes": batch_sizes, "budget": self.budget.currentText(),
                           "seeds": self.seed_count.value(), "best": self.best_by.currentData(), "target": target})

    def begin(self, spec: RunSpec, lrs: list[float], batch_sizes: list[int], seeds: int, best: str,
              target: str | None = None) -> None:
        """A grid of ``spec`` is starting: an empty heatmap, a cell per batch size and LR."""
        self.spec, self.lrs, self.batch_sizes, self.seeds = spec, sorted(lrs), sorted(batch_sizes), seeds
        self.best, self.target = best, target
        self.members = [(b, lr, spec.seed + s) for b in self.batch_sizes for lr in self.lrs for s in range(seeds)]
        self.rows = [None] * len(self.members)
        self._ema = [(0, 0.0)] * len(self.members)
        self._latest: list[dict[str, Any]] = [{} for _ in self.members]
        self.files, self.selected, self.found = [], None, {}
        for b in (self.open_button, self.use_button, self.row_button, self.column_button):
            b.setEnabled(False)
        self.run_button.setEnabled(False)
        self.status.setText(f"training {len(self.members)} cells, one batch size after another…")
        self.show_knee({})
        self.x_edges, self.y_edges = self._axes(self.lrs, self.batch_sizes)
        self._dirty = True

    def _axes(self, lrs: list[float], batch_sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The heatmap's ranges around ``lrs`` x ``batch_sizes`` (sorted), ticks at the batch sizes;
        returns the cells' edges (log10 LR, log2 batch size)."""
        x_edges, y_edges = edges(np.log10(lrs)), edges(np.log2(batch_sizes))
        self.plot.setXRange(x_edges[0], x_edges[-1], padding=0.02)
        self.plot.setYRange(y_edges[0], y_edges[-1], padding=0.02)
        self.plot.getAxis("left").setTicks([[(math.log2(b), str(b)) for b in batch_sizes]])
        self.heat_hint.setPos((x_edges[0] + x_edges[-1]) / 2, (y_edges[0] + y_edges[-1]) / 2)
        if not self.knee_found:  # the empty knee plot's axis shows the same batch sizes
            lo, hi = math.log2(batch_sizes[0]) - 0.5, math.log2(batch_sizes[-1]) + 0.5
            self.knee_plot.setXRange(lo, hi, padding=0)
            self.knee_plot.getAxis("bottom").setTicks([batch_ticks(lo, hi)])
            r = self.knee_plot.vb.viewRange()
            self.knee_hint.setPos((r[0][0] + r[0][1]) / 2, (r[1][0] + r[1][1]) / 2)
        return x_edges, y_edges

    def _preview(self) -> None:
        """Before a run, the empty heatmap's axes follow the LRs and batch sizes typed."""
        if self.members:
            return
        try:
            lrs, batch_sizes = sorted(parse_lrs(self.lr_text.text())), sorted(parse_batch_sizes(self.batch_text.text()))
        except SpecError:
            return
        if lrs and min(lrs) > 0 and batch_sizes and min(batch_sizes) > 0:
            self._axes(lrs, batch_sizes)

    def set_files(self, files: list[str]) -> None:
        """Each cell's session file, in grid order (known when the run starts)."""
        self.files = [str(f) for f in files]

    def add(self, update: Any) -> None:
        """An Update of the grid: each cell that ended gets its row (for the heatmap and the best LRs)."""
        for i, member in enumerate(update.members[:len(self.members)]):
            if self.rows[i] is not None:
                continue
            latest = self._latest[i]
            if member.n:
                n, state = self._ema[i]
                smooth, state = _ema(member.steps[TRAIN_LOSS.name], n, state)
                self._ema[i] = (n + member.n, state)
                finite = smooth[np.isfinite(smooth)]
                if len(finite):
                    latest["final_smoothed_train_loss"] = float(finite[-1])
                    latest["final_train_loss"] = float(member.steps[TRAIN_LOSS.name][-1])
            if member.evals:
                latest["final_val_metric"] = member.evals[-1][VAL_METRIC.name]
            if member.status.final:
                b, lr, seed = self.members[i]
                self.rows[i] = {"batch_size": b, "lr": lr, "seed": seed, "status": str(member.status),
                                "final_train_loss": latest.get("final_train_loss"),
                                "final_val_metric": latest.get("final_val_metric"),
                                "final_smoothed_train_loss": latest.get("final_smoothed_train_loss"),
                                "session": self.files[i] if i < len(self.files) else ""}
                self._dirty = True
        done = sum(r is not None for r in self.rows)
        if done:
            self.status.setText(f"{done} of {len(self.members)} cells done…")

    def finish(self, folder: str) -> None:
        """The grid ended: its cells' sessions are in ``folder``."""
        self.run_button.setEnabled(True)
        self._dirty = True
        self._frame()
        from lrlab.core.runs.grid import read_findings

        self.show_knee(read_findings(folder))
        best = self.found.get("best", {})
        words = ", ".join(f"{b}: {v['lr']:.3g}" for b, v in best.items() if v)
        knee = self.knee_text()
        self.status.setText(f"done: {sum(r is not None for r in self.rows)} cells in {folder}"
                            + (f"; best LR by batch size {words}" if words else "") + (f"; {knee}" if knee else ""))

    # --- the knee and the noise scale ---------------------------------------------------------------

    def _add_knee_plot(self) -> None:
        """Beside the heatmap: the fewest steps to the target per batch size (log2 x), the
        fitted ``S = S_min (1 + B_crit / B)`` with its knee B_crit, and the gradient noise scale
        B_simple as a vertical line, which McCandlish et al. (2018) say predicts B_crit."""
        self.knee_plot = self.view.addPlot(row=0, col=2, title="steps to target")
        self.knee_plot.setLabel("bottom", "batch size (log2 scale)")
        self.knee_plot.setLabel("left", "steps")
        self.knee_plot.showGrid(x=True, y=True, alpha=0.3)
        self.view.ci.layout.setColumnStretchFactor(0, 3)
        self.view.ci.layout.setColumnStretchFactor(2, 2)
        c = colours()
        self.knee_points = self.knee_plot.plot(pen=None, symbol="o", symbolSize=10, symbolBrush=c["loss"],
                                               symbolPen="k")
        self.knee_fit = self.knee_plot.plot(pen=pg.mkPen(c["loss"], width=2))
        dash = pg.QtCore.Qt.PenStyle.DashLine
        self.knee_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(c["loss"], width=2, style=dash),
                                         label="knee", labelOpts={"position": 0.92, "color": c["loss"]})
        self.noise_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(c["validation"], width=2),
                                          label="B_simple", labelOpts={"position": 0.08, "color": c["validation"]})
        for item in (self.knee_line, self.noise_line):
            self.knee_plot.addItem(item)
            item.setVisible(False)
        knee_legend = pg.LegendItem(colCount=1)
        self.view.addItem(knee_legend, row=1, col=2)
        knee_legend.addItem(self.knee_points, "fewest steps to target (over LRs)")
        knee_legend.addItem(self.knee_fit, "fit S_min (1 + B_crit / B)")
        self.knee_legend = knee_legend
        # the legends' row as tall as its entries (stretched, each sample fell below its name)
        for item in (self.legend, knee_legend):
            item.setMaximumHeight(item.layout.preferredHeight() + 4)
        self.knee_hint = pg.TextItem("", color=pg.getConfigOption("foreground"), anchor=(0.5, 0.5))
        self.knee_plot.addItem(self.knee_hint, ignoreBounds=True)

    def show_knee(self, findings: dict[str, Any]) -> None:
        """Draw a finished grid's knee and noise scale (:func:`~lrlab.core.runs.grid.read_findings`);
        ``{}`` clears the plot and says what would fill it."""
        from lrlab.core.runs.grid import knee_curve

        self.knee_found = findings
        knee = findings.get("knee") or {}
        steps = {int(b): float(v) for b, v in (knee.get("steps_to_target") or {}).items()}
        noise = {int(b): float(v) for b, v in (findings.get(NOISE_SCALE.name) or {}).items() if v and v > 0}
        b_crit = knee.get("critical_batch")
        sizes = sorted(steps)
        self.knee_points.setData(np.log2(sizes) if sizes else [], [steps[b] for b in sizes])
        fine = np.geomspace(sizes[0], sizes[-1], 50) if len(sizes) > 1 else np.array([])
        curve = knee_curve(knee, fine) if len(fine) else None
        self.knee_fit.setData(*((np.log2(fine), curve) if curve is not None else ([], [])))
        # a knee far outside the batch sizes tried (a flat or noisy fit) is said, not drawn
        knee_far = b_crit is not None and sizes and not (sizes[0] / 16 <= b_crit <= sizes[-1] * 16)
        b_crit = None if b_crit is None or b_crit <= 0 or knee_far else b_crit
        self.b_crit = b_crit
        self.knee_line.setVisible(b_crit is not None)
        if b_crit is not None:
            self.knee_line.setValue(math.log2(b_crit))
            self.knee_line.label.setFormat(f"knee B_crit ≈ {b_crit:.3g}")
        self.noise_line.setVisible(bool(noise))
        b_simple = float(np.median(list(noise.values()))) if noise else None
        if b_simple is not None:
            self.noise_line.setValue(math.log2(b_simple))
            lo, hi = min(noise.values()), max(noise.values())
            spread = f"\n({lo:.3g} to {hi:.3g} over batch sizes)" if len(noise) > 1 else ""
            self.noise_line.label.setFormat(f"noise scale B_simple ≈ {b_simple:.3g}{spread}")
        xs = [math.log2(b) for b in sizes] + ([math.log2(b_simple)] if b_simple else []) + (
            [math.log2(b_crit)] if b_crit else [])
        if xs:
            self.knee_plot.setXRange(min(xs) - 0.5, max(xs) + 0.5, padding=0)
            self.knee_plot.getAxis("bottom").setTicks([batch_ticks(min(xs) - 0.5, max(xs) + 0.5)])
        if sizes:
            self.knee_plot.setYRange(0, max(steps.values()) * 1.15 or 1, padding=0)
        if not findings:
            hint = ("drawn when the grid ends" if self.members and self.target else
                    "give a target (e.g. val_metric=0.9)\nand run to see the steps to it\nagainst batch size")
        elif not steps:
            hint = ("no target given" if findings.get("target") is None
                    else f"no batch size reached\n{findings['target']}")
        elif b_crit is None:
            hint = "no knee within the batch sizes tried"
        else:
            hint = ""
        if not noise and findings:
            hint = (hint + "\n" if hint else "") + "no noise scale recorded"
        self.knee_hint.setText(hint)
        self.knee_hint.setVisible(bool(hint))
        if hint:
            r = self.knee_plot.vb.viewRange()
            self.knee_hint.setPos((r[0][0] + r[0][1]) / 2, (r[1][0] + r[1][1]) / 2)

    def knee_text(self) -> str:
        """The knee and B_simple in words, for the status line."""
        noise = self.knee_found.get(NOISE_SCALE.name) or {}
        parts = []
        if self.b_crit is not None:
            parts.append(f"knee B_crit ≈ {self.b_crit:.3g}")
        if noise:
            parts.append(f"noise scale B_simple ≈ {float(np.median(list(noise.values()))):.3g}")
        return "; ".join(parts)

    # --- selecting --------------------------------------------------------------------------------

    def cell_at(self, x: float, y: float) -> int | None:
        """The first seed's cell under (log10 LR, log2 batch size), or None outside the grid."""
        if not self.members:
            return None
        i = int(np.searchsorted(self.x_edges, x)) - 1
        j = int(np.searchsorted(self.y_edges, y)) - 1
        if not (0 <= i < len(self.lrs) and 0 <= j < len(self.batch_sizes)):
            return None
        return (j * len(self.lrs) + i) * self.seeds

    def _clicked(self, event: Any) -> None:
        pos = self.plot.vb.mapSceneToView(event.scenePos())
        cell = self.cell_at(pos.x(), pos.y())
        if cell is not None:
            self.select(cell)

    def select(self, cell: int) -> None:
        self.selected = cell
        b, lr, _ = self.members[cell]
        has_file = cell < len(self.files) and self.rows[cell] is not None
        self.open_button.setEnabled(has_file)
        self.use_button.setEnabled(self.spec is not None)
        self.use_button.setToolTip(f"set the Experiment form's LR to {lr:.4g} and its batch size to {b}")
        for button in (self.row_button, self.column_button):
            button.setEnabled(has_file)
        row = self.rows[cell]
        what = "not done yet" if row is None else (f"{row['status']}, validation {_fmt(row['final_val_metric'])}, "
                                                   f"smoothed loss {_fmt(row['final_smoothed_train_loss'])}")
        self.status.setText(f"batch {b}, LR {lr:.4g}: {what}")
        self._dirty = True

    def _use(self) -> dict[str, Any] | None:
        if self.selected is None or self.spec is None:
            return None
        b, lr, _ = self.members[self.selected]
        data = self.spec.to_json()
        data["optimizer"] = {**data["optimizer"], "lr": lr}
        data["batch_size"] = b
        self.sig_use.emit(data)
        return data

    def _compare(self, key: str) -> list[str]:
        """The ended sessions that share the selected cell's batch size (``batch_size``) or LR (``lr``)."""
        if self.selected is None:
            return []
        value = dict(zip(("batch_size", "lr"), self.members[self.selected][:2], strict=False))[key]
        files = [r["session"] for r in self.rows if r is not None and r[key] == value and r["session"]]
        self.sig_compare.emit(files)
        return files

    # --- drawing ------------------------------------------------------------------------------------

    def cell_values(self) -> np.ndarray:
        """[batch sizes, LRs]: the mean over seeds of the chosen metric, NaN where not every seed
        ended or one diverged."""
        out = np.full((len(self.batch_sizes), len(self.lrs)), np.nan)
        key = "final_val_metric" if self.best == VAL_METRIC.name else "final_smoothed_train_loss"
        for j in range(len(self.batch_sizes)):
            for i in range(len(self.lrs)):
                rows = self.rows[(j * len(self.lrs) + i) * self.seeds:(j * len(self.lrs) + i + 1) * self.seeds]
                if all(r is not None and r["status"] != "diverged" and r.get(key) is not None for r in rows):
                    out[j, i] = float(np.mean([r[key] for r in rows]))
        return out

    def diverged(self) -> list[tuple[int, int]]:
        """(batch index, LR index) of the cells where a seed diverged."""
        out = []
        for k, r in enumerate(self.rows):
            if r is not None and r["status"] == "diverged":
                cell = k // self.seeds
                out.append((cell // len(self.lrs), cell % len(self.lrs)))
        return sorted(set(out))

    def _can_draw(self) -> bool:
        return bool(self.members)

    def _draw(self) -> None:
        from lrlab.core.runs.grid import analyse

        values = self.cell_values()
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1e-9
        self.colour_bar.setLevels((lo, hi))
        x0, y0, w, h, brushes = [], [], [], [], []
        crossed = set(self.diverged())
        for j in range(len(self.batch_sizes)):
            for i in range(len(self.lrs)):
                v = values[j, i]
                if not math.isfinite(v) and (j, i) not in crossed:
                    continue  # not done yet
                x0.append(self.x_edges[i])
                y0.append(self.y_edges[j])
                w.append(self.x_edges[i + 1] - self.x_edges[i])
                h.append(self.y_edges[j + 1] - self.y_edges[j])
                if (j, i) in crossed:  # diverged: grey under its cross
                    brushes.append(pg.mkBrush("#BBBBBB"))
                    continue
                t = (v - lo) / (hi - lo)
                brushes.append(self.cmap.map(1 - t if self.best == TRAIN_LOSS.name else t, mode="qcolor"))
        self.cells.setVisible(bool(x0))
        self.heat_hint.setVisible(not x0)
        if x0:
            self.cells.setOpts(x0=x0, y0=y0, width=w, height=h, brushes=brushes, pen=pg.mkPen("w"))
        x, y = np.log10(self.lrs), np.log2(self.batch_sizes)
        self.crosses.setData([{"pos": (x[i], y[j])} for j, i in sorted(crossed)])
        rows = [r for r in self.rows if r is not None]
        self.found = analyse(rows, self.batch_sizes, self.best) if rows else {}
        best = self.found.get("best", {})
        pts = [(math.log10(best[str(b)]["lr"]), math.log2(b)) for b in self.batch_sizes if best.get(str(b))]
        self.best_line.setData([p[0] for p in pts], [p[1] for p in pts])
        for line, rule in ((self.linear_line, "linear"), (self.sqrt_line, "sqrt")):
            predicted = self.found.get("rules", {}).get(rule, {})
            base = next((b for b in self.batch_sizes if best.get(str(b))), None)
            pts = [] if base is None else [(math.log10(best[str(base)]["lr"]), math.log2(base))]
            pts += [(math.log10(v), math.log2(int(b))) for b, v in predicted.items() if int(b) > (base or 0)]
            line.setData([p[0] for p in pts], [p[1] for p in pts])
        if self.selected is not None:
            b, lr, _ = self.members[self.selected]
            self.selection.setData([{"pos": (math.log10(lr), math.log2(b))}])


def batch_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Ticks at the powers of two between ``lo`` and ``hi`` (log2 batch size), labelled with the
    batch size itself (16, not 4), every other one when more than eight."""
    ks = list(range(math.ceil(lo), math.floor(hi) + 1))
    step = 2 if len(ks) > 8 else 1
    return [(float(k), f"{2 ** k:g}") for k in ks[::step]]


def _ema(y: np.ndarray, start: int, state: float) -> tuple[np.ndarray, float]:
    from lrlab.core.features.series import debiased_ema

    return debiased_ema(y, SMOOTHING, start, state)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"
