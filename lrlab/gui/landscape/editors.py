"""The set-up editors: the surface with its steps, seed and start, and the list of trajectories.

Both are generated from the core's declarations (:data:`~lrlab.core.features.landscape.SURFACES`,
:data:`~lrlab.core.decl.spec.OPTIMIZERS`, :data:`~lrlab.core.decl.schedules.SCHEDULES`) and parse nothing
themselves: they say what the user changed (their ``sig_`` signals), the window builds the new
:class:`~lrlab.core.features.landscape.LandscapeSpec` through the core (``spec.with_setup``,
``spec.with_trajectory``, ...) and hands its problems back with :meth:`show_problems`, each to
the field it names.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from lrlab.core.decl.schedules import SCHEDULES
from lrlab.core.decl.spec import OPTIMIZERS
from lrlab.core.features.landscape import MAX_STEPS, MAX_TRAJECTORIES, SURFACES, LandscapeSpec
from lrlab.gui.forms import ERROR_STYLE, KindedEditor


def _error_label() -> QLabel:
    label = QLabel()
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.hide()
    return label


def _show_rest(label: QLabel, problems: dict[str, str], left: list[str]) -> None:
    """The problems no field took, under the editor (``path: message``)."""
    rest = [f"{p}: {problems[p]}" if p else problems[p] for p in left]
    label.setText("\n".join(rest))
    label.setVisible(bool(rest))


class SetupEditor(QGroupBox):
    """The surface (kind and parameters), the steps, the seed and the start point."""

    sig_changed = Signal()  # the surface, the steps or the seed: read them with value()
    sig_default_start = Signal()

    def __init__(self) -> None:
        super().__init__("Surface")
        self._loading = False
        form = QVBoxLayout(self)
        form.setContentsMargins(4, 2, 4, 4)
        self.surface_editor = KindedEditor(SURFACES, "surface")
        self.surface_editor.sig_changed.connect(self._changed)
        form.addWidget(self.surface_editor)
        row = QFormLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, MAX_STEPS)
        self.steps_spin.valueChanged.connect(self._changed)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2_000_000_000)
        self.seed_spin.setToolTip("seeds the noisy bowl's gradient noise (the same for every trajectory)")
        self.seed_spin.valueChanged.connect(self._changed)
        row.addRow("steps", self.steps_spin)
        row.addRow("seed", self.seed_spin)
        form.addLayout(row)
        self.start_label = QLabel()
        self.start_label.setWordWrap(True)
        reset_start = QPushButton("Default start")
        reset_start.clicked.connect(self.sig_default_start)
        form.addWidget(self.start_label)
        form.addWidget(reset_start)
        self.error = _error_label()
        form.addWidget(self.error)

    def value(self) -> dict[str, Any]:
        """What the editors now say, as keyword arguments of ``LandscapeSpec.with_setup``."""
        return {"surface": self.surface_editor.value(), "steps": self.steps_spin.value(),
                "seed": self.seed_spin.value()}

    def show_spec(self, spec: LandscapeSpec) -> None:
        """Show ``spec`` without announcing the changes this makes."""
        self._loading = True
        try:
            self.surface_editor.set_value(spec.surface.to_json())
            self.steps_spin.setValue(spec.steps)
            self.seed_spin.setValue(spec.seed)
        finally:
            self._loading = False

    def show_start(self, x: float, y: float) -> None:
        self.start_label.setText(f"start ({x:.3g}, {y:.3g}): click the surface to move it")

    def show_problems(self, problems: dict[str, str]) -> None:
        """Each problem at its field of the surface form, the rest under the editor; {} clears."""
        _show_rest(self.error, problems, self.surface_editor.show_errors(problems))

    def _changed(self) -> None:
        if not self._loading:
            self.sig_changed.emit()


class TrajectoryEditor(QGroupBox):
    """The list of trajectories (a swatch of each one's colour) and the selected one's optimizer,
    schedule and label, with Add, Remove and the mid-run LR edits."""

    sig_changed = Signal(int, dict)  # trajectory i (0-based) should become this JSON
    sig_add = Signal(int)  # a copy of trajectory i
    sig_remove = Signal(int)
    sig_edit = Signal(int, dict)  # a mid-run edit of trajectory i

    def __init__(self, colours: list[str]) -> None:
        super().__init__(f"Trajectories (up to {MAX_TRAJECTORIES})")
        self.colours = colours
        self._loading = False
        self._spec: LandscapeSpec | None = None
        tl = QVBoxLayout(self)
        tl.setContentsMargins(4, 2, 4, 4)
        self.traj_list = QListWidget()
        self.traj_list.setMaximumHeight(6 * 22 + 6)
        self.traj_list.currentRowChanged.connect(self._select)
        tl.addWidget(self.traj_list)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("another trajectory: a copy of the selected one with half its LR")
        self.add_button.clicked.connect(lambda: self.sig_add.emit(self.current()))
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(lambda: self.sig_remove.emit(self.current()))
        self.halve = QPushButton("LR ×½ now")
        self.halve.setToolTip("a mid-run edit of the selected trajectory: scale its LR by 0.5 from this step on")
        self.halve.clicked.connect(lambda: self.sig_edit.emit(self.current(), {"kind": "scale", "factor": 0.5}))
        self.double = QPushButton("LR ×2 now")
        self.double.setToolTip("a mid-run edit of the selected trajectory: scale its LR by 2 from this step on")
        self.double.clicked.connect(lambda: self.sig_edit.emit(self.current(), {"kind": "scale", "factor": 2.0}))
        for b in (self.add_button, self.remove_button, self.halve, self.double):
            buttons.addWidget(b)
        tl.addLayout(buttons)
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("label (empty: the optimizer and its LR)")
        self.label_edit.textChanged.connect(self._changed)
        tl.addWidget(self.label_edit)
        self.opt_editor = KindedEditor(OPTIMIZERS, "optimizer")
        self.opt_editor.sig_changed.connect(self._changed)
        self.sched_editor = KindedEditor(SCHEDULES, "schedule")
        self.sched_editor.sig_changed.connect(self._changed)
        tl.addWidget(QLabel("optimizer"))
        tl.addWidget(self.opt_editor)
        tl.addWidget(QLabel("LR schedule"))
        tl.addWidget(self.sched_editor)
        self.error = _error_label()
        tl.addWidget(self.error)

    def current(self) -> int:
        """The selected trajectory (0-based; the first when none is)."""
        return max(self.traj_list.currentRow(), 0)

    def select(self, i: int) -> None:
        self.traj_list.setCurrentRow(i)

    def show_spec(self, spec: LandscapeSpec, reload: bool = True) -> None:
        """The trajectories of ``spec``: with ``reload`` the whole list, the first one selected;
        without, only the names (the user is editing the selected one)."""
        self._spec = spec
        n = len(spec.trajectories)
        self.add_button.setEnabled(n < MAX_TRAJECTORIES)
        self.remove_button.setEnabled(n > 1)
        if not reload:
            for i, t in enumerate(spec.trajectories):
                item = self.traj_list.item(i)
                if item is not None:
                    item.setText(f"{i + 1}  {t.name}")
            return
        self._loading = True
        try:
            self.traj_list.clear()
            for i, t in enumerate(spec.trajectories):
                self.traj_list.addItem(QListWidgetItem(self._swatch(i), f"{i + 1}  {t.name}"))
            self.traj_list.setCurrentRow(0)
            self._show_trajectory(0)
        finally:
            self._loading = False

    def show_statuses(self, texts: list[str]) -> None:
        """Each trajectory's status (``converged at step 41``) as its tooltip."""
        for i, text in enumerate(texts):
            item = self.traj_list.item(i)
            if item is not None:
                item.setToolTip(text)

    def show_problems(self, problems: dict[str, str]) -> None:
        """The selected trajectory's problems at their fields, the rest under the editor; {} clears."""
        prefix = f"trajectories[{self.current()}]."
        mine = {p[len(prefix):]: m for p, m in problems.items() if p.startswith(prefix)}
        left = self.opt_editor.show_errors({p: m for p, m in mine.items() if p.startswith("optimizer")})
        left += self.sched_editor.show_errors({p: m for p, m in mine.items() if p.startswith("schedule")})
        _show_rest(self.error, problems, left + [p for p in problems if not p.startswith(prefix)])

    def _swatch(self, i: int) -> QIcon:
        pix = QPixmap(14, 14)
        pix.fill(QColor(self.colours[i % len(self.colours)]))
        return QIcon(pix)

    def _show_trajectory(self, i: int) -> None:
        if self._spec is None or not 0 <= i < len(self._spec.trajectories):
            return
        t = self._spec.trajectories[i]
        was = self._loading
        self._loading = True
        try:
            self.label_edit.setText(t.label)
            self.opt_editor.set_value(t.optimizer.to_json())
            self.sched_editor.set_value(t.schedule.to_json())
            self.opt_editor.show_errors({})
            self.sched_editor.show_errors({})
            self.error.hide()
        finally:
            self._loading = was

    def _select(self, row: int) -> None:
        if not self._loading:
            self._show_trajectory(row)

    def _changed(self) -> None:
        if not self._loading:
            self.sig_changed.emit(self.current(), {"optimizer": self.opt_editor.value(),
                                                   "schedule": self.sched_editor.value(),
                                                   "label": self.label_edit.text().strip()})
