"""Ramps of the base LR that end after a number of steps: ``linear`` and ``polynomial``.

In the formulas ``t`` is the (local) step and ``base`` the base LR.
"""

from __future__ import annotations

import numpy as np

from lrlab.core.decl.params import Num, Param
from lrlab.core.decl.schedules.base import POS, Example, Fit, Schedule, TorchScheduler, schedule_kind
from lrlab.core.decl.schedules.durations import STEPS


@schedule_kind("linear", Param("start_factor", Num(gt=0, le=1), 1 / 3, "factor at step 0"),
               Param("end_factor", Num(ge=0, le=1), 1.0, "factor from total_iters on"),
               Param("total_iters", STEPS, 5, "steps of the ramp"))
class Linear(Schedule):
    """lr(t) = base * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters)
    (torch LinearLR)"""

    examples = (
        Example({"start_factor": 0.1, "end_factor": 1.0, "total_iters": 500},
                TorchScheduler("LinearLR", 0.1, 1.0, 500)),
        Example({"start_factor": 1.0, "end_factor": 0.0, "total_iters": 2000},
                TorchScheduler("LinearLR", 1.0, 0.0, 2000)),
    )

    def __init__(self, base_lr: float, start_factor: float, end_factor: float, total_iters: int):
        self.base, self.start, self.end, self.total = base_lr, start_factor, end_factor, total_iters

    def __call__(self, t: int) -> float:
        return self.base * (self.start + (self.end - self.start) * min(t, self.total) / self.total)

    def at(self, t: np.ndarray) -> np.ndarray:
        return self.base * (self.start + (self.end - self.start) * np.minimum(t, self.total) / self.total)

    @classmethod
    def warnings(cls, fit: Fit) -> list[str]:
        n = fit.data["total_iters"]
        if n > fit.remaining:
            return [f"{fit.name('total_iters')} but {fit.has}: the run ends {fit.remaining / n:.0%} of "
                    f"the way through the ramp; {fit.follow}"]
        return []


@schedule_kind("polynomial", Param("total_iters", STEPS, 5, "steps until the LR reaches 0"),
               Param("power", POS, 1.0, "1 is linear decay; 2 decays faster at first"))
class Polynomial(Schedule):
    """lr(t) = base * (1 - min(t, total_iters) / total_iters) ** power   (torch PolynomialLR)"""

    examples = (
        Example({"total_iters": 1500, "power": 2.0}, TorchScheduler("PolynomialLR", 1500, 2.0)),
        Example({"total_iters": 2000, "power": 1.0}, TorchScheduler("PolynomialLR", 2000, 1.0)),
    )

    def __init__(self, base_lr: float, total_iters: int, power: float):
        self.base, self.total, self.power = base_lr, total_iters, power

    def __call__(self, t: int) -> float:
        return self.base * (1 - min(t, self.total) / self.total) ** self.power

    def at(self, t: np.ndarray) -> np.ndarray:
        return self.base * (1 - np.minimum(t, self.total) / self.total) ** self.power

    @classmethod
    def warnings(cls, fit: Fit) -> list[str]:
        n, remaining = fit.data["total_iters"], fit.remaining
        if n < remaining:
            return [f"{fit.name('total_iters')} but {fit.has}: the LR reaches 0 after {n:,} of them, so "
                    f"the last {remaining - n:,} steps do not train; {fit.follow}"]
        if n > remaining:
            return [f"{fit.name('total_iters')} but {fit.has}: the run ends {remaining / n:.0%} of the way "
                    f"through the decay, before the LR reaches 0; {fit.follow}"]
        return []
