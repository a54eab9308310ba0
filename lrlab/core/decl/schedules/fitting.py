"""A schedule against the run it is written for: relative durations resolved, and warnings.

:func:`resolve_schedule` turns ``"run"``, ``"25%"`` and ``"3ep"`` into steps once the run's
length is known; :func:`duration_warnings` says where the durations do not fit the run. Both walk
nested schedules, each of which starts where its parent's :meth:`~.base.Schedule.children` says
(a ``"run"`` in a nested schedule is what is left after it starts); the text of each warning is
the kind's own (:meth:`~.base.Schedule.warnings`).
"""

from __future__ import annotations

from typing import Any

from lrlab.core.decl.params import Kinded, join
from lrlab.core.decl.schedules.base import SCHEDULES, Fit, kind_class
from lrlab.core.decl.schedules.durations import duration_fields, relative_durations, resolve_duration


def _child(data: dict[str, Any], field: str, index: int | None) -> dict[str, Any]:
    return data[field] if index is None else data[field][index]


def _resolve_json(data: dict[str, Any], total_steps: int, steps_per_epoch: int, start: int) -> dict[str, Any]:
    out = dict(data)
    for name, is_list in duration_fields(SCHEDULES.params_of(out["kind"])):
        value = out[name]
        if value is None:
            continue
        out[name] = ([resolve_duration(v, total_steps, steps_per_epoch, start) for v in value] if is_list
                     else resolve_duration(value, total_steps, steps_per_epoch, start))
    for field, index, child_start in kind_class(out["kind"]).children(out, start):
        resolved = _resolve_json(_child(out, field, index), total_steps, steps_per_epoch, child_start)
        if index is None:
            out[field] = resolved
        else:
            out[field] = [resolved if i == index else c for i, c in enumerate(out[field])]
    return out


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
    """Warnings for a schedule that governs global steps start..end-1 (``has`` says so in words),
    then for each nested schedule over the steps it governs."""
    cls = kind_class(data["kind"])
    out = cls.warnings(Fit(written, data, start, end, total, path, has))
    children = cls.children(data, start)
    for i, (field, index, child_start) in enumerate(children):
        child_end = min(end, children[i + 1][2]) if i + 1 < len(children) else end
        if child_start >= child_end:
            continue  # it never runs: said above
        if child_start == start and child_end == end:
            child_has = has
        elif cls.rest_of_run is not None and child_end == total:
            child_has = f"the run has {child_end - child_start:,} steps {cls.rest_of_run}"
        else:
            child_has = f"it runs for {child_end - child_start:,} steps ({child_start:,} to {child_end - 1:,})"
        where = join(path, field) if index is None else join(join(path, field), index)
        out += _warnings(_child(written, field, index), _child(data, field, index), child_start, child_end,
                         total, where, child_has)
    return out
