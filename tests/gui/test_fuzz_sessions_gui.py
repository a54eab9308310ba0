"""Damaged sessions from others: every command ends with a result or one line (exit 2), nothing
hangs, a read never changes a file, and the window shows a message, never a traceback.

Here: the window (they need Qt); the rest are in tests/core/test_fuzz_sessions.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_sessions import DAMAGES, source_session, variants


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("fuzz")
    return variants(source_session(folder), folder / "v", 2 * len(DAMAGES), seed=11)


def test_the_window_shows_a_message_for_every_damaged_file(qtbot, window, corpus, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append((title, text)))
    opened = 0
    for kind, path in corpus[: len(DAMAGES)]:
        before = len(shown)
        ok = window.sessions.open_session(str(path))
        opened += ok
        if not ok:
            title, text = shown[-1]
            assert len(shown) == before + 1 and title == "Cannot open session", kind
            assert text.startswith(str(path)) and "\n" not in text and "Traceback" not in text, kind
    assert 0 < opened < len(DAMAGES)
