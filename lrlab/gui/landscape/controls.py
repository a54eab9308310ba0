"""The control column on the left of the Landscape window: demos, the quadratic's presets, the
set-up editors and the save and export buttons, in a scroll area as wide as its widest row.

Every demo and preset is the core's (:data:`~lrlab.core.features.landscape.DEMOS`,
:data:`~lrlab.core.features.landscape.QUADRATIC_PRESETS`), with its explanation as the tooltip; the
column only says which one was chosen.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QPushButton, QScrollArea, QVBoxLayout, QWidget

from lrlab.core.features.landscape import DEMOS, QUADRATIC_PRESETS
from lrlab.gui.landscape.editors import SetupEditor, TrajectoryEditor


class Controls(QScrollArea):
    """The column; ``setup`` and ``trajectories`` are its editors, ``preset_buttons`` by name."""

    sig_demo = Signal(str)  # a key of DEMOS
    sig_preset = Signal(str)  # a key of QUADRATIC_PRESETS
    sig_save = Signal()  # save a session
    sig_export = Signal(str)  # "png" or "csv"

    def __init__(self, colours: list[str]) -> None:
        super().__init__()
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
        row = QHBoxLayout(presets)
        row.setContentsMargins(4, 2, 4, 4)
        self.preset_buttons: dict[str, QPushButton] = {}
        for name, frac in QUADRATIC_PRESETS.items():
            b = QPushButton(name)
            b.setToolTip(f"{frac:g} x 2/L: {DEMOS['quadratic-' + name.replace(' ', '-')].explanation}")
            b.clicked.connect(lambda _=False, n=name: self.sig_preset.emit(n))
            row.addWidget(b)
            self.preset_buttons[name] = b
        col.addWidget(presets)

        self.setup = SetupEditor()
        col.addWidget(self.setup)
        self.trajectories = TrajectoryEditor(colours)
        col.addWidget(self.trajectories)

        saves = QHBoxLayout()
        for text, fmt, tip in (("Save session…", None, "save as an .lrlab session (kind landscape) that replays "
                                "with lrlab replay"),
                               ("PNG…", "png", "the picture as PNG"),
                               ("CSV…", "csv", "every point of every trajectory")):
            b = QPushButton(text)
            b.setToolTip(tip)
            if fmt is None:
                b.clicked.connect(self.sig_save)
            else:
                b.clicked.connect(lambda _=False, f=fmt: self.sig_export.emit(f))
            saves.addWidget(b)
        col.addLayout(saves)
        col.addStretch(1)

        self.setWidget(inner)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setFixedWidth(max(330, inner.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
                               + 8))

    def _demo_chosen(self, index: int) -> None:
        key = self.demo.itemData(index)
        if key:
            self.sig_demo.emit(key)
        self.demo.setCurrentIndex(0)
