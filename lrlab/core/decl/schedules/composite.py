"""Schedules made of other schedules: ``warmup`` (a ramp, then another schedule) and ``sequence``.

Each later piece sees *local* time ``step - boundary`` (like optax's ``join_schedules`` and
torch's ``SequentialLR``). In the formulas ``t`` is the (local) step.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lrlab.core.decl.params import Choice, Kinded, ListOf, Num, Optional, Param, Problems, join
from lrlab.core.decl.schedules.base import (
    MAX_LR,
    POS,
    SCHEDULES,
    Example,
    Fit,
    Schedule,
    TorchScheduler,
    build,
    pieces,
    schedule_kind,
)
from lrlab.core.decl.schedules.durations import STEPS


@schedule_kind("warmup", Param("warmup_steps", STEPS, help="steps of the ramp"),
               Param("start_factor", Num(ge=0, le=1), 0.01,
                     "ramp starts at start_factor * then(0); 0 (linear only) starts from zero"),
               Param("mode", Choice(("linear", "exponential")), "linear", "shape of the ramp"),
               Param("then", SCHEDULES, {"kind": "constant"}, "schedule after the ramp, local time"))
class Warmup(Schedule):
    """Start small, ramp up to the next schedule's first LR, then run it in local time.
    For t < W = warmup_steps, with s = start_factor and L = then(0):
    linear: lr(t) = L * (s + (1 - s) * t / W);  exponential: lr(t) = L * s ** (1 - t / W).
    For t >= W: lr(t) = then(t - W). s = 0 is allowed for the linear ramp (the first step then
    does not move the weights); an exponential ramp from 0 would stay at 0, so it needs s > 0."""

    rest_of_run = "after warmup"
    examples = (
        Example({"warmup_steps": 100, "start_factor": 0.05, "then": {"kind": "cosine", "T_max": 1900}},
                TorchScheduler("SequentialLR", [TorchScheduler("LinearLR", 0.05, 1.0, 100),
                                                TorchScheduler("CosineAnnealingLR", 1900)], milestones=[100])),
        Example({"warmup_steps": 100, "then": {"kind": "cyclic", "max_lr": 0.3, "step_size_up": 200}}),
        Example({"warmup_steps": "1ep", "then": {"kind": "cosine", "T_max": "run"}}),
        Example({"warmup_steps": 4, "start_factor": 0.01, "mode": "exponential"}),
    )

    def __init__(self, base_lr: float, warmup_steps: int, start_factor: float, mode: str,
                 then: Kinded):
        self.warmup, self.start, self.mode = warmup_steps, start_factor, mode
        self.then = build(then, base_lr)
        self.peak = self.then(0)

    def __call__(self, t: int) -> float:
        if t >= self.warmup:
            return self.then(t - self.warmup)
        if self.mode == "linear":
            return self.peak * (self.start + (1 - self.start) * t / self.warmup)
        return self.peak * self.start ** (1 - t / self.warmup)

    def at(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.int64)
        out = np.empty(len(t))
        ramp = t < self.warmup
        out[~ramp] = self.then.at(t[~ramp] - self.warmup)
        r = t[ramp] / self.warmup
        out[ramp] = (self.peak * (self.start + (1 - self.start) * r) if self.mode == "linear"
                     else self.peak * self.start ** (1 - r))
        return out

    @classmethod
    def check(cls, spec: Kinded, path: str, problems: Problems) -> None:
        super().check(spec, path, problems)
        p = spec.params
        if p["mode"] == "exponential" and p["start_factor"] == 0:
            problems.add(join(path, "start_factor"),
                         "must be > 0 with mode 'exponential': the ramp multiplies by a constant factor each "
                         "step and cannot leave 0 (use mode 'linear' to start from zero), got 0")

    @classmethod
    def children(cls, data: Mapping[str, Any], start: int) -> list[tuple[str, int | None, int]]:
        """``then`` starts after the ramp."""
        return [("then", None, start + data["warmup_steps"])]

    @classmethod
    def warnings(cls, fit: Fit) -> list[str]:
        if fit.data["warmup_steps"] >= fit.remaining:
            return [f"{fit.name('warmup_steps')} but {fit.has}: the run ends during the warmup"]
        return []


@schedule_kind("sequence",
               Param("schedules", ListOf(SCHEDULES, min_len=1), help="schedules, in order"),
               Param("milestones", ListOf(STEPS, increasing=True), [],
                     "steps at which the next schedule starts (one fewer than schedules)"),
               Param("factors", Optional(ListOf(POS)), None,
                     "each schedule's LR multiplier (one per schedule); null or empty: 1 for all"),
               Param("offsets", Optional(ListOf(Num(ge=0, integer=True))), None,
                     "steps added to each schedule's local time (one per schedule; a schedule continued "
                     "rather than restarted); null or empty: 0 for all",
                     role="count"))  # a position on the schedule's clock, written by PBT: not a length
class Sequence_(Schedule):
    """Schedules one after another: between milestones m[i-1] <= t < m[i] (m[-1] = 0),
    lr(t) = f[i] * schedules[i](t - m[i-1] + o[i])   (torch SequentialLR when f = 1 and o = 0)

    ``factors`` (f) and ``offsets`` (o) let a sequence write down any run's LR as one schedule:
    a population-based training member's LR, for instance, is its schedule scaled by a different
    factor after each exploit, on the run's own clock (``o[i] = m[i-1]``)."""

    examples = (
        Example({"milestones": [400], "schedules": [{"kind": "constant"}, {"kind": "exponential", "gamma": 0.997}]},
                TorchScheduler("SequentialLR", [TorchScheduler("ConstantLR", 1.0, 400),
                                                TorchScheduler("ExponentialLR", 0.997)], milestones=[400])),
        Example({"milestones": [300], "schedules": [{"kind": "onecycle", "total_steps": 300},
                                                    {"kind": "cosine", "T_max": 500, "eta_min": 0.002}]}),
        Example({"milestones": [20, "50%"], "schedules": [
            {"kind": "constant"}, {"kind": "cosine", "T_max": "run"},
            {"kind": "warmup", "warmup_steps": "1ep", "then": {"kind": "cosine", "T_max": "run"}}]}),
        Example({"milestones": [100, 250], "factors": [0.5, 0.625, 0.5],
                 "offsets": [0, 100, 250], "schedules": [{"kind": "cosine", "T_max": 1000}] * 3}),
    )

    def __init__(self, base_lr: float, schedules: Sequence[Kinded], milestones: Sequence[int],
                 factors: Sequence[float] | None = None, offsets: Sequence[int] | None = None):
        self.parts = [build(s, base_lr) for s in schedules]
        self.starts = [0, *milestones]
        self.factors = [float(f) for f in factors] if factors else [1.0] * len(self.parts)
        # part i sees t - origin[i]
        self.origins = [s - (offsets[i] if offsets else 0) for i, s in enumerate(self.starts)]

    def __call__(self, t: int) -> float:
        i = bisect.bisect_right(self.starts, t) - 1
        return min(self.factors[i] * self.parts[i](t - self.origins[i]), MAX_LR)  # as pieces()

    def at(self, t: np.ndarray) -> np.ndarray:
        return pieces(np.asarray(t, dtype=np.int64), self.starts,
                      list(zip(self.parts, self.origins, self.factors, strict=True)))

    @classmethod
    def check(cls, spec: Kinded, path: str, problems: Problems) -> None:
        p = spec.params
        if len(p["milestones"]) != len(p["schedules"]) - 1:
            problems.add(join(path, "milestones"),
                         f"must have one entry fewer than schedules ({len(p['schedules']) - 1}), "
                         f"got {len(p['milestones'])}")
        for name in ("factors", "offsets"):
            if p[name] and len(p[name]) != len(p["schedules"]):  # null or empty: the default
                problems.add(join(path, name), f"must have one entry per schedule ({len(p['schedules'])}), "
                                               f"got {len(p[name])}")
        super().check(spec, path, problems)

    @classmethod
    def children(cls, data: Mapping[str, Any], start: int) -> list[tuple[str, int | None, int]]:
        """Part i starts at milestone i - 1 (the first at the sequence's start)."""
        starts = [0, *data["milestones"]]
        return [("schedules", i, start + starts[min(i, len(starts) - 1)]) for i in range(len(data["schedules"]))]

    @classmethod
    def warnings(cls, fit: Fit) -> list[str]:
        return [f"{join(fit.path, 'milestones')}[{i}] is step {m:,} but {fit.has}: schedules[{i + 1}] never starts"
                for i, m in enumerate(fit.data["milestones"]) if m >= fit.remaining]
