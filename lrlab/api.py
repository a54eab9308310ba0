"""lrlab from Python: train, sweep, find an LR, compare and read sessions from a script or a notebook.

The functions here are the public API (``lrlab.run``, ``lrlab.open_session``...: see
``lrlab.__all__``); the ``lrlab`` command is a client of them, so whatever the command does a
script can do, with the numbers as objects instead of printed text. Results are plain
dataclasses; every table comes back as a pandas DataFrame (pandas is imported on the first
table, so ``import lrlab`` stays light).

Specs are named as the command names them: a preset (``"lr-too-high"``), a JSON file, a dict
of run-spec JSON, or a :class:`~lrlab.core.decl.spec.RunSpec`. Changes follow ``--set``'s rules
(applied to the JSON as written, before defaults), given as keywords with ``__`` for the dots
(``optimizer__lr=0.01``) or as a mapping spread into them (``**{"optimizer.lr": 0.01}``).
"""

from __future__ import annotations

import hashlib
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lrlab.core.decl.datasets import check_data
from lrlab.core.decl.events import Event
from lrlab.core.decl.metrics import LR, METRICS, NOISE_SCALE, TRAIN_LOSS
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import RunSpec
from lrlab.core.storage.session import Session as _CoreSession
from lrlab.core.storage.session import SessionError
from lrlab.progress import Progress, run_with_ctrl_c

__all__ = ["AutotuneResult", "Comparison", "FindLRResult", "GridResult", "Library", "PBTResult", "Replay", "Session",
           "SessionError", "SpecError", "SweepMember", "SweepResult", "autotune", "compare", "find_lr", "grid",
           "landscape", "library", "open_session", "pbt", "presets", "run", "schedule", "sweep"]

SpecLike = str | Path | Mapping[str, Any] | RunSpec
Table = Any  # a pandas DataFrame (typed loosely: pandas is imported on first use)


# --- specs and tables --------------------------------------------------------------------------


def resolve_input(name: str | Path) -> Path:
    """A path as given, or the file of a bundled preset (``lr-too-high``). A name that is
    neither raises SpecError; a bare name (no folder in it) is taken for a mistyped preset and
    gets the closest one's name: ``lr-to-high: no such file or preset, did you mean
    'lr-too-high'?``, because a typo should not read as a missing file."""
    path = Path(name)
    if path.exists():
        return path
    from lrlab.core.decl.params import did_you_mean
    from lrlab.core.decl.resources import list_presets, preset_path

    preset = preset_path(str(name))
    if preset is not None:
        return preset
    if path.name != str(name):  # a path with folders: a file the user meant, not a preset
        raise SpecError([(str(name), "no such file")])
    hint = did_you_mean(path.name.removesuffix(".json"), [p.name for p in list_presets()])
    raise SpecError([(str(name), f"no such file or preset{hint}")])


def resolve_spec(spec_or_preset: SpecLike, changes: Mapping[str, Any] | None = None, *,
                 allow_changed_code: bool = False) -> tuple[str, RunSpec]:
    """The validated run spec that ``spec_or_preset`` names, with ``--set``-style ``changes``
    applied to the JSON as written (so switching ``optimizer.name`` to Adam on an Adagrad spec
    does not drag Adagrad's defaults along), and its label: the preset's name, or '' for a spec
    of the user's (new sessions are named after it). SpecError lists every problem."""
    from lrlab.core.decl.resources import presets_dir
    from lrlab.core.decl.spec import apply_changes, read_json, unwrap_preset
    from lrlab.core.decl.usercode import consent_spec

    label, base = "", None
    if isinstance(spec_or_preset, RunSpec):
        data: Any = spec_or_preset.to_json()
    elif isinstance(spec_or_preset, Mapping):
        data = unwrap_preset(spec_or_preset)
    else:
        source = resolve_input(spec_or_preset)
        data = unwrap_preset(read_json(source))
        label = source.stem if source.parent.resolve() == presets_dir().resolve() else ""
        base = source.parent  # your code's entry is relative to the spec file
    if changes:
        data = apply_changes(data, changes)
    # a spec you name (a file on the command line, an object in a script) may run the code it
    # names: that is your consent (lrlab.core.decl.usercode); a session file is not a spec here
    data = consent_spec(data, base, allow_changed=allow_changed_code)
    return label, RunSpec.from_json(data)


def _changes(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword overrides as dotted paths: ``optimizer__lr`` and ``"optimizer.lr"`` alike."""
    return {key.replace("__", "."): value for key, value in overrides.items()}


def _table(columns: Mapping[str, Any]) -> Table:
    """A pandas DataFrame of ``columns``: one type whatever is installed, so a script written
    against a DataFrame works on every machine."""
    import pandas as pd

    return pd.DataFrame(dict(columns))


def _check_edits(edits: Iterable[tuple[int, Mapping[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """Mid-run edits as (step, edit JSON), validated, in step order."""
    from lrlab.core.decl.schedules import parse_edit

    out = []
    for i, (step, edit) in enumerate(edits):
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise SpecError([(f"edits[{i}]", f"the step must be a whole number >= 0, got {step!r}")])
        out.append((step, parse_edit(edit, f"edits[{i}]").to_json()))
    return sorted(out, key=lambda e: e[0])


def _record(kind: str, spec: RunSpec | None, out: str | Path | None, progress: bool, *, label: str = "",
            **options: Any) -> Any:
    """A recorded run of ``kind`` from the one factory (:func:`lrlab.core.runs.record`), with the
    kind's own progress line on stderr when ``progress``."""
    from lrlab.core.runs import record, run_kind

    recorded = record(kind, spec, out, label=label, **options)
    recorded.add_listener(Progress(recorded.runner.total_steps, not progress,
                                   describe=run_kind(kind).describe_progress))
    return recorded


def _warn_schedule(spec: RunSpec, runner: Any) -> None:
    """Durations that do not fit the run, on stderr before training (as the command prints them)."""
    from lrlab.core.decl.spec import schedule_warnings

    for warning in schedule_warnings(spec, runner.total_steps, runner.session_meta()["steps_per_epoch"]):
        print(f"lrlab: warning: {warning}", file=sys.stderr)


# --- sessions --------------------------------------------------------------------------------

#: the recorded columns a replay is checked against: what it trained on and what it measured
_REPLAYED = ("step", TRAIN_LOSS.name, LR.name)


@dataclass
class Replay:
    """A re-run of a session: how it ended, and (with ``verify``) whether every step's loss and
    LR matched the recording bit for bit."""

    status: str
    steps: int
    verification: Any = None  # lrlab.core.runs.Verification, or None without verify
    environment_differences: tuple[str, ...] = ()
    replaying: str | None = None  # what re-runs when it is more than the session (a whole sweep)
    out: Path | None = None
    write_failure: str | None = None  # ``out`` stopped being written (disk full...): why, and where

    @property
    def identical(self) -> bool | None:
        return None if self.verification is None else bool(self.verification.identical)

    def describe(self) -> str:
        """``identical: N steps``, the first differing step, or ``replayed: STATUS, N steps``."""
        if self.verification is None:
            return f"replayed: {self.status}, {self.steps} steps"
        return str(self.verification.describe())


class Session:
    """A saved run (a ``.lrlab`` file), read when opened: what it was (``spec``, ``kind``,
    ``seed``, ``environment``), how it ended (``status``, ``summary``, ``events``); its curves come
    from :meth:`steps` and :meth:`evals`. Nothing stays open: each read opens the file anew."""

    def __init__(self, path: str | Path):
        with _CoreSession.open(path) as s:  # SessionError names the file and the problem
            self.path = Path(path)
            self.meta: dict[str, Any] = s.meta
            self.spec: dict[str, Any] = s.spec_json
            self.status: str = str(s.status)
            self.summary: dict[str, Any] = s.summary
            self.events: list[Event] = s.events()
            self.kind, self.group, self.seed = s.kind, s.group, s.seed
            self.environment: dict[str, Any] = s.environment
            self.n_steps: int = s.n_steps()
            #: set by a run whose file stopped being written (a full disk, a folder made read-only):
            #: why, and that the file lacks the rest; the run itself went on (Save As writes it all)
            self.write_failure: str | None = None
            self.id: str = s.file_id
            #: a fork's parent: {"id", "path", "step"} (the path as it was when forked), else None
            self.parent: dict[str, Any] | None = s.parent

    def __repr__(self) -> str:
        return f"<lrlab.Session {self.path.name}: {self.kind}, {self.status}, {self.n_steps} steps>"

    @property
    def task(self) -> str:
        """'classification' or 'regression' (what the validation metric is: accuracy or R²)."""
        from lrlab.core.decl.datasets import dataset_task

        data = self.environment.get("data") if isinstance(self.environment, dict) else None
        if isinstance(data, dict) and data.get("task") in ("classification", "regression"):
            return str(data["task"])  # the user's own files, as recorded: they need not be here
        task = self.spec["dataset"].get("task")  # your own code's data says which it is
        if task in ("classification", "regression"):
            return str(task)
        return dataset_task(self.spec["dataset"]["name"])

    def steps(self, columns: Sequence[str] | None = None) -> Table:
        """One row per optimizer step: step, epoch, samples, wall_time, train_loss, lr, grad_norm,
        update_ratio (NaN where not measured)."""
        with _CoreSession.open(self.path) as s:
            return _table(s.steps() if columns is None else s.steps(columns))

    def evals(self, columns: Sequence[str] | None = None) -> Table:
        """One row per validation: step, epoch, val_loss, val_metric (accuracy or R²)."""
        with _CoreSession.open(self.path) as s:
            return _table(s.evals() if columns is None else s.evals(columns))

    def effective_lr(self, layer: str = "all") -> Table:
        """Quantiles (p5 ... p95) of the per-parameter effective LR by step, for all parameters or
        one tensor (``"0.weight"``); empty for runs that recorded none."""
        with _CoreSession.open(self.path) as s:
            return _table(s.effective_lr(layer))

    def info(self) -> dict[str, Any]:
        """What ``lrlab info --json`` prints."""
        return {"file": str(self.path), "status": self.status, "steps": self.n_steps, "seed": self.seed,
                "created": self.meta.get("created"), "app_version": self.meta.get("app_version"),
                "format_version": self.meta.get("format_version"), "kind": self.kind, "group": self.group,
                "id": self.id, "parent": self.parent, "spec": self.spec, "environment": self.environment,
                "summary": self.summary,
                "events": [e.to_json() for e in self.events]}

    def snapshot_summary(self) -> dict[str, Any]:
        """What the file keeps for forks: ``kept`` snapshots, their ``bytes``, their ``steps`` and
        ``rerun_at_most``, the most steps a fork of it re-runs to reach its step."""
        with _CoreSession.open(self.path) as s:
            return s.snapshot_summary()

    def replay(self, verify: bool = True, *, out: str | Path | None = None, progress: bool = False,
               code: Iterable[str | Path] = (), allow_changed_code: bool = False) -> Replay:
        """Re-run from the same spec, seed and mid-run edits (a sweep member re-runs its whole
        sweep); ``verify`` compares every step's loss and LR with the recording, ``out`` saves the
        replay as a new session. A session with your own model or data runs it only when ``code``
        names its file(s) (as ``--code``); a file whose SHA-256 differs needs ``allow_changed_code``."""
        if code or allow_changed_code:
            from lrlab.core.decl.usercode import allow_for

            allow_for(self.spec, code, allow_changed=allow_changed_code)
        from lrlab.core.runs import (
            Collector,
            RecordedRun,
            compare_steps,
            environment_differences,
            replay_options,
            replay_runner,
            run_kind,
        )
        from lrlab.core.runs.recorded import with_data_check

        with _CoreSession.open(self.path) as session:
            recorded = session.steps(_REPLAYED)
            if out:  # a replay never downloads (the spec may come from anywhere)
                run = RecordedRun(session.spec.offline(), out, kind=session.kind, group=session.group,
                                  **replay_options(session))
                runner = run.runner
            else:
                run = runner = replay_runner(session)
            describe = getattr(runner, "describe", None)
            diffs = environment_differences(session.environment, runner.environment)
            collector = Collector()
            runner.listeners.append(collector)
            runner.listeners.append(Progress(runner.total_steps, not progress,
                                             describe=run_kind(session.kind).describe_progress))
            status = run_with_ctrl_c(run, runner)
        verification = None
        if verify:
            with warnings.catch_warnings():
                # a recording that lacks a column (a file written before it was declared) reads as NULL
                # throughout: compare_steps' nanmax over its differences warns; its verdict, "differs", stands
                warnings.simplefilter("ignore", RuntimeWarning)
                verification = compare_steps(recorded, {c: collector.column(c) for c in _REPLAYED})
            verification = with_data_check(verification, diffs)  # changed data is never "identical"
        return Replay(str(status), runner.step, verification, diffs, describe() if describe else None,
                      Path(out) if out else None, _write_failure(run, status, "replay") if out else None)

    def to_csv(self, out: str | Path) -> Path:
        """One row per step with the validation columns beside it (``lrlab export --csv``)."""
        from lrlab.core.storage.export import write_csv

        with _CoreSession.open(self.path) as s:
            write_csv(s, out)
        return Path(out)

    def to_tensorboard(self, folder: str | Path) -> Path:
        """A TensorBoard run ``folder/<session name>/`` with the step and validation metrics, the
        LR, the events as text and the spec as hyperparameters; returns the run's folder.
        Needs the ``tensorboard`` package (``pip install 'lrlab[tensorboard]'``)."""
        from lrlab.core.storage.export import write_tensorboard

        with _CoreSession.open(self.path) as s:
            return write_tensorboard(s, folder)


def open_session(path: str | Path) -> Session:
    """Read a session file; SessionError (a ValueError) says in one line what is wrong with it."""
    return Session(path)


# --- training ----------------------------------------------------------------------------------


def run(spec_or_preset: SpecLike, *, edits: Iterable[tuple[int, Mapping[str, Any]]] = (),
        out: str | Path | None = None, progress: bool = False, **overrides: Any) -> Session:
    """Train a preset or run spec and return its session. ``edits`` are mid-run edits as
    (step, edit JSON), e.g. ``[(300, {"kind": "scale", "factor": 0.1})]``; ``out`` is the session
    file (never overwritten; default a new file in the sessions folder); ``progress`` draws a bar
    on stderr. Ctrl-C (a notebook's interrupt) stops at the next step, keeping every step so far.

    >>> lrlab.run("lr-too-high", optimizer__lr=0.1, out="tamed.lrlab")  # doctest: +SKIP
    """
    label, spec = resolve_spec(spec_or_preset, _changes(overrides))
    check_data(spec.dataset)  # the user's own files, before torch loads
    return start_run(label, spec, edits=edits, out=out, progress=progress)


def start_run(label: str, spec: RunSpec, *, edits: Iterable[tuple[int, Mapping[str, Any]]] = (),
              out: str | Path | None = None, progress: bool = False) -> Session:
    """:func:`run` for a spec already resolved (the command resolves it first to check flags)."""
    recorded = _record("train", spec, out, progress, label=label, edits=_check_edits(edits))
    _warn_schedule(spec, recorded.runner)
    return _finished(recorded, run_with_ctrl_c(recorded, recorded.runner))


def _write_failure(recorded: Any, status: Any, what: str = "run") -> str | None:
    """Why a run's file stopped being written while the run went on, in one line (None: it did not)."""
    if recorded.failure is None:
        return None
    steps = getattr(recorded.runner, "step", None)
    return (f"{recorded.failure}; the {what} went on and ended {status}"
            + (f" after {steps} steps" if steps is not None else "") + f", which {recorded.path} does not have")


def _finished(recorded: Any, status: Any) -> Session:
    session = Session(recorded.path)
    session.write_failure = _write_failure(recorded, status)
    return session


def fork(parent: str | Path, at: int, *, edits: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]] = (),
         out: str | Path | None = None, progress: bool = False, code: Iterable[str | Path] = (),
         allow_changed_code: bool = False) -> Session:
    """Branch the session ``parent`` at step ``at`` ("what if I had decayed here?") and train the
    branch: it continues from the parent's exact state at that step with ``edits`` (an edit JSON
    applies at ``at``; a (step, edit JSON) pair at a later step). With no edit it continues exactly
    as the parent did. ``out`` defaults to ``PARENT-atSTEP.lrlab`` beside the parent. ``code``
    names the file(s) of the parent's own model or data, as ``--code`` does.

    >>> lrlab.fork("tamed.lrlab", 200, edits=[{"kind": "scale", "factor": 0.1}])  # doctest: +SKIP
    """
    from lrlab.core.engine.snapshots import SnapshotError

    if code or allow_changed_code:
        from lrlab.core.decl.usercode import allow_for

        allow_for(open_session(parent).spec, code, allow_changed=allow_changed_code)
    pairs = [(at, e) if isinstance(e, Mapping) else e for e in edits]
    recorded = _record("fork", None, out, progress, parent=parent, at=at, edits=_check_edits(pairs))
    runner = recorded.runner
    if progress:
        first = runner.start.step if runner.start is not None else 0
        print(f"forking at step {at}: re-running steps {first} to {at} first", file=sys.stderr)
    try:
        status = run_with_ctrl_c(recorded, runner)
    except BaseException as err:
        if len(recorded.kept.column("step")) == 0:  # it failed before its first own step: leave no file
            Path(recorded.path).unlink(missing_ok=True)
        if isinstance(err, SnapshotError):  # the parent's state did not restore
            raise SessionError(f"{parent}: damaged snapshot ({err})") from None
        raise
    return _finished(recorded, status)


# --- LR range test -------------------------------------------------------------------------------


@dataclass
class FindLRResult:
    """An LR range test: the suggested LRs (``steepest``, ``valley``, ``minimum``, each with its
    reason and its spread across the seeds), the curve, and the session it was saved to."""

    session: Path
    label: str
    spec: dict[str, Any]
    params: dict[str, Any]
    result: Any  # lrlab.core.features.lrfind.RangeTestResult: the curves and every seed's suggestions

    @property
    def suggestions(self) -> dict[str, float | None]:
        """rule -> suggested LR (None where the rule found none)."""
        return {rule: s.lr for rule, s in self.result.suggestions.items()}

    @property
    def lr(self) -> float | None:
        """The ``steepest`` suggestion: the LR where the loss falls fastest."""
        return self.suggestions.get("steepest")

    def spread(self, rule: str) -> tuple[float, float] | None:
        """The lowest and highest LR the seeds' own curves suggest for ``rule``."""
        return self.result.spread(rule)

    def curve(self) -> Table:
        """lr, loss (median over seeds), smoothed, low and high (the seeds' band) per step."""
        r = self.result
        return _table({"lr": r.lrs, "loss": r.losses, "smoothed": r.smoothed, "low": r.low, "high": r.high})

    def to_json(self) -> dict[str, Any]:
        """What ``lrlab find-lr --json`` prints."""
        return self.result.cli_json()

    def describe(self) -> str:
        """The table ``lrlab find-lr`` prints: the ramp, then each rule's LR, spread and reason."""
        from lrlab.core.features.lrfind import RULES

        result, p = self.result, self.params
        n_seeds = len(result.seeds)
        lines = [f"range test: {len(result.lrs)} of {p['num_iter']} steps, LR {p['start_lr']:g} to "
                 f"{p['end_lr']:g} ({p['mode']}), {n_seeds} seed(s); {result.stop}"]
        spread_head = f"across {n_seeds} seeds" if n_seeds > 1 else ""
        lines.append(f"{'rule':<9} {'LR':<10} {spread_head:<19} why")
        for rule in RULES:
            s = result.suggestions[rule]
            if not s.ok:
                lines.append(f"{rule:<9} {'-':<10} {'':<19} {s.reason}")
                continue
            spread = result.spread(rule)
            text = f"{spread[0]:.3g}-{spread[1]:.3g}" if spread and n_seeds > 1 else ""
            lines.append(f"{rule:<9} {s.lr:<10.3g} {text:<19} {s.reason}")
        return "\n".join(lines)


def find_lr(spec_or_preset: SpecLike, *, start_lr: float | None = None, end_lr: float | None = None,
            num_iter: int | None = None, mode: str | None = None, seeds: int | None = None,
            out: str | Path | None = None, progress: bool = False, **overrides: Any) -> FindLRResult:
    """The LR range test on fresh models of the experiment: the LR ramps from ``start_lr``
    (1e-7) to ``end_lr`` (10) over ``num_iter`` (100) steps, ``mode`` "exponential" or
    "linear", repeated with ``seeds`` (3) seeds; saved as a session (kind ``range_test``)."""
    label, spec = resolve_spec(spec_or_preset, _changes(overrides))
    check_data(spec.dataset)  # the user's own files, before torch loads
    return start_find_lr(label, spec, start_lr=start_lr, end_lr=end_lr, num_iter=num_iter, mode=mode, seeds=seeds,
                         out=out, progress=progress)


def start_find_lr(label: str, spec: RunSpec, *, start_lr: float | None = None, end_lr: float | None = None,
                  num_iter: int | None = None, mode: str | None = None, seeds: int | None = None,
                  out: str | Path | None = None, progress: bool = False) -> FindLRResult:
    """:func:`find_lr` for a spec already resolved; SpecError names a bad parameter
    (``end_lr: must be greater than start_lr``) before anything trains."""
    from lrlab.core.features.lrfind import RangeTestParams

    given = {"start_lr": start_lr, "end_lr": end_lr, "num_iter": num_iter, "mode": mode, "seeds": seeds}
    params = RangeTestParams.from_json({k: v for k, v in given.items() if v is not None})
    recorded = _record("range_test", spec, out, progress, label=label, params=params)
    run_with_ctrl_c(recorded, recorded.runner)
    return FindLRResult(recorded.path, label, spec.to_json(), params.to_json(), recorded.runner.result)


# --- LR sweeps ---------------------------------------------------------------------------------


@dataclass
class SweepMember:
    """One LR (and seed) of a sweep, as its row in ``summary.json``."""

    lr: float
    seed: int
    status: str
    final_train_loss: float | None
    final_val_loss: float | None
    final_val_metric: float | None
    best_val_metric: float | None
    diverged_at: int | None
    session: str


@dataclass
class SweepResult:
    """A finished sweep: every member in the sweep's order (:meth:`ranked`: best first), the best
    one (None when all diverged), the folder of their sessions, and how it ran (``path``: the
    stacked code path; ``n_params`` per member; ``wall_time`` in seconds)."""

    folder: Path
    members: list[SweepMember]
    best: SweepMember | None
    task: str
    path: str
    n_params: int
    wall_time: float
    status: str = ""
    write_failure: str | None = None  # a member's file stopped being written (see Session.write_failure)
    #: on a Ray cluster: the chunks of members that failed on a worker, each with its message
    failures: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        return [asdict(m) for m in self.members]

    def ranked(self) -> list[SweepMember]:
        """Best first: members that did not diverge or fail, by best validation metric, then by
        final validation loss."""
        from lrlab.core.runs.sweep import rank

        return [SweepMember(**row) for row in rank(self.rows())]

    def to_frame(self) -> Table:
        """One row per member, in the sweep's order."""
        return _table({k: [row[k] for row in self.rows()] for k in SweepMember.__dataclass_fields__})

    def to_json(self) -> dict[str, Any]:
        """What ``lrlab sweep --json`` prints."""
        from lrlab.core.runs import _json_safe
        from lrlab.core.runs.sweep import ROW_KEYS

        best = None if self.best is None else asdict(self.best)
        return _json_safe({"members": [{k: row[k] for k in ROW_KEYS} for row in self.rows()],
                           "best": None if best is None else {k: best[k] for k in ROW_KEYS}, "path": self.path})


def sweep(spec_or_preset: SpecLike, lrs: Iterable[float], *, seeds: int = 1, out: str | Path | None = None,
          progress: bool = False, **overrides: Any) -> SweepResult:
    """Train one copy of the experiment per LR in ``lrs`` (times ``seeds`` seeds: the spec's seed,
    seed+1, ...) at once with stacked parameters; each member is saved as a session in ``out``
    (a new or empty folder; default a new folder in the sessions folder)."""
    label, spec = resolve_spec(spec_or_preset, _changes(overrides))
    check_data(spec.dataset)  # the user's own files, before torch loads
    return start_sweep(label, spec, lrs, seeds=seeds, out=out, progress=progress)


def start_sweep(label: str, spec: RunSpec, lrs: Iterable[float], *, seeds: int = 1,
                out: str | Path | None = None, progress: bool = False, ray: str | None = None,
                ray_cpus: float = 1, ray_gpus: float = 0, ray_tasks: int | None = None) -> SweepResult:
    """:func:`sweep` for a spec already resolved; ``ray`` (an address, or "" for ``RAY_ADDRESS``
    or a local instance) runs its members on a Ray cluster instead (:mod:`lrlab.core.runs.cluster`)."""
    from lrlab.core.runs import best_row, seed_list
    from lrlab.core.runs.sweep import MAX_MEMBERS, check_lrs

    lrs = check_lrs(lrs)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise SpecError([("seeds", f"must be a whole number >= 1, got {seeds!r}")])
    if len(lrs) * seeds > MAX_MEMBERS:
        raise SpecError([("seeds", f"{len(lrs)} LRs x {seeds} seeds is more than {MAX_MEMBERS} members")])
    if ray is not None:
        return _ray_sweep(label, spec, lrs, seeds, out, progress, ray or None, ray_cpus, ray_gpus, ray_tasks)
    recorded = _record("sweep", spec, out, progress, label=label, lrs=lrs, seeds=seed_list(spec.seed, seeds))
    runner = recorded.runner
    _warn_schedule(spec, runner)
    status = run_with_ctrl_c(recorded, runner)
    best = best_row(recorded.rows)
    return SweepResult(recorded.path, [SweepMember(**row) for row in recorded.rows],
                       None if best is None else SweepMember(**best), spec.task, runner.path, runner.n_params,
                       float(runner.summary.get("wall_time", 0)), str(status),
                       _write_failure(recorded, status, "sweep"))


def _ray_sweep(label: str, spec: RunSpec, lrs: list[float], seeds: int, out: str | Path | None, progress: bool,
               address: str | None, cpus: float, gpus: float, tasks: int | None) -> SweepResult:
    from lrlab.core.decl import paths
    from lrlab.core.runs import best_row, unique_path
    from lrlab.core.runs.cluster import ray_sweep
    from lrlab.core.runs.sweep import folder_name

    folder = Path(out) if out else unique_path(paths.sessions_dir() / folder_name(spec, lrs, len(lrs) * seeds, label))
    total = len(lrs) * seeds

    def arrived(r: Any) -> None:
        if progress:
            print(f"\r{len(r.rows)}/{total} members arrived"
                  + (f", {len(r.failures)} chunk(s) failed" if r.failures else ""), end="", file=sys.stderr)

    result = ray_sweep(spec, lrs, folder, seeds=seeds, address=address, cpus=cpus, gpus=gpus, tasks=tasks,
                       label=label, on_chunk=arrived)
    if progress:
        print(file=sys.stderr)
    best = best_row(result.rows)
    return SweepResult(folder, [SweepMember(**row) for row in result.rows],
                       None if best is None else SweepMember(**best), spec.task, result.path, result.n_params,
                       result.wall_time, result.status, failures=result.failures)


# --- population-based training ------------------------------------------------------------------


@dataclass
class PBTResult:
    """A finished population-based training (:mod:`lrlab.core.runs.pbt`).

    ``winner``: ``{"member", "schedule", "final_val_metric"}``, the member with the highest final
    validation metric and its lineage's LR as a schedule spec for the spec's LR (None when every
    member diverged); ``members``: ``{"member", "final_val_metric", "lineage", "session"}`` per
    member, ``lineage`` its exploits as ``[step, source member, new LR]``; ``exploits``: how many
    there were. ``transfer``, when asked for: the winner's schedule trained from scratch as a
    single run (``{"session", "final_val_metric"}``), to see whether the schedule transfers."""

    folder: Path
    winner: dict[str, Any] | None
    members: list[dict[str, Any]]
    exploits: int
    spec: dict[str, Any]
    status: str = ""
    wall_time: float = 0.0
    transfer: dict[str, Any] | None = None
    write_failure: str | None = None
    failures: list[str] = field(default_factory=list)

    def winner_spec(self) -> dict[str, Any] | None:
        """The run spec that trains the winner's schedule from scratch (the spec, its schedule replaced)."""
        return None if self.winner is None else {**self.spec, "schedule": self.winner["schedule"]}

    def to_json(self) -> dict[str, Any]:
        """What ``lrlab pbt --json`` prints."""
        from lrlab.core.runs import _json_safe

        out: dict[str, Any] = {"winner": self.winner, "members": self.members, "exploits": self.exploits}
        if self.transfer is not None:
            out["transfer"] = self.transfer
        return _json_safe(out)


def pbt(spec: SpecLike, *, population: int, interval: int, quantile: float = 0.25,
        perturb: tuple[float, float] = (0.8, 1.25), seed: int = 0, out: str | Path | None = None,
        transfer: bool = False, ray: str | None = None, progress: bool = False, **overrides: Any) -> PBTResult:
    """Population-based training (Jaderberg et al., 2017): ``population`` members of the experiment
    train at once from LRs spread around its LR; every ``interval`` steps the bottom ``quantile``
    copies the weights and optimizer state of a top member and multiplies its LR by one of the
    ``perturb`` factors, drawn with ``seed``. Each member is a session in ``out`` (a new or empty
    folder). ``transfer`` then trains the winner's discovered schedule from scratch as one run;
    ``ray`` (an address, or "" for ``RAY_ADDRESS`` or a local instance) runs the population with Ray
    Tune's ``PopulationBasedTraining`` scheduler instead."""
    label, resolved = resolve_spec(spec, _changes(overrides))
    return start_pbt(label, resolved, population=population, interval=interval, quantile=quantile,
                     perturb=perturb, seed=seed, out=out, transfer=transfer, ray=ray, progress=progress)


def start_pbt(label: str, spec: RunSpec, *, population: int, interval: int, quantile: float = 0.25,
              perturb: tuple[float, float] = (0.8, 1.25), seed: int = 0, out: str | Path | None = None,
              transfer: bool = False, ray: str | None = None, progress: bool = False) -> PBTResult:
    """:func:`pbt` for a spec already resolved (the command resolves it first to check flags)."""
    from lrlab.core.decl.spec import planned_steps
    from lrlab.core.runs.pbt import check_interval, check_pbt

    population, interval, quantile, perturb = check_pbt(population, interval, quantile, perturb)
    check_interval(interval, planned_steps(spec))  # before anything loads
    if ray is not None:
        from lrlab.core.runs.cluster_pbt import ray_pbt

        folder, failures = ray_pbt(spec, out, population=population, interval=interval, quantile=quantile,
                                   perturb=perturb, seed=seed, address=ray or None, label=label)
        result = pbt_result(folder)
        result.failures = failures
    else:
        recorded = _record("pbt", spec, out, progress, label=label, population=population, interval=interval,
                           quantile=quantile, perturb=perturb, pbt_seed=seed)
        _warn_schedule(spec, recorded.runner)
        status = run_with_ctrl_c(recorded, recorded.runner)
        result = pbt_result(recorded.path, str(status))
        result.write_failure = _write_failure(recorded, status, "population")
    if transfer and result.winner is not None:
        result.transfer = transfer_winner(result, out=result.folder / "winner-from-scratch.lrlab", progress=progress)
    return result


def pbt_result(folder: Path, status: str = "") -> PBTResult:
    """A population's result, read back from its folder (``summary.json``)."""
    from lrlab.core.runs.pbt import read_result

    r = read_result(folder)
    return PBTResult(Path(folder), r["winner"], r["members"], r["exploits"], r["spec"], status or r["status"],
                     r["wall_time"])


def transfer_winner(result: PBTResult, *, out: str | Path | None = None, progress: bool = False) -> dict[str, Any]:
    """"Does the discovered schedule transfer?": the winner's schedule trained from scratch as a
    single run of the spec; its session and final validation metric beside the winner's."""
    spec = RunSpec.from_json(result.winner_spec(), "winner")
    session = start_run("pbt-winner", spec, out=out, progress=progress)
    assert result.winner is not None
    return {"session": str(session.path), "final_val_metric": session.summary.get("final_val_metric"),
            "winner_final_val_metric": result.winner["final_val_metric"]}
# --- LR x batch-size grids -------------------------------------------------------------------


@dataclass
class GridResult:
    """A finished grid (:mod:`lrlab.core.runs.grid`), as its ``summary.json`` holds it: every
    cell (batch size, LR, seed, status, final training loss and validation metric, steps to the
    target, session), the best LR per batch size (``{}`` where every LR diverged), the linear and
    square-root rules' predictions from the smallest batch size's best LR, the knee of steps to
    target (None without a target) and the gradient noise scale per batch size (``{}`` where the
    sessions do not record it)."""

    folder: Path
    budget: str
    cells: list[dict[str, Any]]
    best: dict[str, dict[str, Any]]
    rules: dict[str, dict[str, float]]
    knee: dict[str, Any] | None
    noise_scale: dict[str, float]
    task: str
    status: str
    wall_time: float
    write_failure: str | None = None
    failures: list[str] = field(default_factory=list)  # on Ray: the batch sizes that failed, with their messages

    @classmethod
    def read(cls, folder: str | Path, task: str, **more: Any) -> GridResult:
        """The grid whose ``summary.json`` is in ``folder``."""
        import json

        folder = Path(folder)
        data = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        return cls(folder, data["budget"], data["cells"], data["best"], data["rules"], data["knee"],
                   data[NOISE_SCALE.name], task, data["status"], float(data["summary"].get("wall_time") or 0), **more)

    def to_json(self) -> dict[str, Any]:
        """What ``lrlab grid --json`` prints."""
        from lrlab.core.runs import _json_safe

        return _json_safe({"budget": self.budget, "cells": self.cells, "best": self.best, "rules": self.rules,
                           NOISE_SCALE.name: self.noise_scale, "knee": self.knee})

    def to_frame(self) -> Table:
        """One row per cell, in the grid's order (batch size, LR, seed)."""
        keys = list(self.cells[0]) if self.cells else ["batch_size", "lr", "seed", "status"]
        return _table({k: [c.get(k) for c in self.cells] for k in keys})


def grid(spec_or_preset: SpecLike, lrs: Iterable[float], batch_sizes: Iterable[int], *, budget: str = "epochs",
         seeds: int = 1, best: str | None = None, target: str | None = None, out: str | Path | None = None,
         progress: bool = False, **overrides: Any) -> GridResult:
    """Train every LR in ``lrs`` (x ``seeds`` seeds) at every batch size in ``batch_sizes``: each
    batch size's LRs at once as one stacked sweep, the batch sizes one after another. ``budget``:
    ``"epochs"`` (equal samples seen) or ``"steps"`` (equal steps); ``best``: what picks each batch
    size's best LR, ``"val_metric"`` (default) or ``"train_loss"`` (final smoothed); ``target``:
    ``"val_metric>=0.95"`` (or ``val_metric=0.95``) adds the steps to reach it. Each cell is a
    session in ``out`` (a new or empty folder; default a new folder in the sessions folder)."""
    label, spec = resolve_spec(spec_or_preset, _changes(overrides))
    return start_grid(label, spec, lrs, batch_sizes, budget=budget, seeds=seeds, best=best, target=target, out=out,
                      progress=progress)


def start_grid(label: str, spec: RunSpec, lrs: Iterable[float], batch_sizes: Iterable[int], *,
               budget: str = "epochs", seeds: int = 1, best: str | None = None, target: str | None = None,
               out: str | Path | None = None, progress: bool = False, ray: str | None = None,
               ray_cpus: float = 1, ray_gpus: float = 0) -> GridResult:
    """:func:`grid` for a spec already resolved; ``ray`` (an address, or "" for ``RAY_ADDRESS`` or a
    local instance) runs each batch size as a task on a Ray cluster (:func:`lrlab.core.runs.cluster.ray_grid`)."""
    from lrlab.core.runs import seed_list
    from lrlab.core.runs.grid import target_text

    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise SpecError([("seeds", f"must be a whole number >= 1, got {seeds!r}")])
    options = {"budget": budget, "target": None if target is None else target_text(target),
               **({} if best is None else {"best": best})}
    lrs, batch_sizes = list(lrs), list(batch_sizes)
    if ray is not None:
        return _ray_grid(label, spec, lrs, batch_sizes, seeds, out, progress, ray or None, ray_cpus, ray_gpus, options)
    recorded = _record("grid", spec, out, progress, label=label, lrs=lrs, batch_sizes=batch_sizes,
                       seeds=seed_list(spec.seed, seeds), **options)
    status = run_with_ctrl_c(recorded, recorded.runner)
    return GridResult.read(recorded.path, spec.task, write_failure=_write_failure(recorded, status, "grid"))


def _ray_grid(label: str, spec: RunSpec, lrs: list[float], batch_sizes: list[int], seeds: int,
              out: str | Path | None, progress: bool, address: str | None, cpus: float, gpus: float,
              options: Mapping[str, Any]) -> GridResult:
    from lrlab.core.decl import paths
    from lrlab.core.runs import unique_path
    from lrlab.core.runs.cluster import ray_grid
    from lrlab.core.runs.grid import Grid

    planned = Grid(spec, lrs=lrs, batch_sizes=batch_sizes, **options)  # checks everything before Ray starts
    folder = Path(out) if out else unique_path(paths.sessions_dir() / planned.folder_name(label))

    def arrived(r: Any) -> None:
        if progress:
            print(f"\r{len(r.rows)}/{planned.k * seeds} cells arrived"
                  + (f", {len(r.failures)} batch size(s) failed" if r.failures else ""), end="", file=sys.stderr)

    result = ray_grid(spec, lrs, batch_sizes, folder, seeds=seeds, address=address, cpus=cpus, gpus=gpus,
                      label=label, on_chunk=arrived, **options)
    if progress:
        print(file=sys.stderr)
    return GridResult.read(folder, spec.task, failures=result.failures)


# --- comparing ------------------------------------------------------------------------------


@dataclass
class Comparison:
    """Sessions side by side: ``summary`` (a row per session: status, steps, final and best
    validation metric, the first step and wall time each reached ``target``), ``differences``
    (every spec field, edit and environment entry, marking those that differ) and ``curves``
    (session name -> (x, y) of ``metric`` against ``x``, smoothed except for the LR)."""

    paths: list[Path]
    names: list[str]
    metric: str
    x: str
    target: Any  # lrlab.core.features.compare.Target, or None
    summary: list[Any]  # lrlab.core.features.compare.SummaryRow
    differences: list[Any]  # lrlab.core.features.compare.Difference
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def describe(self) -> str:
        """The summary table and the table of what differs, as ``lrlab compare`` prints them."""
        from lrlab.core.features.compare import format_differences, format_summary

        return (f"{format_summary(self.summary, self.target)}\n\n"
                f"{format_differences(self.differences, self.names)}")

    def to_json(self) -> dict[str, Any]:
        """What ``lrlab compare --json`` prints: the summary table as one object per session and
        the fields that differ (as :meth:`describe` shows them), with NaN as null."""
        from lrlab.core.runs import _json_safe

        sessions = [{"path": str(path), "name": row.name, "label": row.label or row.name, "status": row.status,
                     "steps": row.steps, "steps_per_second": row.steps_per_second,
                     "final_val_metric": row.final_val_metric, "best_val_metric": row.best_val_metric,
                     "final_val_loss": row.final_val_loss, "target_step": row.target_step,
                     "target_wall": row.target_wall}
                    for path, row in zip(self.paths, self.summary, strict=True)]
        return _json_safe({"metric": self.metric, "x": self.x,
                           "target": None if self.target is None else str(self.target), "sessions": sessions,
                           "differences": [{"field": d.field, "values": list(d.values)}
                                           for d in self.differences if d.differs]})

    def to_frame(self) -> Table:
        """The curves in long form: session, x, value."""
        sessions, xs, ys = [], [], []
        for name, (x, y) in self.curves.items():
            sessions += [name] * len(x)
            xs.append(x)
            ys.append(y)
        return _table({"session": np.array(sessions, dtype=object), self.x: np.concatenate(xs) if xs else [],
                       self.metric: np.concatenate(ys) if ys else []})

    def write_csv(self, out: str | Path) -> int:
        """Every metric of every session as session, step, metric, value rows; returns the rows."""
        from lrlab.core.features.compare import open_runs, write_long_csv

        runs = open_runs(self.paths)
        try:
            return write_long_csv(runs, out)
        finally:
            for r in runs:
                r.close()


def compare(paths: Sequence[str | Path], *, metric: str = TRAIN_LOSS.name, x: str = "step", smooth: float = 0.6,
            target: str | None = "val_metric>=0.95", progress: Callable[[int, int], None] | None = None) -> Comparison:
    """Compare two or more sessions (see :class:`Comparison`). ``x`` is step, epoch, samples or
    wall; ``smooth`` the EMA weight in [0, 1); ``target`` e.g. ``"val_metric>=95%"`` or None.
    ``progress(rows read, rows to read)`` is called as long columns are read (a file of millions
    of steps takes seconds). A bad argument is a SpecError (a ValueError) naming it, in one line."""
    from lrlab.core.decl.params import unknown
    from lrlab.core.features.compare import X_AXES, Target, differences, open_runs, summary

    if isinstance(paths, (str, Path)) or len(paths) < 2:
        raise SpecError([("paths", "give at least two session files")])
    if not isinstance(metric, str) or metric not in METRICS:
        raise SpecError([("metric", unknown(metric if isinstance(metric, str) else repr(metric)[:40], list(METRICS)))])
    if not isinstance(x, str) or x not in X_AXES:
        raise SpecError([("x", unknown(x if isinstance(x, str) else repr(x)[:40], list(X_AXES)))])
    if type(smooth) not in (int, float) or not 0 <= smooth < 1:
        raise SpecError([("smooth", f"must be a number in [0, 1), got {str(smooth)[:40]!r}")])
    goal = Target.parse(target) if target else None
    runs = open_runs(paths, progress)
    try:
        return Comparison([Path(p) for p in paths], [r.name for r in runs], metric, x, goal,
                          summary(runs, goal, smooth), differences(runs),
                          {r.name: r.series(metric, x, smooth) for r in runs})
    finally:
        for r in runs:
            r.close()


# --- the loss landscape -----------------------------------------------------------------------


def landscape(surface: str | None = None, *, demo: str | None = None, optimizers: Sequence[str] = (),
              schedules: Sequence[str] = (), start: str | Sequence[float] | None = None, steps: int | None = None,
              seed: int | None = None, edits: Iterable[tuple[int, Mapping[str, Any]]] = (),
              out: str | Path | None = None, words: Mapping[str, str] | None = None) -> Any:
    """Run real optimizers on a 2-D loss surface, described in the short forms ``lrlab
    landscape`` takes (:func:`lrlab.core.features.landscape.spec_from_short`), and return the finished
    :class:`lrlab.core.features.landscape.Landscape` (``.trajectories``, ``.results()``). ``edits`` are
    (step, edit JSON) with an optional ``"trajectory"`` (1 = the first; none: all); ``out`` also
    saves the run as a session (kind ``landscape``) that replays identically. ``words`` names
    the inputs in errors as the caller spells them (the command passes its flags).

    >>> lrlab.landscape("quadratic", optimizers=["sgd:lr=0.1", "adam:lr=0.05"])  # doctest: +SKIP
    """
    from lrlab.core.features.landscape import SHORT_WORDS, Landscape, parse_targeted_edit, spec_from_short

    words = {**SHORT_WORDS, "edit": "edits[{i}]", **(words or {})}
    spec = spec_from_short(surface, demo=demo, optimizers=optimizers, schedules=schedules, start=start,
                           steps=steps, seed=seed, words=words)
    checked = []
    for i, (step, edit) in enumerate(edits):
        where = words["edit"].format(i=i, step=step)
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise SpecError([(where, f"the step must be a whole number >= 0, got {step!r}")])
        target, parsed = parse_targeted_edit(edit, len(spec.trajectories), where)
        checked.append((step, {**parsed.to_json(), **({"trajectory": target} if target else {})}))
    checked.sort(key=lambda e: e[0])
    if out is None:
        return Landscape(spec, checked).run()
    from lrlab.core.runs import record
    from lrlab.core.runs.landscape import run_spec_of

    recorded = record("landscape", run_spec_of(spec), out, label=f"landscape-{spec.surface.kind}",
                      landscape=spec.to_json(), edits=checked)
    run_with_ctrl_c(recorded, recorded.runner)
    return recorded.runner.landscape


# --- presets ----------------------------------------------------------------------------------


def presets() -> list[dict[str, Any]]:
    """The bundled presets in teaching order, as ``lrlab presets --json`` prints them: name (what
    :func:`run` and the command take), title, group, explanation and the run spec."""
    from lrlab.core.decl.resources import list_presets

    return [{"name": p.name, "title": p.title, "group": p.group, "explanation": p.explanation, "spec": p.spec}
            for p in list_presets()]


# --- schedules ---------------------------------------------------------------------------------

#: how a missing length is asked for, in Python's words (the command uses its flags')
_PYTHON_WORDS = {"steps": ("steps", "required (how many steps to evaluate, e.g. steps=1000)"),
                 "epochs": "steps_per_epoch=N"}


def plan_schedule(source: str | Path | Mapping[str, Any] | RunSpec, steps: int | None = None, *,
                  lr: float | None = None, steps_per_epoch: int | None = None,
                  words: Mapping[str, Any] = _PYTHON_WORDS) -> tuple[Any, float, ScheduleValues]:
    """(the schedule with its durations in steps, the base LR, the LR at steps 0..steps-1) for a
    bare schedule (base LR 0.1 unless ``lr``; "run" and "25%" follow ``steps``), or a run spec or
    preset's schedule (durations follow its run; ``steps`` defaults to the whole run)."""
    from lrlab.core.decl import schedules
    from lrlab.core.decl.spec import planned_steps, planned_steps_per_epoch, read_json, unwrap_preset

    if isinstance(source, RunSpec):
        data: Any = source.to_json()
    elif isinstance(source, Mapping):
        data = unwrap_preset(source)
    else:
        data = unwrap_preset(read_json(resolve_input(source)))
    if isinstance(data, Mapping) and "kind" in data and "optimizer" not in data:
        spec = schedules.parse_schedule(data)
        base_lr = 0.1
        if steps is None:
            raise SpecError([words["steps"]])
        # a bare schedule has no run: "run" and "25%" mean the steps asked for
        for path, value in schedules.relative_durations(spec):
            if str(value).endswith("ep") and steps_per_epoch is None:
                raise SpecError([(path, f"{value!r} counts epochs; give {words['epochs']}, or use a run spec "
                                        "or preset")])
        spec = schedules.resolve_schedule(spec, steps, steps_per_epoch or 1)
    else:
        run_spec = RunSpec.from_json(data)
        total = planned_steps(run_spec)
        spec, base_lr = run_spec.resolved(total, planned_steps_per_epoch(run_spec)).schedule, run_spec.lr
        steps = steps if steps is not None else total  # the whole run by default
    if lr is not None:
        base_lr = lr
    return spec, base_lr, ScheduleValues(schedules.build(spec, base_lr), steps)


class ScheduleValues:
    """The LR at steps 0..steps-1, computed when read: ``np.asarray(values)`` gives them all,
    ``values.chunks()`` a bounded piece at a time (``lrlab schedule --steps 100000000`` prints
    them 100,000 at a time instead of holding 3.5 GB of text)."""

    def __init__(self, fn: Any, steps: int):
        self.fn, self.steps = fn, steps

    def __len__(self) -> int:
        return self.steps

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        from lrlab.core.decl.schedules import values

        out = values(self.fn, 0, self.steps)
        return out if dtype is None else out.astype(dtype)

    def chunks(self, size: int = 100_000) -> Iterable[tuple[int, np.ndarray]]:
        """(first step, its LRs) for consecutive pieces of at most ``size`` steps."""
        from lrlab.core.decl.schedules import values

        for start in range(0, self.steps, size):
            yield start, values(self.fn, start, min(start + size, self.steps))


def schedule(spec_or_dict: str | Path | Mapping[str, Any] | RunSpec, steps: int | None = None, *,
             lr: float | None = None, steps_per_epoch: int | None = None) -> np.ndarray:
    """The LR at steps 0..steps-1 of a schedule (``{"kind": "cosine", "T_max": "run"}``, base LR
    0.1 unless ``lr``), or of a run spec's or preset's schedule (``steps``: its whole run by
    default), as ``lrlab schedule`` prints it."""
    return np.asarray(plan_schedule(spec_or_dict, steps, lr=lr, steps_per_epoch=steps_per_epoch)[2])


# --- the session library ----------------------------------------------------------------------


class Library:
    """Every session in a folder, one row each: for filtering hundreds of runs in a notebook.

    Built on the desktop app's session library, so a refresh opens only the files that changed
    since the last one (its index lives in the lrlab folder, one per folder listed)."""

    def __init__(self, folder: str | Path | None = None):
        from lrlab.core.decl import paths
        from lrlab.core.storage.library import Library as _CoreLibrary

        self.folder = Path(folder) if folder is not None else paths.sessions_dir()
        key = hashlib.sha1(str(self.folder.resolve()).encode()).hexdigest()[:16]
        self._library = _CoreLibrary([self.folder], index=paths.home() / "indexes" / f"{key}.json")

    def rows(self) -> list[dict[str, Any]]:
        """One dict per session, newest first: path, name, created, kind, group, status, the
        spec's fields flattened (``optimizer.lr``) and the summary's numbers (``best_val_metric``;
        ``summary.steps`` is the steps recorded, ``steps`` the spec's own)."""
        from lrlab.core.decl.spec import flatten

        rows = []
        for e in self._library.refresh():
            row: dict[str, Any] = {"path": e.path, "name": e.name, "created": e.created, "kind": e.kind,
                                   "group": e.group, "status": e.status}
            spec = flatten(e.spec)
            row.update(spec)
            for k, v in e.summary.items():
                if isinstance(v, (int, float, str, bool)) or v is None:
                    row[f"summary.{k}" if k in row else k] = v
            rows.append(row)
        return rows

    def to_frame(self) -> Table:
        """:meth:`rows` as a DataFrame; a field a session
        lacks (a schedule parameter of another kind) is missing there (None; NaN in a column of numbers)."""
        rows = self.rows()
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        return _table({c: [row.get(c) for row in rows] for c in columns})

    def __len__(self) -> int:
        return len(self._library.refresh())


def library(folder: str | Path | None = None) -> Library:
    """The sessions of ``folder`` (default: the sessions folder); ``.to_frame()`` for a table."""
    return Library(folder)


# --- the auto-tuning showdown --------------------------------------------------------------------


@dataclass
class AutotuneResult:
    """The showdown: per method (``methods``, each a
    :class:`~lrlab.core.features.showdown.MethodResult`) the median over seeds of the final
    validation metric, the steps to the target and the wall time, the spread, every session."""

    folder: Path
    budget: int
    seeds: list[int]
    target: Any  # lrlab.core.features.showdown.Target
    methods: list[Any]

    def to_json(self) -> dict[str, Any]:
        """What ``lrlab autotune --json`` prints (and ``showdown.json`` in the folder holds)."""
        from lrlab.core.features.showdown import to_json

        return to_json(self.budget, self.seeds, self.target, self.methods, str(self.folder))

    def describe(self) -> str:
        """The table ``lrlab autotune`` prints."""
        from lrlab.core.features.showdown import format_table

        return format_table(self.methods, self.target)


def autotune(spec_or_preset: SpecLike, *, budget: int, seeds: int = 3, target: str = "val_metric=0.97",
             methods: str | Iterable[str] | None = None, out: str | Path | None = None, progress: bool = False,
             **overrides: Any) -> AutotuneResult:
    """The auto-tuning showdown (AlgoPerf's self-tuning track as the model): under ``budget``
    steps and the same ``seeds`` (the spec's seed and the next ones), the spec as given, a range
    test then cosine, a range test then one-cycle, Prodigy, Schedule-Free AdamW and PBT with the
    same total compute (``methods`` picks some, e.g. ``"given,prodigy"``). Every run is a session
    in ``out`` (a new folder; default one in the sessions folder)."""
    label, spec = resolve_spec(spec_or_preset, _changes(overrides))
    return start_autotune(label, spec, budget=budget, seeds=seeds, target=target, methods=methods, out=out,
                          progress=progress)


def start_autotune(label: str, spec: RunSpec, *, budget: int, seeds: int = 3, target: str = "val_metric=0.97",
                   methods: str | Iterable[str] | None = None, out: str | Path | None = None,
                   progress: bool = False) -> AutotuneResult:
    """:func:`autotune` for a spec already resolved; SpecError on bad input before anything trains."""
    from lrlab.core.decl.showdown import check_budget, parse_methods, parse_target
    from lrlab.core.runs.recorded import seed_list
    from lrlab.core.runs.showdown import Showdown, output_folder

    names = parse_methods(methods, "methods")
    goal = parse_target(target, "target")
    check_budget(budget, names, "budget")
    if type(seeds) is not int or not 1 <= seeds <= 16:
        raise SpecError([("seeds", f"must be a whole number from 1 to 16, got {seeds!r}")])
    folder = output_folder(out, "".join(c if c.isalnum() or c in "-_" else "-" for c in label))

    def report(done: int, total: int, text: str) -> None:
        if progress:
            print(f"[{done + 1}/{total}] {text}", file=sys.stderr)

    showdown = Showdown(spec, budget=budget, seeds=seed_list(spec.seed, seeds), target=goal, methods=names,
                        folder=folder, pbt=pbt, progress=report)
    results = showdown.run()
    return AutotuneResult(folder, budget, showdown.seeds, goal, results)
