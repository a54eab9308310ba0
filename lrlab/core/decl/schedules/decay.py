"""Schedules that multiply the base LR by a factor: constant, step, multistep, exponential.

In the formulas ``t`` is the (local) step and ``base`` the base LR. Each LR is capped at
:data:`~lrlab.core.decl.schedules.base.MAX_LR`, so a gamma above 1 cannot overflow.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

from lrlab.core.decl.params import ListOf, Param, join
from lrlab.core.decl.schedules.base import (
    POS,
    Example,
    Fit,
    Schedule,
    TorchScheduler,
    grown,
    grown_at,
    schedule_kind,
)
from lrlab.core.decl.schedules.durations import STEPS


@schedule_kind("constant")
class Constant(Schedule):
    """lr(t) = base"""

    examples = (Example({}, TorchScheduler("ConstantLR", factor=1.0)),)

    def __init__(self, base_lr: float):
        self.base = base_lr

    def __call__(self, t: int) -> float:
        return self.base

    def at(self, t: np.ndarray) -> np.ndarray:
        return np.full(len(t), self.base, dtype=np.float64)


@schedule_kind("step", Param("step_size", STEPS, help="steps between decays"),
               Param("gamma", POS, 0.1, "multiplier at each decay"))
class StepDecay(Schedule):
    """lr(t) = base * gamma ** floor(t / step_size)   (torch StepLR)"""

    examples = (
        Example({"step_size": 300, "gamma": 0.5}, TorchScheduler("StepLR", 300, 0.5)),
        Example({"step_size": 1, "gamma": 0.999}, TorchScheduler("StepLR", 1, 0.999)),
        Example({"step_size": "25%"}),
    )

    def __init__(self, base_lr: float, step_size: int, gamma: float):
        self.base, self.step_size, self.gamma = base_lr, step_size, gamma

    def __call__(self, t: int) -> float:
        return grown(self.base, self.gamma, t // self.step_size)

    def at(self, t: np.ndarray) -> np.ndarray:
        return grown_at(self.base, self.gamma, t // self.step_size)

    @classmethod
    def warnings(cls, fit: Fit) -> list[str]:
        if fit.data["step_size"] >= fit.remaining:
            return [f"{fit.name('step_size')} but {fit.has}: the LR never decays; use fewer steps or a share of "
                    'the run such as "25%"']
        return []


@schedule_kind("multistep",
               Param("milestones", ListOf(STEPS, min_len=1, increasing=True),
                     help="steps at which the LR is multiplied by gamma"),
               Param("gamma", POS, 0.1, "multiplier at each milestone"))
class MultiStep(Schedule):
    """lr(t) = base * gamma ** (number of milestones <= t)   (torch MultiStepLR)"""

    examples = (
        Example({"milestones": [100, 700, 1500], "gamma": 0.3}, TorchScheduler("MultiStepLR", [100, 700, 1500], 0.3)),
        Example({"milestones": ["1ep", "50%", "run"]}),
    )

    def __init__(self, base_lr: float, milestones: Sequence[int], gamma: float):
        self.base, self.milestones, self.gamma = base_lr, list(milestones), gamma

    def __call__(self, t: int) -> float:
        return grown(self.base, self.gamma, bisect.bisect_right(self.milestones, t))

    def at(self, t: np.ndarray) -> np.ndarray:
        return grown_at(self.base, self.gamma, np.searchsorted(self.milestones, t, "right"))

    @classmethod
    def warnings(cls, fit: Fit) -> list[str]:
        late = [m for m in fit.data["milestones"] if m >= fit.remaining]
        if not late:
            return []
        return [f"{join(fit.path, 'milestones')} {', '.join(f'{m:,}' for m in late)} "
                f"{'is' if len(late) == 1 else 'are'} not before the end ({fit.has}): "
                f"{'that decay never happens' if len(late) == 1 else 'those decays never happen'}"]


@schedule_kind("exponential", Param("gamma", POS, help="multiplier per step"))
class Exponential(Schedule):
    """lr(t) = base * gamma ** t   (torch ExponentialLR)"""

    examples = (Example({"gamma": 0.998}, TorchScheduler("ExponentialLR", 0.998)),)

    def __init__(self, base_lr: float, gamma: float):
        self.base, self.gamma = base_lr, gamma

    def __call__(self, t: int) -> float:
        return grown(self.base, self.gamma, t)

    def at(self, t: np.ndarray) -> np.ndarray:
        return grown_at(self.base, self.gamma, t)
