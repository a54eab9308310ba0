"""Durations written relative to the run: whole steps, ``"Nep"``, ``"P%"`` or ``"run"``.

A schedule's lengths (``T_max``, ``step_size``, ``milestones``, ``warmup_steps``, ...) accept
whole steps (``640``), epochs (``"3ep"``), a share of the run (``"25%"``) or ``"run"`` (the rest
of the run after the schedule starts), so a schedule written for 30 epochs still means the same
thing at 600. Relative durations are data until a run starts: ``resolve_schedule`` (in
:mod:`.fitting`) turns them into steps once the run's length is known, and the session stores the
resolved spec, so a replay never depends on how they were written.

A field is a duration because its check is :class:`Duration` (or a list of them): the walks
below read that from the declarations, so a new kind's lengths need no table.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from lrlab.core.decl.params import (
    INVALID,
    Check,
    Kinded,
    ListOf,
    Optional,
    Param,
    Problems,
    Registry,
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


STEPS = Duration()  # every length in steps also takes "3ep", "25%" or "run"


def is_relative(value: Any) -> bool:
    """True for a duration that needs the run to become steps ("run", "25%", "3ep")."""
    return isinstance(value, str)


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


def _unwrapped(check: Check) -> tuple[Check, bool]:
    """(the check of one item, whether the field is a list of them), past an Optional."""
    check = check.inner if isinstance(check, Optional) else check
    if isinstance(check, ListOf):
        return check.item, True
    return check, False


def duration_fields(params: tuple[Param, ...]) -> list[tuple[str, bool]]:
    """(name, is a list) of the parameters among ``params`` whose values are durations."""
    return [(p.name, is_list) for p in params
            for check, is_list in [_unwrapped(p.check)] if isinstance(check, Duration)]


def nested_fields(params: tuple[Param, ...]) -> list[tuple[str, bool, Registry]]:
    """(name, is a list, registry) of the parameters among ``params`` that hold nested specs
    (warmup's ``then``, a sequence's ``schedules``, a ``schedule`` edit's new schedule)."""
    return [(p.name, is_list, check) for p in params
            for check, is_list in [_unwrapped(p.check)] if isinstance(check, Registry)]


def relative_durations(spec: Kinded, path: str = "schedule") -> list[tuple[str, Any]]:
    """(field path, value) of every duration in ``spec`` still written relative to the run."""
    return _relative_json(spec.registry, spec.to_json(), path)


def _relative_json(registry: Registry, data: dict[str, Any], path: str) -> list[tuple[str, Any]]:
    params = registry.params_of(data[registry.tag])
    found = []
    for name, is_list in duration_fields(params):
        value = data[name]
        items = enumerate(value) if is_list else [(None, value)]
        found += [(join(join(path, name), i) if i is not None else join(path, name), v)
                  for i, v in items if is_relative(v)]
    for name, is_list, inner in nested_fields(params):
        value = data[name]
        if value is None:
            continue
        for index, child in (enumerate(value) if is_list else [(None, value)]):
            where = join(path, name) if index is None else join(join(path, name), index)
            found += _relative_json(inner, child, where)
    return found
