"""Schedules that rise and fall: Smith's one-cycle policy (``onecycle``) and cyclical LRs (``cyclic``).

In the formulas ``t`` is the (local) step and ``base`` the base LR.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrlab.core.decl.params import Bool, Choice, Kinded, Num, Optional, Param, Problems, join
from lrlab.core.decl.schedules.base import LR, Example, Fit, Schedule, TorchScheduler, power, schedule_kind
from lrlab.core.decl.schedules.durations import STEPS


def _anneal(start: float, end: float, pct: Any, strategy: str) -> Any:
    """cos: end + (start - end) * (1 + cos(pi * pct)) / 2;  linear: start + (end - start) * pct."""
    if strategy == "cos":
        cos = np.cos if isinstance(pct, np.ndarray) else math.cos
        return end + (start - end) / 2.0 * (cos(math.pi * pct) + 1)
    return (end - start) * pct + start


@schedule_kind("onecycle",
               Param("max_lr", Optional(LR), None, "peak LR; null uses the optimizer's LR", role="lr"),
               Param("total_steps", STEPS, help="length of the cycle"),
               Param("pct_start", Num(gt=0, lt=1), 0.3, "fraction of the cycle spent rising"),
               Param("anneal_strategy", Choice(("cos", "linear")), "cos", "shape of each ramp"),
               Param("div_factor", Num(ge=1), 25.0, "initial LR = max_lr / div_factor"),
               Param("final_div_factor", Num(ge=1), 1e4, "final LR = initial LR / final_div_factor"),
               Param("three_phase", Bool(), False, "ramp back to the initial LR before annealing"))
class OneCycle(Schedule):
    """One-cycle policy (Smith): rise from max_lr/div_factor to max_lr over the first
    pct_start of total_steps, then anneal to max_lr/(div_factor*final_div_factor).
    Each phase interpolates start -> end with pct = (t - phase_start)/(phase_end - phase_start):
    cos: end + (start - end) * (1 + cos(pi * pct)) / 2;  linear: start + (end - start) * pct.
    Phase ends (two-phase): pct_start*total - 1, total - 1; three_phase adds a ramp back down to
    the initial LR ending at 2*pct_start*total - 2. Holds the final LR after total_steps.
    (torch OneCycleLR, without momentum cycling)"""

    examples = (
        Example({"max_lr": 0.5, "total_steps": 2000},
                TorchScheduler("OneCycleLR", 0.5, total_steps=2000, cycle_momentum=False)),
        Example({"max_lr": 0.5, "total_steps": 2000, "anneal_strategy": "linear", "pct_start": 0.25,
                 "div_factor": 10, "final_div_factor": 100},
                TorchScheduler("OneCycleLR", 0.5, total_steps=2000, pct_start=0.25, anneal_strategy="linear",
                               div_factor=10, final_div_factor=100, cycle_momentum=False)),
        Example({"max_lr": 1.0, "total_steps": 2000, "three_phase": True},
                TorchScheduler("OneCycleLR", 1.0, total_steps=2000, three_phase=True, cycle_momentum=False)),
        Example({"total_steps": "run"}),  # peaks at the optimizer's LR
    )

    def __init__(self, base_lr: float, max_lr: float | None, total_steps: int, pct_start: float,
                 anneal_strategy: str, div_factor: float, final_div_factor: float,
                 three_phase: bool):
        peak = base_lr if max_lr is None else max_lr
        initial = peak / div_factor
        final = initial / final_div_factor
        self.total, self.strategy = total_steps, anneal_strategy
        up_end = float(pct_start * total_steps) - 1
        if three_phase:
            self.phases = [(up_end, initial, peak), (2 * up_end, peak, initial),
                           (total_steps - 1, initial, final)]
        else:
            self.phases = [(up_end, initial, peak), (total_steps - 1, peak, final)]

    def __call__(self, t: int) -> float:
        t = min(t, self.total - 1)
        start = 0.0
        for i, (end, lr_start, lr_end) in enumerate(self.phases):
            if t <= end or i == len(self.phases) - 1:
                span = end - start
                pct = (t - start) / span if span > 0 else 1.0
                return _anneal(lr_start, lr_end, pct, self.strategy)
            start = end
        raise AssertionError("unreachable: the last phase always matches")

    def at(self, t: np.ndarray) -> np.ndarray:
        t = np.minimum(np.asarray(t, dtype=np.float64), self.total - 1)
        out = np.empty(len(t))
        todo = np.ones(len(t), dtype=bool)
        start = 0.0
        for i, (end, lr_start, lr_end) in enumerate(self.phases):
            here = todo & ((t <= end) | (i == len(self.phases) - 1))
            span = end - start
            pct = (t[here] - start) / span if span > 0 else np.ones(int(here.sum()))
            out[here] = _anneal(lr_start, lr_end, pct, self.strategy)
            todo &= ~here
            start = end
        return out

    @classmethod
    def check(cls, spec: Kinded, path: str, problems: Problems) -> None:
        super().check(spec, path, problems)
        p = spec.params
        if p["three_phase"] and p["pct_start"] > 0.5:
            problems.add(join(path, "pct_start"),
                         f"must be <= 0.5 with three_phase (two ramps of pct_start each), "
                         f"got {p['pct_start']}")

    @classmethod
    def warnings(cls, fit: Fit) -> list[str]:
        n, remaining = fit.data["total_steps"], fit.remaining
        if n < remaining:
            return [f"{fit.name('total_steps')} but {fit.has}: the cycle is over after {n:,} of them and the LR "
                    f"stays at its final value for the last {remaining - n:,} steps; {fit.follow}"]
        if n > remaining:
            return [f"{fit.name('total_steps')} but {fit.has}: the run ends {remaining / n:.0%} of the way through "
                    f"the cycle, before the LR has annealed; {fit.follow}"]
        return []


@schedule_kind("cyclic",
               Param("base_lr", Optional(LR), None, "lower bound; null uses the optimizer's LR", role="lr"),
               Param("max_lr", LR, help="upper bound", role="lr"),
               Param("step_size_up", STEPS, 2000, "steps from lower to upper bound"),
               Param("step_size_down", Optional(STEPS), None, "steps back down; null = step_size_up"),
               Param("mode", Choice(("triangular", "triangular2", "exp_range")), "triangular",
                     "triangular2 halves the amplitude each cycle; exp_range scales it by gamma**t"),
               Param("gamma", Num(gt=0, le=1), 1.0, "decay per step in exp_range mode"))
class Cyclic(Schedule):
    """Cyclical LR (Smith): a triangle wave between base_lr and max_lr.
    cycle = floor(1 + t / (up + down)); x = 1 + t / (up + down) - cycle;
    s = x / r if x <= r else (x - 1) / (r - 1), with r = up / (up + down);
    lr(t) = base_lr + (max_lr - base_lr) * s * scale, scale = 1 (triangular),
    1 / 2 ** (cycle - 1) (triangular2) or gamma ** t (exp_range)   (torch CyclicLR)"""

    examples = (
        Example({"base_lr": 0.01, "max_lr": 0.2, "step_size_up": 250},
                TorchScheduler("CyclicLR", 0.01, 0.2, step_size_up=250, cycle_momentum=False)),
        Example({"base_lr": 0.01, "max_lr": 0.2, "step_size_up": 100, "step_size_down": 300, "mode": "triangular2"},
                TorchScheduler("CyclicLR", 0.01, 0.2, step_size_up=100, step_size_down=300, mode="triangular2",
                               cycle_momentum=False)),
        Example({"base_lr": 0.01, "max_lr": 0.2, "step_size_up": 200, "mode": "exp_range", "gamma": 0.999},
                TorchScheduler("CyclicLR", 0.01, 0.2, step_size_up=200, mode="exp_range", gamma=0.999,
                               cycle_momentum=False)),
        Example({"max_lr": 1.0, "step_size_up": "10%", "step_size_down": "2ep"}),  # from the optimizer's LR
    )

    def __init__(self, opt_lr: float, base_lr: float | None, max_lr: float, step_size_up: int,
                 step_size_down: int | None, mode: str, gamma: float):
        self.low = opt_lr if base_lr is None else base_lr
        self.high, self.mode, self.gamma = max_lr, mode, gamma
        down = step_size_up if step_size_down is None else step_size_down
        self.size = float(step_size_up + down)
        self.ratio = step_size_up / self.size

    def __call__(self, t: int) -> float:
        cycle = math.floor(1 + t / self.size)
        x = 1.0 + t / self.size - cycle
        s = x / self.ratio if x <= self.ratio else (x - 1) / (self.ratio - 1)
        if self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = math.ldexp(1.0, -(cycle - 1))  # 1 / 2 ** (cycle - 1), going to 0 where 2 ** k overflows
        else:
            scale = self.gamma ** t
        return self.low + (self.high - self.low) * s * scale

    def at(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        cycle = np.floor(1 + t / self.size)
        x = 1.0 + t / self.size - cycle
        with np.errstate(divide="ignore", invalid="ignore"):  # a ratio of 1.0 (up >> down): the falling
            s = np.where(x <= self.ratio, x / self.ratio, (x - 1) / (self.ratio - 1))  # branch is never taken
        if self.mode == "triangular":
            scale = np.ones(len(t))
        elif self.mode == "triangular2":
            scale = np.ldexp(1.0, -(cycle - 1).astype(np.int64))
        else:
            scale = power(self.gamma, t)
        return self.low + (self.high - self.low) * s * scale

    @classmethod
    def check(cls, spec: Kinded, path: str, problems: Problems) -> None:
        super().check(spec, path, problems)
        p = spec.params
        if p["base_lr"] is not None and p["max_lr"] <= p["base_lr"]:
            problems.add(join(path, "max_lr"), f"must be > base_lr ({p['base_lr']}), got {p['max_lr']}")

    @classmethod
    def warnings(cls, fit: Fit) -> list[str]:
        up, down = fit.data["step_size_up"], fit.data["step_size_down"]
        cycle = up + (up if down is None else down)
        if cycle > fit.remaining:
            return [f"{join(fit.path, 'step_size_up')} + step_size_down is {cycle:,} steps but {fit.has}: the run "
                    "ends before one full cycle"]
        return []
