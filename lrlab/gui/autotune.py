"""Run > Auto-tune showdown…: the showdown of :mod:`lrlab.core.runs.showdown` on the form's
experiment, in a window of its own. A thin client: the inputs are checked by the core's
functions (an inline message, Run disabled), the runs go one after another in a thread, and the
window draws what the core returns: the table, each method's best-so-far metric against steps,
and each method's LR curve (its first seed) on one panel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lrlab.core.decl.palette import palette
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.showdown import METHODS, check_budget, parse_methods, parse_target
from lrlab.gui.forms import ERROR_STYLE
from lrlab.gui.style import apply_plot_theme, is_dark
from lrlab.gui.worker import start_in_thread

COLUMNS = ("method", "final val (median)", "spread", "steps to target", "wall s", "how")


class ShowdownPlots(pg.GraphicsLayoutWidget):
    """Best-so-far validation metric against steps (median over seeds), and each method's LR
    (first seed, log scale) against the same steps, one colour per method."""

    def __init__(self) -> None:
        apply_plot_theme()
        super().__init__()
        self.p_best = self.addPlot(row=0, col=0, title="best validation so far (median over seeds)")
        self.p_lr = self.addPlot(row=1, col=0, title="LR each method used (first seed)")
        # the methods' legend beside both plots, not over them: inside, six entries covered the
        # curves that end near the top and did not fit a 1366x768 screen's plot height
        self.legend = pg.LegendItem()
        self.addItem(self.legend, row=0, col=1, rowspan=2)
        self.p_lr.setLogMode(y=True)
        self.p_lr.setXLink(self.p_best)
        for p in (self.p_best, self.p_lr):
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setLabel("bottom", "steps (compute spent)")
            for axis in ("left", "bottom"):
                p.getAxis(axis).enableAutoSIPrefix(False)  # no "(x0.001)" on the empty axes
        # the empty plots say what will fill them (their curves come when the showdown ends)
        self.hint = pg.TextItem("each method's best validation so far and its LR\nappear here when the "
                                "showdown ends", color=pg.getConfigOption("foreground"), anchor=(0.5, 0.5))
        self.p_best.addItem(self.hint, ignoreBounds=True)
        self.hint.setPos(0.5, 0.5)
        self.best_curves: dict[str, Any] = {}
        self.lr_curves: dict[str, Any] = {}

    def show_results(self, results: Sequence[Any], higher_is_better: bool = True) -> None:
        for p in (self.p_best, self.p_lr):
            p.clear()  # the hint too
        self.legend.clear()
        self.best_curves, self.lr_curves = {}, {}
        colours = palette(is_dark())
        for i, r in enumerate(results):
            if r.unavailable or not r.runs:
                continue
            pen = pg.mkPen(colours[i % len(colours)], width=2)
            x, y = r.best_curve(higher_is_better)
            self.best_curves[r.name] = self.p_best.plot(x, y, pen=pen)
            self.legend.addItem(self.best_curves[r.name], r.name)
            first = r.runs[0]
            lrs = np.asarray(first.lrs, dtype=np.float64)
            keep = np.isfinite(lrs) & (lrs > 0)
            self.lr_curves[r.name] = self.p_lr.plot(np.asarray(first.lr_steps)[keep], lrs[keep], pen=pen)
        # as tall as its entries: stretched to both plots' height, each sample fell below its name
        self.legend.setMaximumHeight(self.legend.layout.preferredHeight() + 10)


class AutotuneWorker(QObject):
    """Runs a :class:`~lrlab.core.runs.showdown.Showdown` in its thread."""

    sig_progress = Signal(int, int, str)
    sig_finished = Signal(object)
    sig_failed = Signal(str)

    def __init__(self, showdown: Any):
        super().__init__()
        self.showdown = showdown
        showdown.progress = lambda done, total, text: self.sig_progress.emit(done, total, text)

    @Slot()
    def run(self) -> None:
        try:
            self.sig_finished.emit(self.showdown.run())
        except (SpecError, ValueError) as err:
            self.sig_failed.emit(err.first_line() if isinstance(err, SpecError) else str(err))
        except Exception as err:
            self.sig_failed.emit(f"the showdown failed: {type(err).__name__}: {err}")
        finally:  # end the thread's loop from here: the GUI thread may be waiting for it (closing)
            QThread.currentThread().quit()


class AutotuneWindow(QWidget):
    """The showdown's window. ``spec_of_form`` returns the form's validated experiment (None
    when the form has problems); ``sig_compare`` asks the main window to compare sessions."""

    sig_compare = Signal(list)

    def __init__(self, spec_of_form: Callable[[], Any]):
        super().__init__()
        self.setWindowTitle("Auto-tune showdown")
        self.spec_of_form = spec_of_form
        self.showdown: Any = None
        self._thread: QThread | None = None
        self._worker: AutotuneWorker | None = None
        self.results: list[Any] = []

        self.budget = QSpinBox(minimum=1, maximum=10_000_000, value=600)
        self.budget.setToolTip("optimizer steps each method may spend per seed (the range test's included)")
        self.seeds = QSpinBox(minimum=1, maximum=16, value=3)
        self.target = QLineEdit("val_metric=0.97")
        self.target.setToolTip("val_metric=0.97 (at least) or val_loss=0.1 (at most)")
        self.method_boxes: dict[str, QCheckBox] = {}
        methods_row = QHBoxLayout()
        for m in METHODS:
            box = QCheckBox(m.name)
            box.setChecked(True)
            box.setToolTip(m.title)
            box.toggled.connect(self.validate)
            self.method_boxes[m.name] = box
            methods_row.addWidget(box)
        self.message = QLabel()
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.hide()
        self.run_button = QPushButton("Run showdown")
        self.run_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.compare_button = QPushButton("Compare first seed's runs")
        self.compare_button.setEnabled(False)
        self.compare_button.clicked.connect(self._compare)
        self.progress = QProgressBar()
        self.status = QLabel("Set up the experiment in the main window, then Run showdown.")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self._fit_columns()  # the headers whole ("final val (median)"), before any row
        self.plots = ShowdownPlots()

        top = QHBoxLayout()
        for label, widget in (("budget (steps)", self.budget), ("seeds", self.seeds), ("target", self.target)):
            top.addWidget(QLabel(label))
            top.addWidget(widget)
        top.addWidget(self.run_button)
        top.addWidget(self.stop_button)
        top.addWidget(self.compare_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(methods_row)
        layout.addWidget(self.message)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.plots, 3)
        for signal in (self.budget.valueChanged, self.seeds.valueChanged, self.target.textChanged):
            signal.connect(self.validate)
        self.validate()

    # --- inputs ---------------------------------------------------------------------------------

    def chosen_methods(self) -> list[str]:
        return [name for name, box in self.method_boxes.items() if box.isChecked() and box.isEnabled()]

    def problem(self) -> str | None:
        """What stops a showdown with these inputs, in the core's words (None: it can run)."""
        try:
            methods = parse_methods(self.chosen_methods(), "methods")
            parse_target(self.target.text(), "target")
            check_budget(self.budget.value(), methods, "budget")
        except SpecError as err:
            return err.first_line()
        return None

    @Slot()
    def validate(self) -> bool:
        problem = self.problem()
        self.message.setText(problem or "")
        self.message.setVisible(problem is not None)
        running = self._thread is not None
        self.run_button.setEnabled(problem is None and not running)
        self.run_button.setToolTip(problem or "train every chosen method under this budget and these seeds")
        return problem is None

    # --- running --------------------------------------------------------------------------------

    def start(self) -> bool:
        """The showdown of the form's experiment, in a thread; False if it cannot start."""
        if not self.validate() or self._thread is not None:
            return False
        spec = self.spec_of_form()
        if spec is None:
            self.status.setText("The experiment in the main window has problems: fix them first.")
            return False
        from lrlab import api
        from lrlab.core.runs.recorded import seed_list
        from lrlab.core.runs.showdown import Showdown, output_folder

        try:
            folder = output_folder(None, "gui")
            self.showdown = Showdown(spec, budget=self.budget.value(), seeds=seed_list(spec.seed, self.seeds.value()),
                                     target=parse_target(self.target.text()), methods=self.chosen_methods(),
                                     folder=folder, pbt=api.pbt)
        except (SpecError, ValueError) as err:
            self.status.setText(err.first_line() if isinstance(err, SpecError) else str(err))
            return False
        worker = AutotuneWorker(self.showdown)
        worker.sig_progress.connect(self._progress)
        worker.sig_finished.connect(self._finished)
        worker.sig_failed.connect(self._failed)
        # its signals reach this window queued, after this method returns and the controls are set
        self._worker, self._thread = worker, start_in_thread(worker, "lrlab-autotune")
        self.progress.setRange(0, self.showdown.total_runs)
        self.progress.setValue(0)
        self.stop_button.setEnabled(True)
        self.compare_button.setEnabled(False)
        self.validate()
        return True

    def stop(self) -> None:
        if self.showdown is not None:
            self.showdown.stop()

    def wait(self, ms: int = 60_000) -> None:
        """Wait for a running showdown's thread (closing the window, tests)."""
        if self._thread is not None:
            self._thread.wait(ms)

    @Slot(int, int, str)
    def _progress(self, done: int, total: int, text: str) -> None:
        self.progress.setValue(done)
        self.status.setText(f"{done + 1} of {total}: {text}…")

    @Slot(object)
    def _finished(self, results: list) -> None:
        self._done()
        self.show_results(results)
        self.status.setText(f"done: every run is a session in {self.showdown.folder}")

    @Slot(str)
    def _failed(self, message: str) -> None:
        self._done()
        self.status.setText(message)

    def _done(self) -> None:
        if self._thread is not None:  # its run has returned: end its event loop, then let it go
            self._thread.quit()
            self._thread.wait(5000)
        self._thread, self._worker = None, None
        self.stop_button.setEnabled(False)
        self.progress.setValue(self.progress.maximum())
        self.validate()

    def show_results(self, results: Sequence[Any]) -> None:
        """The table and the plots of a finished showdown."""
        self.results = list(results)
        self.table.setRowCount(len(results))
        for i, r in enumerate(results):
            final, spread, stt, wall = r.final_val_metric(), r.spread(), r.steps_to_target(), r.wall_s()
            cells = (r.name, "-" if final is None else f"{final:.4f}",
                     f"{spread[0]:.3f}-{spread[1]:.3f}" if spread else "-",
                     "-" if r.unavailable else ("never" if stt is None else f"{stt:,}"),
                     "-" if wall is None else f"{wall:.1f}",
                     f"unavailable: {r.unavailable}" if r.unavailable else r.title)
            for j, text in enumerate(cells):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self._fit_columns()
        self.table.resizeRowsToContents()
        self._fit_table()
        target = self.showdown.target if self.showdown is not None else None
        self.plots.show_results(results, target.higher_is_better if target is not None else True)
        self.compare_button.setEnabled(any(r.runs for r in results))

    def _fit_columns(self) -> None:
        """Every column as wide as its contents, the last ("how") takes the rest of the width
        (resizeColumnsToContents would shrink it back from its stretch)."""
        for j in range(len(COLUMNS) - 1):
            self.table.resizeColumnToContents(j)

    def _fit_table(self) -> None:
        """Tall enough for every method's row (six fit a 1366x768 screen), so none hides below a
        scroll bar; the plots keep the rest."""
        t = self.table
        rows = sum(t.rowHeight(i) for i in range(t.rowCount()))
        t.setMinimumHeight(min(rows + t.horizontalHeader().height() + 2 * t.frameWidth() + 2, 320))

    def first_seed_sessions(self) -> list[str]:
        """Each method's training session of its first seed (the last of its sessions for that seed)."""
        out = []
        for r in self.results:
            if r.runs:
                out.append(r.runs[0].sessions[-1] if r.name != "pbt" else r.runs[0].sessions[0])
        return out

    def _compare(self) -> None:
        self.sig_compare.emit(self.first_seed_sessions())

    def closeEvent(self, event: Any) -> None:
        self.stop()
        self.wait()
        super().closeEvent(event)


def write_png(result: Any, out: str) -> None:
    """The showdown's plots as a PNG without a display (``lrlab autotune --png``)."""
    from lrlab.gui.exports import export_png, shown_for_export

    plots = ShowdownPlots()
    plots.show_results(result.methods, result.target.higher_is_better)
    with shown_for_export(plots, 1200, 800):
        export_png(plots.scene(), out, 1200)
