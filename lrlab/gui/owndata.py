"""The Experiment form's entries for the user's own data: "Your table…" and "Image folder…".

Choosing either opens a file or folder picker; a table's target is chosen from the columns of the
file (read by the core, ``lrlab.core.decl.owndata.table_columns``). What is wrong with the files
(missing, unparsable, no such column, an empty folder) comes from the core's
:func:`~lrlab.core.decl.datasets.check_data` and is shown beside the field like any other
problem, with Start disabled.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget

from lrlab.core.decl.owndata import table_columns
from lrlab.gui.forms import Field, KindedEditor, no_wheel_unless_focused

#: how the dataset chooser names the user's own data
LABELS = {"table": "Your table…", "image_folder": "Image folder…"}
TABLE_FILTER = "Tables (*.csv *.tsv *.tab *.txt *.parquet *.pq);;All files (*)"


class PathPicker(QWidget):
    """A path as text plus a Browse… button that opens the file (or folder) picker."""

    sig_changed = Signal()

    def __init__(self, folder: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self.folder = folder
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("a folder with one subfolder per class" if folder
                                     else "a CSV, TSV or Parquet file")
        self.button = QPushButton("Browse…")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.button)
        self.button.clicked.connect(self.browse)
        self.edit.textChanged.connect(self.sig_changed)

    def browse(self) -> None:
        if self.folder:
            path = QFileDialog.getExistingDirectory(self, "Image folder", self.edit.text())
        else:
            path = QFileDialog.getOpenFileName(self, "Your table", self.edit.text(), TABLE_FILTER)[0]
        if path:
            self.edit.setText(path)

    def value(self) -> str:
        return self.edit.text().strip()

    def set_value(self, value: Any) -> None:
        self.edit.setText(str(value or ""))


class TargetChooser(QComboBox):
    """The table's columns to pick the target from (editable: a name can be typed too)."""

    def __init__(self, picker: PathPicker):
        super().__init__()
        self.setEditable(True)
        self.picker = picker
        picker.sig_changed.connect(self.refresh)

    def refresh(self) -> None:
        current = self.currentText()
        columns = table_columns(self.picker.value())
        self.blockSignals(True)
        self.clear()
        self.addItems(columns)
        # keep the target as chosen; else the last column, where tables usually keep their labels
        self.setCurrentText(current if current in columns or not columns else columns[-1])
        self.blockSignals(False)
        self.currentTextChanged.emit(self.currentText())


def with_own_files(other: Callable[[str], dict[str, Field]]) -> Callable[[str], dict[str, Field]]:
    """The dataset form's ``custom``: these pickers for tables and image folders, ``other``'s fields
    (your own code's file chooser) for the rest."""
    return lambda kind: dataset_fields(kind) if kind in LABELS else other(kind)


def dataset_fields(kind: str) -> dict[str, Field]:
    """The custom fields of the dataset form: pickers for paths, the target chooser."""
    if kind not in LABELS:
        return {}
    picker = PathPicker(folder=kind == "image_folder")
    fields = {"path": Field(picker, picker.value, picker.set_value, picker.sig_changed)}
    if kind == "table":
        target = no_wheel_unless_focused(TargetChooser(picker))
        fields["target"] = Field(target, target.currentText, lambda v: target.setCurrentText(str(v or "")),
                                 target.currentTextChanged)
    return fields


def pick_when_chosen(editor: KindedEditor) -> None:
    """The user chose "Your table…" or "Image folder…": open the picker unless a path of the right
    sort is set (the form keeps the path across kinds, so a table's file would otherwise greet
    "Image folder…" with "is a file, not a folder" and no picker)."""
    if editor.kind() not in LABELS or editor.form is None:
        return
    picker = editor.form.fields["path"].widget
    if isinstance(picker, PathPicker) and (not picker.value() or Path(picker.value()).is_file() == picker.folder):
        picker.browse()
