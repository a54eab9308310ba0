"""Per-user folders for sessions, datasets and settings.

The root is appdirs' user data dir for ``lrlab`` (for example
``~/.local/share/lrlab`` on Linux), or ``$LRLAB_HOME`` when set: tests and
portable installs point it at a folder of their own.
"""

from __future__ import annotations

import os
from pathlib import Path

import appdirs

APP_NAME = "lrlab"


def home() -> Path:
    override = os.environ.get("LRLAB_HOME")
    return Path(override).expanduser() if override else Path(appdirs.user_data_dir(APP_NAME, False))


def _sub(name: str, create: bool) -> Path:
    path = home() / name
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def sessions_dir(create: bool = True) -> Path:
    """Where runs are saved by default."""
    return _sub("sessions", create)


def datasets_dir(create: bool = True) -> Path:
    """Default root for torchvision datasets."""
    return _sub("datasets", create)


def settings_dir(create: bool = True) -> Path:
    return _sub("settings", create)
