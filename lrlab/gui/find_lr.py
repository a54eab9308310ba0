"""The "Find LR" window: the range test's curve, its suggestions and "Use this LR".

The test itself is a run of kind ``range_test`` started by the main window's run
controller (so it trains in the background, shows its progress and can be cancelled like
any run); this window shows the result the core reads back from the session, and turns a
suggestion into an experiment form change through the core's :func:`apply_suggestion`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from lrlab.core.features.lrfind import RULES, RangeTestResult, apply_suggestion, describe_suggestion
from lrlab.gui.range_plot import RULE_COLOURS, RangePlot
from lrlab.gui.style import colours, fit_to_screen

EXPLANATION = (
    "<b>What the range test does.</b> It trains a fresh copy of your model for a few steps while the "
    "learning rate grows exponentially from tiny to huge, and plots the loss against the LR (log scale). "
    "Too small an LR: the loss hardly moves. Too large: it shoots up. In between the loss falls fastest. "
    "<b>steepest</b> is where it falls fastest, a good LR to train with; <b>valley</b> (fastai's rule) is a "
    "safer pick inside the longest falling stretch; <b>minimum</b> is the LR of the lowest loss divided by "
    "10, because at the minimum itself the loss is about to blow up. The band shows the spread over "
    "seeds: a wide band means the answer is uncertain. Your model and form are not touched until you "
    "press \"Use this LR\".")


class FindLRWindow(QMainWindow):
    """Shows a range test as it runs (progress, Cancel) and when done (curve and suggestions)."""

    sig_use = Signal(dict)  # the experiment JSON with the chosen LR set
    sig_cancel = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Find LR — learning-rate range test")
        self.spec_json: dict[str, Any] = {}
        self.result: RangeTestResult | None = None
        central = QWidget()
        lay = QVBoxLayout(central)
        self.text = QLabel(EXPLANATION, wordWrap=True, textFormat=Qt.TextFormat.RichText)
        lay.addWidget(self.text)
        self.plot = RangePlot()
        lay.addWidget(self.plot, 1)
        self.progress = QProgressBar(format="step %v of %m")
        self.cancel = QPushButton("Cancel", toolTip="stop the range test; nothing else changes")
        self.cancel.clicked.connect(self.sig_cancel.emit)
        grid = QGridLayout()
        grid.addWidget(self.progress, 0, 0, 1, 2)
        grid.addWidget(self.cancel, 0, 2)
        self.rows: dict[str, tuple[QLabel, QPushButton]] = {}
        c = colours()
        for i, rule in enumerate(RULES, start=1):
            label = QLabel(wordWrap=True)
            label.setStyleSheet(f"color: {c[RULE_COLOURS[rule]]}")
            button = QPushButton("Use this LR")
            button.clicked.connect(lambda _=False, r=rule: self.use(r))
            grid.addWidget(label, i, 0, 1, 2)
            grid.addWidget(button, i, 2)
            self.rows[rule] = (label, button)
        grid.setColumnStretch(0, 1)
        lay.addLayout(grid)
        # "Use this LR" is confirmed here, where it was clicked (the main window may be hidden)
        self.confirmation = QLabel(wordWrap=True, visible=False)
        self.confirmation.setStyleSheet("font-weight: bold")
        lay.addWidget(self.confirmation)
        self.setCentralWidget(central)
        fit_to_screen(self, 960, 720)
        self.set_running(0)

    def set_running(self, total_steps: int | None) -> None:
        """A test is starting (None: its length not known yet), running ``total_steps`` steps,
        or nothing is running (0)."""
        running = total_steps != 0
        self.progress.setVisible(running)
        self.cancel.setVisible(running)
        self.progress.setRange(0, total_steps or 0)  # 0..0: a busy indicator while it loads
        self.progress.setValue(0)
        if running and total_steps is None:  # starting: the planned LR range on x, nothing drawn yet
            from lrlab.core.features.lrfind import RangeTestParams

            params = RangeTestParams()
            self.plot.set_planned(params.start_lr, params.end_lr)
        if running:
            self.confirmation.hide()
            for label, button in self.rows.values():
                label.setText("")
                button.setEnabled(False)

    def confirm(self, text: str) -> None:
        """Say in this window what "Use this LR" did."""
        self.confirmation.setText(text)
        self.confirmation.show()

    def set_progress(self, steps_done: int) -> None:
        self.progress.setValue(steps_done)

    def set_result(self, result: RangeTestResult, spec_json: dict[str, Any], title: str = "") -> None:
        """Draw a finished test and offer each suggestion for the experiment ``spec_json``."""
        self.result, self.spec_json = result, spec_json
        self.set_running(0)
        self.plot.set_result(result, title)
        for rule, (label, button) in self.rows.items():
            s = result.suggestions[rule]
            label.setText(f"<b>{result.describe(rule)}</b> — {s.reason}")
            button.setEnabled(s.ok)
            button.setToolTip(describe_suggestion(spec_json, s.lr) if s.ok else s.reason)

    def use(self, rule: str) -> dict[str, Any] | None:
        """Send the experiment with ``rule``'s LR set (the optimizer's LR, or the schedule's peak)."""
        if self.result is None or not self.result.suggestions[rule].ok:
            return None
        data = apply_suggestion(self.spec_json, float(self.result.suggestions[rule].lr))
        self.sig_use.emit(data)
        return data
