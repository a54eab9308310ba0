"""The compare view: saved sessions overlaid, with what differs and who got there first.

A thin client of :mod:`lrlab.core.features.compare`: it picks metric, x axis, smoothing and a
target, draws each run's curve (decimated, like the live plots) in the run's stable
colour, and fills two tables from the core's summary and differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSplitter,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from lrlab.core.decl.metrics import METRICS, TRAIN_LOSS, Column
from lrlab.core.features.compare import (
    X_AXES,
    Run,
    Target,
    assign_colours,
    differences,
    open_runs,
    shared_history,
    short_labels,
    summary,
)
from lrlab.core.features.series import MinMaxPyramid
from lrlab.gui.exports import export_png, export_svg, shown_for_export
from lrlab.gui.forms import hbox, table_item
from lrlab.gui.legends import place_legend
from lrlab.gui.style import is_dark

X_LABELS = {"step": "step", "epoch": "epoch", "samples": "samples seen", "wall": "wall time (s)"}
#: the shared history of forks (a run that is not one of those compared): neutral, readable on light and dark
HISTORY_COLOUR = "#8c8c8c"


#: past twelve runs the colours repeat with these line styles (lrlab.core.decl.palette.DASHES)
DASH_STYLES = {"solid": Qt.PenStyle.SolidLine, "dash": Qt.PenStyle.DashLine, "dot": Qt.PenStyle.DotLine,
               "dashdot": Qt.PenStyle.DashDotLine}


def _drawn_as_line(metric: Column) -> bool:
    """Whether the live panel draws ``metric`` as a smooth line (the LR, a setting): compare draws
    it thin and sampled too, where a noisy measurement is an envelope until smoothed."""
    return metric.curve is not None and metric.curve.style == "line"


class CompareView(QWidget):
    """Overlay of several sessions. ``set_runs`` (or ``open_paths``) fills it."""

    sig_message = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs: list[Run] = []
        self.history: list[Run] = []  # forks' shared history with ancestors not compared (drawn once, grey)
        self.labels: dict[str, str] = {}  # run name -> legend (what differs)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.markers: list[pg.InfiniteLine] = []
        self.visible: dict[str, bool] = {}

        # controls
        self.metric_box = QComboBox()  # not "metric": that would hide QWidget.metric(), which painting calls
        for key, column in METRICS.items():
            label = column.label
            self.metric_box.addItem(label, key)
        self.x_axis = QComboBox()
        for key in X_AXES:
            self.x_axis.addItem(X_LABELS[key], key)
        self.log_x, self.log_y = QCheckBox("log x"), QCheckBox("log y")
        self.smooth = QSlider(Qt.Orientation.Horizontal)
        self.smooth.setRange(0, 99)
        self.smooth.setValue(60)
        self.smooth.setToolTip("debiased exponential moving average (never applied to the LR)")
        self.show_events = QCheckBox("event markers")
        self.target = QLineEdit("val_metric >= 0.95")
        self.target.setToolTip("e.g. val_metric >= 95%, train_loss <= 0.2")
        self.target_error = QLabel()
        self.target_error.setStyleSheet("color: #d62728")
        self.legend = QListWidget()
        self.legend.setToolTip("untick a session to hide its curve")
        buttons = QHBoxLayout()
        for text, slot in (("PNG…", lambda: self.export_dialog("png")), ("SVG…", lambda: self.export_dialog("svg")),
                           ("CSV…", lambda: self.export_dialog("csv"))):
            b = QPushButton(text)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        side = QWidget()
        form = QFormLayout(side)
        form.addRow("metric", self.metric_box)
        form.addRow("x axis", self.x_axis)
        form.addRow("", hbox(self.log_x, self.log_y))
        form.addRow("smoothing", self.smooth)
        form.addRow("", self.show_events)
        form.addRow("target", self.target)
        form.addRow("", self.target_error)
        form.addRow(QLabel("sessions"))
        form.addRow(self.legend)
        form.addRow("export", _wrap(buttons))

        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.addLegend(offset=(-10, 10))
        self.plot.getPlotItem().setClipToView(True)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        self.readout = QLabel(" ")
        self.readout.setWordWrap(True)
        self.summary_table = QTableWidget()
        self.diff_table = QTableWidget()
        self.show_identical = QCheckBox("show identical fields")
        diff_box = QWidget()
        dl = QVBoxLayout(diff_box)
        dl.addWidget(self.show_identical)
        dl.addWidget(self.diff_table)
        tabs = QTabWidget()
        tabs.addTab(self.summary_table, "Summary")
        tabs.addTab(diff_box, "What differs")
        centre = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.plot, 1)
        tl.addWidget(self.readout)
        centre.addWidget(top)
        centre.addWidget(tabs)
        centre.setSizes([520, 260])
        split = QSplitter()
        split.addWidget(side)
        split.addWidget(centre)
        split.setSizes([280, 1000])
        lay = QVBoxLayout(self)
        lay.addWidget(split)

        self.log_y_of: dict[str, bool] = {}  # log y remembered per metric (a log loss, a linear accuracy)
        self.metric_box.currentIndexChanged.connect(self._metric_changed)
        self.log_y.toggled.connect(lambda on: self.log_y_of.__setitem__(self.metric_box.currentData(), on))
        self.log_y.setChecked(METRICS[self.metric_box.currentData()].log_default)  # a loss reads best on log y
        for sig in (self.x_axis.currentIndexChanged, self.log_x.toggled, self.log_y.toggled,
                    self.smooth.valueChanged, self.show_events.toggled):
            sig.connect(self.redraw)
        self.target.editingFinished.connect(self.refresh_tables)
        self.show_identical.toggled.connect(self.refresh_tables)
        self.legend.itemChanged.connect(self._legend_toggled)
        self._hover = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved)
        self._pyramids: dict[str, MinMaxPyramid] = {}
        # x: the curves redrawn for the range; y too: the legend moves where the data leave room
        self.plot.getViewBox().sigRangeChanged.connect(lambda *_: self._range_timer.start())
        self._range_timer = QTimer(self)
        self._range_timer.setSingleShot(True)
        self._range_timer.setInterval(30)
        self._range_timer.timeout.connect(self._draw_visible)

    # --- data ------------------------------------------------------------------------------------

    def open_paths(self, paths: Sequence[str | Path]) -> None:
        """Open and show sessions; SessionError (naming the bad file) propagates to the caller.
        Forks are drawn from their fork step, on their parent's steps; the history they share with
        an ancestor that is not compared is drawn once, in grey."""
        runs = open_runs(paths)
        self.set_runs(runs, shared_history(runs))

    def set_runs(self, runs: list[Run], history: Sequence[Run] = ()) -> None:
        for r in [*self.runs, *self.history]:
            r.close()
        self.runs, self.history = runs, list(history)
        self._drop_curves()
        assign_colours(runs, dark=is_dark())  # readable on this palette's background
        for h in self.history:
            h.colour = HISTORY_COLOUR
        # legends say what differs ("lr 3" vs "lr 0.01"); the file name is in the tooltip
        self.labels = dict(zip((r.name for r in runs), short_labels(runs), strict=True))
        self.labels.update({h.name: h.name for h in self.history})
        self.visible = {r.name: True for r in [*runs, *self.history]}
        self.legend.blockSignals(True)
        self.legend.clear()
        for r in [*self.history, *runs]:
            item = QListWidgetItem(f"■ {self.labels[r.name]}  ({r.status})")
            item.setToolTip(str(r.path))
            item.setForeground(QBrush(QColor(r.colour)))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setData(Qt.ItemDataRole.UserRole, r.name)
            self.legend.addItem(item)
        self.legend.blockSignals(False)
        self.redraw()
        self.refresh_tables()

    def _metric_changed(self) -> None:
        """Each metric keeps its own log-y choice, starting from its declared default."""
        metric = self.metric_box.currentData()
        self.log_y.blockSignals(True)
        self.log_y.setChecked(self.log_y_of.get(metric, METRICS[metric].log_default))
        self.log_y.blockSignals(False)
        self.redraw()

    def settings(self) -> tuple[str, str, float]:
        return self.metric_box.currentData(), self.x_axis.currentData(), self.smooth.value() / 100

    # --- drawing ----------------------------------------------------------------------------------

    def _drop_curves(self) -> None:
        plot = self.plot.getPlotItem()
        for c in self.curves.values():
            plot.removeItem(c)
        if plot.legend is not None:
            plot.legend.clear()
        self.curves.clear()

    def redraw(self) -> None:
        """Show the chosen metric, x axis and smoothing: each session's curve is made once and
        updated from then on; the decimated pyramids are rebuilt from cached series."""
        metric, x, s = self.settings()
        plot = self.plot.getPlotItem()
        for m in self.markers:
            plot.removeItem(m)
        self.markers.clear()
        self._pyramids.clear()
        plot.setLogMode(x=self.log_x.isChecked(), y=self.log_y.isChecked())
        plot.setLabel("bottom", X_LABELS[x])
        plot.setLabel("left", METRICS[metric].label)
        line = _drawn_as_line(METRICS[metric])  # a setting (the LR): thin and sampled, not an envelope
        for r in [*self.history, *self.runs]:
            xs, ys = r.series(metric, x, s)
            order = np.argsort(xs, kind="stable") if len(xs) and np.any(np.diff(xs) < 0) else slice(None)
            pyramid = MinMaxPyramid()
            pyramid.append(xs[order], ys[order])
            self._pyramids[r.name] = pyramid
            width = 1 if line else 2
            curve = self.curves.get(r.name)
            if curve is None:
                curve = self.curves[r.name] = plot.plot(name=self.labels.get(r.name, r.name))
            curve.setPen(pg.mkPen(r.colour, width=width, style=DASH_STYLES[getattr(r, "dash", "solid")]))
            curve.setVisible(self.visible.get(r.name, True))
            if self.show_events.isChecked():
                for e in r.events:
                    if e.kind in ("edit", "diverged", "plateau"):
                        pos = r.x_of(np.array([e.step]), x)[0]
                        line = pg.InfiniteLine(math.log10(pos) if self.log_x.isChecked() and pos > 0 else pos,
                                               angle=90, pen=pg.mkPen(r.colour, style=Qt.PenStyle.DashLine))
                        line.setToolTip(f"{r.name}: step {e.step}: {e.describe()}")
                        plot.addItem(line, ignoreBounds=True)
                        self.markers.append(line)
        self._draw_visible(full=True)
        plot.enableAutoRange()
        plot.getViewBox().updateAutoRange()  # now, not at the next paint: the legend goes where the data leave room
        place_legend(plot)

    def _draw_visible(self, full: bool = False) -> None:
        vb = self.plot.getViewBox()
        if full or vb.autoRangeEnabled()[0]:
            x0, x1 = -np.inf, np.inf
        else:
            x0, x1 = vb.viewRange()[0]
            if self.log_x.isChecked():
                x0, x1 = 10 ** x0, 10 ** x1
        budget = max(400, 2 * int(vb.width()))
        metric, _, smoothing = self.settings()
        # smooth curves sampled, noisy ones as envelopes
        smooth = _drawn_as_line(METRICS[metric]) or smoothing > 0
        for name, pyramid in self._pyramids.items():
            x, y = pyramid.view(x0, x1, budget, smooth)
            if self.log_x.isChecked():
                keep = x > 0
                x, y = x[keep], y[keep]
            self.curves[name].setData(x, y, connect="finite")
        place_legend(self.plot.getPlotItem())  # in the corner the curves leave free, or above them

    def _legend_toggled(self, item: QListWidgetItem) -> None:
        name = item.data(Qt.ItemDataRole.UserRole)
        self.visible[name] = item.checkState() == Qt.CheckState.Checked
        if name in self.curves:
            self.curves[name].setVisible(self.visible[name])

    def set_visible(self, name: str, on: bool) -> None:
        """Show or hide one session's curve (what ticking it in the list does)."""
        for i in range(self.legend.count()):
            item = self.legend.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == name:
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _mouse_moved(self, event: Any) -> None:
        pos = event[0]
        if not self.plot.sceneBoundingRect().contains(pos) or not self.runs:
            return
        xv = self.plot.getViewBox().mapSceneToView(pos).x()
        self.readout.setText(self.values_at(10 ** xv if self.log_x.isChecked() else xv))

    def values_at(self, xv: float) -> str:
        """Each visible session's value at the x under the cursor (the last point at or before it)."""
        metric, x, s = self.settings()
        parts = [f"{X_LABELS[x]} {xv:.4g}"]
        for r in self.runs:
            if not self.visible.get(r.name, True):
                continue
            xs, ys = r.series(metric, x, s)
            i = int(np.searchsorted(xs, xv, "right")) - 1
            parts.append(f"{r.name}: {ys[i]:.4g}" if 0 <= i < len(ys) else f"{r.name}: -")
        return " · ".join(parts)

    # --- tables -------------------------------------------------------------------------------------

    def current_target(self) -> Target | None:
        text = self.target.text().strip()
        if not text:
            self.target_error.setText("")
            return None
        try:
            t = Target.parse(text)
        except ValueError as err:
            self.target_error.setText(str(err))
            return None
        self.target_error.setText("")
        return t

    def refresh_tables(self) -> None:
        target = self.current_target()
        rows = summary(self.runs, target, self.smooth.value() / 100 if target and METRICS[target.metric].smooth
                       else 0.0)
        headers = ["session", "status", "steps", "steps/s", "final val metric", "best val metric", "final val loss"]
        if target:
            headers += [f"first step {target}", "wall time then (s)"]
        t = self.summary_table
        t.clear()
        t.setColumnCount(len(headers))
        t.setHorizontalHeaderLabels(headers)
        t.setRowCount(len(rows))
        for i, r in enumerate(rows):
            cells = [r.name, r.status, r.steps, round(r.steps_per_second), r.final_val_metric, r.best_val_metric,
                     r.final_val_loss]
            if target:
                cells += ["never" if r.target_step is None else r.target_step,
                          None if r.target_wall is None else round(r.target_wall, 2)]
            for j, v in enumerate(cells):
                item = table_item(v)
                if j == 0:
                    item.setForeground(QBrush(QColor(r.colour)))
                t.setItem(i, j, item)
        t.setSortingEnabled(True)
        t.resizeColumnsToContents()

        diffs = differences(self.runs)
        shown = [d for d in diffs if d.differs or self.show_identical.isChecked()]
        d = self.diff_table
        d.clear()
        d.setColumnCount(1 + len(self.runs))
        d.setHorizontalHeaderLabels(["field", *(r.name for r in self.runs)])
        d.setRowCount(len(shown))
        for i, row in enumerate(shown):
            d.setItem(i, 0, table_item(row.field))
            for j, v in enumerate(row.values):
                item = table_item(v)
                if row.differs:
                    item.setBackground(QBrush(QColor(230, 159, 0, 90)))
                d.setItem(i, j + 1, item)
        d.resizeColumnsToContents()

    # --- export -----------------------------------------------------------------------------------

    def export(self, fmt: str, out: str) -> None:
        from lrlab.core.features.compare import write_long_csv

        inputs = [r.path for r in self.runs]  # never written over: compare a.lrlab b.lrlab --png a.lrlab
        if fmt == "csv":
            write_long_csv(self.runs, out)
        elif fmt == "png":
            place_legend(self.plot.getPlotItem())  # for the ranges as they are now
            export_png(self.plot.getPlotItem(), out, max(1400, self.plot.width()), inputs)
        else:
            export_svg(self.plot, out, inputs)
        self.sig_message.emit(f"exported {out}")

    def export_dialog(self, fmt: str) -> None:
        out, _ = QFileDialog.getSaveFileName(self, f"Export {fmt.upper()}", f"lrlab-compare.{fmt}",
                                             f"{fmt.upper()} (*.{fmt})")
        if out:
            from lrlab.gui.exports import reported

            reported(self, "Cannot export", lambda: self.export(fmt, out))


def render_file(paths: Sequence[str | Path], fmt: str, out: str, metric: str = TRAIN_LOSS.name, x: str = "step",
                smooth: float = 0.6, logy: bool | None = None) -> None:
    """Draw the overlay of ``paths`` into a PNG or SVG file without a display (``lrlab compare
    --png``): the compare view as the window shows it, with the axes and smoothing given."""
    view = CompareView()
    view.metric_box.setCurrentIndex(view.metric_box.findData(metric))
    view.x_axis.setCurrentIndex(view.x_axis.findData(x))
    view.smooth.setValue(round(smooth * 100))
    if logy is not None:
        view.log_y.setChecked(logy)
    view.open_paths(paths)
    with shown_for_export(view, 1400, 900):
        view.export(fmt, out)


def _wrap(layout: QHBoxLayout) -> QWidget:
    w = QWidget()
    layout.setContentsMargins(0, 0, 0, 0)
    w.setLayout(layout)
    return w
