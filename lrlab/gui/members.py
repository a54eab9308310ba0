"""What the windows of runs of several members share (the Sweep, the Batch size x LR grid).

Each sets up a run of the main window's experiment in a row of controls (the learning rates, the
seeds, Run, Pause/Resume, Stop), says what is wrong with them in one inline line, draws what the
run controller hands it on a timer paced like the main plots (lrlab.gui.pacing: drawing takes at
most GUI_SHARE of the time), and ends in a status line with its buttons ("Use this LR", "Compare ...").
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lrlab.core.decl.palette import LR_SCALE
from lrlab.gui.forms import ERROR_STYLE
from lrlab.gui.pacing import MEMBERS_FRAME_MS, FramePacer, TimedGraphicsLayout

#: the LR colour scale, the core's (compare colours a group's members on the same one)
LR_COLOURS = LR_SCALE


def lr_colour_map() -> pg.ColorMap:
    return pg.ColorMap(np.linspace(0, 1, len(LR_COLOURS)), [pg.mkColor(c) for c in LR_COLOURS])


class MembersWindow(QMainWindow):
    """The frame of a window that runs several members at once (see the module docstring).

    A subclass adds its own controls (:meth:`add_controls`), puts its plots in ``self.view``
    and its buttons in the bottom row (:meth:`add_buttons`), draws in :meth:`_draw` and sets
    ``self._dirty`` when there is something new to draw."""

    sig_use = Signal(dict)  # the experiment JSON with the chosen settings
    sig_compare = Signal(list)  # session files to compare
    sig_pause = Signal()
    sig_stop = Signal()

    def __init__(self, title: str, run_text: str, run_tip: str, lr_default: str, seeds_tip: str, hint: str,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        central = QWidget()
        self.main_layout = QVBoxLayout(central)
        self.controls = QHBoxLayout()
        self.lr_text = QLineEdit(lr_default, toolTip="LO:HI:K for K learning rates from LO to HI on a log scale, "
                                                     "or a list such as 0.001, 0.01, 0.1")
        self.seed_count = QSpinBox(minimum=1, maximum=16, value=1, toolTip=seeds_tip)
        self.run_button = QPushButton(run_text, toolTip=run_tip)
        self.run_button.clicked.connect(self._run)
        self.pause_button = QPushButton("Pause/Resume")
        self.pause_button.clicked.connect(self.sig_pause.emit)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.sig_stop.emit)
        for w in (QLabel("learning rates"), self.lr_text, QLabel("seeds"), self.seed_count, self.run_button,
                  self.pause_button, self.stop_button):
            self.controls.addWidget(w)
        self.main_layout.addLayout(self.controls)
        self.error = QLabel(styleSheet=ERROR_STYLE, visible=False)
        self.main_layout.addWidget(self.error)
        self.view = TimedGraphicsLayout()
        self.main_layout.addWidget(self.view, 1)
        self.bottom = QHBoxLayout()
        self.status = QLabel(hint, wordWrap=True)
        self.bottom.addWidget(self.status, 1)
        self.main_layout.addLayout(self.bottom)
        self.setCentralWidget(central)
        self._dirty = False
        self.pacer = FramePacer(self, self._frame, self.view, min_ms=MEMBERS_FRAME_MS)

    def add_controls(self, *widgets: QWidget) -> None:
        """Widgets in the controls row, before Run."""
        at = self.controls.indexOf(self.run_button)
        for i, w in enumerate(widgets):
            self.controls.insertWidget(at + i, w)

    def add_buttons(self, *buttons: QPushButton) -> None:
        for b in buttons:
            self.bottom.addWidget(b)

    def show_error(self, message: str) -> None:
        """One inline line saying what is wrong with the controls ('' hides it)."""
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def _run(self) -> None:
        """Run pressed: check the controls and emit the window's own run signal."""
        raise NotImplementedError

    def _can_draw(self) -> bool:
        return True

    def _frame(self) -> None:
        """Redraw at most ten times a second, and less often when drawing is dear: like the
        main window's plots, drawing may take at most GUI_SHARE of the time (the rest is the
        training thread's; see lrlab.gui.pacing)."""
        if not self._dirty or not self._can_draw():
            return
        self._dirty = False
        with self.pacer.measured():
            self._draw()

    def _draw(self) -> None:
        raise NotImplementedError
