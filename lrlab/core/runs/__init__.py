"""Runs of every kind, recorded to session files, and replays that verify them.

A run kind is a *runner* (:mod:`lrlab.core.runs.base`): ``train`` (:mod:`.train`) is the
ordinary training run. Both clients (CLI and GUI) start runs of any kind through
:class:`RecordedRun`, so a run saved from either replays the same way, and a replay
builds the runner of the kind the session names.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lrlab.core import paths
from lrlab.core.events import Status
from lrlab.core.runs import landscape as landscape  # the "landscape" run kind
from lrlab.core.runs import train
from lrlab.core.runs.base import RUN_KINDS, Listener, Runner, Update, runner_class
from lrlab.core.session import DEFAULT_KIND, Session, SessionWriter, default_name
from lrlab.core.spec import RunSpec

__all__ = ["RUN_KINDS", "Collector", "Listener", "RecordedRun", "Runner", "Update", "Verification",
           "compare_steps", "environment_differences", "replay_runner", "train"]


class RecordedRun:
    """A runner whose every update is saved to a session file from the first step on.

    Construct (this loads data and builds the model), add listeners, then :meth:`run`
    in the thread that should train. Commands go to ``self.runner``. ``options`` go to
    the runner of ``kind`` (for ``train``: ``edits``, ``threads``, ``max_steps``).
    """

    def __init__(self, spec: RunSpec, out: str | Path | None = None, *, kind: str = DEFAULT_KIND,
                 label: str = "", group: str | None = None, overwrite: bool = False,
                 extra_meta: Mapping[str, Any] | None = None, **options: Any):
        self.runner: Runner = runner_class(kind)(spec, **options)
        self.path = Path(out) if out else unique_path(paths.sessions_dir() / default_name(spec, label))
        meta = {"label": label, **self.runner.session_meta(), **(extra_meta or {})}
        self.writer = SessionWriter(self.path, self.runner.spec, self.runner.environment, kind=kind, group=group,
                                    extra_meta=meta, overwrite=overwrite)
        self.runner.listeners.append(self.writer)

    def add_listener(self, listener: Listener) -> None:
        self.runner.listeners.append(listener)

    def run(self) -> Status:
        """Run to the end; the session is closed with the final status, even on errors."""
        try:
            status = self.runner.run()
        except BaseException as err:
            self.writer.close(Status.FAILED, {"error": f"{type(err).__name__}: {err}",
                                              "traceback": traceback.format_exc(limit=5)})
            raise
        self.writer.close(status, self.runner.final_summary())
        return status


def unique_path(path: Path) -> Path:
    """``path``, or ``name-2.lrlab``, ``name-3.lrlab``... if taken (two runs in one second)."""
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


class Collector:
    """A listener that keeps every step's columns in memory (for replays and tests)."""


    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.evals: list[dict[str, float]] = []
        self.events: list[Any] = []
        self.updates = 0

    def __call__(self, update: Update) -> None:
        self.updates += 1
        self.parts.append(update.steps)
        self.evals.extend(update.evals)
        self.events.extend(update.events)

    def column(self, name: str) -> np.ndarray:
        return np.concatenate([p[name] for p in self.parts]) if self.parts else np.empty(0)


@dataclass
class Verification:
    identical: bool
    steps: int
    first_difference: int | None = None
    column: str = ""
    max_abs_difference: float = 0.0
    environment_differences: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.identical:
            return f"identical: {self.steps} steps"
        return (f"differs: first at step {self.first_difference} ({self.column}); largest absolute "
                f"difference {self.max_abs_difference:.6g} over {self.steps} steps")


ENV_KEYS_THAT_MATTER = ("torch", "numpy", "scikit-learn", "python", "device", "device_name",
                        "threads", "deterministic", "machine")


def environment_differences(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(f"{k}: recorded {recorded.get(k)!r}, now {now.get(k)!r}"
                 for k in ENV_KEYS_THAT_MATTER if recorded.get(k) != now.get(k))


def replay_options(session: Session) -> dict[str, Any]:
    """What a runner of the session's kind needs to re-run it exactly (spec and seed aside)."""
    return runner_class(session.kind).replay_options(session)


def replay_runner(session: Session) -> Runner:
    """A runner of the session's kind that re-runs it: same spec, seed, edits, threads, length."""
    return runner_class(session.kind)(session.spec, **replay_options(session))


def compare_steps(recorded: Mapping[str, np.ndarray], replayed: Mapping[str, np.ndarray]) -> Verification:
    """Bit-for-bit comparison of train loss and LR at every step."""
    n_rec, n_new = len(recorded["step"]), len(replayed["step"])
    n = min(n_rec, n_new)
    first, col, worst = None, "", 0.0
    for name in ("train_loss", "lr"):
        a, b = recorded[name][:n], replayed[name][:n]
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if not same.all():
            bad = int(np.argmax(~same))
            if first is None or bad < first:
                first, col = bad, name
            with np.errstate(invalid="ignore"):
                diff = np.abs(a - b)
            worst = max(worst, float(np.nanmax(np.where(same, 0.0, diff))) if diff.size else 0.0)
    if first is None and n_rec != n_new:
        first, col = n, f"length: recorded {n_rec} steps, replay {n_new}"
    return Verification(first is None, n_rec, first, col, worst)

