"""The ``fork`` run kind: a training run that branches off another session at a step.

"What if I had decayed here?" A fork continues from its parent's exact state at the fork step
with new edits. Its session records:

- ``meta.parent``: the parent's file ``id``, its ``path`` when forked (a hint: the id decides) and
  the fork ``step``;
- its own steps, evaluations and snapshots from the fork step on (the shared history is the
  parent's, drawn from the parent's file when it is there);
- as events, the parent's ``edit`` and ``plateau`` events before the fork step, then its own: the
  whole LR timeline, so that the fork replays, and verifies, from step 0 without the parent file.

Semantics of the edits: the parent's edits *before* the fork step are the shared past; its edits
at or after it are the parent's future, which the fork replaces by its own (so with no new edit, a
fork of a run with no later edits continues exactly like it).

Reaching the state: the nearest snapshot at or before the fork step in the parent, or in the
parent's ancestors for steps they share (found by the path hint, checked by id); from there the
trainer re-runs the steps up to the fork step (at most ``snapshot_every``) deterministically. With
no snapshot anywhere it re-runs from step 0, which is exact too, only slower.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from lrlab.core.decl.events import Event
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.schedules import Timeline, parse_edit
from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.snapshots import Snapshot
from lrlab.core.runs.base import recorded_threads
from lrlab.core.runs.train import Trainer, check_spec_agrees
from lrlab.core.storage.session import Session, SessionError, lineage  # noqa: F401 (lineage: part of forking's API)

#: events before the fork step that a fork carries from its parent (what its LR timeline needs)
HISTORY_KINDS = ("edit", "plateau")
#: run kinds a fork can branch from (they train one model with the Trainer)
FORKABLE = ("train", "fork")


class Fork(Trainer):
    """A :class:`Trainer` that records from ``parent["step"]`` on (see the module docstring).

    Options are the Trainer's; ``parent`` is ``{"id", "path", "step"}``. Built by
    :func:`plan_fork` (from a parent file) or by a replay (from the fork's own file, from step 0).
    """

    kind: ClassVar[str] = "fork"

    def __init__(self, spec: RunSpec, *, parent: Mapping[str, Any], **options: Any):
        self.parent = dict(parent)
        super().__init__(spec, record_from=int(parent["step"]), **options)

    def session_meta(self) -> dict[str, Any]:
        return {**super().session_meta(), "parent": self.parent}

    @classmethod
    def replay_options(cls, session: Any) -> dict[str, Any]:
        """From step 0 with the fork's whole timeline (its own file carries the parent's part)."""
        parent = session.parent
        step = parent["step"]
        options = super().replay_options(session)
        if options["max_steps"] is not None:  # a fork cut short: as far as it got, counted from step 0
            options["max_steps"] += step
        return {**options, "parent": parent, "history": history_before(session.events(), step)}


def history_before(events: Sequence[Event], step: int) -> list[Event]:
    """The events a fork at ``step`` carries: edits and plateau decisions before it."""
    return [e for e in events if e.step < step and e.kind in HISTORY_KINDS]


def end_step(session: Session) -> int:
    """The first step a session did not record: its steps run from its fork step (0 if none) to here."""
    parent = session.parent
    return (parent["step"] if parent else 0) + session.n_steps()


@dataclass
class ForkPlan:
    """What a fork needs, read from its parent: build the runner with :meth:`options`."""

    spec: RunSpec
    parent: dict[str, Any]
    edits: list[tuple[int, dict[str, Any]]]  # the whole timeline's: parent's before the step, then new
    history: list[Event]
    threads: int | None
    start: Snapshot | None  # None: re-run from step 0
    start_file: Path | None  # where the snapshot came from

    def options(self) -> dict[str, Any]:
        return {"parent": self.parent, "edits": self.edits, "history": self.history, "threads": self.threads,
                "start": self.start}


def plan_fork(parent_path: str | Path, at: int, edits: Sequence[tuple[int, Mapping[str, Any]]] = ()) -> ForkPlan:
    """Read what forking ``parent_path`` at step ``at`` with ``edits`` ((step, edit JSON), steps
    >= ``at``) needs. SpecError names a bad step or edit, SessionError a file that cannot be used."""
    path = Path(parent_path)
    with Session.open(path) as parent:
        if parent.kind not in FORKABLE:
            raise SessionError(f"{path}: a {parent.kind.replace('_', ' ')} session cannot be forked "
                               f"(only {' and '.join(FORKABLE)} runs)")
        check_spec_agrees(parent)  # a spec that plans far more steps than were recorded trains none
        spec = parent.spec
        first, end = (parent.parent or {}).get("step", 0), end_step(parent)
        total = int(parent.meta.get("total_steps") or end)
        if type(at) is not int or not first <= at <= min(end, total - 1):
            earlier = (f"; the steps before {first} are its parent's: fork {parent.parent['path']} there"
                       if parent.parent and type(at) is int and 0 <= at < first else "")
            raise SpecError([("at", f"must be a step from {first} to {min(end, total - 1)} (the steps the parent "
                                    f"recorded and can go on from), got {at}{earlier}")])
        history = history_before(parent.events(), at)
        new = [(int(step), parse_edit(edit, f"edit at step {step}").to_json()) for step, edit in edits]
        late = [s for s, _ in new if s < at]
        if late:
            raise SpecError([("edit", f"a fork's edits apply from its step {at} on, got one at step {late[0]}")])
        _check_edits(spec, history, at, new)
        start, start_file = nearest_snapshot(path, at)
        past = [(e.step, e.data["edit"]) for e in history if e.kind == "edit"]
        return ForkPlan(spec, {"id": parent.file_id, "path": str(path.resolve()), "step": at},
                        [*past, *sorted(new, key=lambda e: e[0])], history, recorded_threads(parent),
                        start, start_file)


def _check_edits(spec: RunSpec, history: Sequence[Event], at: int, new: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """Try the new LR edits on the timeline as it is at the fork step: SpecError before any training
    if one does not fit (parameters the schedule there does not have)."""
    timeline = Timeline.from_events(spec.schedule, spec.lr, history)
    for step, edit in sorted(new, key=lambda e: e[0]):
        try:
            timeline.apply(step, parse_edit(edit))
        except SpecError as err:
            raise SpecError([(f"edit at step {step}" + (f".{p}" if p else ""), m) for p, m in err.problems]) from None


def nearest_snapshot(path: Path, at: int) -> tuple[Snapshot | None, Path | None]:
    """The latest snapshot at or before ``at`` in ``path`` or, for the steps they share, in its
    ancestors (each found by its path hint and checked by id; a missing one ends the search)."""
    best: tuple[int, Path] | None = None
    limit, seen = at, set()
    current: Path | None = path
    expected_id: str | None = None
    while current is not None and current not in seen:
        seen.add(current)
        try:
            with Session.open(current) as s:
                if expected_id is not None and s.file_id != expected_id:
                    break  # another file now lives at the hint
                steps = [t for t in s.snapshot_steps() if t <= limit]
                if steps and (best is None or steps[-1] > best[0]):
                    best = (steps[-1], current)
                parent = s.parent
        except SessionError:
            break
        if parent is None:
            break
        limit = min(limit, parent["step"])  # the ancestor's state is shared only up to the fork step
        current, expected_id = Path(parent["path"]), parent["id"]
    if best is None:
        return None, None
    with Session.open(best[1]) as s:
        return s.snapshot(best[0]), best[1]


def snapshot_size(spec: RunSpec) -> tuple[int, int]:
    """(tensor bytes, header bytes) of one snapshot of a run of ``spec`` in its session file, measured
    on a snapshot after one step (when the optimizer's state exists): what the session-format
    document states for each bundled preset."""
    trainer = Trainer(spec, max_steps=2, snapshot_every=1)
    trainer.run()
    snapshot = trainer.snapshots.before(1)
    assert snapshot is not None  # taken before step 1
    header, blob = snapshot.encode()
    return len(blob), len(header.encode())
