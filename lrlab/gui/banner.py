"""Showing a saved session: what is read from the file, and the banner above the plots.

The banner says which session is on the plots and offers to re-run it, to load its
settings into the Experiment form, or to close it; the window decides what each does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from lrlab.core.events import Event
from lrlab.core.spec import RunSpec


@dataclass
class ViewedSession:
    """Everything the window shows of a saved session, read in one go."""

    path: str
    spec: RunSpec
    status: str
    steps: dict[str, np.ndarray]
    evals: list[dict[str, float]]
    events: list[Event]
    edits: list[tuple[int, dict[str, Any]]]
    summary: dict[str, Any]
    total_steps: int
    steps_per_epoch: int

    @classmethod
    def read(cls, path: str) -> ViewedSession:
        """Raises :class:`lrlab.core.session.SessionError` with a one-line message."""
        from lrlab.core.session import Session

        with Session.open(path) as s:
            steps, evals, events = s.steps(), s.evals(), s.events()
            rows = [dict(zip(evals, row, strict=True))
                    for row in zip(*(v.tolist() for v in evals.values()), strict=True)]
            n = len(steps["step"])
            spe = s.meta.get("steps_per_epoch") or max(1, int((steps["epoch"] == 0).sum()))
            status = s.status
            # a run that ended early is shown over the steps it has, not the ones it planned
            total = (s.meta.get("total_steps") or n) if status == "finished" else max(n, 1)
            return cls(path, s.spec, str(status), steps, rows, events, s.edits(), s.summary, total, spe)

    def describe(self) -> str:
        spec, metric = self.spec, self.summary.get("final_val_metric")
        return (f"<b>{Path(self.path).name}</b> — {self.status}, {len(self.steps['step'])} steps, "
                f"{spec.dataset.kind} / {spec.model.kind} / {spec.optimizer.kind} LR {spec.lr:g} / "
                f"{spec.schedule.kind}, seed {spec.seed}"
                + (f", final validation metric {metric:.4g}" if metric is not None else ""))


class SessionBanner(QFrame):
    sig_rerun = Signal()
    sig_use = Signal()
    sig_close = Signal()

    def __init__(self) -> None:
        super().__init__(frameShape=QFrame.Shape.StyledPanel)
        self.text = QLabel(wordWrap=True)
        lay = QHBoxLayout(self)
        lay.addWidget(self.text, 1)
        for label, sig, tip in (("Re-run", self.sig_rerun, "train the same spec, seed and edits again as a "
                                 "new session"), ("Use these settings", self.sig_use, "copy this session's "
                                 "settings into the Experiment form"), ("Close", self.sig_close, "")):
            button = QPushButton(label, toolTip=tip)
            button.clicked.connect(sig.emit)
            lay.addWidget(button)
        self.hide()


def read_references(paths: list[str], dark: bool = False) -> list[tuple[str, str, dict[str, Any]]]:
    """Saved sessions to draw under a live run: (name, colour, {metric: (steps, values)}) each,
    the training loss smoothed as the live panel smooths it, colours from the core's palette.
    Raises :class:`lrlab.core.session.SessionError` naming a file that cannot be read."""
    from lrlab.core.compare import assign_colours, open_runs

    runs = open_runs(paths)
    try:
        assign_colours(runs, dark=dark)
        return [(r.name, r.colour, {m: r.series(m, "step", 0.6 if m == "train_loss" else 0.0)
                                    for m in ("train_loss", "lr", "val_metric")}) for r in runs]
    finally:
        for r in runs:
            r.close()
