"""The app's settings file: window layout, the last experiment and recent sessions.

One JSON file in the lrlab settings folder (``LRLAB_HOME`` aware), ``settings.json``, written
atomically. JSON holds only data: numbers, text, lists and objects, never code. QSettings is
not used because its INI values may be ``@Variant(...)`` objects, which PySide6 unpickles while
Qt parses the file, before any value reaches lrlab, so a settings file in a shared or portable
folder could run code when the GUI starts. Qt's window geometry and dock state are byte arrays,
stored as base64 text.

Reading never fails: a missing, damaged or unexpected file gives the defaults, and the reason
is in :data:`problems` (one line each) for the window to show. The INI file older versions
wrote (``lrlab.ini``) is never handed to Qt; if it holds an object value, a warning says it is
ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray

from lrlab.core.decl import paths
from lrlab.core.decl.files import read_text, set_aside, write_text

MAX_RECENT = 10
MAX_BYTES = 4 * 2**20  # a settings file is a few kilobytes; anything larger is not ours

#: why the settings could not be read or saved, one line each (see :func:`take_problems`)
problems: list[str] = []


def settings_file() -> Path:
    return paths.settings_dir(create=False) / "settings.json"  # made when first written


def legacy_warning() -> str | None:
    """A warning when the INI file of older versions holds an object value (``@Variant(``), which
    a QSettings read would unpickle; lrlab only reads its text, and never uses it."""
    legacy = paths.settings_dir(create=False) / "lrlab.ini"
    if not legacy.is_file():  # absent, or a FIFO or device that a read would block on or never finish
        return None
    try:
        with legacy.open("rb") as f:
            text = f.read(MAX_BYTES)
    except OSError:
        return None
    if b"@Variant(" in text or b"PyObjectWrapper" in text:
        return (f"ignored {legacy}: it holds a Python object (@Variant), which could run code if loaded; "
                "lrlab starts with default settings")
    return None


def _read() -> dict[str, Any]:
    path = settings_file()
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES // 2**20} MiB")
        data = json.loads(read_text(path))  # a regular file of at most 1 MB: never a FIFO or a device
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except FileNotFoundError:
        return {}
    except OSError as err:  # unreadable, or the settings folder is a file: nothing to keep
        _note(f"ignored {path}: {err.strerror or err}; lrlab starts with default settings")
        return {}
    except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        try:  # kept, never overwritten by the next save: the user may want what was in it
            kept = f"; kept it as {set_aside(path, '.bad').name}"
        except OSError:
            kept = ""
        _note(f"ignored {path}: {err}{kept}; lrlab starts with default settings")
        return {}


def take_problems() -> list[str]:
    """The problems met since the last call (each once), for the window to show."""
    found = list(problems)
    problems.clear()
    return found


def _note(problem: str) -> None:
    if problem not in problems:
        problems.append(problem)


def _write(**changes: Any) -> None:
    """Merge ``changes`` into the file, atomically (a crash leaves the old file or the new one)."""
    data = {**_read(), **changes}
    path = settings_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(data, indent=1))
    except OSError as err:  # a read-only or full settings folder must not stop the app
        _note(f"cannot save settings to {path}: {err.strerror or err}")


def recent_sessions() -> list[str]:
    recent = _read().get("recent")
    return [p for p in recent if isinstance(p, str)][:MAX_RECENT] if isinstance(recent, list) else []


def remember_recent(path: str) -> list[str]:
    """Put ``path`` first in the recent sessions (at most MAX_RECENT); returns the new list."""
    recent = [path, *(p for p in recent_sessions() if p != path)][:MAX_RECENT]
    _write(recent=recent)
    return recent


def save_experiment(data: dict[str, Any]) -> None:
    _write(last_experiment=data)


def last_experiment() -> dict[str, Any] | None:
    """The experiment form as last saved, or None (none yet, or an unusable value)."""
    data = _read().get("last_experiment")
    return data if isinstance(data, dict) else None


def save_window(geometry: QByteArray, state: QByteArray) -> None:
    _write(geometry=_text(geometry), window_state=_text(state))


def window_layout() -> tuple[QByteArray | None, QByteArray | None]:
    """(geometry, dock/toolbar state) as saved, each None when there is none."""
    data = _read()
    return _bytes(data.get("geometry")), _bytes(data.get("window_state"))


def _text(value: QByteArray) -> str:
    return base64.b64encode(bytes(value.data())).decode("ascii")


def _bytes(text: Any) -> QByteArray | None:
    if not isinstance(text, str):
        return None
    try:
        return QByteArray(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return None
