"""Recording runs of every kind to session files, and replaying them.

:func:`record` is the one factory every client uses (the API, the CLI, the GUI's worker, the
Ray tasks): it reads the kind's :class:`~lrlab.core.runs.kinds.RunKind` and builds a
:class:`RecordedRun` (one session) or a :class:`RecordedSweep` (one session per member), so a
run saved from any of them replays the same way, and a replay builds the runner of the kind the
session names.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from lrlab.core.decl import paths
from lrlab.core.decl.events import Status
from lrlab.core.decl.files import ExportError, new_folder, occupied, replaced, write_text
from lrlab.core.decl.metrics import LR, STEP_COLUMNS, TRAIN_LOSS
from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.snapshots import DiskPolicy, SnapshotError
from lrlab.core.runs import fork, landscape, range_finder, sweep, train
from lrlab.core.runs.base import Listener, Runner, Update
from lrlab.core.runs.kinds import RUN_KINDS, RunKind, _load, run_kind
from lrlab.core.storage.session import DEFAULT_KIND, Session, SessionError, SessionWriter, default_name

__all__ = ["RUN_KINDS", "Collector", "Listener", "RecordedRun", "RecordedSweep", "Runner", "Update",
           "Verification", "compare_steps", "environment_differences", "fork", "fork_session", "landscape",
           "range_finder", "record", "replay_runner", "sweep", "train"]


def record(kind: str | RunKind, spec: RunSpec | None, out: str | Path | None = None, *, label: str = "",
           **options: Any) -> RecordedRun | RecordedSweep:
    """A run of ``kind``, recorded from its first step: built as its record says (see
    :mod:`lrlab.core.runs.kinds`), ready to :meth:`run`. ``out`` is the session file (or, for a
    kind recorded per member, the folder); ``options`` go to the runner (a sweep's ``lrs`` and
    ``seeds``, ``edits``, ``pace``...) or, for a kind with a starter, to it (a fork's ``parent``,
    ``at`` and ``edits``). SpecError or SessionError before anything trains."""
    k = run_kind(kind)
    if k.starter is not None:
        return _load(k.starter)(spec, out, label=label, **options)
    if k.per_member:
        return RecordedSweep(spec, out=out, label=label, kind=k, **options)
    return RecordedRun(spec, out, kind=k.name, label=label, **options)


class RecordedRun:
    """A runner whose every update is saved to a session file from the first step on.

    Construct (this loads data and builds the model), add listeners, then :meth:`run`
    in the thread that should train. Commands go to ``self.runner``. ``options`` go to
    the runner of ``kind`` (for ``train``: ``edits``, ``threads``, ``max_steps``).
    """

    def __init__(self, spec: RunSpec, out: str | Path | None = None, *, kind: str = DEFAULT_KIND,
                 label: str = "", group: str | None = None, overwrite: bool = False,
                 extra_meta: Mapping[str, Any] | None = None, snapshot_policy: DiskPolicy | None = None,
                 **options: Any):
        self.runner: Runner = run_kind(kind).runner(spec, **options)
        self.path = Path(out) if out else unique_path(paths.sessions_dir() / _default_name(spec, label, kind))
        self.kind, self.group = kind, group
        self.meta = {"label": label, **self.runner.session_meta(), **(extra_meta or {})}
        every = getattr(self.runner, "snapshot_every", None)  # the grid of thinned snapshots follows it
        policy = snapshot_policy or (DiskPolicy(every=every) if every else None)
        self.writer = SessionWriter(self.path, self.runner.spec, self.runner.environment, kind=kind, group=group,
                                    extra_meta=self.meta, overwrite=overwrite, snapshot_policy=policy)
        # the whole run in memory too (its size is part of limits.footprint): when the file stops
        # taking steps (a full disk), the run goes on and save_as still writes all of it
        self.kept = Collector()
        self.writer.on_failure = lambda message: self.runner.record("session_write_failed", message=message)
        self.runner.listeners += [self.writer, self.kept]
        self.status: Status | None = None
        self.summary: dict[str, Any] = {}

    def add_listener(self, listener: Listener) -> None:
        self.runner.listeners.append(listener)

    @property
    def failure(self) -> str | None:
        """Why the session file stopped taking steps, naming the step ("... stopped at step N: ..."), or None."""
        return self.writer.failure

    def run(self) -> Status:
        """Run to the end; the session is closed with the final status, even on errors."""
        try:
            status = self.runner.run()
        except BaseException as err:
            self.status, self.summary = Status.FAILED, {"error": f"{type(err).__name__}: {err}",
                                                        "traceback": traceback.format_exc(limit=5)}
            self.writer.close(self.status, self.summary)
            raise
        self.status, self.summary = status, self.runner.final_summary()
        self.writer.close(status, self.summary)
        return status

    def save_as(self, out: str | Path) -> Path:
        """The whole session at ``out`` (a new file): a copy of the session file, or, when that file
        stopped taking steps, a session written afresh from what the run kept in memory."""
        out = Path(out)
        kept, runner = self.kept, self.runner
        try:
            if self.failure is None and self.writer.closed:
                with replaced(out) as copy:  # named when complete: never half a file
                    shutil.copyfile(self.path, copy)
                return out
            writer = SessionWriter(out, runner.spec, runner.environment, kind=self.kind, group=self.group,
                                   extra_meta=self.meta, overwrite=True)
        except (OSError, sqlite3.Error) as err:
            raise SessionError(f"{out}: cannot save the session there: {err}") from None
        writer(Update({c: kept.column(c) for c in STEP_COLUMNS}, kept.evals, kept.events, runner.step,
                      runner.total_steps, Status.RUNNING, kept.effective))
        writer.close(self.status or Status.STOPPED, self.summary)
        if writer.failure is not None:  # this folder is full or read-only as well
            raise SessionError(f"{out}: cannot save the session there: {writer.failure.split(': ', 1)[1]}")
        return out


def fork_session(parent: str | Path, at: int, edits: Sequence[tuple[int, Mapping[str, Any]]] = (),
                 out: str | Path | None = None, *, label: str | None = None, **options: Any) -> RecordedRun:
    """A fork of the session ``parent`` at step ``at`` with ``edits`` ((step >= at, edit JSON)),
    recorded to ``out`` (default: ``PARENT-atSTEP.lrlab`` beside the parent). Run it like any
    RecordedRun (its runner, a :class:`~lrlab.core.runs.fork.Fork`, takes the same commands and
    listeners); it re-runs from the nearest snapshot before reporting steps from ``at`` on.
    ``options`` go to the runner (``pace``, ``snapshot_every``...). SpecError names a bad step or
    edit, SessionError a parent that cannot be forked; both before any training."""
    plan = fork.plan_fork(parent, at, edits)
    parent_path = Path(parent)
    with Session.open(parent_path) as p:
        group, parent_label = p.group, str(p.meta.get("label") or "")
    path = Path(out) if out else unique_path(parent_path.with_name(f"{parent_path.stem}-at{at}{parent_path.suffix}"))
    try:  # the runner checks the snapshot before the session file exists: a bad one leaves no file
        return RecordedRun(plan.spec.offline(), path, kind="fork", label=parent_label if label is None else label,
                           group=group, **plan.options(), **options)
    except SnapshotError as err:
        where = plan.start_file or parent_path
        raise SessionError(f"{where}: damaged snapshot at step {plan.start.step if plan.start else 0} "
                           f"({err})") from None


def start_fork(spec: RunSpec | None, out: str | Path | None = None, *, label: str = "", parent: str | Path,
               at: int, edits: Sequence[tuple[int, Mapping[str, Any]]] = (), **options: Any) -> RecordedRun:
    """The ``fork`` kind's starter (:func:`record`): a fork is made from its parent's file, so
    ``spec`` is not used (the parent's is); an empty ``label`` keeps the parent's."""
    return fork_session(parent, at, edits, out, label=label or None, **options)


def _default_name(spec: RunSpec, label: str, kind: str) -> str:
    """A new session's file name; a kind other than training says so (``...-range-test.lrlab``),
    so a range test and the run made from it do not look alike in a file list."""
    name = default_name(spec, label)
    if kind == DEFAULT_KIND:
        return name
    stem, suffix = name.rsplit(".", 1)
    return f"{stem}-{kind.replace('_', '-')}.{suffix}"


class RecordedSweep:
    """A run of several members (a sweep, a grid) whose every member is saved to its own session
    (kind ``sweep_member``) in one folder from its first step on; :meth:`run` ends by writing the
    group summary (``summary.json``: each member's LR, seed, status, final and best metrics,
    diverged-at step, and what the kind adds: :func:`write_group_summary`).

    ``out`` is the folder (new, or empty); by default a new folder in the sessions folder,
    whose name is also the sessions' ``group``. Commands go to ``self.runner`` (the runner of
    ``kind``: a :class:`~lrlab.core.runs.sweep.Sweep`, a :class:`~lrlab.core.runs.grid.Grid`);
    ``options`` go to it too (``seeds``, ``edits``, ``threads``, ``path``, ``pace``...). It is
    the recorder of every kind recorded per member (:attr:`RunKind.recorded`), and reads only
    this member API of its runner:

    - ``k``; ``folder_name(label)``; ``member_file_name(k)``;
    - ``member_started(k)``: whether member k's session can be opened (a grid's batch sizes start
      one after another); ``member_session(k)``: its (spec, environment, meta);
    - ``member_status[k]``, ``member_final_summary(k)`` and ``ended_members()``: members whose
      sessions may be closed before the whole run ends;
    - ``group_info()``: :func:`write_group_summary`'s keywords.

    Listeners get an :class:`Update` with every member's own in ``members`` (an empty one for a
    member not started yet).
    """

    SUMMARY = "summary.json"

    def __init__(self, spec: RunSpec, lrs: Sequence[float] | None = None, out: str | Path | None = None, *,
                 label: str = "", kind: str | RunKind = "sweep", **options: Any):
        self.runner = run_kind(kind).runner(spec, **({} if lrs is None else {"lrs": lrs}), **options)
        runner = self.runner
        if out:
            self.path = Path(out)
            if occupied(self.path):
                raise SessionError(f"{self.path}: already exists and is not an empty folder; choose another "
                                   "(nothing was overwritten)")
        else:
            self.path = unique_path(paths.sessions_dir() / runner.folder_name(label))
        try:
            new_folder(self.path)  # at most its last level (a missing parent is a message)
        except ExportError as err:
            raise SessionError(str(err)) from None
        self.group, self.label = self.path.name, label
        self.files = [self.path / runner.member_file_name(k) for k in range(runner.k)]
        self.writers: list[SessionWriter | None] = [None] * runner.k
        for k in range(runner.k):
            if runner.member_started(k):
                self._open(k)
        self._done = [False] * runner.k
        self._closed = [False] * runner.k
        self.rows: list[dict[str, Any]] = []
        runner.listeners.append(self._write)  # type: ignore[arg-type]

    def _open(self, k: int) -> SessionWriter:
        spec, environment, meta = self.runner.member_session(k)
        writer = SessionWriter(self.files[k], spec, environment, kind=self.runner.member_kind, group=self.group,
                               extra_meta={"label": self.label, **meta})
        self.writers[k] = writer
        return writer

    def _write(self, update: Update) -> None:
        runner = self.runner
        for k, member in enumerate(update.members):
            if self._done[k]:
                continue  # a member that has ended: nothing more to write
            writer = self.writers[k]
            if writer is None:
                if not runner.member_started(k):
                    continue
                writer = self._open(k)
            writer(member)
            self._done[k] = member.status.final
        for k in runner.ended_members():
            self._close(k)

    def _close(self, k: int) -> None:
        writer = self.writers[k]
        if writer is not None and not self._closed[k]:
            writer.close(self.runner.member_status[k], self.runner.member_final_summary(k))
            self._closed[k] = True

    @property
    def failure(self) -> str | None:
        """Why a member's session file stopped taking steps (the first one that did), or None."""
        return next((f"{w.path.name}: {w.failure}" for w in self.writers if w is not None and w.failure is not None),
                    None)

    def add_listener(self, listener: Any) -> None:
        """Listeners of a sweep get an :class:`Update` with every member's own in ``members``."""
        self.runner.listeners.append(listener)

    def run(self) -> Status:
        """Run to the end; every session is closed with its member's status, even on errors; a
        member that never started (a grid stopped early) has no session."""
        runner = self.runner
        try:
            status = runner.run()
        except BaseException as err:
            for k, w in enumerate(self.writers):
                if w is not None and not self._closed[k]:
                    w.close(Status.FAILED, {"error": f"{type(err).__name__}: {err}",
                                            "traceback": traceback.format_exc(limit=5)})
            raise
        for k in range(runner.k):
            self._close(k)
        files = [f for f, w in zip(self.files, self.writers, strict=True) if w is not None]
        self.rows = write_group_summary(self.path, files, status=str(status), **runner.group_info())
        return status


def write_group_summary(folder: Path, files: Sequence[Path], *, status: str, lrs: Sequence[float],
                        seeds: Sequence[int], spec_json: Mapping[str, Any], environment: Mapping[str, Any],
                        summary: Mapping[str, Any], kind: str = "sweep",
                        cell: Callable[[Session], Mapping[str, Any]] | None = None,
                        analyse: Callable[[list[dict[str, Any]]], Mapping[str, Any]] | None = None,
                        **extra: Any) -> list[dict[str, Any]]:
    """Write the ``summary.json`` of a run per member (``kind``: a sweep, a grid) beside its
    member sessions, whole: the members' rows read back from their files (in their order; ``cell``
    adds a kind's columns to each row from its session), the best of them, and what the run was;
    ``analyse`` adds the kind's own findings from the rows (a grid's best LR per batch size, which
    replaces the overall ``best``); ``extra`` adds what the way it ran knows (the stacked ``path``,
    a Ray run's ``ray``, a grid's batch sizes). Returns the rows. The one writer of the file, for
    local runs and Ray runs alike."""
    rows = group_rows(files, cell)
    data = {"kind": kind, "group": folder.name, "status": status, **extra, "lrs": list(lrs),
            "seeds": list(seeds), "reference_lr": spec_json["optimizer"]["lr"], "spec": dict(spec_json),
            "environment": dict(environment), "summary": dict(summary), "members": rows, "best": best_row(rows)}
    if analyse is not None:
        data.update(analyse(rows))
    write_text(folder / RecordedSweep.SUMMARY, json.dumps(_json_safe(data), indent=2) + "\n")
    return rows


def recorded_path(folder: Path) -> str | None:
    """The stacked path (``bmm``, ``vmap``, ``loop``) a finished sweep in ``folder`` recorded in its
    ``summary.json``, or None (no summary yet, a damaged one, a sweep that recorded none)."""
    try:
        data = json.loads((Path(folder) / RecordedSweep.SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path = data.get("path") if isinstance(data, dict) else None
    return path if isinstance(path, str) else None


def seed_list(seed: int, n: int) -> list[int]:
    """The seeds of a run repeated ``n`` times (a sweep's ``--seeds n``): its own, then the next ones."""
    return [seed + j for j in range(n)]


def group_rows(files: Sequence[Path], cell: Callable[[Session], Mapping[str, Any]] | None = None
               ) -> list[dict[str, Any]]:
    """The group summary's rows, read back from the members' session files (in their order);
    ``cell`` adds a kind's own columns from each session (a grid's batch size)."""
    rows = []
    for f in files:
        with Session.open(f) as s:
            spec = s.spec
            rows.append(sweep.member_row(spec.lr, spec.seed, s.status, s.summary, s.events(), str(f)))
            if cell is not None:
                rows[-1].update(cell(s))
    return rows


def best_row(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The best member (:func:`~lrlab.core.runs.sweep.rank`), or None when every one diverged or failed."""
    ranked = sweep.rank(rows)
    return dict(ranked[0]) if ranked and not Status(ranked[0]["status"]).problem else None


def _json_safe(x: Any) -> Any:
    """NaN and infinities as null: JSON has no such numbers."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Mapping):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def unique_path(path: Path) -> Path:
    """``path``, or ``name-2.lrlab``, ``name-3.lrlab``... if taken (two runs in one second)."""
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


class Collector:
    """A listener that keeps every step's columns in memory (for replays and tests)."""


    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.evals: list[dict[str, float]] = []
        self.events: list[Any] = []
        self.effective: list[dict[str, Any]] = []
        self.updates = 0

    def __call__(self, update: Update) -> None:
        self.updates += 1
        self.parts.append(update.steps)
        self.evals.extend(update.evals)
        self.events.extend(update.events)
        self.effective.extend(update.effective)

    def column(self, name: str) -> np.ndarray:
        return np.concatenate([p[name] for p in self.parts]) if self.parts else np.empty(0)


@dataclass
class Verification:
    identical: bool
    steps: int
    first_difference: int | None = None
    column: str = ""
    max_abs_difference: float = 0.0
    environment_differences: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.identical:
            return f"identical: {self.steps} steps"
        if self.first_difference is None and self.column == DATA_CHANGED:
            return f"differs: {DATA_CHANGED} since the recording ({self.steps} steps)"
        return (f"differs: first at step {self.first_difference} ({self.column}); largest absolute "
                f"difference {self.max_abs_difference:.6g} over {self.steps} steps")


ENV_KEYS_THAT_MATTER = ("torch", "numpy", "scikit-learn", "python", "device", "device_name", "cpu_kernels",
                        "threads", "deterministic", "machine")


DATA_CHANGED = "data changed"


def environment_differences(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> tuple[str, ...]:
    """What differs between the recording's environment and this one, among what changes numbers.
    A key that an older file did not record (``cpu_kernels`` before it was recorded) is unknown,
    not a difference. The user's own data (``data``: path, size, SHA-256) that changed is named
    first, as ``data changed: ...``: a replay on it is never ``identical`` (:func:`data_changed`)."""
    return (*_data_differences(recorded.get("data"), now.get("data")),
            *(f"{k}: recorded {recorded.get(k)!r}, now {now.get(k)!r}"
              for k in ENV_KEYS_THAT_MATTER if k in recorded and recorded[k] != now.get(k)))


def _data_differences(recorded: Any, now: Any) -> tuple[str, ...]:
    if not isinstance(recorded, Mapping) or recorded.get("sha256") is None:
        return ()
    if not isinstance(now, Mapping) or now.get("sha256") != recorded.get("sha256"):
        was = f"{recorded.get('path')} ({recorded.get('size')} bytes, SHA-256 {str(recorded.get('sha256'))[:12]}…)"
        is_ = ("none" if not isinstance(now, Mapping) else
               f"{now.get('path')} ({now.get('size')} bytes, SHA-256 {str(now.get('sha256'))[:12]}…)")
        return (f"{DATA_CHANGED}: recorded {was}, now {is_}",)
    return ()


def data_changed(differences: Sequence[str]) -> bool:
    """Whether :func:`environment_differences` found the user's data changed."""
    return any(d.startswith(DATA_CHANGED) for d in differences)


def with_data_check(verification: Verification | None, differences: Sequence[str]) -> Verification | None:
    """A verification that is never ``identical`` on changed data, whatever the steps say."""
    if verification is None or not data_changed(differences) or not verification.identical:
        return verification
    return replace(verification, identical=False, column=DATA_CHANGED)


def replay_options(session: Session) -> dict[str, Any]:
    """What a runner of the session's kind needs to re-run it exactly (spec and seed aside)."""
    return run_kind(session.kind).replay_options(session)


def replay_runner(session: Session) -> Runner:
    """A runner of the session's kind that re-runs it: same spec, seed, edits, threads, length."""
    return run_kind(session.kind).runner(session.spec.offline(), **replay_options(session))


def compare_steps(recorded: Mapping[str, np.ndarray], replayed: Mapping[str, np.ndarray]) -> Verification:
    """Bit-for-bit comparison of train loss and LR at every step."""
    n_rec, n_new = len(recorded["step"]), len(replayed["step"])
    n = min(n_rec, n_new)
    first, col, worst = None, "", 0.0
    for name in (TRAIN_LOSS.name, LR.name):
        a, b = recorded[name][:n], replayed[name][:n]
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if not same.all():
            bad = int(np.argmax(~same))
            if first is None or bad < first:
                first, col = bad, name
            with np.errstate(invalid="ignore"):
                diff = np.abs(a - b)
            worst = max(worst, float(np.nanmax(np.where(same, 0.0, diff))) if diff.size else 0.0)
    if first is None and n_rec != n_new:
        first, col = n, f"length: recorded {n_rec} steps, replay {n_new}"
    return Verification(first is None, n_rec, first, col, worst)

