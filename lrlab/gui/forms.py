"""Form widgets generated from the core's parameter declarations.

The core declares every field once (:class:`lrlab.core.decl.params.Param`); these widgets
read those declarations, so a new schedule kind or optimizer option appears in the
GUI with no GUI code. Widgets hold raw user input: validation is the core's job, and
its messages come back by field path to be shown next to the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lrlab.core.decl.params import (
    REQUIRED,
    AnyObject,
    Choice,
    ListOf,
    Num,
    OfType,
    Optional,
    Param,
    Registry,
    join,
)

ERROR_STYLE = "color: palette(highlighted-text); background: #c0392b; border-radius: 3px; padding: 1px 4px;"
WARNING_STYLE = "color: #8c6d00"  # dark gold: readable on light backgrounds, not an error


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (int, float)) for v in value):
            return ", ".join(_fmt(v) for v in value)
        return json.dumps(value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def parse_text(text: str) -> Any:
    """What the user typed, as JSON if it is JSON, else the plain string (the core judges)."""
    text = text.strip()
    if text == "":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if "," in text:
            parts = [parse_text(t) for t in text.split(",")]
            return parts
        return text


def parse_list(text: str) -> Any:
    """'128, 64' -> [128, 64]; '' -> []; anything odd goes to the core as typed."""
    text = text.strip().strip("[]")
    if not text:
        return []
    return [parse_text(t) for t in text.split(",")]


class Field:
    """One editable value: a widget plus how to read and write it as JSON."""

    def __init__(self, widget: QWidget, get: Callable[[], Any], set_: Callable[[Any], None],
                 changed: Any, shared: bool = False):
        self.widget, self.get, self.set = widget, get, set_
        self.changed = changed
        #: the widget outlives the form (one LR field whatever the optimizer)
        self.shared = widget if shared else None


class LogSlider(QWidget):
    """A text field for a positive number plus a slider on a log10 scale (1e-6 .. 10)."""

    sig_changed = Signal()

    LOG_MIN, LOG_MAX, TICKS = -6.0, 1.0, 700

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setMaximumWidth(90)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, self.TICKS)
        self.slider.setToolTip("learning rate on a log scale, 1e-6 to 10")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit)
        lay.addWidget(self.slider, 1)
        self.edit.textChanged.connect(self._text_changed)
        self.slider.valueChanged.connect(self._slider_moved)
        self._updating = False

    def value(self) -> Any:
        return parse_text(self.edit.text())

    def set_value(self, value: Any) -> None:
        self.edit.setText(_fmt(value))

    def _text_changed(self) -> None:
        v = self.value()
        if isinstance(v, (int, float)) and v > 0 and not self._updating:
            self._updating = True
            pos = (math.log10(v) - self.LOG_MIN) / (self.LOG_MAX - self.LOG_MIN) * self.TICKS
            self.slider.setValue(round(min(max(pos, 0), self.TICKS)))
            self._updating = False
        self.sig_changed.emit()

    def _slider_moved(self, pos: int) -> None:
        if self._updating:
            return
        exponent = self.LOG_MIN + pos / self.TICKS * (self.LOG_MAX - self.LOG_MIN)
        value = float(f"{10 ** exponent:.2g}")  # two significant digits: 0.003, 0.05, 1.2
        self._updating = True
        self.edit.setText(_fmt(value))
        self._updating = False


def make_field(param: Param, registry_editor: Callable[[Registry], KindedEditor]) -> Field:
    check = param.check
    optional = isinstance(check, Optional)
    inner = check.inner if optional else check
    if isinstance(inner, Registry):
        ed = registry_editor(inner)
        return Field(ed, ed.value, ed.set_value, ed.sig_changed)
    if isinstance(inner, OfType) and inner.type_ is bool:
        box = QCheckBox()
        return Field(box, box.isChecked, lambda v: box.setChecked(bool(v)), box.toggled)
    if isinstance(inner, Choice):
        combo = no_wheel_unless_focused(QComboBox())
        if optional:  # "off" first: an optional choice (amp) is None unless the user picks one
            combo.addItem("off", None)
        for option in inner.options:
            combo.addItem(str(option), option)
        return Field(combo, combo.currentData, lambda v: combo.setCurrentIndex(max(0, combo.findData(v))),
                     combo.currentTextChanged)
    if isinstance(inner, Num) and inner.integer and not optional:
        spin = no_wheel_unless_focused(QSpinBox())
        spin.setRange(-1_000_000_000, 2_000_000_000)  # wide: the core reports the real bounds
        spin.setAccelerated(True)
        return Field(spin, spin.value, lambda v: spin.setValue(int(v)), spin.valueChanged)
    edit = QLineEdit()
    if optional:
        edit.setPlaceholderText("auto")
    if isinstance(inner, (ListOf, AnyObject)):
        edit.setPlaceholderText("comma-separated" if isinstance(inner, ListOf) else "JSON object")
    if isinstance(inner, ListOf) and not isinstance(inner.item, Registry):
        return Field(edit, lambda: parse_list(edit.text()), lambda v: edit.setText(_fmt(v)),
                     edit.textChanged)
    if isinstance(inner, OfType) and inner.type_ is str:
        return Field(edit, lambda: edit.text().strip() or None, lambda v: edit.setText(v or ""),
                     edit.textChanged)
    return Field(edit, lambda: parse_text(edit.text()), lambda v: edit.setText(_fmt(v)),
                 edit.textChanged)


class ParamForm(QWidget):
    """Rows of labelled fields for a tuple of Params, each with an inline error label."""

    sig_changed = Signal()

    def __init__(self, params: tuple[Param, ...], path: str, custom: dict[str, Field] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.path = path
        self.fields: dict[str, Field] = {}
        self.errors: dict[str, QLabel] = {}
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for p in params:
            field = (custom or {}).get(p.name) or make_field(
                p, lambda r, p=p: KindedEditor(r, join(path, p.name)))
            field.widget.setToolTip(p.help)
            self.fields[p.name] = field
            error = QLabel()
            error.setWordWrap(True)
            error.setStyleSheet(ERROR_STYLE)
            error.hide()
            self.errors[p.name] = error
            box = QWidget()
            col = QVBoxLayout(box)
            col.setContentsMargins(0, 0, 0, 0)
            col.setSpacing(2)
            col.addWidget(field.widget)
            col.addWidget(error)
            label = QLabel(p.name.replace("_", " "))
            label.setToolTip(p.help)
            self.layout_.addRow(label, box)
            field.changed.connect(self.sig_changed)

    def value(self) -> dict[str, Any]:
        out = {}
        for name, f in self.fields.items():
            v = f.get()
            if v is not None or isinstance(f.widget, (QLineEdit, QComboBox)):  # an optional choice's "off"
                out[name] = v
        return out

    def set_value(self, data: dict[str, Any]) -> None:
        for name, f in self.fields.items():
            if name in data:
                f.set(data[name])

    def show_errors(self, problems: dict[str, str]) -> list[str]:
        """Show the problems whose path is one of these fields; return the paths left over."""
        shown = set()
        for name, label in self.errors.items():
            full = join(self.path, name)
            msgs = [m for p, m in problems.items() if p == full or p.startswith(full + "[")]
            label.setText("\n".join(msgs))
            label.setVisible(bool(msgs))
            shown.update(p for p in problems if p == full or p.startswith(full + "["))
            f = self.fields[name]
            if isinstance(f.widget, KindedEditor):
                shown.update(set(problems) - set(f.widget.show_errors(problems)))
        return [p for p in problems if p not in shown]


class KindedEditor(QFrame):
    """A kind picker (schedule kind, optimizer name, ...) and the fields of the chosen kind.

    Switching kind keeps the values of fields the two kinds share (``lr`` stays ``lr``).
    """

    sig_changed = Signal()

    def __init__(self, registry: Registry, path: str, custom: Callable[[str], dict[str, Field]] | None = None,
                 labels: dict[str, str] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.registry, self.path, self.custom = registry, path, custom
        self.combo = no_wheel_unless_focused(QComboBox())
        for kind in registry.kinds:
            self.combo.addItem((labels or {}).get(kind, kind), kind)
            self.combo.setItemData(self.combo.count() - 1, registry.docs.get(kind, ""),
                                   Qt.ItemDataRole.ToolTipRole)
        self.kind_error = QLabel()
        self.kind_error.setStyleSheet(ERROR_STYLE)
        self.kind_error.setWordWrap(True)
        self.kind_error.hide()
        self.lay = QVBoxLayout(self)
        self.lay.setContentsMargins(0, 0, 0, 0)
        self.lay.addWidget(self.combo)
        self.lay.addWidget(self.kind_error)
        self.form: ParamForm | None = None
        self._values: dict[str, Any] = {}
        self.combo.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def kind(self) -> str:
        return self.combo.currentData()

    def _kind_changed(self) -> None:
        if self.form is not None:
            self._values.update(self.form.value())
            for field in self.form.fields.values():
                if field.widget is getattr(field, "shared", None):
                    field.widget.setParent(None)  # shared across kinds (the LR): keep it alive
            self.lay.removeWidget(self.form)
            self.form.hide()
            self.form.deleteLater()
        kind = self.kind()
        params = self.registry.params_of(kind)
        self.form = ParamForm(params, self.path, self.custom(kind) if self.custom else None)
        defaults = {p.name: p.default for p in params if p.default is not REQUIRED}
        kept = {k: v for k, v in self._values.items() if k in self.form.fields}
        self.form.set_value({**defaults, **kept})
        self.form.sig_changed.connect(self.sig_changed)
        self.lay.addWidget(self.form)
        self.setToolTip(self.registry.docs.get(kind, ""))
        self.sig_changed.emit()

    def value(self) -> dict[str, Any]:
        assert self.form is not None
        return {self.registry.tag: self.kind(), **self.form.value()}

    def set_value(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            return
        index = self.combo.findData(data.get(self.registry.tag))
        if index >= 0 and index != self.combo.currentIndex():
            self.combo.setCurrentIndex(index)  # rebuilds the form
        assert self.form is not None
        self.form.set_value(data)

    def show_errors(self, problems: dict[str, str]) -> list[str]:
        tag_path = join(self.path, self.registry.tag)
        msgs = [m for p, m in problems.items() if p in (tag_path, self.path)]
        self.kind_error.setText("\n".join(msgs))
        self.kind_error.setVisible(bool(msgs))
        rest = {p: m for p, m in problems.items() if p not in (tag_path, self.path)}
        assert self.form is not None
        return self.form.show_errors(rest)


# --- small layout helpers shared by the panels ---------------------------------------------


def hbox(*widgets: QWidget) -> QWidget:
    """Widgets side by side, no margins."""
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    for x in widgets:
        lay.addWidget(x)
    return w


def vbox(*widgets: QWidget, spacing: int = 2) -> QWidget:
    """Widgets stacked, no margins."""
    w = QWidget()
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(spacing)
    for x in widgets:
        lay.addWidget(x)
    return w


class _WheelGuard(QObject):
    """Lets the mouse wheel scroll a form instead of changing the spin box or list it passes
    over (scrolling the Experiment panel once turned 30 epochs into 31)."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()  # the scroll area behind gets it
            return True
        return False


_WHEEL_GUARD: _WheelGuard | None = None


def no_wheel_unless_focused(widget: Any) -> Any:
    """``widget`` (a spin box or combo box) reacting to the wheel only once clicked into."""
    global _WHEEL_GUARD
    if _WHEEL_GUARD is None:
        _WHEEL_GUARD = _WheelGuard()
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.installEventFilter(_WHEEL_GUARD)
    return widget


def table_item(v: Any) -> QTableWidgetItem:
    """A read-only table cell that sorts numbers as numbers; None shows as '-'."""
    item = QTableWidgetItem()
    if v is None:
        item.setText("-")
    elif isinstance(v, float):
        item.setData(Qt.ItemDataRole.DisplayRole, float(f"{v:.4g}"))  # as many digits as a reader uses
    elif isinstance(v, int):
        item.setData(Qt.ItemDataRole.DisplayRole, v)
    else:
        item.setText(v if isinstance(v, str) else str(v))
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item
