"""The auto-tuning showdown, declared: its methods, its inputs and the spec each method trains
(AlgoPerf's self-tuning track is the model). No torch, and numpy only once a spec is built, so ``lrlab autotune --help``
and the window's inline checks stay instant; the figures read from the runs are in
:mod:`lrlab.core.features.showdown`, the runs in :mod:`lrlab.core.runs.showdown`.

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

"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lrlab.core.decl.metrics import VAL_LOSS, VAL_METRIC
from lrlab.core.decl.params import SpecError, did_you_mean

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

    def reached(self, values: Any) -> Any:
        """Element-wise: which of ``values`` (a number or a numpy array) reached the target."""
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
    from lrlab.core.decl.spec import apply_changes  # not at the top: it loads numpy, and --help must not

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
