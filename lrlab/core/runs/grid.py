"""The ``grid`` run kind: learning rates x batch sizes, the batch-size lesson measured.

"Reuse the LR when the batch grows" is the classic mistake; the linear rule (Goyal et al., 2017)
and the square-root rule say how to move it. A grid measures where they hold: for each batch
size ``b`` its LRs (x seeds) train at once as one stacked sweep (:class:`~lrlab.core.runs.sweep.Sweep`,
they share a batch size), the batch sizes one after another (or as separate Ray tasks,
:func:`lrlab.core.runs.cluster.ray_grid`).

Every cell is a sweep member's ordinary session (kind ``sweep_member``, the grid's folder name
as ``group``, its meta ``sweep`` naming the sweep of its batch size), so replay, compare and
export work unchanged: a replay re-runs the sweep of that batch size.

The budget is recorded in the group summary:

- ``epochs`` (equal samples seen): every cell trains the spec's epochs, so a batch ``b`` takes
  ``epochs x steps_per_epoch(b)`` steps, about ``1/b`` as many; a spec given in ``steps`` at batch
  ``b0`` becomes ``floor(steps x b0 / b)`` steps;
- ``steps`` (equal steps): every cell trains the spec's number of steps.

What the summary derives (:func:`analyse`), per batch size:

- the best LR: the highest mean final validation metric over seeds, or the lowest mean final
  smoothed training loss (debiased EMA, smoothing 0.9, :func:`~lrlab.core.features.series.debiased_ema`);
  an LR with a diverged seed is out;
- the rules' predictions from the smallest batch ``b0``'s best LR ``lr0``:
  linear ``lr0 x b / b0``, square root ``lr0 x sqrt(b / b0)``;
- with a target (``val_metric>=0.95``), the steps to reach it: per cell, the first step that
  meets it; per batch size, the fewest among LRs every seed of which reached it (mean over seeds);
  and the knee of steps against batch size, from McCandlish et al. (2018), eq. 2.11:
  ``S(B) = S_min (1 + B_crit / B)``, fitted by least squares as ``S = a + c / B`` with
  ``S_min = a``, ``B_crit = c / a``: above ``B_crit`` doubling the batch no longer halves the steps;
- the gradient noise scale ``B_simple`` of each batch size's cells, when their sessions record it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lrlab.core.decl import metrics
from lrlab.core.decl.datasets import train_size
from lrlab.core.decl.events import Event, Status
from lrlab.core.decl.metrics import TRAIN_LOSS, VAL_METRIC
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import MAX_STEPS, RunSpec, planned_steps
from lrlab.core.runs.base import Listener, Update
from lrlab.core.runs.sweep import MAX_MEMBERS, Sweep, check_lrs, check_seeds, folder_name
from lrlab.core.runs.sweep import progress_words as sweep_words

#: how the cells' training is made comparable across batch sizes (see the module docstring)
BUDGETS = ("epochs", "steps")
#: what picks a batch size's best LR: the final validation metric or the final smoothed training loss
BEST_BY = (VAL_METRIC.name, TRAIN_LOSS.name)
#: the most batch sizes one grid may have
MAX_BATCH_SIZES = 16
#: the smoothing of the training loss that picks the best LR by ``train_loss`` (the plots' default)
SMOOTHING = 0.9


# --- the grid's settings ---------------------------------------------------------------------


def check_batch_sizes(values: Iterable[Any], n_train: int, field: str = "batch_sizes") -> list[int]:
    """The grid's batch sizes, validated and sorted; SpecError names ``field`` (an empty list,
    a duplicate, one below 1 or above the ``n_train`` training samples)."""
    out = []
    for b in values:
        if isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= n_train:
            raise SpecError([(field, f"each batch size must be a whole number from 1 to {n_train} (the training "
                                     f"set's size), got {b!r}")])
        out.append(b)
    if not out:
        raise SpecError([(field, "needs at least one batch size")])
    dup = sorted({b for b in out if out.count(b) > 1})
    if dup:
        raise SpecError([(field, f"{dup[0]} appears more than once")])
    if len(out) > MAX_BATCH_SIZES:
        raise SpecError([(field, f"at most {MAX_BATCH_SIZES} batch sizes, got {len(out)}")])
    return sorted(out)


def check_budget(budget: Any, field: str = "budget") -> str:
    if budget not in BUDGETS:
        raise SpecError([(field, f"must be one of {', '.join(BUDGETS)}, got {budget!r}")])
    return str(budget)


def check_best_by(best: Any, field: str = "best") -> str:
    if best not in BEST_BY:
        raise SpecError([(field, f"must be one of {', '.join(BEST_BY)}, got {best!r}")])
    return str(best)


def target_text(text: str) -> str:
    """A target as :class:`~lrlab.core.features.compare.Target` reads it: ``METRIC=VALUE`` (the
    command line's ``--target val_metric=0.95``) means reaching VALUE, so ``>=`` for a metric whose
    best is its highest (the validation metric) and ``<=`` for the others (losses); SpecError
    names a bad one."""
    from lrlab.core.features.compare import Target

    if isinstance(text, str) and "=" in text and not any(op in text for op in ("<", ">")):
        name, _, value = text.partition("=")
        column = metrics.METRICS.get(name.strip())
        text = f"{name.strip()}{'>=' if column is not None and column.best == 'max' else '<='}{value.strip()}"
    return str(Target.parse(text)).replace(" ", "")


def cell_spec(spec: RunSpec, batch_size: int, budget: str, field: str = "batch_sizes") -> RunSpec:
    """The spec of batch size ``batch_size``'s sweep under ``budget`` (module docstring); SpecError
    names ``field`` when the budget leaves it no step or more than a run may have."""
    if budget == "steps":
        return replace(spec, batch_size=batch_size, steps=planned_steps(spec))
    if spec.steps is None:  # equal epochs: equal samples seen
        cell = replace(spec, batch_size=batch_size)
    else:
        cell = replace(spec, batch_size=batch_size, steps=spec.steps * spec.batch_size // batch_size)
        if cell.steps == 0:
            raise SpecError([(field, f"batch size {batch_size} gets 0 steps with budget epochs ({spec.steps} steps "
                                     f"of {spec.batch_size} samples is {spec.steps * spec.batch_size} samples): "
                                     "train more steps, or use budget steps")])
    if planned_steps(cell) > MAX_STEPS:
        raise SpecError([(field, f"batch size {batch_size} would take {planned_steps(cell):,} steps, more than the "
                                 f"{MAX_STEPS:,} a run may have")])
    return cell


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: ``row`` is its batch size's index, ``local`` its index in that sweep."""

    index: int
    batch_size: int
    lr: float
    seed: int
    row: int
    local: int


# --- the grid ---------------------------------------------------------------------------------


class Grid:
    """Trains every cell (batch size x LR x seed) of a grid of ``spec``: one stacked
    :class:`~lrlab.core.runs.sweep.Sweep` per batch size, one after another.

    Cells are ordered by batch size, then LR, then seed. ``edits`` ((step, edit) pairs) apply to
    each batch size's sweep at those steps. ``best`` picks each batch size's best
    LR (:data:`BEST_BY`); ``target`` (``val_metric>=0.95``) adds the steps to reach it. Commands
    (pause, resume, stop, edits, pace) go to the sweep training now; a stop ends the grid (the
    batch sizes not started have no sessions). Listeners get an :class:`Update` with every cell's
    own in ``members``, an empty one for a cell not training now. It offers the member API the
    recorder reads (:class:`~lrlab.core.runs.recorded.RecordedSweep`).
    """

    kind: ClassVar[str] = "grid"
    #: its cells are sweep members (each replays as one, with its batch size's sweep)
    member_kind: ClassVar[str] = "sweep_member"

    def __init__(self, spec: RunSpec, *, lrs: Sequence[float], batch_sizes: Sequence[int], budget: str = "epochs",
                 seeds: Sequence[int] | None = None, best: str = VAL_METRIC.name, target: str | None = None,
                 edits: Iterable[tuple[int, Mapping[str, Any]]] = (), threads: int | None = None,
                 flush_seconds: float = 0.2, pace: float | None = None, path: str | None = None):
        self.spec = spec
        self.lrs = check_lrs(lrs)
        self.seeds = check_seeds([spec.seed] if seeds is None else list(seeds))
        if len(self.lrs) * len(self.seeds) > MAX_MEMBERS:
            raise SpecError([("seeds", f"{len(self.lrs)} LRs x {len(self.seeds)} seeds is more than {MAX_MEMBERS} "
                                       "cells per batch size")])
        self.batch_sizes = check_batch_sizes(batch_sizes, train_size(spec.dataset))
        self.budget = check_budget(budget)
        self.best_by = check_best_by(best)
        self.target = None if target is None else target_text(target)
        self.sweep_specs = [cell_spec(spec, b, self.budget) for b in self.batch_sizes]
        per_row = len(self.lrs) * len(self.seeds)
        self.members = [Cell(i * per_row + j * len(self.seeds) + s, b, lr, seed, i, j * len(self.seeds) + s)
                        for i, b in enumerate(self.batch_sizes) for j, lr in enumerate(self.lrs)
                        for s, seed in enumerate(self.seeds)]
        self.k = len(self.members)
        self.planned_steps = [planned_steps(s) for s in self.sweep_specs]
        self.total_steps = sum(self.planned_steps)
        self.threads, self.flush_seconds, self.pace, self.path_choice = threads, flush_seconds, pace, path
        self.edits = list(edits)  # planned (step, edit) pairs: each batch size's sweep applies them

        self.listeners: list[Listener] = []
        self.events: list[Event] = []
        self.status = Status.CREATED
        self.step = 0  # steps of every sweep so far, summed (the progress bar's)
        self.summary: dict[str, Any] = {}
        self.environment: dict[str, Any] = {}
        self.member_status = [Status.CREATED] * self.k
        self.paths: dict[int, str] = {}  # batch size -> the stacked path its sweep ran
        self.n_params = 0
        self.current: Sweep | None = None
        self.row = -1  # the batch size training now (its index)
        self._final: dict[int, dict[str, Any]] = {}
        self._ended: list[int] = []
        self._statuses: list[Status] = []  # each batch size's sweep's, as they end
        self._sent_final = False
        self._paused = self._stopped = False

    # --- commands: to the sweep training now ----------------------------------------------------

    def pause(self) -> None:
        self._paused = True
        if self.current is not None:
            self.current.pause()

    def resume(self) -> None:
        self._paused = False
        if self.current is not None:
            self.current.resume()

    def stop(self) -> None:
        self._stopped = True
        if self.current is not None:
            self.current.stop()

    def edit(self, edit: Mapping[str, Any]) -> None:
        """An edit of the batch size training now (each member scaled to its own LR)."""
        if self.current is None:
            raise SpecError([("edit", "no batch size is training now")])
        self.current.edit(edit)

    def set_pace(self, steps_per_second: float | None) -> None:
        self.pace = steps_per_second
        if self.current is not None:
            self.current.set_pace(steps_per_second)

    # --- the run ---------------------------------------------------------------------------------

    def run(self) -> Status:
        """Each batch size's sweep in turn; the grid's status: stopped if stopped, diverged if
        every cell diverged, failed if a sweep failed, else finished."""
        import time

        t0 = time.perf_counter()
        self.status = Status.RUNNING
        done = 0
        statuses = self._statuses
        for row, spec in enumerate(self.sweep_specs):
            if self._stopped:
                break
            sweep = Sweep(spec, lrs=self.lrs, seeds=self.seeds, edits=self.edits, threads=self.threads,
                          flush_seconds=self.flush_seconds, pace=self.pace, path=self.path_choice)
            sweep.listeners.append(partial(self._forward, row, done))
            self.environment = self.environment or {k: v for k, v in sweep.environment.items() if k != "sweep_path"}
            self.n_params = sweep.n_params
            self.row, self.current = row, sweep
            if self._stopped:  # a stop between two batch sizes
                self.current = None
                break
            if self._paused:
                sweep.pause()
            status = sweep.run()
            statuses.append(status)
            self.paths[self.batch_sizes[row]] = sweep.path
            for cell in self.members:
                if cell.row == row:
                    self.member_status[cell.index] = sweep.member_status[cell.local]
                    self._final[cell.index] = sweep.member_final_summary(cell.local)
                    self._ended.append(cell.index)
            done += sweep.step
            self.step = done
            self.current = None  # its stacked models go
            if status == Status.STOPPED:
                self._stopped = True
            if row < len(self.sweep_specs) - 1:
                self._send(Status.RUNNING, [])  # its cells' sessions can close now
        self.status = self._status(statuses, self._stopped)
        wall = time.perf_counter() - t0
        self.summary.update(steps=self.step, wall_time=wall, steps_per_second=self.step / wall if wall > 0 else 0.0,
                            cells=self.k, diverged=sum(s == Status.DIVERGED for s in self.member_status),
                            batch_sizes_run=len(statuses))
        if not self._sent_final:  # stopped between two batch sizes: the last Update said running
            self._send(self.status, [])
        return self.status

    def _forward(self, row: int, before: int, update: Update) -> None:
        """A sweep's Update as the grid's: its members in their cells, the others empty; a
        sweep's end is not the grid's."""
        self.step = before + update.step
        self.events.extend(update.events)
        status = update.status
        if status.final:  # a sweep's end is the grid's when it is the last one, or stopped
            last = row == len(self.sweep_specs) - 1 or self._stopped or status == Status.STOPPED
            status = self._status([*self._statuses, status], stopped=self._stopped) if last else Status.RUNNING
            self._sent_final = last
        self._send(status, update.events, row, update.members)

    def _status(self, statuses: Sequence[Status], stopped: bool) -> Status:
        """The grid's final status from its sweeps': stopped, failed, diverged (every cell), finished."""
        if stopped or Status.STOPPED in statuses:
            return Status.STOPPED
        if Status.FAILED in statuses:
            return Status.FAILED
        if len(statuses) == len(self.sweep_specs) and all(s == Status.DIVERGED for s in statuses):
            return Status.DIVERGED
        return Status.FINISHED

    def _send(self, status: Status, events: list[Event], row: int = -1, members: Sequence[Update] = ()) -> None:
        cells = [members[c.local] if c.row == row else Update({}, [], [], 0, 0, self.member_status[c.index])
                 for c in self.members]
        update = Update({}, [], list(events), self.step, self.total_steps, status, members=cells)
        for listener in self.listeners:
            listener(update)

    # --- what sessions and the recorder need ---------------------------------------------------

    def session_meta(self) -> dict[str, Any]:
        return {"grid": self.grid_meta()}

    def grid_meta(self) -> dict[str, Any]:
        return {"batch_sizes": self.batch_sizes, "lrs": self.lrs, "seeds": self.seeds, "budget": self.budget,
                "best": self.best_by, "target": self.target}

    def final_summary(self) -> dict[str, Any]:
        return {}

    @classmethod
    def replay_options(cls, session: Any) -> dict[str, Any]:
        raise SpecError([("kind", "a grid is replayed cell by cell: lrlab replay CELL.lrlab")])

    def folder_name(self, label: str = "") -> str:
        return folder_name(self.spec, self.lrs, self.k, label, what="grid")

    def member_file_name(self, k: int) -> str:
        """``07-bs64-lr0.01-seed0.lrlab``: numbered in cell order (batch size, LR, seed)."""
        c = self.members[k]
        width = len(str(max(self.k - 1, 0)))
        return f"{c.index:0{width}d}-bs{c.batch_size}-lr{c.lr:g}-seed{c.seed}.lrlab"

    def member_started(self, k: int) -> bool:
        """Whether cell k's batch size has started (its sweep exists or has run)."""
        return self.members[k].row <= self.row

    def member_session(self, k: int) -> tuple[RunSpec, dict[str, Any], dict[str, Any]]:
        """Cell k's session, from the sweep of its batch size (training now)."""
        c = self.members[k]
        if self.current is None or c.row != self.row:
            raise RuntimeError(f"cell {k} is not training now")
        spec, environment, meta = self.current.member_session(c.local)
        return spec, environment, {**meta, "grid": {**self.grid_meta(), "cell": k, "batch_size": c.batch_size}}

    def member_final_summary(self, k: int) -> dict[str, Any]:
        return dict(self._final.get(k, {}))

    def ended_members(self) -> list[int]:
        """The cells of the batch sizes done (their sessions may close)."""
        return list(self._ended)

    def group_info(self) -> dict[str, Any]:
        """:func:`~lrlab.core.runs.recorded.write_group_summary`'s keywords for this grid."""
        return group_info(self.spec, self.lrs, self.seeds, self.batch_sizes, self.budget, self.best_by, self.target,
                          self.environment, self.summary, paths={str(b): p for b, p in self.paths.items()})


def progress_words(update: Update) -> str:
    """A progress line's words for a grid: the batch size training now and its cells (the sweep's
    words over the cells that sent steps)."""
    training = [m for m in update.members if m.n]
    if not training:
        return f"{len(update.members)} cells"
    b = _batch_size_of(training[0])
    return (f"batch {b} " if b else "") + sweep_words(Update({}, [], [], update.step, update.total_steps,
                                                             update.status, members=training))


def _batch_size_of(update: Update) -> int | None:
    """A cell's batch size from its steps' samples (samples seen grow by the batch each step)."""
    s, n = update.steps.get("samples"), update.steps.get("step")
    if s is None or len(s) < 2 or n[-1] == n[0]:
        return None
    return round(float(s[-1] - s[0]) / float(n[-1] - n[0]))


# --- the group summary -------------------------------------------------------------------------


def group_info(spec: RunSpec, lrs: Sequence[float], seeds: Sequence[int], batch_sizes: Sequence[int], budget: str,
               best: str, target: str | None, environment: Mapping[str, Any], summary: Mapping[str, Any],
               **extra: Any) -> dict[str, Any]:
    """The keywords of :func:`~lrlab.core.runs.recorded.write_group_summary` for a grid (local or
    on Ray): the rows get a cell's batch size, smoothed final loss and steps to target; the
    analysis adds the best LR per batch size, the rules, the knee and the noise scale."""
    return {"kind": "grid", "lrs": list(lrs), "seeds": list(seeds), "spec_json": spec.to_json(),
            "environment": dict(environment), "summary": dict(summary), "batch_sizes": list(batch_sizes),
            "budget": budget, "best_by": best, "target": target, **extra,
            "cell": partial(cell_columns, target=target),
            "analyse": partial(analyse, batch_sizes=list(batch_sizes), best=best, target=target)}


def noise_scale_column() -> Any:
    """The metric column of the gradient noise scale B_simple (:mod:`lrlab.core.decl.metrics`)."""
    return metrics.NOISE_SCALE


def cell_columns(session: Any, target: str | None = None) -> dict[str, Any]:
    """A cell's own columns in the group summary, from its session: batch size, the final
    smoothed training loss, the first step that met ``target`` (None: never, or no target), and
    its last noise-scale estimate when its session records one."""
    from lrlab.core.features.compare import Target
    from lrlab.core.features.series import debiased_ema

    steps = session.steps(("step", TRAIN_LOSS.name))
    loss = steps[TRAIN_LOSS.name]
    smoothed = debiased_ema(loss, SMOOTHING)[0] if len(loss) else loss
    finite = smoothed[np.isfinite(smoothed)]
    row: dict[str, Any] = {"batch_size": session.spec.batch_size,
                           "final_smoothed_train_loss": float(finite[-1]) if len(finite) else None,
                           "steps_to_target": None}
    if target is not None:
        t = Target.parse(target)
        table = session.evals if t.metric in metrics.EVAL_COLUMNS else session.steps
        values = table(("step", t.metric))
        hit = np.flatnonzero(t.reached(values[t.metric]))
        row["steps_to_target"] = int(values["step"][hit[0]]) if len(hit) else None
    column = noise_scale_column()
    if column is not None:
        values = session.steps((column.name,))[column.name]
        values = values[np.isfinite(values)]
        row[column.name] = float(values[-1]) if len(values) else None
    return row


def analyse(rows: Sequence[Mapping[str, Any]], batch_sizes: Sequence[int], best: str = VAL_METRIC.name,
            target: str | None = None) -> dict[str, Any]:
    """The grid's findings from its cells' rows (see the module docstring): ``cells`` (each
    cell's line of ``lrlab grid --json``), ``best`` per batch size (``{}`` where every LR
    diverged), ``rules`` (linear and square-root predictions from the smallest batch size's best
    LR), ``knee`` (steps to target per batch size and the fitted critical batch size; None without
    a target) and ``noise_scale`` per batch size (median over its cells; ``{}`` where not recorded)."""
    by_row: dict[int, list[Mapping[str, Any]]] = {b: [r for r in rows if r["batch_size"] == b] for b in batch_sizes}
    best_of = {str(b): best_lr(cells, best) for b, cells in by_row.items()}
    rules: dict[str, dict[str, float]] = {"linear": {}, "sqrt": {}}
    base = next((b for b in batch_sizes if best_of[str(b)]), None)
    if base is not None:
        lr0 = best_of[str(base)]["lr"]
        for b in batch_sizes:
            if b != base:
                rules["linear"][str(b)] = float(f"{lr0 * b / base:.12g}")
                rules["sqrt"][str(b)] = float(f"{lr0 * math.sqrt(b / base):.12g}")
    column = noise_scale_column()
    noise: dict[str, float] = {}
    if column is not None:
        for b, cells in by_row.items():
            values = [r.get(column.name) for r in cells if r["status"] != str(Status.DIVERGED)]
            values = [v for v in values if v is not None and math.isfinite(v)]
            if values:
                noise[str(b)] = float(np.median(values))
    cells = [{"batch_size": r["batch_size"], "lr": r["lr"], "seed": r["seed"], "status": r["status"],
              "final_train_loss": r["final_train_loss"], "final_val_metric": r["final_val_metric"],
              "steps_to_target": r.get("steps_to_target"), "session": r["session"]} for r in rows]
    return {"cells": cells, "best": best_of, "rules": rules,
            "knee": None if target is None else knee(by_row), metrics.NOISE_SCALE.name: noise}


def best_lr(cells: Sequence[Mapping[str, Any]], best: str = VAL_METRIC.name) -> dict[str, Any]:
    """The best LR among one batch size's cells: by the mean over seeds of the final validation
    metric (highest) or of the final smoothed training loss (lowest); an LR with a seed that
    diverged or did not finish is out. ``{}`` when none is left."""
    by_lr: dict[float, list[Mapping[str, Any]]] = {}
    for r in cells:
        by_lr.setdefault(r["lr"], []).append(r)
    scored = []
    for lr, rs in by_lr.items():
        if any(Status(r["status"]).problem for r in rs):
            continue
        metric = _mean([r.get("final_val_metric") for r in rs])
        loss = _mean([r.get("final_smoothed_train_loss") for r in rs])
        score = -metric if best == VAL_METRIC.name else loss
        if score is not None and math.isfinite(score):
            scored.append((score, lr, metric, loss, len(rs)))
    if not scored:
        return {}
    _, lr, metric, loss, n = min(scored)
    return {"lr": lr, VAL_METRIC.name: metric, TRAIN_LOSS.name: loss, "seeds": n}


def knee(by_row: Mapping[int, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """Steps to target per batch size (the fewest, among LRs every seed of which reached it, as a
    mean over seeds) and ``S(B) = S_min (1 + B_crit / B)`` fitted to them by least squares
    (McCandlish et al., 2018): ``critical_batch`` is B_crit, None when fewer than two batch
    sizes reached the target or the fit has no positive S_min and B_crit (no knee in range)."""
    steps: dict[str, float] = {}
    for b, cells in by_row.items():
        by_lr: dict[float, list[Any]] = {}
        for r in cells:
            by_lr.setdefault(r["lr"], []).append(r.get("steps_to_target"))
        reached = [float(np.mean(v)) for v in by_lr.values() if v and all(x is not None for x in v)]
        if reached:
            steps[str(b)] = min(reached)
    out: dict[str, Any] = {"steps_to_target": steps, "critical_batch": None, "min_steps": None}
    if len(steps) >= 2:
        inv_b = np.array([1.0 / int(b) for b in steps])
        s = np.array(list(steps.values()))
        c, a = np.polyfit(inv_b, s, 1)  # S = a + c / B
        if a > 0 and c > 0:
            out.update(critical_batch=float(c / a), min_steps=float(a))
    return out


def _mean(values: Sequence[Any]) -> float | None:
    xs = [v for v in values if v is not None]
    return float(np.mean(xs)) if len(xs) == len(values) and xs else None


def knee_curve(knee_found: Mapping[str, Any] | None, batch_sizes: Sequence[float]) -> np.ndarray | None:
    """The fitted ``S(B) = S_min (1 + B_crit / B)`` (McCandlish et al., 2018, eq. 2.11) at
    ``batch_sizes``, from :func:`knee`'s result; None when no knee was fitted."""
    if not knee_found or knee_found.get("critical_batch") is None or knee_found.get("min_steps") is None:
        return None
    b = np.asarray(batch_sizes, dtype=float)
    return float(knee_found["min_steps"]) * (1.0 + float(knee_found["critical_batch"]) / b)


def read_findings(folder: str | Path) -> dict[str, Any]:
    """A finished grid's findings, read back from its folder's ``summary.json``: ``target``,
    ``best``, ``rules``, ``knee`` and ``noise_scale`` (as :func:`analyse` wrote them); ``{}`` when
    there is no summary (not written yet, damaged, or not a grid's)."""
    import json

    from lrlab.core.runs.recorded import RecordedSweep

    try:
        data = json.loads((Path(folder) / RecordedSweep.SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("kind") != "grid":
        return {}
    keys = ("target", "best", "rules", "knee", metrics.NOISE_SCALE.name)
    return {k: data.get(k) for k in keys}
