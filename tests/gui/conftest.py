"""Qt fixtures for the GUI tests (offscreen): no modal dialog may wait for an answer, and the
main window for a test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_modal_dialogs(monkeypatch):
    """A modal dialog nobody answers would hang the suite offscreen: fail instead.

    Tests that expect a dialog patch it themselves (their monkeypatch wins)."""
    from PySide6.QtWidgets import QMessageBox

    def unexpected(*args, **kwargs):
        raise AssertionError(f"unexpected modal dialog: {args[1:3]}")

    for name in ("information", "warning", "question", "critical"):
        monkeypatch.setattr(QMessageBox, name, unexpected)


@pytest.fixture
def window(qtbot, lrlab_home):
    """The main window, shown offscreen; a run still going at the end is stopped."""
    from lrlab.gui.app import make_app
    from lrlab.gui.window import MainWindow

    make_app()
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    yield w
    w.controller.stop_and_wait(5000)
