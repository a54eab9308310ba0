"""The Transformer's schedule: a linear warmup, then decay with the inverse square root of the step.

In the formula ``t`` is the (local) step and ``base`` the base LR.
"""

from __future__ import annotations

import math

import numpy as np

from lrlab.core.decl.params import Param
from lrlab.core.decl.schedules.base import Example, Fit, Schedule, schedule_kind
from lrlab.core.decl.schedules.durations import STEPS


@schedule_kind("inverse_sqrt", Param("warmup_steps", STEPS, 1000, "steps of linear warmup"))
class InverseSqrt(Schedule):
    """Linear warmup, then decay with the inverse square root of the step (Transformer style):
    lr(t) = base * min((t + 1) / warmup_steps, sqrt(warmup_steps / (t + 1)))"""

    examples = (Example({"warmup_steps": 50}), Example({"warmup_steps": "5%"}))

    def __init__(self, base_lr: float, warmup_steps: int):
        self.base, self.warmup = base_lr, warmup_steps

    def __call__(self, t: int) -> float:
        n = t + 1
        return self.base * min(n / self.warmup, math.sqrt(self.warmup / n))

    def at(self, t: np.ndarray) -> np.ndarray:
        n = np.asarray(t, dtype=np.float64) + 1
        return self.base * np.minimum(n / self.warmup, np.sqrt(self.warmup / n))

    @classmethod
    def warnings(cls, fit: Fit) -> list[str]:
        if fit.data["warmup_steps"] >= fit.remaining:
            return [f"{fit.name('warmup_steps')} but {fit.has}: the run ends during the warmup"]
        return []
