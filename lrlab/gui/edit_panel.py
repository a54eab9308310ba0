"""The "Change the schedule" panel: propose a mid-run edit, see its ghost curve, apply it.

The same panel proposes a fork's change: "Fork here…" on a plot puts it in fork mode, where
the edit applies at the fork step of a copy of the run ("Fork and run") instead of the live run.

The edit kinds and their fields come from the core's ``EDITS`` registry; the panel
checks a proposal against a copy of the run's timeline (so a bad parameter is shown
inline before anything reaches the trainer) and previews the LR it would produce.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from lrlab.core.decl.params import REQUIRED, SpecError
from lrlab.core.decl.schedules import EDITS, SCHEDULES, Timeline, parse_edit
from lrlab.core.decl.schedules.durations import duration_fields
from lrlab.gui.forms import ERROR_STYLE, Field, KindedEditor, ParamForm, parse_text

LABELS = {"schedule": "New schedule from here", "scale": "Scale the LR by a factor",
          "hold": "Hold a constant LR", "params": "Change the current schedule's parameters",
          "optimizer": "Change optimizer hyperparameters"}


INTRO = "Change the learning rate while the run goes on:"
#: what a new schedule's LR field holds when left empty: the LR the run is at (no jump)
CURRENT = "current"


class StartLR(QWidget):
    """A new schedule's base LR: typed, or (empty) the LR the run is at now, so the new curve
    continues where the old one is; "base LR" restarts from the run's base LR instead."""

    sig_changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.edit = QLineEdit(placeholderText="the current LR")
        self.base = QCheckBox("base LR", toolTip="start the new schedule from the run's base LR instead of "
                                                 "the LR it is at now")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.base)
        self.edit.textChanged.connect(self.sig_changed)
        self.base.toggled.connect(self.sig_changed)
        self.base.toggled.connect(lambda on: self.edit.setEnabled(not on))

    def value(self) -> Any:
        if self.base.isChecked():
            return None  # the edit's own default: the run's base LR
        typed = parse_text(self.edit.text())
        return CURRENT if typed is None else typed

    def set_value(self, value: Any) -> None:
        """A number, or None / CURRENT: the current LR (the form's default; "base LR" is the user's tick)."""
        self.base.setChecked(False)
        self.edit.setText("" if value in (None, CURRENT) else f"{value:.6g}" if isinstance(value, float)
                          else str(value))


class EditPanel(QWidget):
    sig_apply = Signal(dict)  # the edit JSON
    sig_ghost = Signal(object, object)  # steps, lrs of the proposal (empty arrays: none)
    sig_fork = Signal(list)  # fork mode: the fork's edits, [] or [edit JSON] (applied at the fork step)
    sig_fork_cancelled = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.timeline: Timeline | None = None
        self.optimizer_fields: tuple[str, ...] = ()
        self.next_step = 0
        self.total_steps = 0
        self.steps_per_epoch = 1  # for durations written in epochs ("3ep")
        self.fork_at: int | None = None  # fork mode: the step the fork branches off at
        self._params_form: ParamForm | None = None
        self.editor = KindedEditor(EDITS, "edit", custom=self._custom, labels=LABELS)
        # the chooser may be narrower than its longest entry (its list still shows them whole):
        # at 1280x720 the dock is about 270 pixels and the panel was cut off at its right edge
        self.editor.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.editor.combo.setMinimumContentsLength(16)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.apply_button = QPushButton("Apply at the next step")
        self.apply_button.setToolTip("The trainer applies it between two steps; a marker shows where.")
        self.apply_button.clicked.connect(self._apply)
        self.plain_button = QPushButton("Fork unchanged", visible=False,
                                        toolTip="a fork with no change continues exactly like its run did")
        self.plain_button.clicked.connect(lambda: self.sig_fork.emit([]))
        self.cancel_button = QPushButton("Cancel", visible=False)
        self.cancel_button.clicked.connect(self.end_fork)
        self.intro = QLabel(INTRO, wordWrap=True)
        # in a scroll area: an error message never squashes the field above it or gets clipped;
        # the panel grows and scrolls instead
        content = QWidget()
        content.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        lay = QVBoxLayout(content)
        lay.addWidget(self.intro)
        lay.addWidget(self.editor)
        row = QHBoxLayout()
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        row.addWidget(self.plain_button)
        row.addWidget(self.apply_button)
        lay.addWidget(self.message)
        lay.addLayout(row)
        lay.addStretch(1)
        self.editor.set_value({"kind": "scale", "factor": 0.5})
        self.editing = False  # a ghost curve is drawn only once the user proposes something
        self.editor.sig_changed.connect(self._user_changed)
        self.editor.combo.currentIndexChanged.connect(self._prefill)
        self.set_context(None)

    def _user_changed(self) -> None:
        self.editing = True
        self.check()

    def _custom(self, kind: str) -> dict[str, Field]:
        if kind == "schedule":
            start = StartLR()
            return {"lr": Field(start, start.value, start.set_value, start.sig_changed)}
        if kind != "params":
            return {}
        current = self.timeline.current.spec if self.timeline else SCHEDULES.parse({"kind": "constant"})
        form = ParamForm(SCHEDULES.params_of(current.kind), "edit.params")
        form.set_value(current.to_json())
        self._params_form = form
        return {"params": Field(form, form.value, lambda v: form.set_value(v or {}), form.sig_changed)}

    def _prefill(self) -> None:
        """Holding the LR starts from the LR the run is at, so one click does something sane; a
        new schedule's lengths start as "run" (the rest of the run), not as empty boxes."""
        if self.editor.kind() == "schedule":
            assert self.editor.form is not None
            nested = self.editor.form.fields["schedule"].widget
            if not getattr(nested, "fills_durations", False):
                nested.fills_durations = True
                nested.combo.currentIndexChanged.connect(lambda _: self._fill_durations(nested))
            self._fill_durations(nested)
        if self.editor.kind() == "hold" and self.timeline is not None:
            assert self.editor.form is not None
            if self.editor.form.fields["lr"].get() is None:
                self.editor.form.fields["lr"].set(float(f"{self.timeline(self.next_step):.4g}"))

    @staticmethod
    def _fill_durations(nested: KindedEditor) -> None:
        """Empty required lengths of the new schedule (a cosine's T_max) read "run"."""
        assert nested.form is not None
        for name, is_list in duration_fields(SCHEDULES.params_of(nested.kind())):
            param = next(p for p in SCHEDULES.params_of(nested.kind()) if p.name == name)
            field = nested.form.fields[name]
            if not is_list and param.default is REQUIRED and field.get() is None:
                field.set("run")

    def set_context(self, timeline: Timeline | None, optimizer_fields: tuple[str, ...] = (),
                    next_step: int = 0, total_steps: int = 0, steps_per_epoch: int | None = None) -> None:
        """The run being edited (None: nothing to edit). Rebuilds the params form if needed."""
        if steps_per_epoch is not None:
            self.steps_per_epoch = max(1, steps_per_epoch)
        rebuild = timeline is not None and (self.timeline is None or
                                            timeline.current.spec != self.timeline.current.spec)
        self.timeline, self.optimizer_fields = timeline, optimizer_fields
        self.next_step, self.total_steps = next_step, total_steps
        if rebuild and self.editor.kind() == "params":
            self.editor._kind_changed()
        self.setEnabled(timeline is not None)
        if timeline is None:
            self.editing = False
        self.check()

    def start_fork(self, timeline: Timeline, optimizer_fields: tuple[str, ...], at: int, total_steps: int) -> None:
        """Fork mode: propose the change a fork at step ``at`` makes (``timeline``: the run's as
        it was at that step). The ghost curve shows from the fork step at once."""
        self.fork_at = at
        self.intro.setText(f"<b>Fork at step {at}</b>: a copy of the run from its exact state there, "
                           "with this change; the run itself stays as it is.")
        self.apply_button.setText("Fork and run")
        self.apply_button.setToolTip("train the fork from this step; the run stays drawn beside it")
        self.plain_button.show()
        self.cancel_button.show()
        self.set_context(timeline, optimizer_fields, at, total_steps)
        self.editing = True
        self.check()

    def end_fork(self) -> None:
        """Back to editing the live run (fork applied or cancelled)."""
        if self.fork_at is None:
            return
        self.fork_at = None
        self.intro.setText(INTRO)
        self.apply_button.setText("Apply at the next step")
        self.apply_button.setToolTip("The trainer applies it between two steps; a marker shows where.")
        self.plain_button.hide()
        self.cancel_button.hide()
        self.set_context(None)
        self.sig_fork_cancelled.emit()

    def advance(self, next_step: int) -> None:
        if next_step != self.next_step and self.fork_at is None:
            self.next_step = next_step

    def proposal(self) -> dict[str, Any]:
        """The edit as the trainer gets it: a new schedule's "current" LR as a number, durations
        ("run", "25%", "3ep") in whole steps against the steps that remain (the core's
        :meth:`~lrlab.core.decl.schedules.Timeline.resolve_edit`; raises SpecError)."""
        value = self.editor.value()
        if value.get("kind") == "optimizer":
            value = {k: v for k, v in value.items() if v is not None}
        if value.get("kind") == "schedule" and value.get("lr") == CURRENT:
            value["lr"] = float(self.timeline(self.next_step)) if self.timeline is not None else None
        if self.timeline is not None:
            value = self.timeline.resolve_edit(self.next_step, value, self.total_steps, self.steps_per_epoch)
        return value

    def check(self) -> bool:
        """Validate the proposal against a copy of the timeline; show the ghost curve."""
        ok, msg = False, ""
        steps = lrs = np.empty(0)
        if self.timeline is None:
            self.editor.show_errors({})  # nothing to edit: no complaints either
        else:
            try:
                edit = parse_edit(self.proposal())
                if edit.kind == "optimizer":
                    given = [k for k, v in edit.params.items() if v is not None]
                    missing = [k for k in given if k not in self.optimizer_fields]
                    if not given:
                        raise SpecError([("edit", "set at least one value to change")])
                    if missing:
                        raise SpecError([(f"edit.{missing[0]}", f"this optimizer has no {missing[0]} "
                                          f"(it has: {', '.join(self.optimizer_fields)})")])
                else:
                    trial = self.timeline.copy()
                    trial.apply(self.next_step, edit)
                    steps, lrs = trial.sample(self.next_step, self.total_steps)
                ok = True
            except SpecError as err:
                problems = dict(err.problems)
                left = self.editor.show_errors(problems)
                msg = "; ".join(f"{p}: {problems[p]}" for p in left)
            else:
                self.editor.show_errors({})
        self.message.setText(msg)
        self.message.setStyleSheet(ERROR_STYLE if msg else "")
        self.message.setVisible(bool(msg))
        self.apply_button.setEnabled(ok)
        if not self.editing:
            steps = lrs = np.empty(0)
        self.sig_ghost.emit(steps, lrs)
        return ok

    def _apply(self) -> None:
        if self.check() and self.fork_at is not None:
            self.sig_fork.emit([self.proposal()])
        elif self.check():
            self.sig_apply.emit(self.proposal())
            self.editing = False  # applied: the marker and the planned curve take over
            self.check()
