"""Shared test setup: no display, a private LRLAB_HOME, one intra-op thread."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def lrlab_home(tmp_path, monkeypatch):
    """Every test gets its own per-user folder, so nothing touches the real one."""
    home = tmp_path / "lrlab-home"
    monkeypatch.setenv("LRLAB_HOME", str(home))
    return home
