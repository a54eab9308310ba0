"""The app's settings file: window layout, the last experiment and recent sessions.

One INI file in the lrlab settings folder (``LRLAB_HOME`` aware), read and written
through ``QSettings``. Values are plain types: byte arrays for Qt's own window state,
JSON text for the experiment, a list of paths for the recent sessions.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from lrlab.core import paths

MAX_RECENT = 10


def settings() -> QSettings:
    return QSettings(str(paths.settings_dir() / "lrlab.ini"), QSettings.Format.IniFormat)


def recent_sessions() -> list[str]:
    recent = settings().value("recent") or []
    return [recent] if isinstance(recent, str) else [str(p) for p in recent]


def remember_recent(path: str) -> list[str]:
    """Put ``path`` first in the recent sessions (at most MAX_RECENT); returns the new list."""
    recent = [path, *(p for p in recent_sessions() if p != path)][:MAX_RECENT]
    settings().setValue("recent", recent)
    return recent


def save_experiment(data: dict[str, Any]) -> None:
    settings().setValue("last_experiment", json.dumps(data))


def last_experiment() -> dict[str, Any] | None:
    """The experiment form as last saved, or None (none yet, or an unreadable value)."""
    text = settings().value("last_experiment")
    if isinstance(text, str) and text:
        with contextlib.suppress(ValueError, TypeError):
            data = json.loads(text)
            return data if isinstance(data, dict) else None
    return None


def save_window(geometry: QByteArray, state: QByteArray) -> None:
    s = settings()
    s.setValue("geometry", geometry)
    s.setValue("window_state", state)
    s.sync()


def window_layout() -> tuple[QByteArray | None, QByteArray | None]:
    """(geometry, dock/toolbar state) as saved, each None when there is none."""
    s = settings()
    geometry, state = s.value("geometry"), s.value("window_state")
    return (geometry if isinstance(geometry, QByteArray) else None,
            state if isinstance(state, QByteArray) else None)
