"""Finds the bundled ``resources/`` folder (presets, icons) in a checkout or an installed wheel.

In a source checkout it is the top-level ``resources/`` beside the package; the
wheel carries the same folder as the package ``lrlab.resources``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


@cache
def resources_dir() -> Path:
    """``resources/`` of a checkout (or a bundle laid out like one), else the wheel's copy."""
    package = Path(__file__).resolve().parents[2]  # .../lrlab (this file is lrlab/core/decl/resources.py)
    checkout = package.parent / "resources"
    if checkout.is_dir():
        return checkout
    return package / "resources"


def icon_path(name: str) -> Path:
    """An icon file in resources/icons (``lrlab.svg``, ``lrlab-256.png``, ``start.svg``, ...)."""
    return resources_dir() / "icons" / name


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
    #: steps per second that make the lesson watchable in class (None: full speed)
    pace: float | None = None


#: preset groups in the order a lesson takes them, with the names menus show
GROUPS = {"lr-range": "Learning rate: too high, too low, well chosen", "schedules": "Schedules",
          "optimizers": "Optimizers: Adam and SGD", "adaptive": "Adaptive optimizers: a step size per parameter",
          "batch-size": "Batch size and the LR", "batch-lr": "Batch size and LR: where the scaling rules hold",
          "models": "Models where the LR bites: warmup, one-cycle, grokking"}


def list_presets() -> list[Preset]:
    """Every bundled preset in teaching order: by group (:data:`GROUPS`), then each preset's
    ``order`` within its group, then title."""
    out, rank = [], []
    for path in presets_dir().glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        group = data.get("group", "")
        out.append(Preset(path.stem, data["title"], data["explanation"], group, data["spec"], path,
                          data.get("pace")))
        rank.append((list(GROUPS).index(group) if group in GROUPS else len(GROUPS), data.get("order", 99),
                     data["title"]))
    return [p for _, p in sorted(zip(rank, out, strict=True), key=lambda pair: pair[0])]


def preset_path(name: str) -> Path | None:
    path = presets_dir() / f"{name.removesuffix('.json')}.json"
    return path if path.is_file() else None
