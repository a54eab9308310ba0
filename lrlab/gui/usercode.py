"""Your own code in the window: a file picker for the Experiment form's python model and data,
and the question a Re-run or Fork of a session that names code asks first.

Thin on purpose: what counts as consent, hashing and checking live in
``lrlab.core.decl.usercode``; these widgets only ask the user and pass the answer on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QMessageBox, QPushButton, QWidget

from lrlab.core.decl import usercode
from lrlab.core.decl.params import SpecError
from lrlab.gui.forms import Field

#: the combo labels of the python kinds (Experiment form)
LABELS = {"model": {"python": "Your model (Python file)…"}, "dataset": {"python": "Your data (Python file)…"}}
_FUNCTIONS = {"model": "build", "dataset": "load"}


def open_file(parent: QWidget | None, title: str) -> str:
    """A Python file the user picks ('' when cancelled); tests replace this function."""
    return QFileDialog.getOpenFileName(parent, title, "", "Python files (*.py)")[0]


def ask(parent: QWidget | None, text: str) -> str:
    """'run', 'choose' or 'cancel': the user's answer to ``text``; tests replace this function."""
    box = QMessageBox(QMessageBox.Icon.Question, "Run your code?", text, parent=parent)
    run = box.addButton("Run this file", QMessageBox.ButtonRole.AcceptRole)
    choose = box.addButton("Choose the file…", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return "run" if box.clickedButton() is run else "choose" if box.clickedButton() is choose else "cancel"


def code_fields(field: str) -> Callable[[str], dict[str, Field]]:
    """The Experiment form's ``custom`` for the model or dataset editor: for the python kind, the
    entry with a "Choose…" button (picking a file is consent) and its SHA-256, read-only."""

    def custom(kind: str) -> dict[str, Field]:
        if kind != "python":
            return {}
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        entry, sha = QLineEdit(), QLineEdit()
        sha.setReadOnly(True)
        sha.setPlaceholderText("recorded when you choose the file")
        button = QPushButton("Choose…")
        button.setObjectName(f"choose_{field}_code")
        lay.addWidget(entry, 1)
        lay.addWidget(button)

        def choose() -> None:
            path = open_file(row, LABELS[field]["python"].rstrip("…"))
            if not path:
                return
            function = entry.text().rpartition(":")[2] or _FUNCTIONS[field]
            try:
                new_entry, digest = usercode.pick(path, field, function if function.isidentifier()
                                                  else _FUNCTIONS[field])
            except SpecError as err:
                QMessageBox.warning(row, "Cannot use this file", str(err))
                return
            sha.setText(digest)
            entry.setText(new_entry)

        button.clicked.connect(choose)
        return {"entry": Field(row, lambda: entry.text().strip(), lambda v: entry.setText(str(v or "")),
                               entry.textChanged),
                "sha256": Field(sha, lambda: sha.text().strip() or None, lambda v: sha.setText(v or ""),
                                sha.textChanged)}

    return custom


def confirm_code(parent: QWidget | None, spec: Any) -> bool:
    """Before a Re-run or Fork of a session that names code: ask, showing each file's path and
    SHA-256, and give consent for the answer (the recorded file, or one the user picks). False:
    cancelled, or the file is not the recorded one (said in a message)."""
    for ref in usercode.unnamed(spec):
        answer = ask(parent, f"This session runs your own code ({ref.field}):\n{usercode.describe(ref)}\n\n"
                             "lrlab runs it only if you say so.")
        if answer == "cancel":
            return False
        path = str(ref.file) if answer == "run" and ref.file.is_file() else open_file(parent, "The session's code")
        if not path:
            return False
        try:
            usercode.allow_file(ref.file.__class__(path), ref.field)
            usercode.check_code(ref)
        except SpecError as err:
            QMessageBox.warning(parent, "Cannot run this code", str(err))
            return False
    return True
