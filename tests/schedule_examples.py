"""Every schedule kind's test examples, read from the kinds' declarations (``examples``).

The per-kind tests (torch parity, round trips, extreme parameters, durations, the CLI, the sweep's
scaling, the landscape) iterate over these, so a new kind is tested by declaring its examples:
there is no table here to extend.
"""

from __future__ import annotations

from typing import Any

from lrlab.core.decl.params import Kinded
from lrlab.core.decl.schedules import SCHEDULES, Example, kind_class, parse_schedule, resolve_schedule

#: the run that the examples' relative durations ("run", "25%", "3ep") are resolved against
RUN_STEPS, RUN_STEPS_PER_EPOCH = 2000, 100


def examples() -> list[tuple[str, dict[str, Any], Example]]:
    """(test id, whole spec as JSON, the Example) for every example of every registered kind."""
    return [(f"{kind}-{i}", spec, ex) for kind in SCHEDULES.kinds
            for i, (spec, ex) in enumerate(zip(kind_class(kind).example_specs(), kind_class(kind).examples,
                                               strict=True))]


def first_examples() -> list[tuple[str, dict[str, Any]]]:
    """(kind, its first example as JSON) for every registered kind: its smallest typical spec."""
    return [(kind, kind_class(kind).example_specs()[0]) for kind in SCHEDULES.kinds]


def resolved(spec: dict[str, Any], steps: int = RUN_STEPS, steps_per_epoch: int = RUN_STEPS_PER_EPOCH) -> Kinded:
    """The example parsed, with its relative durations resolved against a run of ``steps`` steps."""
    return resolve_schedule(parse_schedule(spec), steps, steps_per_epoch)
