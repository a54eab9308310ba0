"""Shared test setup for every folder: no display, a private LRLAB_HOME, the helper modules
beside this file importable, and the fixtures the core and GUI tests both use.

Nothing here imports Qt: the core tests (tests/core) run without PySide6 installed; the Qt
fixtures live in tests/gui/conftest.py. The tests are in folders by layer: tests/core (the core
and the Python API), tests/cli (the command line, the README, packaging) and tests/gui."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))  # fakedata, guitools, fuzz_sessions, testkit...


@pytest.fixture(autouse=True)
def lrlab_home(tmp_path, monkeypatch):
    """Every test gets its own per-user folder, so nothing touches the real one."""
    home = tmp_path / "lrlab-home"
    monkeypatch.setenv("LRLAB_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def no_code_consent():
    """Consent to run a user's code lasts as long as the process (lrlab.core.decl.usercode): no
    test inherits another's, or leaves its own behind."""
    from lrlab.core.decl import usercode

    usercode.forget_all()
    yield
    usercode.forget_all()


@pytest.fixture(scope="session")
def ray_instance():
    """One local Ray instance for the whole test session (it takes seconds to start)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Six sessions that differ in one thing each (LR, batch, schedule, a divergence, a held LR)."""
    from compare_runs import make_sessions

    return make_sessions(tmp_path_factory.mktemp("sessions"))


@pytest.fixture
def full_disk(monkeypatch):
    """Session files named ``full.lrlab`` commit at every update and fail to commit once they would
    hold more than ``limit[0]`` steps, as SQLite does on a full disk; other files write normally."""
    import sqlite3

    from lrlab.core.storage.session import SessionWriter

    limit = [40]
    real_init, real_commit = SessionWriter.__init__, SessionWriter._commit

    def init(self, *args, **kwargs):
        real_init(self, *args, **{**kwargs, "commit_seconds": 0})

    def commit(self):
        if self.path.name == "full.lrlab" and self.saved_steps + self._unsaved > limit[0]:
            raise sqlite3.OperationalError("database or disk is full")
        real_commit(self)

    monkeypatch.setattr(SessionWriter, "__init__", init)
    monkeypatch.setattr(SessionWriter, "_commit", commit)
    return limit
