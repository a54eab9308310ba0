"""Finds the bundled ``resources/`` folder (presets, icons) in a checkout or an installed wheel.

In a source checkout it is the top-level ``resources/`` beside the package; the
wheel carries the same folder as the package ``lrlab.resources``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any


@cache
def resources_dir() -> Path:
    checkout = Path(__file__).resolve().parents[2] / "resources"
    if checkout.is_dir():
        return checkout
    return Path(str(importlib_resources.files("lrlab.resources")))


def presets_dir() -> Path:
    return resources_dir() / "presets"


@dataclass(frozen=True)
class Preset:
    """A bundled experiment: a run spec plus the words that explain it to a user."""

    name: str
    title: str
    explanation: str
    group: str
    spec: dict[str, Any]
    path: Path


def list_presets() -> list[Preset]:
    out = []
    for path in sorted(presets_dir().glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out.append(Preset(path.stem, data["title"], data["explanation"], data.get("group", ""),
                          data["spec"], path))
    return out


def preset_path(name: str) -> Path | None:
    path = presets_dir() / f"{name.removesuffix('.json')}.json"
    return path if path.is_file() else None
