"""The auto-tuning showdown without torch: its methods, its inputs, the spec each method trains,
and the figures read from the runs (AlgoPerf's self-tuning track is the model).

Under one step budget and the same seeds, each method trains the experiment its own way:

1. ``given``: the spec as given, for ``budget`` steps;
2. ``range-cosine``: an LR range test of ``RANGE_TEST_STEPS`` steps, then cosine annealing to 0
   from its ``steepest`` suggestion for the rest of the budget;
3. ``range-onecycle``: the same range test, then one-cycle peaking at that suggestion;
4. ``prodigy``: Prodigy at its defaults (lr 1: it estimates its own step), constant;
5. ``schedulefree``: Schedule-Free AdamW at its defaults, no schedule;
6. ``pbt``: population-based training of ``PBT_POPULATION`` members with the same total
   compute: each member trains ``budget / population`` steps.

**Same compute.** A step is one optimizer step of one model on one batch. The range test's
steps are part of its methods' budget (they train ``budget - RANGE_TEST_STEPS`` steps after it),
and its wall time is part of theirs; a PBT member's step counts ``population`` times less, so
its curves are drawn against ``step x population`` (the compute spent by then).

**Figures**, per method: the median over seeds of the final validation metric, of the steps to
the target (the compute spent when a validation first reached it; a seed that never does counts
as never, and the median is None when half or more never do), and of the wall time; the spread
is the lowest and highest final metric over the seeds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrlab.core.decl.metrics import VAL_LOSS, VAL_METRIC
from lrlab.core.decl.params import SpecError, did_you_mean
from lrlab.core.decl.spec import apply_changes

#: steps of the range test that methods 2 and 3 run first (part of their budget)
RANGE_TEST_STEPS = 100
#: members of method 6's population; each trains budget / PBT_POPULATION steps
PBT_POPULATION = 4
#: PBT exploit/explore decisions per member run
PBT_DECISIONS = 6


@dataclass(frozen=True)
class Method:
    name: str
    title: str
    range_test: bool = False


METHODS: tuple[Method, ...] = (
    Method("given", "the spec as given"),
    Method("range-cosine", "range test, then cosine from its steepest LR", range_test=True),
    Method("range-onecycle", "range test, then one-cycle peaking at its steepest LR", range_test=True),
    Method("prodigy", "Prodigy (LR-free), constant"),
    Method("schedulefree", "Schedule-Free AdamW, no schedule"),
    Method("pbt", f"population-based training, {PBT_POPULATION} members, same total compute"),
)
NAMES = tuple(m.name for m in METHODS)
BY_NAME = {m.name: m for m in METHODS}
#: targets a showdown can count steps to: the validation columns, each with its better direction
TARGETS = {VAL_METRIC.name: VAL_METRIC.best, VAL_LOSS.name: VAL_LOSS.best}


def parse_methods(value: str | Iterable[str] | None, field_name: str = "--methods") -> list[str]:
    """The methods to run, in the showdown's order, from ``"given,prodigy"`` or a list (None:
    all six); SpecError naming the unknown one and the allowed names."""
    if value is None:
        return list(NAMES)
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v) for v in value]
    items = [v for v in items if v]
    if not items:
        raise SpecError([(field_name, f"names no method (one or more of: {', '.join(NAMES)})")])
    for item in items:
        if item not in BY_NAME:
            hint = did_you_mean(item, NAMES)
            raise SpecError([(field_name, f"unknown method {item!r}{hint} (one or more of: {', '.join(NAMES)})")])
    return [n for n in NAMES if n in items]


@dataclass(frozen=True)
class Target:
    """``val_metric >= 0.97`` or ``val_loss <= 0.1``: when a run counts as arrived."""

    name: str
    value: float

    @property
    def higher_is_better(self) -> bool:
        return TARGETS[self.name] == "max"

    def reached(self, values: np.ndarray) -> np.ndarray:
        return values >= self.value if self.higher_is_better else values <= self.value

    def __str__(self) -> str:
        return f"{self.name} {'>=' if self.higher_is_better else '<='} {self.value:g}"


def parse_target(text: str, field_name: str = "--target") -> Target:
    """``"val_metric=0.97"`` -> Target; SpecError naming what is allowed."""
    name, sep, number = str(text).partition("=")
    name = name.strip()
    if not sep or name not in TARGETS:
        raise SpecError([(field_name, f"must be NAME=VALUE with NAME one of {', '.join(TARGETS)}, got {text!r}")])
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise SpecError([(field_name, f"the value must be a finite number, got {number!r}")])
    return Target(name, value)


def check_budget(budget: int, methods: Sequence[str], field_name: str = "--budget") -> None:
    """SpecError when the budget cannot hold a method: a budget of at most the range test's
    steps leaves its methods nothing to train; PBT needs a few steps per decision and member."""
    if type(budget) is not int or budget < 1:
        raise SpecError([(field_name, f"must be a whole number of steps >= 1, got {budget!r}")])
    ranged = [m for m in methods if BY_NAME[m].range_test]
    if ranged and budget <= RANGE_TEST_STEPS:
        raise SpecError([(field_name, f"{budget} steps is not longer than the range test's {RANGE_TEST_STEPS} "
                                      f"steps ({', '.join(ranged)} train after it): give at least "
                                      f"{RANGE_TEST_STEPS + 1}, or leave those methods out")])
    if "pbt" in methods and budget < PBT_POPULATION * PBT_DECISIONS * 2:
        raise SpecError([(field_name, f"{budget} steps is too short for pbt ({PBT_POPULATION} members, "
                                      f"{PBT_DECISIONS} decisions each): give at least "
                                      f"{PBT_POPULATION * PBT_DECISIONS * 2}, or leave pbt out")])


def pbt_plan(budget: int) -> tuple[int, int]:
    """(steps per member, interval between decisions) of method 6 under ``budget``."""
    steps = budget // PBT_POPULATION
    return steps, max(1, steps // PBT_DECISIONS)


def method_spec(spec_json: Mapping[str, Any], method: str, budget: int, seed: int,
                lr: float | None = None) -> dict[str, Any]:
    """The run spec JSON that ``method`` trains (``lr``: the range test's suggestion, for the
    methods that follow one), with ``steps`` set from the budget and the seed set; not validated
    (the run validates it). PBT's is the spec it starts its population from."""
    base: dict[str, Any] = {"steps": budget, "seed": seed}
    if method == "given":
        return apply_changes(spec_json, base)
    if method in ("range-cosine", "range-onecycle"):
        base["steps"] = budget - RANGE_TEST_STEPS
        schedule = ({"kind": "cosine", "T_max": "run", "eta_min": 0.0} if method == "range-cosine"
                    else {"kind": "onecycle", "max_lr": lr, "total_steps": "run"})
        return apply_changes(spec_json, {**base, "optimizer.lr": lr, "schedule": schedule})
    if method == "prodigy":
        return apply_changes(spec_json, {**base, "optimizer": {"name": "prodigy"}, "schedule": {"kind": "constant"}})
    if method == "schedulefree":
        return apply_changes(spec_json, {**base, "optimizer": {"name": "schedulefree_adamw"},
                                         "schedule": {"kind": "constant"}})
    if method == "pbt":
        return apply_changes(spec_json, {**base, "steps": pbt_plan(budget)[0]})
    raise SpecError([("method", f"unknown method {method!r}")])


# --- the figures ----------------------------------------------------------------------------------


def best_so_far(values: Sequence[float] | np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """The best value up to each point (NaN, a diverged evaluation, never counts as best)."""
    v = np.asarray(values, dtype=np.float64)
    v = np.where(np.isfinite(v), v, -np.inf if higher_is_better else np.inf)
    out = np.maximum.accumulate(v) if higher_is_better else np.minimum.accumulate(v)
    return np.where(np.isfinite(out), out, np.nan)


def steps_to_target(steps: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray,
                    target: Target) -> int | None:
    """The compute (``steps``, already counted as the showdown counts them) at the first value
    that reached ``target``; None if none did."""
    v = np.asarray(values, dtype=np.float64)
    hit = np.flatnonzero(target.reached(np.where(np.isfinite(v), v, np.nan)) & np.isfinite(v))
    return int(np.asarray(steps)[hit[0]]) if len(hit) else None


@dataclass
class SeedRun:
    """One method's run for one seed: its figures, its sessions and its curves (x in compute steps)."""

    seed: int
    final_val_metric: float | None
    steps_to_target: int | None
    wall_s: float
    sessions: list[str]
    eval_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eval_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lr_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lrs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    note: str = ""


@dataclass
class MethodResult:
    """A method's runs over the seeds, or why it could not run (``unavailable``)."""

    name: str
    runs: list[SeedRun] = field(default_factory=list)
    unavailable: str | None = None

    @property
    def title(self) -> str:
        return BY_NAME[self.name].title

    def final_val_metric(self) -> float | None:
        return _median([r.final_val_metric for r in self.runs])

    def steps_to_target(self) -> int | None:
        """Median over seeds with "never" counted as infinitely many steps (None when the median is never)."""
        if not self.runs:
            return None
        m = float(np.median([math.inf if r.steps_to_target is None else r.steps_to_target for r in self.runs]))
        return round(m) if math.isfinite(m) else None

    def wall_s(self) -> float | None:
        return _median([r.wall_s for r in self.runs])

    def spread(self) -> list[float] | None:
        finals = [r.final_val_metric for r in self.runs if r.final_val_metric is not None]
        return [min(finals), max(finals)] if finals else None

    def to_json(self) -> dict[str, Any]:
        """The method's line of ``lrlab autotune --json``."""
        out: dict[str, Any] = {"name": self.name, "title": self.title, "final_val_metric": self.final_val_metric(),
                               "steps_to_target": self.steps_to_target(), "wall_s": self.wall_s(),
                               "spread": self.spread(), "sessions": [s for r in self.runs for s in r.sessions],
                               "seeds": [{"seed": r.seed, "final_val_metric": r.final_val_metric,
                                          "steps_to_target": r.steps_to_target, "wall_s": r.wall_s,
                                          **({"note": r.note} if r.note else {})} for r in self.runs]}
        if self.unavailable:
            out["unavailable"] = self.unavailable
        return out

    def best_curve(self, higher_is_better: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The median over seeds of the best-so-far metric, on the first seed's evaluation steps."""
        if not self.runs or not len(self.runs[0].eval_steps):
            return np.zeros(0), np.zeros(0)
        x = self.runs[0].eval_steps
        curves = [np.interp(x, r.eval_steps, best_so_far(r.eval_values, higher_is_better))
                  for r in self.runs if len(r.eval_steps)]
        return x, np.median(np.vstack(curves), axis=0)


def _median(values: Iterable[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(finite)) if finite else None


def to_json(budget: int, seeds: Sequence[int], target: Target, results: Sequence[MethodResult],
            folder: str) -> dict[str, Any]:
    """What ``lrlab autotune --json`` prints (and ``showdown.json`` in the folder holds)."""
    return {"budget": budget, "seeds": list(seeds), "target": str(target), "folder": folder,
            "methods": [r.to_json() for r in results]}


def format_table(results: Sequence[MethodResult], target: Target) -> str:
    """The showdown's table, one line per method: medians over the seeds and the spread."""
    head = f"{'method':<15} {'final val':>9} {'spread':>13} {'steps to target':>15} {'wall s':>7}  how"
    lines = [head, f"{'':<15} {'':>9} {'':>13} {f'({target})':>15}"]
    for r in results:
        if r.unavailable:
            lines.append(f"{r.name:<15} {'-':>9} {'':>13} {'-':>15} {'-':>7}  unavailable: {r.unavailable}")
            continue
        final, spread, stt, wall = r.final_val_metric(), r.spread(), r.steps_to_target(), r.wall_s()
        lines.append(f"{r.name:<15} {_cell(final):>9} "
                     f"{(f'{spread[0]:.3f}-{spread[1]:.3f}' if spread else '-'):>13} "
                     f"{('never' if stt is None else f'{stt:,}'):>15} {_cell(wall, '.1f'):>7}  {r.title}")
    return "\n".join(lines)


def _cell(value: float | None, fmt: str = ".4f") -> str:
    return "-" if value is None else format(value, fmt)
