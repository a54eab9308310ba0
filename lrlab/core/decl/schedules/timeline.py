"""A run's LR as a function of the global step: the run's schedule plus the edits made mid-run."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrlab.core.decl.params import Kinded, SpecError, join, show
from lrlab.core.decl.schedules.base import MAX_LR, SCHEDULES, Schedule, build, pieces, values
from lrlab.core.decl.schedules.decay import Constant
from lrlab.core.decl.schedules.durations import relative_durations
from lrlab.core.decl.schedules.edits import parse_edit


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
        ignored. ``events`` are :class:`lrlab.core.decl.events.Event`-like (step, kind, data)."""
        timeline = cls(schedule, base_lr)
        for ev in events:
            if ev.kind in ("edit", "exploit"):  # an exploit (population-based training) carries its LR as an edit
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
        return pieces(np.asarray(steps, dtype=np.int64), self._starts,
                       [(seg.fn, seg.origin, seg.factor) for seg in self.segments])

    @property
    def current(self) -> Segment:
        return self.segments[-1]

    def resolve_edit(self, step: int, edit: dict[str, Any], total_steps: int,
                     steps_per_epoch: int) -> dict[str, Any]:
        """``edit`` (JSON) for ``step`` with its durations in whole steps, as the main form takes
        them (``"run"``, ``"25%"``, ``"3ep"``; see :func:`~.fitting.resolve_schedule`): a new
        schedule in local time against the steps that remain (``total_steps - step``), in global
        time against the run; new parameters of the current schedule against the steps from its
        origin to the end (so ``"run"`` still ends it with the run). Raises SpecError for a
        value that cannot be resolved; other edits come back as they are."""
        from lrlab.core.decl.schedules.fitting import resolve_schedule

        kind = edit.get("kind")
        if kind == "schedule" and isinstance(edit.get("schedule"), dict):
            new = parse_edit(edit).params
            left = total_steps - step if new["time"] == "local" else total_steps
            resolved = resolve_schedule(new["schedule"], left, steps_per_epoch, "edit.schedule")
            return {**edit, "schedule": resolved.to_json()}
        if kind == "params" and isinstance(edit.get("params"), dict):
            last = self.current
            try:
                spec = last.spec.replace(**edit["params"])
            except SpecError as err:
                raise SpecError([(join("edit.params", path) if path else "edit.params", msg)
                                 for path, msg in err.problems]) from None
            resolved = resolve_schedule(spec, total_steps - last.origin, steps_per_epoch, "edit.params").to_json()
            return {**edit, "params": {k: resolved.get(k, v) for k, v in edit["params"].items()}}
        return edit

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
