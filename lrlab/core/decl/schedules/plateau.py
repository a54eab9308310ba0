"""Reduce on plateau: an LR that reacts to the validation metrics (torch ReduceLROnPlateau).

The only stateful kind: the training loop feeds it each evaluation (:meth:`Plateau.observe`), and a
session records each reduction as an event, so a replay or a viewer knows the LR without the metrics.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from lrlab.core.decl.metrics import MONITORED, VAL_LOSS
from lrlab.core.decl.params import Choice, Num, Param
from lrlab.core.decl.schedules.base import LR_FLOOR, NONNEG, Example, Schedule, schedule_kind


@schedule_kind("plateau",
               Param("monitor", Choice(tuple(MONITORED)), VAL_LOSS.name,
                     "validation value to watch"),
               Param("mode", Choice(("min", "max")), "min", "min: lower is better"),
               Param("factor", Num(gt=0, lt=1), 0.1, "multiplier at each reduction"),
               Param("patience", Num(ge=0, integer=True), 10,
                     "evaluations without improvement before reducing", role="count"),
               Param("threshold", NONNEG, 1e-4, "how much better counts as better"),
               Param("threshold_mode", Choice(("rel", "abs")), "rel", "threshold is relative or absolute"),
               Param("cooldown", Num(ge=0, integer=True), 0, "evaluations to wait after a reduction",
                     role="count"),
               Param("min_lr", LR_FLOOR, 0.0, "never reduce below this", role="lr"),
               Param("eps", NONNEG, 1e-8, "skip reductions smaller than this", role="lr"))
class Plateau(Schedule):
    """Reduce on plateau: constant at base, multiplied by factor (not below min_lr) whenever the
    monitored validation value has not improved for more than `patience` evaluations.
    Better means  a < best * (1 - threshold)  (min, rel),  a < best - threshold  (min, abs),
    and the mirror images for max. Stateful: :meth:`observe` feeds it each evaluation; the
    LR at a step is a pure function of the evaluations observed before it, so a replay that
    reproduces the metrics reproduces every decision   (torch ReduceLROnPlateau)."""

    stateful = True
    not_nestable = ("a plateau schedule reacts to validation metrics and can only be "
                    "the top-level schedule or a mid-run edit, not nested")
    examples = (
        Example({}),
        Example({"mode": "max", "factor": 0.5, "patience": 3, "threshold_mode": "abs", "cooldown": 2,
                 "min_lr": 0.001, "eps": 1e-6}),
    )

    def __init__(self, base_lr: float, monitor: str, mode: str, factor: float, patience: int,
                 threshold: float, threshold_mode: str, cooldown: int, min_lr: float, eps: float):
        self.monitor, self.mode, self.factor, self.patience = monitor, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lr, self.eps = min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.bad = 0
        self.cooldown_left = 0
        self.change_steps: list[int] = [0]
        self.change_lrs: list[float] = [base_lr]

    def __call__(self, t: int) -> float:
        return self.change_lrs[bisect.bisect_right(self.change_steps, t) - 1]

    def at(self, t: np.ndarray) -> np.ndarray:
        return np.asarray(self.change_lrs)[np.searchsorted(self.change_steps, t, "right") - 1]

    def _better(self, a: float) -> bool:
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return a < (self.best * (1 - self.threshold) if rel else self.best - self.threshold)
        return a > (self.best * (1 + self.threshold) if rel else self.best + self.threshold)

    def observe(self, value: float, t: int) -> float | None:
        """Feed one evaluation; returns the new LR if it is reduced from local step ``t`` on."""
        if self._better(value):
            self.best, self.bad = value, 0
        else:
            self.bad += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad = 0
        if self.bad > self.patience:
            self.cooldown_left, self.bad = self.cooldown, 0
            old = self.change_lrs[-1]
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.set_from(t, new)
                return new
        return None

    def state(self) -> dict[str, Any]:
        """What it remembers of the evaluations so far, as JSON (a snapshot keeps it)."""
        return {"best": self.best, "bad": self.bad, "cooldown_left": self.cooldown_left,
                "change_steps": list(self.change_steps), "change_lrs": list(self.change_lrs)}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state` (ValueError if it is not one)."""
        try:
            best, bad, left = float(state["best"]), int(state["bad"]), int(state["cooldown_left"])
            steps, lrs = [int(t) for t in state["change_steps"]], [float(x) for x in state["change_lrs"]]
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a plateau state ({err})") from None
        if len(steps) != len(lrs) or not steps:
            raise ValueError("not a plateau state (change_steps and change_lrs differ in length)")
        self.best, self.bad, self.cooldown_left = best, bad, left
        self.change_steps, self.change_lrs = steps, lrs

    def set_from(self, t: int, lr: float) -> None:
        """Use ``lr`` from local step ``t`` on: a decision :meth:`observe` made, or one read back
        from a session's events (which is how a viewer knows the LR without the metrics)."""
        if self.change_steps[-1] == t:  # two decisions at one step: the last one holds
            self.change_lrs[-1] = lr
        else:
            self.change_steps.append(t)
            self.change_lrs.append(lr)
