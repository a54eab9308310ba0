"""The "Experiment" dock: everything a run spec holds, edited with the mouse.

The panel only collects raw input. Each change is validated by the core
(:meth:`RunSpec.from_json`); every problem is shown next to its field and Start stays
disabled until there are none. A small plot previews the whole planned LR curve.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lrlab.core.decl.datasets import check_data
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.resources import Preset, list_presets
from lrlab.core.decl.schedules import SCHEDULES
from lrlab.core.decl.spec import (
    DATASETS,
    MODELS,
    OPTIMIZERS,
    RunSpec,
    planned_steps,
    preview_timeline,
    schedule_warnings,
)
from lrlab.core.decl.usercode import unnamed as code_unnamed
from lrlab.gui import owndata
from lrlab.gui.forms import (
    ERROR_STYLE,
    WARNING_STYLE,
    Field,
    KindedEditor,
    LogSlider,
    ParamForm,
    hbox,
    no_wheel_unless_focused,
    vbox,
)
from lrlab.gui.usercode import LABELS as CODE_LABELS
from lrlab.gui.usercode import code_fields

MAIN_FIELDS = ("dataset", "model", "optimizer", "schedule", "batch_size", "epochs", "steps", "seed", "device")
SCALING = {"off": None, "linear": lambda r: r, "square root": math.sqrt}


class _WarmUpMessenger(QObject):
    """Carries the warm-up thread's result to the GUI thread (see ExperimentPanel.warm_up)."""

    sig_done = Signal(list)  # device names


class ExperimentPanel(QScrollArea):
    """Builds a run spec from widgets. ``spec`` is the last valid one, or None."""

    sig_spec_changed = Signal(object)  # RunSpec or None
    sig_devices = Signal(list)  # device names, from the background import of torch
    sig_preset = Signal(object)  # a Preset was loaded into the form

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.spec: RunSpec | None = None
        self.warmed = False  # True once warm_up's thread has imported and touched what a run needs
        self._warm_up_messenger: _WarmUpMessenger | None = None
        self.problems: dict[str, str] = {}
        self.presets = list_presets()
        inner = QWidget()
        self.setWidget(inner)
        lay = QVBoxLayout(inner)

        # presets: a starting point with words that explain it
        self.preset_combo = no_wheel_unless_focused(QComboBox())
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_combo.setMinimumContentsLength(16)
        self.preset_combo.addItem("Choose a preset…", None)
        for p in self.presets:
            self.preset_combo.addItem(p.title, p.name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, p.explanation, 3)
        self.preset_combo.activated.connect(self._preset_chosen)
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.hide()
        lay.addWidget(self.preset_combo)
        lay.addWidget(self.explanation)

        self.dataset = KindedEditor(DATASETS, "dataset", custom=owndata.with_own_files(code_fields("dataset")),
                                    labels={**CODE_LABELS["dataset"], **owndata.LABELS})
        self.dataset.combo.activated.connect(lambda _: owndata.pick_when_chosen(self.dataset))
        self.model = KindedEditor(MODELS, "model", custom=code_fields("model"), labels=CODE_LABELS["model"])
        self.lr = LogSlider()
        self.optimizer = KindedEditor(OPTIMIZERS, "optimizer", custom=self._optimizer_custom)
        self.schedule = KindedEditor(SCHEDULES, "schedule")
        for title, editor in (("Data", self.dataset), ("Model", self.model), ("Optimizer", self.optimizer)):
            lay.addWidget(_group(title, editor))

        # training: batch size (with LR scaling), length, seed, device
        self.batch = no_wheel_unless_focused(QSpinBox())
        self.batch.setRange(-1_000_000, 10_000_000)
        self.scaling = no_wheel_unless_focused(QComboBox())
        self.scaling.addItems(list(SCALING))
        self.scaling.setToolTip("Scale the LR with the batch size: linear (Goyal et al.) or square root "
                                "(common for Adam). The reference is the LR and batch size you last set.")
        self.scaling_note = QLabel()
        self.scaling_note.setWordWrap(True)
        self.epochs = no_wheel_unless_focused(QSpinBox())
        self.epochs.setRange(-1_000_000, 100_000_000)
        self.steps = no_wheel_unless_focused(QSpinBox())
        self.steps.setRange(0, 100_000_000)
        self.steps.setSpecialValueText("from epochs")
        self.seed = no_wheel_unless_focused(QSpinBox())
        self.seed.setRange(0, 2_000_000_000)
        dice = QPushButton("New seed")
        dice.setToolTip("a fresh random seed")
        dice.clicked.connect(lambda: self.seed.setValue(random.randrange(1_000_000)))
        self.device = no_wheel_unless_focused(QComboBox())
        self.device.addItems(["auto", "cpu"])
        train = QWidget()
        form = QFormLayout(train)
        form.setContentsMargins(0, 0, 0, 0)
        self.errors = {name: _error_label() for name in ("batch_size", "epochs", "steps", "seed", "device")}
        batch_row = hbox(self.batch, QLabel("scale LR:"), self.scaling)
        form.addRow("batch size", vbox(batch_row, self.scaling_note, self.errors["batch_size"]))
        form.addRow("epochs", vbox(self.epochs, self.errors["epochs"]))
        form.addRow("steps", vbox(self.steps, self.errors["steps"]))
        form.addRow("seed", vbox(hbox(self.seed, dice), self.errors["seed"]))
        form.addRow("device", vbox(self.device, self.errors["device"]))
        lay.addWidget(_group("Training", train))

        # schedule with a preview of the whole planned LR curve
        self.preview = SchedulePreview()
        sched_box = QWidget()
        sl = QVBoxLayout(sched_box)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.schedule)
        sl.addWidget(self.preview)
        # a fixed-step schedule that stops short of or overruns the run is said here, not hidden
        self.schedule_warning = QLabel(wordWrap=True, styleSheet=WARNING_STYLE)
        self.schedule_warning.hide()
        sl.addWidget(self.schedule_warning)
        lay.addWidget(_group("Learning-rate schedule", sched_box))

        advanced = tuple(p for p in RunSpec.params() if p.name not in MAIN_FIELDS)
        self.advanced = ParamForm(advanced, "")
        adv_group = _group("Advanced", self.advanced)
        adv_group.setCheckable(True)
        adv_group.setChecked(False)
        self.advanced.setVisible(False)
        adv_group.toggled.connect(self.advanced.setVisible)
        lay.addWidget(adv_group)
        self.general_error = _error_label()
        lay.addWidget(self.general_error)
        lay.addStretch(1)

        # every edit re-validates once the event loop is idle (a kind change fires many signals)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.validate)
        for sig in (self.dataset.sig_changed, self.model.sig_changed, self.optimizer.sig_changed,
                    self.schedule.sig_changed, self.advanced.sig_changed, self.batch.valueChanged,
                    self.epochs.valueChanged, self.steps.valueChanged, self.seed.valueChanged,
                    self.device.currentTextChanged):
            sig.connect(self._timer.start)
        self._ref: tuple[Any, int] = (None, 64)
        self._setting_lr = False
        self.lr.sig_changed.connect(self._lr_edited)
        self.batch.valueChanged.connect(self._batch_changed)
        self.scaling.currentTextChanged.connect(lambda _: self._remember_reference())
        self.set_json(RunSpec.from_json({"dataset": {"name": "digits"}}).to_json())
        # never cut fields off: the dock is at least as wide as the form needs in this style
        self.setMinimumWidth(inner.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width() + 6)

    # --- values ----------------------------------------------------------------------------

    def _optimizer_custom(self, kind: str) -> dict[str, Field]:
        return {"lr": Field(self.lr, self.lr.value, self.lr.set_value, self.lr.sig_changed, shared=True)}

    def json(self) -> dict[str, Any]:
        data = {"dataset": self.dataset.value(), "model": self.model.value(),
                "optimizer": self.optimizer.value(), "schedule": self.schedule.value(),
                "batch_size": self.batch.value(), "epochs": self.epochs.value(),
                "steps": self.steps.value() or None, "seed": self.seed.value(),
                "device": self.device.currentText()}
        data.update(self.advanced.value())
        return data

    def set_json(self, data: dict[str, Any]) -> None:
        """Fill the form from a (normalised) run spec."""
        self._setting_lr = True
        self.dataset.set_value(data.get("dataset", {}))
        self.model.set_value(data.get("model", {}))
        self.optimizer.set_value(data.get("optimizer", {}))
        self.schedule.set_value(data.get("schedule", {}))
        self.batch.setValue(int(data.get("batch_size", 64)))
        self.epochs.setValue(int(data.get("epochs", 10)))
        self.steps.setValue(int(data.get("steps") or 0))
        self.seed.setValue(int(data.get("seed", 0)))
        device = str(data.get("device", "auto"))
        if self.device.findText(device) < 0:
            self.device.addItem(device)  # validation will say if it is missing here
        self.device.setCurrentText(device)
        self.advanced.set_value(data)
        self._setting_lr = False
        self._remember_reference()
        self.validate()

    def warm_up(self) -> None:
        """In a thread off the start path: import torch and the trainer, load the form's dataset
        once (so the first Start is as quick as the next), then list the devices found.

        The thread reports through a messenger of its own, not through this form: a window closed
        before the warm-up ends takes the form with it, and a signal of a deleted object cannot
        be emitted ("Signal source has been deleted"). The messenger lives as long as the thread
        holds it; its queued signal reaches the form only if the form still exists."""
        import threading

        if self._warm_up_messenger is not None:
            return  # started already
        messenger = _WarmUpMessenger()
        messenger.sig_done.connect(self._warmed_up)
        self._warm_up_messenger = messenger
        spec = self.spec  # read the form here, in the GUI thread

        def warm() -> None:
            from lrlab.core.runs.warm import warm_up

            messenger.sig_done.emit(warm_up(spec))

        threading.Thread(target=warm, name="lrlab-warm-up", daemon=True).start()

    def _warmed_up(self, names: list[str]) -> None:
        from lrlab.core.runs.warm import settle

        settle()  # here, in the GUI thread, as the warm-up ends
        self.warmed = True
        self.set_devices(names)
        self.sig_devices.emit(names)

    def set_devices(self, names: list[str]) -> None:
        current = self.device.currentText()
        self.device.blockSignals(True)
        self.device.clear()
        self.device.addItems(["auto", *names])
        self.device.setCurrentText(current if current in ("auto", *names) else "auto")
        self.device.blockSignals(False)
        self.validate()

    def load_preset(self, preset: Preset) -> None:
        self.set_json(RunSpec.from_json(preset.spec).to_json())
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(preset.name))
        self.explanation.setText(preset.explanation)
        self.explanation.show()
        self.sig_preset.emit(preset)

    def current_preset(self) -> Preset | None:
        """The preset last loaded into the form, if any."""
        name = self.preset_combo.currentData()
        return next((p for p in self.presets if p.name == name), None)

    def show_run(self, spec: RunSpec, label: str) -> None:
        """The form describes the run that starts ("run all" starts its runs itself): a preset's
        words and pace when the run is a preset as it ships, else the run's spec."""
        preset = next((p for p in self.presets if p.name == label), None)
        shown = self.current_preset()
        if preset is not None and RunSpec.from_json(preset.spec) == spec and (
                shown is None or shown.name != preset.name or self.spec != spec):
            self.load_preset(preset)  # with its pace; a preset already shown keeps the user's
        elif spec != self.spec:
            self.set_json(spec.to_json())

    def restore(self, data: Any) -> str | None:
        """The form as last saved (``data``, None: nothing saved), validated like any spec; a
        saved experiment that cannot run must not lock the GUI out, so whatever is wrong with
        it, the form shows the defaults and the warning to show is returned."""
        if data is None:
            return None
        try:
            self.set_json(RunSpec.from_json(data).to_json())
        except Exception as err:  # whatever it is, the window must open
            reason = err.first_line() if isinstance(err, SpecError) else f"{type(err).__name__}: {err}"
            self.set_json(RunSpec.from_json({}).to_json())
            return f"the last experiment could not be restored ({reason}); showing the defaults"
        return None

    def _preset_chosen(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        for p in self.presets:
            if p.name == name:
                self.load_preset(p)

    # --- batch-size scaling -------------------------------------------------------------------

    def _remember_reference(self) -> None:
        self._ref = (self.lr.value(), self.batch.value())
        self.scaling_note.setText("")

    def _lr_edited(self) -> None:
        if not self._setting_lr:
            self._remember_reference()

    def _batch_changed(self, batch: int) -> None:
        rule = SCALING[self.scaling.currentText()]
        ref_lr, ref_batch = self._ref
        if rule is None or self._setting_lr or not isinstance(ref_lr, (int, float)) or batch <= 0 \
                or ref_batch <= 0:
            return
        lr = float(f"{ref_lr * rule(batch / ref_batch):.4g}")
        self._setting_lr = True
        self.lr.set_value(lr)
        self._setting_lr = False
        how = "x" if self.scaling.currentText() == "linear" else "x sqrt"
        self.scaling_note.setText(f"LR {ref_lr:g} {how} ({batch}/{ref_batch}) = {lr:g}")

    # --- validation ---------------------------------------------------------------------------

    def validate(self) -> RunSpec | None:
        try:
            spec = RunSpec.from_json(self.json())
            check_data(spec.dataset)  # the user's own files: missing, unparsable, no such column...
            self.problems = {}
            # your code runs only once you chose its file here (lrlab.core.decl.usercode)
            unnamed = [(f"{r.field}.entry", "choose the file (Choose…) to run it: lrlab runs your code only "
                                            "when you pick it") for r in code_unnamed(spec)]
            if unnamed:
                raise SpecError(unnamed)
        except SpecError as err:
            spec = None
            self.problems = {}
            for path, msg in err.problems:
                self.problems.setdefault(path, msg)
        problems, shown = self.problems, set()
        for editor in (self.dataset, self.model, self.optimizer, self.schedule):
            mine = {p: m for p, m in problems.items()
                    if p == editor.path or p.startswith(editor.path + ".")}
            shown |= set(mine) - set(editor.show_errors(mine))
        advanced = {p: m for p, m in problems.items() if p.split(".")[0] not in MAIN_FIELDS}
        shown |= set(advanced) - set(self.advanced.show_errors(advanced))
        for name, label in self.errors.items():
            msg = problems.get(name, "")
            label.setText(msg)
            label.setVisible(bool(msg))
            shown.add(name)
        unshown = [f"{p}: {m}" for p, m in problems.items() if p not in shown]
        self.general_error.setText("\n".join(unshown))
        self.general_error.setVisible(bool(unshown))
        self.spec = spec
        self._update_preview()
        self.sig_spec_changed.emit(spec)
        return spec

    def reveal_problem(self) -> str:
        """Scroll to the first field with a problem; returns "path: message" ('' when none)."""
        for label in self.findChildren(QLabel):
            if label.styleSheet() == ERROR_STYLE and label.isVisibleTo(self) and label.text():
                self.ensureWidgetVisible(label, 50, 80)
                break
        return next((f"{p}: {m}" if p else m for p, m in self.problems.items()), "")

    def _update_preview(self) -> None:
        warnings = schedule_warnings(self.spec) if self.spec is not None else []
        self.schedule_warning.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.schedule_warning.setVisible(bool(warnings))
        if self.spec is None:
            self.preview.set_curve(np.empty(0), np.empty(0))
            return
        self.preview.set_curve(*preview_timeline(self.spec).sample(0, planned_steps(self.spec)))


class SchedulePreview(QWidget):
    """A small chart of the whole planned LR curve: one polyline and its range, painted
    with QPainter (a full plot widget here cost more start-up time than all the fields)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFixedHeight(120)
        self.steps = self.lrs = np.empty(0)
        self.setToolTip("the planned learning rate over the whole run")

    def set_curve(self, steps: np.ndarray, lrs: np.ndarray) -> None:
        self.steps, self.lrs = steps, lrs
        self.update()

    def paintEvent(self, event: Any) -> None:
        from PySide6.QtCore import QPointF, QRectF
        from PySide6.QtGui import QPainter, QPen, QPolygonF

        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        fm = p.fontMetrics()
        left, bottom = fm.horizontalAdvance("0.0000") + 8, fm.height() + 6
        plot = QRectF(left, 6, max(self.width() - left - 8, 1), max(self.height() - bottom - 6, 1))
        p.setPen(QPen(pal.mid().color()))
        p.drawRect(plot)
        if len(self.steps) < 1:
            p.setPen(pal.text().color())
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, "no valid schedule")
            return
        lo, hi = 0.0, float(np.nanmax(self.lrs)) or 1.0
        last = float(self.steps[-1]) or 1.0
        xs = plot.left() + self.steps / last * plot.width()
        ys = plot.bottom() - (self.lrs - lo) / (hi - lo) * plot.height()
        p.setPen(QPen(pal.text().color()))
        p.drawText(QRectF(0, plot.top() - 4, left - 4, fm.height()), Qt.AlignmentFlag.AlignRight, f"{hi:.3g}")
        p.drawText(QRectF(0, plot.bottom() - fm.height() + 4, left - 4, fm.height()),
                   Qt.AlignmentFlag.AlignRight, "0")
        p.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), fm.height()),
                   Qt.AlignmentFlag.AlignLeft, "step 0")
        p.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), fm.height()),
                   Qt.AlignmentFlag.AlignRight, f"{int(last) + 1:,} steps")
        pen = QPen(pal.highlight().color())
        pen.setWidthF(1.5)
        p.setPen(pen)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.drawPolyline(QPolygonF([QPointF(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]))


def _group(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    lay = QVBoxLayout(box)
    lay.addWidget(widget)
    return box


def _error_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(ERROR_STYLE)
    label.hide()
    return label

