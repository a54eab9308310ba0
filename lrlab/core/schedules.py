"""Learning-rate schedules: JSON specs that build pure functions ``step -> lr``.

A schedule spec is data, e.g. ``{"kind": "cosine", "T_max": 2000, "eta_min": 0.0}``;
:func:`build` turns it and the optimizer's base LR into a callable. Steps count
from 0: the first optimizer step uses ``lr(0)``. Field names follow
``torch.optim.lr_scheduler`` so users recognise them, and ``tests/test_schedules.py``
checks every kind torch has against torch's own scheduler at every step.

Composite schedules (``warmup``, ``sequence``) join simpler ones at step
boundaries; each later piece sees *local* time ``step - boundary`` (like optax's
``join_schedules`` and torch's ``SequentialLR``). A run's :class:`Timeline` is a
base schedule plus the edits a user made mid-run, each starting at a step.

Durations (``T_max``, ``step_size``, ``milestones``, ``warmup_steps``, ...) are written as
whole steps (``640``), epochs (``"3ep"``), a share of the run (``"25%"``) or ``"run"``
(the rest of the run after the schedule starts), so a schedule written for 30 epochs still
means the same thing at 600. Relative durations are data until a run starts:
:func:`resolve_schedule` turns them into steps once the run's length is known, and the
session stores the resolved spec, so a replay never depends on how they were written.

In the formulas below ``t`` is the (local) step, ``base`` the base LR.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrlab.core.params import (
    INVALID,
    AnyObject,
    Bool,
    Check,
    Choice,
    Kinded,
    ListOf,
    Num,
    Optional,
    Param,
    Problems,
    Registry,
    SpecError,
    join,
    show,
)

_RELATIVE = re.compile(r"^\s*((?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?)\s*(ep|%)\s*$")


@dataclass(frozen=True)
class Duration(Check):
    """A length in steps: a whole number of steps, ``"Nep"`` (N epochs, N may be fractional),
    ``"P%"`` (P percent of the run's steps) or ``"run"`` (the rest of the run after the
    schedule starts). Relative forms stay strings, written canonically (``"3ep"``, ``"25%"``),
    until :func:`resolve_schedule` knows the run."""

    minimum: int = 1

    def describe(self) -> str:
        return f'must be a whole number of steps >= {self.minimum}, "Nep", "P%" or "run"'

    def parse(self, value: Any, path: str, problems: Problems) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(value) and float(value).is_integer() and value >= self.minimum:
                return int(value)
        elif isinstance(value, str):
            text = value.strip().lower()
            if text == "run":
                return "run"
            m = _RELATIVE.match(text)
            number = float(m.group(1)) if m else math.nan
            if 0 < number < math.inf:
                shown = str(int(number)) if number.is_integer() and number < 1e15 else repr(number)
                return shown + m.group(2)
        problems.add(path, f"{self.describe()}, got {show(value)}")
        return INVALID


def is_relative(value: Any) -> bool:
    """True for a duration that needs the run to become steps ("run", "25%", "3ep")."""
    return isinstance(value, str)


def _check_nesting(spec: Kinded, path: str, problems: Problems) -> None:
    """Composite-only rules that a per-field check cannot express."""
    p = spec.params
    if spec.kind == "sequence" and len(p["milestones"]) != len(p["schedules"]) - 1:
        problems.add(join(path, "milestones"),
                     f"must have one entry fewer than schedules ({len(p['schedules']) - 1}), "
                     f"got {len(p['milestones'])}")
    children = (list(p["schedules"]) if spec.kind == "sequence"
                else [p["then"]] if spec.kind == "warmup" else [])
    for child in children:
        if child.kind == "plateau":
            problems.add(path, "a plateau schedule reacts to validation metrics and can only be "
                               "the top-level schedule or a mid-run edit, not nested")
    if spec.kind == "cyclic" and p["base_lr"] is not None and p["max_lr"] <= p["base_lr"]:
        problems.add(join(path, "max_lr"), f"must be > base_lr ({p['base_lr']}), got {p['max_lr']}")
    if spec.kind == "warmup" and p["mode"] == "exponential" and p["start_factor"] == 0:
        problems.add(join(path, "start_factor"),
                     "must be > 0 with mode 'exponential': the ramp multiplies by a constant factor each "
                     "step and cannot leave 0 (use mode 'linear' to start from zero), got 0")
    if spec.kind == "onecycle" and p["three_phase"] and p["pct_start"] > 0.5:
        problems.add(join(path, "pct_start"),
                     f"must be <= 0.5 with three_phase (two ramps of pct_start each), "
                     f"got {p['pct_start']}")


SCHEDULES = Registry("schedule", "kind", check_extra=_check_nesting)
_BUILDERS: dict[str, type[Schedule]] = {}

POS = Num(gt=0)
NONNEG = Num(ge=0)
STEPS = Duration()  # every length in steps also takes "3ep", "25%" or "run"
FACTOR = Num(gt=0, le=1)
#: the largest learning rate a spec may name anywhere (the optimizer's, a cyclic max_lr, a held LR):
#: with every named LR bounded, only growth factors (gamma, a scale edit) can push a schedule toward
#: overflow, and :data:`MAX_LR` caps those
MAX_NAMED_LR = 1e3
LR = Num(gt=0, le=MAX_NAMED_LR)
LR_FLOOR = Num(ge=0, le=MAX_NAMED_LR)


def schedule_kind(kind: str, *params: Param) -> Callable[[type[Schedule]], type[Schedule]]:
    """Register a Schedule class under ``kind`` with its declared parameters."""

    def register(cls: type[Schedule]) -> type[Schedule]:
        SCHEDULES.register(kind, params, doc=(cls.__doc__ or "").strip())
        _BUILDERS[kind] = cls
        return cls

    return register


def parse_schedule(data: Any, path: str = "schedule") -> Kinded:
    """Validate a schedule spec; raises SpecError naming every bad field."""
    return SCHEDULES.parse(data, path)


def build(spec: Kinded, base_lr: float) -> Schedule:
    """The function ``step -> lr`` that ``spec`` describes, for optimizer LR ``base_lr``.

    Relative durations must be resolved first (:func:`resolve_schedule`): a cosine over
    "run" has no shape until the run's length is known.
    """
    relative = relative_durations(spec)
    if relative:
        raise SpecError([(path, f"{show(value)} is relative to the run; resolve the schedule against "
                                "the run first (resolve_schedule, RunSpec.resolved or preview_timeline)")
                         for path, value in relative])
    return _BUILDERS[spec.kind](base_lr, **spec.params)


class Schedule:
    """A map from a step (int >= 0) to a learning rate. Pure unless ``stateful``.

    ``lr(t)`` is what the training loop calls once per step; :meth:`at` evaluates a whole
    array of steps at once with numpy (as optax's schedules do), so a preview of a
    million-step run costs milliseconds. Both follow the same formula (tests compare them
    at every step, and ``lr(t)`` with torch's schedulers)."""

    stateful = False

    def __call__(self, t: int) -> float:
        raise NotImplementedError

    def at(self, t: np.ndarray) -> np.ndarray:
        """lr at each step of the integer array ``t`` (float64). Subclasses vectorize this."""
        return np.fromiter((self(int(s)) for s in t), dtype=np.float64, count=len(t))


@schedule_kind("constant")
class Constant(Schedule):
    """lr(t) = base"""

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

    def __init__(self, base_lr: float, step_size: int, gamma: float):
        self.base, self.step_size, self.gamma = base_lr, step_size, gamma

    def __call__(self, t: int) -> float:
        return _grown(self.base, self.gamma, t // self.step_size)

    def at(self, t: np.ndarray) -> np.ndarray:
        return _grown_at(self.base, self.gamma, t // self.step_size)


@schedule_kind("multistep",
               Param("milestones", ListOf(STEPS, min_len=1, increasing=True),
                     help="steps at which the LR is multiplied by gamma"),
               Param("gamma", POS, 0.1, "multiplier at each milestone"))
class MultiStep(Schedule):
    """lr(t) = base * gamma ** (number of milestones <= t)   (torch MultiStepLR)"""

    def __init__(self, base_lr: float, milestones: Sequence[int], gamma: float):
        self.base, self.milestones, self.gamma = base_lr, list(milestones), gamma

    def __call__(self, t: int) -> float:
        return _grown(self.base, self.gamma, bisect.bisect_right(self.milestones, t))

    def at(self, t: np.ndarray) -> np.ndarray:
        return _grown_at(self.base, self.gamma, np.searchsorted(self.milestones, t, "right"))


@schedule_kind("exponential", Param("gamma", POS, help="multiplier per step"))
class Exponential(Schedule):
    """lr(t) = base * gamma ** t   (torch ExponentialLR)"""

    def __init__(self, base_lr: float, gamma: float):
        self.base, self.gamma = base_lr, gamma

    def __call__(self, t: int) -> float:
        return _grown(self.base, self.gamma, t)

    def at(self, t: np.ndarray) -> np.ndarray:
        return _grown_at(self.base, self.gamma, t)


#: the largest LR any schedule or timeline gives. A gamma above 1 grows the LR without bound
#: (exponential with gamma 2 passes float's range after about 1,030 steps); past this ceiling every
#: step diverges anyway, so the LR is held here instead of overflowing to inf (previews could not
#: draw it, Python's ``**`` raises OverflowError, and torch refuses an LR beyond float32's 3.4e38).
#: Far above any LR a run could train with, so every schedule still matches torch's up to it.
MAX_LR = 1e30


def _grown(base: float, gamma: float, k: int) -> float:
    """min(base * gamma ** k, MAX_LR) for one exponent, without OverflowError."""
    try:
        return min(base * gamma ** k, MAX_LR)
    except OverflowError:  # gamma ** k beyond float's range: base > 0, so the product is too
        return MAX_LR


def _grown_at(base: float, gamma: float, k: np.ndarray) -> np.ndarray:
    """min(base * gamma ** k, MAX_LR) for an array of exponents (:func:`_grown`, vectorized)."""
    return _capped(base, _power(gamma, k))


def _capped(factor: float, x: np.ndarray) -> np.ndarray:
    """min(factor * x, MAX_LR), where the product may overflow to inf without a warning."""
    with np.errstate(over="ignore"):
        return np.minimum(factor * x, MAX_LR)


def _power(base: float, exponent: np.ndarray) -> np.ndarray:
    """base ** exponent for an array of exponents, overflowing to inf without a warning."""
    with np.errstate(over="ignore", under="ignore"):
        return np.power(float(base), np.asarray(exponent, dtype=np.float64))


def _cosine(base: float, eta_min: float, t: Any, period: Any) -> Any:
    """eta_min + (base - eta_min) * (1 + cos(pi * t / period)) / 2, for numbers or arrays."""
    cos = np.cos if isinstance(t, np.ndarray) else math.cos
    return eta_min + (base - eta_min) * (1 + cos(math.pi * t / period)) / 2


@schedule_kind("cosine", Param("T_max", STEPS, help="steps from base to eta_min"),
               Param("eta_min", LR_FLOOR, 0.0, "lowest LR"))
class Cosine(Schedule):
    """lr(t) = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2
    (torch CosineAnnealingLR; past T_max the cosine rises again, as in torch)"""

    def __init__(self, base_lr: float, T_max: int, eta_min: float):
        self.base, self.T_max, self.eta_min = base_lr, T_max, eta_min

    def __call__(self, t: int) -> float:
        return _cosine(self.base, self.eta_min, t, self.T_max)

    def at(self, t: np.ndarray) -> np.ndarray:
        return _cosine(self.base, self.eta_min, np.asarray(t, dtype=np.float64), self.T_max)


@schedule_kind("cosine_restarts", Param("T_0", STEPS, help="length of the first cycle"),
               Param("T_mult", Num(ge=1, le=1000, integer=True), 1, "each cycle is T_mult times longer"),
               Param("eta_min", LR_FLOOR, 0.0, "lowest LR"))
class CosineRestarts(Schedule):
    """SGDR: cosine cycles that jump back to base; cycle i lasts T_0 * T_mult**i steps.
    lr(t) = eta_min + (base - eta_min) * (1 + cos(pi * t_cur / T_i)) / 2, where t_cur is
    the step within the current cycle and T_i its length (torch CosineAnnealingWarmRestarts)"""

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
        return _cosine(self.base, self.eta_min, t, period)

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
        return _cosine(self.base, self.eta_min, t.astype(np.float64), period.astype(np.float64))


@schedule_kind("linear", Param("start_factor", Num(gt=0, le=1), 1 / 3, "factor at step 0"),
               Param("end_factor", Num(ge=0, le=1), 1.0, "factor from total_iters on"),
               Param("total_iters", STEPS, 5, "steps of the ramp"))
class Linear(Schedule):
    """lr(t) = base * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters)
    (torch LinearLR)"""

    def __init__(self, base_lr: float, start_factor: float, end_factor: float, total_iters: int):
        self.base, self.start, self.end, self.total = base_lr, start_factor, end_factor, total_iters

    def __call__(self, t: int) -> float:
        return self.base * (self.start + (self.end - self.start) * min(t, self.total) / self.total)

    def at(self, t: np.ndarray) -> np.ndarray:
        return self.base * (self.start + (self.end - self.start) * np.minimum(t, self.total) / self.total)


@schedule_kind("polynomial", Param("total_iters", STEPS, 5, "steps until the LR reaches 0"),
               Param("power", POS, 1.0, "1 is linear decay; 2 decays faster at first"))
class Polynomial(Schedule):
    """lr(t) = base * (1 - min(t, total_iters) / total_iters) ** power   (torch PolynomialLR)"""

    def __init__(self, base_lr: float, total_iters: int, power: float):
        self.base, self.total, self.power = base_lr, total_iters, power

    def __call__(self, t: int) -> float:
        return self.base * (1 - min(t, self.total) / self.total) ** self.power

    def at(self, t: np.ndarray) -> np.ndarray:
        return self.base * (1 - np.minimum(t, self.total) / self.total) ** self.power


def _anneal(start: float, end: float, pct: Any, strategy: str) -> Any:
    if strategy == "cos":
        cos = np.cos if isinstance(pct, np.ndarray) else math.cos
        return end + (start - end) / 2.0 * (cos(math.pi * pct) + 1)
    return (end - start) * pct + start


@schedule_kind("onecycle",
               Param("max_lr", Optional(LR), None, "peak LR; null uses the optimizer's LR"),
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


@schedule_kind("cyclic",
               Param("base_lr", Optional(LR), None, "lower bound; null uses the optimizer's LR"),
               Param("max_lr", LR, help="upper bound"),
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
        s = np.where(x <= self.ratio, x / self.ratio, (x - 1) / (self.ratio - 1))
        if self.mode == "triangular":
            scale = np.ones(len(t))
        elif self.mode == "triangular2":
            scale = np.ldexp(1.0, -(cycle - 1).astype(np.int64))
        else:
            scale = _power(self.gamma, t)
        return self.low + (self.high - self.low) * s * scale


@schedule_kind("inverse_sqrt", Param("warmup_steps", STEPS, 1000, "steps of linear warmup"))
class InverseSqrt(Schedule):
    """Linear warmup, then decay with the inverse square root of the step (Transformer style):
    lr(t) = base * min((t + 1) / warmup_steps, sqrt(warmup_steps / (t + 1)))"""

    def __init__(self, base_lr: float, warmup_steps: int):
        self.base, self.warmup = base_lr, warmup_steps

    def __call__(self, t: int) -> float:
        n = t + 1
        return self.base * min(n / self.warmup, math.sqrt(self.warmup / n))

    def at(self, t: np.ndarray) -> np.ndarray:
        n = np.asarray(t, dtype=np.float64) + 1
        return self.base * np.minimum(n / self.warmup, np.sqrt(self.warmup / n))


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


@schedule_kind("sequence",
               Param("schedules", ListOf(SCHEDULES, min_len=1), help="schedules, in order"),
               Param("milestones", ListOf(STEPS, increasing=True), [],
                     "steps at which the next schedule starts (one fewer than schedules)"))
class Sequence_(Schedule):
    """Schedules one after another: between milestones m[i-1] <= t < m[i] (m[-1] = 0),
    lr(t) = schedules[i](t - m[i-1])   (torch SequentialLR)"""

    def __init__(self, base_lr: float, schedules: Sequence[Kinded], milestones: Sequence[int]):
        self.parts = [build(s, base_lr) for s in schedules]
        self.starts = [0, *milestones]

    def __call__(self, t: int) -> float:
        i = bisect.bisect_right(self.starts, t) - 1
        return min(self.parts[i](t - self.starts[i]), MAX_LR)  # as _pieces

    def at(self, t: np.ndarray) -> np.ndarray:
        return _pieces(np.asarray(t, dtype=np.int64), self.starts,
                       [(part, start, 1.0) for part, start in zip(self.parts, self.starts, strict=True)])


def _pieces(t: np.ndarray, starts: Sequence[int], pieces: Sequence[tuple[Schedule, int, float]]) -> np.ndarray:
    """Piecewise evaluation: where starts[i] <= t < starts[i+1], factor_i * schedule_i(t - origin_i)."""
    out = np.empty(len(t))
    which = np.searchsorted(starts, t, "right") - 1
    for i, (fn, origin, factor) in enumerate(pieces):
        mask = which == i
        if mask.any():
            out[mask] = _capped(factor, fn.at(t[mask] - origin))
    return out


@schedule_kind("plateau",
               Param("monitor", Choice(("val_loss", "val_metric")), "val_loss",
                     "validation value to watch"),
               Param("mode", Choice(("min", "max")), "min", "min: lower is better"),
               Param("factor", Num(gt=0, lt=1), 0.1, "multiplier at each reduction"),
               Param("patience", Num(ge=0, integer=True), 10,
                     "evaluations without improvement before reducing"),
               Param("threshold", NONNEG, 1e-4, "how much better counts as better"),
               Param("threshold_mode", Choice(("rel", "abs")), "rel", "threshold is relative or absolute"),
               Param("cooldown", Num(ge=0, integer=True), 0, "evaluations to wait after a reduction"),
               Param("min_lr", LR_FLOOR, 0.0, "never reduce below this"),
               Param("eps", NONNEG, 1e-8, "skip reductions smaller than this"))
class Plateau(Schedule):
    """Reduce on plateau: constant at base, multiplied by factor (not below min_lr) whenever the
    monitored validation value has not improved for more than `patience` evaluations.
    Better means  a < best * (1 - threshold)  (min, rel),  a < best - threshold  (min, abs),
    and the mirror images for max. Stateful: :meth:`observe` feeds it each evaluation; the
    LR at a step is a pure function of the evaluations observed before it, so a replay that
    reproduces the metrics reproduces every decision   (torch ReduceLROnPlateau)."""

    stateful = True

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


def values(fn: Callable[[int], float], start: int, stop: int) -> np.ndarray:
    """``fn`` at every step in ``range(start, stop)``, as float64: what previews plot.
    Schedules and timelines are evaluated as arrays; any other callable step by step."""
    steps = np.arange(start, max(start, stop), dtype=np.int64)
    at = getattr(fn, "at", None)
    if at is not None:
        return at(steps)
    return np.fromiter((fn(int(t)) for t in steps), dtype=np.float64, count=len(steps))


# ---------------------------------------------------------------------------------------
# Durations relative to the run
# ---------------------------------------------------------------------------------------


def resolve_duration(value: int | str, total_steps: int, steps_per_epoch: int, start: int = 0) -> int:
    """Whole steps for a duration of a schedule that starts at global step ``start``.

    ``n`` -> n;  ``"Nep"`` -> N * steps_per_epoch;  ``"P%"`` -> P / 100 * total_steps;
    ``"run"`` -> total_steps - start (what is left of the run). Fractions round half up;
    the result is at least 1, since every duration divides something.
    """
    if not is_relative(value):
        return int(value)
    text = str(value)
    if text == "run":
        steps = float(total_steps - start)
    elif text.endswith("ep"):
        steps = float(text[:-2]) * steps_per_epoch
    else:
        steps = float(text[:-1]) / 100 * total_steps
    return max(1, math.floor(steps + 0.5))


def _duration_fields(kind: str) -> list[tuple[str, bool]]:
    """(name, is a list) of the duration parameters of a schedule kind, from its declaration."""
    out = []
    for p in SCHEDULES.params_of(kind):
        check = p.check.inner if isinstance(p.check, Optional) else p.check
        if isinstance(check, Duration):
            out.append((p.name, False))
        elif isinstance(check, ListOf) and isinstance(check.item, Duration):
            out.append((p.name, True))
    return out


def _children(data: dict[str, Any], start: int) -> list[tuple[str, int | None, int]]:
    """(field, list index or None, global start step) of the schedules nested in a resolved
    ``data``: warmup's ``then`` starts after the ramp, sequence part i at milestone i - 1."""
    if data["kind"] == "warmup":
        return [("then", None, start + data["warmup_steps"])]
    if data["kind"] == "sequence":
        starts = [0, *data["milestones"]]
        return [("schedules", i, start + starts[min(i, len(starts) - 1)]) for i in range(len(data["schedules"]))]
    return []


def _child(data: dict[str, Any], field: str, index: int | None) -> dict[str, Any]:
    return data[field] if index is None else data[field][index]


def _resolve_json(data: dict[str, Any], total_steps: int, steps_per_epoch: int, start: int) -> dict[str, Any]:
    out = dict(data)
    for name, is_list in _duration_fields(out["kind"]):
        value = out[name]
        if value is None:
            continue
        out[name] = ([resolve_duration(v, total_steps, steps_per_epoch, start) for v in value] if is_list
                     else resolve_duration(value, total_steps, steps_per_epoch, start))
    for field, index, child_start in _children(out, start):
        resolved = _resolve_json(_child(out, field, index), total_steps, steps_per_epoch, child_start)
        if index is None:
            out[field] = resolved
        else:
            out[field] = [resolved if i == index else c for i, c in enumerate(out[field])]
    return out


def relative_durations(spec: Kinded, path: str = "schedule") -> list[tuple[str, Any]]:
    """(field path, value) of every duration in ``spec`` still written relative to the run."""
    return _relative_json(spec.to_json(), path)


def _relative_json(data: dict[str, Any], path: str) -> list[tuple[str, Any]]:
    found = []
    for name, is_list in _duration_fields(data["kind"]):
        value = data[name]
        items = enumerate(value) if is_list else [(None, value)]
        found += [(join(join(path, name), i) if i is not None else join(path, name), v)
                  for i, v in items if is_relative(v)]
    nested = ([("then", None)] if data["kind"] == "warmup" else
              [("schedules", i) for i in range(len(data["schedules"]))] if data["kind"] == "sequence" else [])
    for field, index in nested:
        where = join(path, field) if index is None else join(join(path, field), index)
        found += _relative_json(_child(data, field, index), where)
    return found


def resolve_schedule(spec: Kinded, total_steps: int, steps_per_epoch: int, path: str = "schedule") -> Kinded:
    """``spec`` with every relative duration turned into whole steps for a run of
    ``total_steps`` steps with ``steps_per_epoch`` steps per epoch (see :func:`resolve_duration`;
    a nested schedule's "run" is what is left after it starts). Pure; a spec without
    relative durations comes back as it is. Raises SpecError when the resolved values break
    a rule (milestones that are no longer increasing)."""
    if not relative_durations(spec):
        return spec
    data = _resolve_json(spec.to_json(), max(1, total_steps), max(1, steps_per_epoch), 0)
    return SCHEDULES.parse(data, path)


def duration_warnings(written: Kinded, total_steps: int, steps_per_epoch: int,
                      path: str = "schedule") -> list[str]:
    """Where a schedule's durations do not fit a run of ``total_steps`` steps: a cosine that
    climbs back up before the run ends, a one-cycle that ends early, a decay that never happens.
    ``written`` is the spec as the user wrote it (relative forms are named in the message)."""
    resolved = resolve_schedule(written, total_steps, steps_per_epoch, path).to_json()
    return _warnings(written.to_json(), resolved, 0, total_steps, total_steps, path,
                     f"the run has {total_steps:,} steps")


def _warnings(written: dict[str, Any], data: dict[str, Any], start: int, end: int, total: int, path: str,
              has: str) -> list[str]:
    """Warnings for a schedule that governs global steps start..end-1 (``has`` says so in words)."""
    kind, remaining = data["kind"], max(end - start, 0)
    out: list[str] = []

    def name(field: str) -> str:
        value = written.get(field)
        shown = f" ({show(value)})" if is_relative(value) else ""
        return f"{join(path, field)}{shown} is {data[field]:,} steps"

    follow = 'use "run" to follow the run' if end == total else f"use {remaining} to end at the next milestone"
    if kind == "cosine":
        n = data["T_max"]
        if n < remaining:
            out.append(f"{name('T_max')} but {has}: after {n:,} of them the cosine climbs back up, "
                       f"sweeping between its peak and eta_min {remaining // n} times instead of decaying once; "
                       f"{follow}")
        elif n > remaining:
            out.append(f"{name('T_max')} but {has}: the run ends {remaining / n:.0%} of the way through the "
                       f"decay, with the LR still far from eta_min; {follow}")
    elif kind == "onecycle":
        n = data["total_steps"]
        if n < remaining:
            out.append(f"{name('total_steps')} but {has}: the cycle is over after {n:,} of them and the LR "
                       f"stays at its final value for the last {remaining - n:,} steps; {follow}")
        elif n > remaining:
            out.append(f"{name('total_steps')} but {has}: the run ends {remaining / n:.0%} of the way through "
                       f"the cycle, before the LR has annealed; {follow}")
    elif kind == "polynomial":
        n = data["total_iters"]
        if n < remaining:
            out.append(f"{name('total_iters')} but {has}: the LR reaches 0 after {n:,} of them, so "
                       f"the last {remaining - n:,} steps do not train; {follow}")
        elif n > remaining:
            out.append(f"{name('total_iters')} but {has}: the run ends {remaining / n:.0%} of the way through "
                       f"the decay, before the LR reaches 0; {follow}")
    elif kind == "linear" and data["total_iters"] > remaining:
        out.append(f"{name('total_iters')} but {has}: the run ends {remaining / data['total_iters']:.0%} of "
                   f"the way through the ramp; {follow}")
    elif kind == "step" and data["step_size"] >= remaining:
        out.append(f"{name('step_size')} but {has}: the LR never decays; use fewer steps or a share of "
                   'the run such as "25%"')
    elif kind == "multistep":
        late = [m for m in data["milestones"] if m >= remaining]
        if late:
            out.append(f"{join(path, 'milestones')} {', '.join(f'{m:,}' for m in late)} "
                       f"{'is' if len(late) == 1 else 'are'} not before the end ({has}): "
                       f"{'that decay never happens' if len(late) == 1 else 'those decays never happen'}")
    elif kind in ("warmup", "inverse_sqrt") and data["warmup_steps"] >= remaining:
        out.append(f"{name('warmup_steps')} but {has}: the run ends during the warmup")
    elif kind == "cyclic":
        up = data["step_size_up"]
        cycle = up + (up if data["step_size_down"] is None else data["step_size_down"])
        if cycle > remaining:
            out.append(f"{join(path, 'step_size_up')} + step_size_down is {cycle:,} steps but {has}: the run "
                       "ends before one full cycle")
    elif kind == "cosine_restarts":
        ends, length = [data["T_0"]], data["T_0"]
        while ends[-1] < remaining:
            length *= data["T_mult"]
            ends.append(ends[-1] + length)
        if ends[-1] != remaining:
            begin = ends[-2] if len(ends) > 1 else 0
            shown = ", ".join(f"{e:,}" for e in ends[:4]) + (", ..." if len(ends) > 4 else "")
            out.append(f"{name('T_0')} but {has}: cycles end at steps {shown}, so the run ends "
                       f"{(remaining - begin) / (ends[-1] - begin):.0%} into cycle {len(ends)}, with the LR "
                       "still high; choose T_0 (and T_mult) so that a cycle ends with the run")
    elif kind == "sequence":
        for i, m in enumerate(data["milestones"]):
            if m >= remaining:
                out.append(f"{join(path, 'milestones')}[{i}] is step {m:,} but {has}: "
                           f"schedules[{i + 1}] never starts")
    children = _children(data, start)
    for i, (field, index, child_start) in enumerate(children):
        child_end = min(end, children[i + 1][2]) if i + 1 < len(children) else end
        if child_start >= child_end:
            continue  # it never runs: said above
        if child_start == start and child_end == end:
            child_has = has
        elif kind == "warmup" and child_end == total:
            child_has = f"the run has {child_end - child_start:,} steps after warmup"
        else:
            child_has = f"it runs for {child_end - child_start:,} steps ({child_start:,} to {child_end - 1:,})"
        where = join(path, field) if index is None else join(join(path, field), index)
        out += _warnings(_child(written, field, index), _child(data, field, index), child_start, child_end,
                         total, where, child_has)
    return out


# ---------------------------------------------------------------------------------------
# Edits and the run's timeline
# ---------------------------------------------------------------------------------------

EDITS = Registry("edit", "kind")
EDITS.register("scale", [Param("factor", POS, help="multiply the LR from here on")],
               "Multiply the LR from this step on (the schedule keeps its shape).")
EDITS.register("hold", [Param("lr", LR, help="the constant LR from here on")],
               "Hold a constant LR from this step on.")
EDITS.register("schedule", [
    Param("schedule", SCHEDULES, help="the new schedule"),
    Param("time", Choice(("local", "global")), "local",
          "local: the new schedule's step 0 is this step; global: it sees the run's step"),
    Param("lr", Optional(LR), None, "base LR for the new schedule; null: the run's LR"),
], "Switch to a new schedule from this step on.")
EDITS.register("params", [Param("params", AnyObject(), help="fields of the current schedule")],
               "Change parameters of the current schedule, keeping its clock and any scaling.")
EDITS.register("optimizer", [
    Param("momentum", Optional(NONNEG), None, "SGD/RMSprop momentum"),
    Param("weight_decay", Optional(NONNEG), None, "L2 penalty / decoupled decay"),
    Param("betas", Optional(ListOf(Num(ge=0, lt=1), 2, 2)), None, "Adam's (beta1, beta2)"),
    Param("dampening", Optional(NONNEG), None, "SGD dampening"),
    Param("alpha", Optional(Num(ge=0, lt=1)), None, "RMSprop smoothing constant"),
    Param("eps", Optional(POS), None, "term added for numerical stability"),
], "Change optimizer hyperparameters from this step on.")


def parse_edit(data: Any, path: str = "edit") -> Kinded:
    return EDITS.parse(data, path)


def describe_edit(edit: Mapping[str, Any]) -> str:
    """An edit (JSON, as sessions store it) in a few words: "hold LR 0.5", "LR x0.1",
    "new schedule cosine (T_max 40)": for event lists and "what differs" tables."""
    def fields(items: Mapping[str, Any]) -> str:
        return ", ".join(f"{k} {_short(v)}" for k, v in items.items() if v is not None)

    kind = edit.get("kind")
    if kind == "scale":
        return f"LR x{_short(edit['factor'])}"
    if kind == "hold":
        return f"hold LR {_short(edit['lr'])}"
    if kind == "schedule":
        new = dict(edit["schedule"])
        text = f"new schedule {new.pop('kind', '?')}" + (f" ({fields(new)})" if new else "")
        extra = {"time": "global"} if edit.get("time") == "global" else {}
        if edit.get("lr") is not None:
            extra["base LR"] = edit["lr"]
        return text + (f", {fields(extra)}" if extra else "")
    if kind == "params":
        return f"schedule {fields(edit['params'])}"
    if kind == "optimizer":
        return f"optimizer {fields({k: v for k, v in edit.items() if k != 'kind'})}"
    return str(kind)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, dict) else str(value)


@dataclass(frozen=True)
class Segment:
    """From ``start`` on: lr(t) = factor * fn(t - origin). ``spec`` describes ``fn``."""

    start: int
    fn: Schedule
    origin: int
    factor: float
    spec: Kinded
    base_lr: float

    def __call__(self, t: int) -> float:
        return min(self.factor * self.fn(t - self.origin), MAX_LR)


def _whole_steps_only(spec: Kinded, path: str) -> None:
    """A timeline does not know the run's length, so edits give durations in steps."""
    relative = relative_durations(spec, path)
    if relative:
        raise SpecError([(where, f"a mid-run edit takes whole steps, got {show(value)}")
                         for where, value in relative])


class Timeline:
    """The LR of a whole run as a function of the global step.

    It starts as the run's schedule and grows by one :class:`Segment` per LR edit
    (``scale``, ``hold``, ``schedule``, ``params``); edits never change the past.
    ``optimizer`` edits do not touch the LR and are ignored here.
    """

    def __init__(self, schedule: Kinded, base_lr: float):
        self.segments = [Segment(0, build(schedule, base_lr), 0, 1.0, schedule, base_lr)]
        self._starts = [0]
        self.base_lr = base_lr

    @classmethod
    def from_events(cls, schedule: Kinded, base_lr: float, events: Iterable[Any] = ()) -> Timeline:
        """The LR of a run as its events describe it: each ``edit`` appends its segment and each
        ``plateau`` reduction is the decision the trainer recorded. This is the one way to know
        a run's past and planned LR from outside the trainer (the GUI's planned curve, the edit
        panel's ghost and "hold" prefill, ``lrlab schedule`` of a session); other events are
        ignored. ``events`` are :class:`lrlab.core.events.Event`-like (step, kind, data)."""
        timeline = cls(schedule, base_lr)
        for ev in events:
            if ev.kind == "edit":
                timeline.apply(ev.step, parse_edit(ev.data["edit"]))
            elif ev.kind == "plateau":
                timeline.reduce_from(ev.step, float(ev.data["lr"]))
        return timeline

    def __call__(self, t: int) -> float:
        return self.segments[bisect.bisect_right(self._starts, t) - 1](t)

    def copy(self) -> Timeline:
        """A timeline to try an edit on (segments are immutable and shared)."""
        other = Timeline.__new__(Timeline)
        other.segments, other._starts, other.base_lr = list(self.segments), list(self._starts), self.base_lr
        return other

    def values(self, start: int, stop: int) -> np.ndarray:
        return values(self, start, stop)

    def sample(self, start: int, stop: int, points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
        """(steps, lrs) for a preview of steps start..stop-1: every step when there are at most
        ten times ``points`` of them, else ``points`` evenly spread ones (a plot needs no more)."""
        n = max(stop - start, 0)
        steps = start + (np.arange(n) if n <= points * 10 else
                         np.unique(np.linspace(0, n - 1, points).astype(np.int64)))
        return steps, self.at(steps)

    def at(self, steps: np.ndarray) -> np.ndarray:
        """The LR at each global step of an integer array, segment by segment, vectorized."""
        return _pieces(np.asarray(steps, dtype=np.int64), self._starts,
                       [(seg.fn, seg.origin, seg.factor) for seg in self.segments])

    @property
    def current(self) -> Segment:
        return self.segments[-1]

    def apply(self, step: int, edit: Kinded) -> bool:
        """Append the segment for ``edit`` from ``step`` on; False for non-LR edits.

        Raises SpecError when the edit does not fit (a step in the past, parameters the
        current schedule does not have).
        """
        if edit.kind == "optimizer":
            return False
        last = self.current
        if step < last.start:
            raise SpecError([("step", f"must be >= {last.start} (the last edit's step); "
                                      f"edits cannot change the past, got {step}")])
        p = edit.params
        if edit.kind == "scale":
            seg = Segment(step, last.fn, last.origin, last.factor * p["factor"], last.spec,
                          last.base_lr)
        elif edit.kind == "hold":
            const = SCHEDULES.parse({"kind": "constant"})
            seg = Segment(step, Constant(p["lr"]), step, 1.0, const, p["lr"])
        elif edit.kind == "schedule":
            base = self.base_lr if p["lr"] is None else p["lr"]
            origin = step if p["time"] == "local" else 0
            _whole_steps_only(p["schedule"], "edit.schedule")
            seg = Segment(step, build(p["schedule"], base), origin, 1.0, p["schedule"], base)
        else:  # params: same clock, same scaling, new parameters
            try:
                spec = last.spec.replace(**p["params"])
            except SpecError as err:
                raise SpecError([(join("edit.params", path) if path else "edit.params", msg)
                                 for path, msg in err.problems]) from None
            _whole_steps_only(spec, "edit.params")
            seg = Segment(step, build(spec, last.base_lr), last.origin, last.factor, spec,
                          last.base_lr)
        self.segments.append(seg)
        self._starts.append(step)
        return True

    def reduce_from(self, step: int, lr: float) -> None:
        """Replay a recorded plateau reduction: the LR is ``lr`` from ``step`` on (until the next
        edit). The active segment must be a plateau schedule."""
        seg = self.segments[bisect.bisect_right(self._starts, step) - 1]
        if not seg.fn.stateful:
            raise SpecError([("events", f"a plateau reduction at step {step}, but the schedule there is "
                                        f"{seg.spec.kind!r}")])
        seg.fn.set_from(step - seg.origin, lr / seg.factor)  # type: ignore[attr-defined]

    def state(self) -> list[dict[str, Any] | None]:
        """The memory of each segment's stateful schedule (a plateau's), None for pure ones: with the
        edits that built the segments, all a snapshot needs to continue this timeline."""
        return [seg.fn.state() if seg.fn.stateful else None for seg in self.segments]  # type: ignore[attr-defined]

    def set_state(self, states: Sequence[Any]) -> None:
        """Continue from a :meth:`state` of a timeline built by the same edits (ValueError if not)."""
        if not isinstance(states, (list, tuple)) or len(states) != len(self.segments):
            raise ValueError(f"the timeline has {len(self.segments)} segments, the state describes "
                             f"{len(states) if isinstance(states, (list, tuple)) else 'none'}")
        for seg, state in zip(self.segments, states, strict=True):
            if seg.fn.stateful != (state is not None):
                raise ValueError(f"segment from step {seg.start}: state does not fit a {seg.spec.kind} schedule")
            if state is not None:
                seg.fn.set_state(state)  # type: ignore[attr-defined]

    def observe(self, step: int, name: str, value: float) -> float | None:
        """Feed an evaluation made after ``step - 1`` to a plateau schedule, if one is active.

        Returns the new LR if the plateau schedule reduces it from ``step`` on.
        """
        seg = self.segments[bisect.bisect_right(self._starts, step) - 1]
        if not seg.fn.stateful or seg.fn.monitor != name:  # type: ignore[attr-defined]
            return None
        reduced = seg.fn.observe(value, step - seg.origin)  # type: ignore[attr-defined]
        return None if reduced is None else seg.factor * reduced
