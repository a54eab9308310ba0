"""The ``landscape`` run kind: optimizers on a 2-D surface, recorded like any run.

It drives a :class:`lrlab.core.features.landscape.Landscape` (every trajectory one step at a time) on
the one loop every runner has (:meth:`lrlab.core.runs.base.RunnerBase.loop`: pause, resume,
stop, edits, pace), so ``lrlab landscape
--out``, the Landscape window's "Save session" and ``lrlab replay`` share one code path.

How a landscape run fills a session (``resources/docs/session-format.md``, "Landscape runs"):

- ``meta.landscape``: the landscape spec (surface, start, steps, seed, trajectories), what a
  replay re-runs; ``meta.spec``: a run spec holding the first trajectory's optimizer and
  schedule, the steps and the seed, so every reader of run specs (names, ``lrlab info``,
  compare's "what differs") has something true to read. Its dataset and model are unused.
- ``steps``: one row per step of the run, describing the **first** trajectory as a training
  run would (``train_loss`` = f before the step, ``lr``, ``grad_norm`` = |gradient| with noise,
  ``update_ratio`` = |w_after - w_before| / |w_before|); NULL loss and gradient once it has
  diverged while others go on. ``epoch`` = step (an epoch is one step here).
- ``events``: ``edit`` (with ``trajectory``, 1-based, or null for all), ``diverged`` and
  ``plateau`` (each with its ``trajectory``), ``pause``/``resume``/``stop``.
- ``summary.landscape``: written when the run ends: every trajectory's points, losses, LRs,
  gradient norms and status (:meth:`lrlab.core.features.landscape.Trajectory.to_json`).

A replay rebuilds the run from ``meta.landscape`` and the edit events; ``lrlab replay --verify``
compares the first trajectory's loss and LR at every step bit for bit, and :func:`verify`
compares every trajectory's points.
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import torch

from lrlab.core.decl.events import Event, Status
from lrlab.core.decl.metrics import GRAD_NORM, TRAIN_LOSS, UPDATE_RATIO
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import RunSpec
from lrlab.core.features.landscape import DIVERGED, Landscape, LandscapeSpec
from lrlab.core.runs.base import Callback, Columns, RunnerBase
from lrlab.core.runs.train import environment


def run_spec_of(spec: LandscapeSpec) -> RunSpec:
    """The run spec a landscape session stores: the first trajectory's optimizer and schedule,
    the steps and the seed, on the CPU with one thread (dataset and model unused)."""
    first = spec.trajectories[0]
    return RunSpec.from_json({"optimizer": first.optimizer.to_json(), "schedule": first.schedule.to_json(),
                              "steps": spec.steps, "seed": spec.seed, "device": "cpu", "threads": 1})


def default_landscape(spec: RunSpec) -> dict[str, Any]:
    """A landscape for a bare run spec: its optimizer and schedule on the quadratic bowl."""
    return {"surface": {"kind": "quadratic"}, "steps": spec.steps or 200, "seed": spec.seed,
            "trajectories": [{"optimizer": spec.optimizer.to_json(), "schedule": spec.schedule.to_json()}]}


class LandscapeRunner(RunnerBase):
    """Runs a landscape spec to the end (or a stop). ``edits`` are (step, edit JSON) pairs, an
    edit JSON may name its ``trajectory`` (1-based); ``max_steps`` cuts the run short (a
    replay of a run saved before its end)."""

    kind: ClassVar[str] = "landscape"

    def __init__(self, spec: RunSpec, *, landscape: Mapping[str, Any] | LandscapeSpec | None = None,
                 edits: Iterable[tuple[int, Mapping[str, Any]]] = (), max_steps: int | None = None,
                 flush_seconds: float = 0.2, pace: float | None = None):
        super().__init__()
        self.pace = pace
        if landscape is None:
            landscape = default_landscape(spec)
        self.landscape_spec = (landscape if isinstance(landscape, LandscapeSpec)
                               else LandscapeSpec.from_json(dict(landscape), "landscape"))
        self.spec = run_spec_of(self.landscape_spec)
        self.landscape = Landscape(self.landscape_spec, edits)
        self.total_steps = self.landscape_spec.steps if max_steps is None else min(max_steps, self.landscape_spec.steps)
        self.flush_seconds = flush_seconds
        self.summary: dict[str, Any] = {}
        self.environment = environment(torch.device("cpu"), 1, False)
        self.environment["optimizer_impl"] = "default"  # the single-tensor reference implementation
        self._live_edits: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.device = torch.device("cpu")

    # --- what sessions and replays need --------------------------------------------------

    def session_meta(self) -> dict[str, Any]:
        surface = self.landscape.surface
        return {"landscape": self.landscape_spec.to_json(), "total_steps": self.total_steps, "steps_per_epoch": 1,
                "critical_lr": [None if c is None or not math.isfinite(c) else c for c in self.landscape.critical],
                "max_curvature": surface.max_curvature}

    def final_summary(self) -> dict[str, Any]:
        return {"landscape": {"trajectories": self.landscape.results(), "steps": self.landscape.step}}

    @classmethod
    def replay_options(cls, session: Any) -> dict[str, Any]:
        """The landscape spec, every edit with its trajectory, and the length of a run cut short."""
        ended_early = session.status in (Status.STOPPED, Status.INTERRUPTED)
        if not isinstance(session.meta.get("landscape"), dict):
            raise SpecError([("landscape", f"{session.path}: a landscape session without its landscape spec in meta "
                                          "cannot be replayed")])
        return {"landscape": session.meta["landscape"], "edits": landscape_edits(session.events()),
                "max_steps": session.n_steps() if ended_early else None}

    # --- commands --------------------------------------------------------------------------

    def edit(self, edit: Mapping[str, Any]) -> None:
        """Queue an edit (JSON; ``trajectory``: 1-based, absent for all); it applies at the next
        step boundary. Kept apart from the base class's queue, which knows no trajectories."""
        self._live_edits.put(dict(edit))

    # --- the loop's hooks (the loop: lrlab.core.runs.base.RunnerBase.loop) -------------------

    def begin(self) -> None:
        torch.set_num_threads(1)  # put back after the run, as every run's thread count
        self.columns = Columns(capacity=4096)
        self.callbacks = [_LiveEdits()]

    def train_step(self, step: int) -> bool:
        """Every trajectory one step; the first one's values go to the steps table. True once
        the landscape is done (every trajectory diverged)."""
        land = self.landscape
        first = land.trajectories[0]
        alive = first.status != DIVERGED
        x, y = first.point
        notes = land.advance()
        self.step = land.step
        for note in notes:
            self.record(note.kind, at=note.step, **note.data)
        self.columns.append(**_row(step, time.perf_counter() - self.t0, first, alive, x, y))
        return land.done

    def finish(self) -> None:
        """A run that was not stopped by hand ended diverged (every trajectory), cut short (by
        ``max_steps``: a replay of a run saved early, which stops there again) or finished."""
        if self.status != Status.FINISHED:
            return
        if all(t.status == DIVERGED for t in self.landscape.trajectories):
            self.status = Status.DIVERGED
        elif self.step < self.landscape.spec.steps:
            self.status = Status.STOPPED

    def _apply_live(self, edit: dict[str, Any]) -> None:
        try:
            note = self.landscape.apply_edit(edit)
        except SpecError as err:
            self.record("rejected", edit=edit, message=str(err))
            return
        self.record(note.kind, **note.data)


class _LiveEdits(Callback):
    """Before each step, the edits sent while the run goes (:meth:`LandscapeRunner.edit`)."""

    def before_step(self, run: Any) -> bool:
        while not run._live_edits.empty():
            run._apply_live(run._live_edits.get())
        return False


def _row(step: int, wall: float, traj: Any, alive: bool, x: float, y: float) -> dict[str, float]:
    """The steps-table values of ``step`` for the first trajectory, by column (see the module
    docstring); a diverged trajectory's loss, gradient norm and update ratio are not given (NULL)."""
    lr = float(traj.timeline(step)) if not alive else float(traj.lr.data[step])
    where = {"step": step, "epoch": step, "samples": step + 1, "wall_time": wall, "lr": lr}
    if not alive:
        return where
    nx, ny = float(traj.x.data[step + 1]), float(traj.y.data[step + 1])
    norm = math.hypot(x, y)
    ratio = math.hypot(nx - x, ny - y) / max(norm, 1e-12)
    return {**where, TRAIN_LOSS.name: float(traj.loss.data[step]), GRAD_NORM.name: float(traj.grad_norm.data[step]),
            UPDATE_RATIO.name: ratio}


def landscape_edits(events: Iterable[Event]) -> list[tuple[int, dict[str, Any]]]:
    """The edits of a landscape session as (step, edit JSON with its ``trajectory``): what a replay applies."""
    out = []
    for e in events:
        if e.kind == "edit":
            target = e.data.get("trajectory")
            out.append((e.step, {**e.data["edit"], **({"trajectory": target} if target is not None else {})}))
    return out


def result_of(session: Any) -> Landscape:
    """The landscape of a session, rebuilt by re-running it (it is deterministic and takes
    milliseconds): the spec and edits from the session, as far as the session got."""
    options = LandscapeRunner.replay_options(session)
    land = Landscape(LandscapeSpec.from_json(options["landscape"], "landscape"), options["edits"])
    limit = session.n_steps()
    while not land.done and land.step < limit:
        land.advance()
    return land


def verify(session: Any) -> list[str]:
    """Re-run a landscape session and compare every trajectory's points with ``summary.landscape``
    bit for bit; returns the differences as sentences (empty: identical)."""
    recorded = (session.summary.get("landscape") or {}).get("trajectories")
    if recorded is None:
        return ["the session has no summary.landscape (its writer stopped before the end)"]
    land = result_of(session)
    problems = []
    for rec, traj in zip(recorded, land.results(), strict=False):
        for key in ("x", "y", "loss", "lr"):
            if rec[key] != traj[key]:
                a, b = rec[key], traj[key]
                first = next((i for i, (u, v) in enumerate(zip(a, b, strict=False)) if u != v), min(len(a), len(b)))
                problems.append(f"trajectory {rec['trajectory']}: {key} differs first at index {first}")
    if len(recorded) != len(land.trajectories):
        problems.append(f"{len(recorded)} trajectories recorded, {len(land.trajectories)} replayed")
    return problems
