"""Cosine annealing, once (``cosine``) or in cycles that restart at the base LR (``cosine_restarts``).

In the formulas ``t`` is the (local) step and ``base`` the base LR.
"""

from __future__ import annotations

import numpy as np

from lrlab.core.decl.params import Num, Param
from lrlab.core.decl.schedules.base import LR_FLOOR, Example, Fit, Schedule, TorchScheduler, cosine, schedule_kind
from lrlab.core.decl.schedules.durations import STEPS


@schedule_kind("cosine", Param("T_max", STEPS, help="steps from base to eta_min"),
               Param("eta_min", LR_FLOOR, 0.0, "lowest LR", role="lr"))
class Cosine(Schedule):
    """lr(t) = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2
    (torch CosineAnnealingLR; past T_max the cosine rises again, as in torch)"""

    examples = (
        Example({"T_max": 2000, "eta_min": 0.0}, TorchScheduler("CosineAnnealingLR", 2000, 0.0)),
        # runs past T_max: rises again, as torch does
        Example({"T_max": 700, "eta_min": 0.001}, TorchScheduler("CosineAnnealingLR", 700, 0.001)),
        Example({"T_max": "run", "eta_min": 0.002}),
    )

    def __init__(self, base_lr: float, T_max: int, eta_min: float):
        self.base, self.T_max, self.eta_min = base_lr, T_max, eta_min

    def __call__(self, t: int) -> float:
        return cosine(self.base, self.eta_min, t, self.T_max)

    def at(self, t: np.ndarray) -> np.ndarray:
        return cosine(self.base, self.eta_min, np.asarray(t, dtype=np.float64), self.T_max)

    @classmethod
    def warnings(cls, fit: Fit) -> list[str]:
        n, remaining = fit.data["T_max"], fit.remaining
        if n < remaining:
            return [f"{fit.name('T_max')} but {fit.has}: after {n:,} of them the cosine climbs back up, "
                    f"sweeping between its peak and eta_min {remaining // n} times instead of decaying once; "
                    f"{fit.follow}"]
        if n > remaining:
            return [f"{fit.name('T_max')} but {fit.has}: the run ends {remaining / n:.0%} of the way through the "
                    f"decay, with the LR still far from eta_min; {fit.follow}"]
        return []


@schedule_kind("cosine_restarts", Param("T_0", STEPS, help="length of the first cycle"),
               Param("T_mult", Num(ge=1, le=1000, integer=True), 1, "each cycle is T_mult times longer",
                     role="count"),
               Param("eta_min", LR_FLOOR, 0.0, "lowest LR", role="lr"))
class CosineRestarts(Schedule):
    """SGDR: cosine cycles that jump back to base; cycle i lasts T_0 * T_mult**i steps.
    lr(t) = eta_min + (base - eta_min) * (1 + cos(pi * t_cur / T_i)) / 2, where t_cur is
    the step within the current cycle and T_i its length (torch CosineAnnealingWarmRestarts)"""

    examples = (
        Example({"T_0": 150, "T_mult": 1, "eta_min": 0.0}, TorchScheduler("CosineAnnealingWarmRestarts", 150, 1, 0.0)),
        Example({"T_0": 100, "T_mult": 2, "eta_min": 0.005},
                TorchScheduler("CosineAnnealingWarmRestarts", 100, 2, 0.005)),
        Example({"T_0": 7, "T_mult": 3, "eta_min": 0.0}, TorchScheduler("CosineAnnealingWarmRestarts", 7, 3, 0.0)),
    )

    def __init__(self, base_lr: float, T_0: int, T_mult: int, eta_min: float):
        self.base, self.T_0, self.T_mult, self.eta_min = base_lr, T_0, T_mult, eta_min

    def __call__(self, t: int) -> float:
        period = self.T_0
        if self.T_mult == 1:
            t = t % period
        else:  # integer arithmetic, exact at every boundary (a log() would round)
            while t >= period:
                t -= period
                period *= self.T_mult
        return cosine(self.base, self.eta_min, t, period)

    def at(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.int64).copy()
        period = np.full(len(t), self.T_0, dtype=np.int64)
        if self.T_mult == 1:
            t %= self.T_0
        else:  # peel off one cycle at a time: as many passes as cycles, integers throughout
            later = t >= period
            while later.any():
                t[later] -= period[later]
                period[later] *= self.T_mult
                later = t >= period
        return cosine(self.base, self.eta_min, t.astype(np.float64), period.astype(np.float64))

    @classmethod
    def warnings(cls, fit: Fit) -> list[str]:
        remaining = fit.remaining
        ends, length = [fit.data["T_0"]], fit.data["T_0"]
        while ends[-1] < remaining:
            length *= fit.data["T_mult"]
            ends.append(ends[-1] + length)
        if ends[-1] == remaining:
            return []
        begin = ends[-2] if len(ends) > 1 else 0
        shown = ", ".join(f"{e:,}" for e in ends[:4]) + (", ..." if len(ends) > 4 else "")
        return [f"{fit.name('T_0')} but {fit.has}: cycles end at steps {shown}, so the run ends "
                f"{(remaining - begin) / (ends[-1] - begin):.0%} into cycle {len(ends)}, with the LR "
                "still high; choose T_0 (and T_mult) so that a cycle ends with the run"]
