"""Readable names for sessions: what a file list or a legend shows before anyone opens a file.

A session made from a preset is named after it (``20261123-1930-lr-too-high``); otherwise
the name carries the settings a reader looks for first, leaving out those at their
defaults (``20261123-1930-digits-sgd-lr0.1-cosine``), so two runs that differ in their
LR do not come out as ``...-constant`` and ``...-constant-2``.
"""

from __future__ import annotations

from datetime import datetime

from lrlab.core.decl.spec import RunSpec

#: settings left out of a name when they hold these values (the run spec's defaults)
_PLAIN = {"model": "mlp", "schedule": "constant", "batch_size": 64}


def settings_words(spec: RunSpec) -> list[str]:
    """The main settings of a run as short words: dataset, model (unless mlp), optimizer,
    LR, schedule (unless constant), batch size (unless 64)."""
    words = [spec.dataset.kind]
    if spec.model.kind != _PLAIN["model"]:
        words.append(spec.model.kind)
    words += [spec.optimizer.kind, f"lr{spec.lr:g}"]
    if spec.schedule.kind != _PLAIN["schedule"]:
        words.append(spec.schedule.kind)
    if spec.batch_size != _PLAIN["batch_size"]:
        words.append(f"batch{spec.batch_size}")
    return words


def session_stem(spec: RunSpec, label: str = "", now: datetime | None = None) -> str:
    """``YYYYMMDD-HHMM-`` then the preset label, or the main settings; safe as a file name."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M")
    words = [label] if label else settings_words(spec)
    return "-".join(w.replace("/", "_").replace("\\", "_") for w in [stamp, *words] if w)
