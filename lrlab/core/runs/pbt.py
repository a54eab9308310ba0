"""The ``pbt`` run kind: population-based training (Jaderberg et al., 2017), and ``pbt_member``,
one member of a population replayed on its own.

K members train at once on the stacked engine, as a sweep's do (:class:`PBT` *is* a
:class:`~lrlab.core.runs.sweep.Sweep`: same start, same batches, per-member LRs, divergence,
sessions). They start from LRs spread evenly on a log scale around the spec's LR (``spread``
times lower to ``spread`` times higher). Every ``interval`` steps the population is ranked by
validation metric (accuracy, or R²; a diverged member ranks last, ties go to the lower index),
and each member of the bottom ``quantile``:

- **exploit**: copies the weights, the batch-norm buffers and the optimizer state (moments,
  momentum) of a member of the top ``quantile``, drawn at random; the copy is exact, so its next
  step is the source's next step at the same LR;
- **explore**: multiplies the LR it inherited by one of the two factors of ``perturb``, drawn at
  random (Jaderberg's "perturb": 0.8 or 1.25 by default).

Every draw comes from one ``numpy`` generator seeded with ``pbt_seed`` (the CLI's ``--seed``),
and the training itself is the sweep's, which is deterministic: the same spec and seed give the
same population history, and ``lrlab replay --verify`` of a member re-runs the whole population
and says ``identical``.

**The LR is a schedule.** Member k's LR is the spec's schedule scaled by a multiplier ``m``
(``r_k = lr_k / lr`` at first, see :func:`~lrlab.core.runs.sweep.scale_schedule`). An exploit at
step t is recorded in the member's session as an event ``exploit`` holding an ordinary mid-run
edit, a new schedule on the run's clock from step t (the spec's schedule scaled by the source's
multiplier times the factor), and the member's timeline applies that edit: its LR over the run is
its :class:`~lrlab.core.decl.schedules.Timeline`, and ``Timeline.from_events`` draws it from the
session alone. The weights a member holds were trained along its *lineage* (the source's LRs
before the copy, its own after): :func:`discovered_schedule` writes that as one ``sequence``
schedule for the spec's LR, so "does the discovered schedule transfer?" is an ordinary run.

A population does not take LR edits mid-run (PBT chooses the LRs); optimizer edits apply to
every member. A plateau schedule is refused: it would react to one member's metric while PBT
copies members between lanes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from lrlab.core.decl.events import Status
from lrlab.core.decl.params import Kinded, SpecError
from lrlab.core.decl.schedules import parse_edit
from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs.base import Callback
from lrlab.core.runs.sweep import MAX_MEMBERS, Sweep, SweepMember, log_range, scale_schedule
from lrlab.core.runs.train import divergence

#: the largest LR a member may reach (a spec's own limit on LRs)
_MAX_LR = 1e3


def check_pbt(population: Any, interval: Any, quantile: Any,
              perturb: Any) -> tuple[int, int, float, tuple[float, float]]:
    """The population's settings, validated (SpecError names the field and what is allowed).
    The interval is checked against the run's length by the runner, once that is known."""
    problems = []
    if isinstance(population, bool) or not isinstance(population, int) or not 2 <= population <= MAX_MEMBERS:
        problems.append(("population", f"must be a whole number from 2 to {MAX_MEMBERS}, got {population!r}"))
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        problems.append(("interval", f"must be a whole number of steps >= 1, got {interval!r}"))
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0 < quantile <= 0.5:
        problems.append(("quantile", f"must be a number in (0, 0.5], got {quantile!r}"))
    factors = tuple(perturb) if isinstance(perturb, (list, tuple)) else ()
    if len(factors) != 2 or not all(isinstance(f, (int, float)) and not isinstance(f, bool) and math.isfinite(f)
                                    and f > 0 for f in factors):
        problems.append(("perturb", f"must be two finite factors > 0 (e.g. 0.8,1.25), got {perturb!r}"))
    if problems:
        raise SpecError(problems)
    return population, interval, float(quantile), (float(factors[0]), float(factors[1]))


def check_interval(interval: int, total_steps: int) -> None:
    if interval > total_steps:
        raise SpecError([("interval", f"must be at most the run's {total_steps} steps, got {interval}")])


def initial_lrs(lr: float, population: int, spread: float = 10.0) -> list[float]:
    """The members' first LRs: ``population`` LRs evenly spaced on a log scale from ``lr / spread``
    to ``lr * spread`` (capped at a spec's largest LR)."""
    return log_range(lr / spread, min(lr * spread, _MAX_LR), population, "population")


def discovered_schedule(schedule: Kinded, lineage: Sequence[tuple[int, float]]) -> dict[str, Any]:
    """The LR a member's weights were trained with, as one schedule for the spec's LR: from each
    lineage step ``s_i`` on, ``m_i`` times ``schedule`` on the run's clock::

        lr(t) = m_i * schedule(t)   for s_i <= t < s_{i+1}

    written as a ``sequence`` with ``factors`` m and ``offsets`` s (a constant schedule needs no
    offsets). It agrees with the member's recorded LR to float rounding (the members scale their
    schedule's absolute LRs rather than multiply, :func:`~lrlab.core.runs.sweep.scale_schedule`)."""
    body = schedule.to_json()
    if len(lineage) == 1 and lineage[0][1] == 1.0:
        return body
    out: dict[str, Any] = {"kind": "sequence", "schedules": [body] * len(lineage),
                           "milestones": [int(s) for s, _ in lineage[1:]], "factors": [float(m) for _, m in lineage]}
    if schedule.kind != "constant":
        out["offsets"] = [int(s) for s, _ in lineage]
    return out


class Exploit(Callback):
    """Exploit and explore after every ``every``-th step (not after the last)."""

    def __init__(self, every: int):
        self.every = every

    def after_step(self, run: Any) -> bool:
        if run.step % self.every == 0 and run.step < run.total_steps:
            run.exploit_and_explore(run.step)
        return False


class PBT(Sweep):
    """Population-based training of ``spec`` (see the module docstring). ``lrs`` overrides the
    first LRs (distinct; default :func:`initial_lrs`); ``pbt_seed`` seeds exploit and explore;
    the other options are the sweep's."""

    kind: ClassVar[str] = "pbt"
    member_kind: ClassVar[str] = "pbt_member"

    def __init__(self, spec: RunSpec, *, population: int, interval: int, quantile: float = 0.25,
                 perturb: Sequence[float] = (0.8, 1.25), pbt_seed: int = 0, spread: float = 10.0,
                 lrs: Sequence[float] | None = None, edits: Iterable[tuple[int, Mapping[str, Any]]] = (),
                 threads: int | None = None, max_steps: int | None = None, flush_seconds: float = 0.2,
                 pace: float | None = None, path: str | None = None, watch: int | None = None):
        population, interval, quantile, factors = check_pbt(population, interval, quantile, perturb)
        if isinstance(pbt_seed, bool) or not isinstance(pbt_seed, int) or pbt_seed < 0:
            raise SpecError([("seed", f"must be a whole number >= 0, got {pbt_seed!r}")])
        if spec.schedule.kind == "plateau":
            raise SpecError([("schedule.kind", "a plateau schedule reacts to one run's metric; population-based "
                                               "training chooses the LRs itself: use another schedule")])
        lrs = initial_lrs(spec.lr, population, spread) if lrs is None else list(lrs)
        if len(lrs) != population:
            raise SpecError([("lrs", f"needs one LR per member ({population}), got {len(lrs)}")])
        super().__init__(spec, lrs=lrs, seeds=None, edits=edits, threads=threads, max_steps=max_steps,
                         flush_seconds=flush_seconds, pace=pace, path=path)  # a member ends with the population
        if not self.cut_short:  # a replay of a stopped population runs only as far as it got
            check_interval(interval, self.total_steps)
        self.population, self.interval, self.quantile, self.perturb, self.pbt_seed = (
            population, interval, quantile, factors, pbt_seed)
        self.rng = np.random.default_rng(pbt_seed)
        #: member k's lineage: (from step, multiplier of the spec's schedule) pieces
        self.pieces: list[list[tuple[int, float]]] = [[(0, r)] for r in self.ratios]
        #: member k's exploits: [step, source member, its LR from that step]
        self.lineage: list[list[list[Any]]] = [[] for _ in range(self.k)]
        self.exploits = 0
        self._val: tuple[int, np.ndarray] | None = None  # (steps done, val metrics) of the last validation
        self.environment.update(pbt_population=population)

    # --- exploit and explore -----------------------------------------------------------------

    def measure(self, x: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        loss, metric = super().measure(x, y, chunk)
        if x is self.data.x_val:  # a validation the ranking at this step can reuse
            self._val = (self.step, metric)
        return loss, metric

    def ranking(self) -> list[int]:
        """Members best first by validation metric now (measured unless this step was)."""
        if self._val is None or self._val[0] != self.step:
            self.measure(self.data.x_val, self.data.y_val)
        assert self._val is not None
        metric = self._val[1]
        score = np.where(self.active & np.isfinite(metric), metric, -np.inf)
        return sorted(range(self.k), key=lambda i: (-score[i], i))

    def exploit_and_explore(self, step: int) -> None:
        """The bottom quantile copies a top member (weights, buffers, optimizer state) and
        perturbs the LR it inherits (see the module docstring)."""
        order = self.ranking()
        n = max(1, int(self.k * self.quantile))
        top, bottom = order[:n], order[-n:]
        for b in bottom:
            s = top[int(self.rng.integers(n))]
            factor = self.perturb[int(self.rng.integers(2))]
            self.copy_member(s, b)
            multiplier = min(self.pieces[s][-1][1] * factor, _MAX_LR / self.spec.lr)
            self.pieces[b] = [*self.pieces[s], (step, multiplier)]
            edit = {"kind": "schedule", "time": "global", "lr": self.spec.lr * multiplier,
                    "schedule": scale_schedule(self.spec.schedule, multiplier).to_json()}
            self.timelines[b].apply(step, parse_edit(edit))
            new_lr = self.timelines[b](step)
            self.lineage[b].append([step, s, new_lr])
            self._record_member(b, "exploit", source=s, factor=factor, lr=new_lr, edit=edit)
            self.exploits += 1

    @torch.no_grad()
    def copy_member(self, source: int, target: int) -> None:
        """Member ``target`` becomes an exact copy of member ``source``: parameters, buffers,
        optimizer state; a diverged target trains again."""
        for t in (*self.model.params.values(), *self.model.buffers.values()):
            t[target] = t[source]
        self.optimizer.copy_member(source, target)  # stacked maths or one real optimizer per member
        if self.first_loss is not None:
            self.first_loss[target] = self.first_loss[source]
        self.active[target] = self.active[source]

    # --- the sweep's hooks, as a population needs them -----------------------------------------

    def begin(self) -> None:
        super().begin()
        self.callbacks.append(Exploit(self.interval))

    def train_step(self, step: int) -> bool:
        # a diverged member is frozen until an exploit revives it: only a population that has
        # diverged entirely ends early
        return super().train_step(step) and self.status == Status.DIVERGED

    def _freeze(self, k: int, step: int, loss: float, first_loss: float, lr: float) -> None:
        """Member k diverged: recorded, frozen (zero LR, state cleared), still in its session
        (its steps go on being recorded) until an exploit copies a live member into it."""
        message = divergence(loss, first_loss, step, lr, self.spec.diverge_factor) or "diverged"
        self._record_member(k, "diverged", at=step, loss=loss if math.isfinite(loss) else None, lr=lr,
                            message=message)
        self.active[k] = False
        self.optimizer.reset_member(k)

    def finish(self) -> None:
        for k in range(self.k):
            self.member_status[k] = self.status if self.active[k] else Status.DIVERGED
        self.summary.update(members=self.k, path=self.path, exploits=self.exploits,
                            diverged=int((~self.active).sum()))

    def apply_edit(self, edit: Kinded) -> None:
        if edit.kind != "optimizer":
            raise SpecError([("edit", "population-based training chooses its members' LRs: only optimizer edits "
                                      "apply mid-run")])
        super().apply_edit(edit)

    # --- what sessions, summaries and clients need ---------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The population's settings as a replay passes them back to :class:`PBT`."""
        return {"population": self.population, "interval": self.interval, "quantile": self.quantile,
                "perturb": list(self.perturb), "pbt_seed": self.pbt_seed}

    def member_meta(self, k: int) -> dict[str, Any]:
        meta = super().member_meta(k)
        meta["sweep"]["pbt"] = self.settings()
        return meta

    def member_final_summary(self, k: int) -> dict[str, Any]:
        return {**super().member_final_summary(k), "lineage": self.lineage[k],
                "discovered_schedule": self.discovered(k)}

    def discovered(self, k: int) -> dict[str, Any]:
        """Member k's lineage LR as one schedule spec for the spec's LR (:func:`discovered_schedule`)."""
        return discovered_schedule(self.spec.schedule, self.pieces[k])

    def group_extra(self) -> dict[str, Any]:
        return {"path": self.path, "pbt": self.settings(), "exploits": self.exploits,
                "lineage": self.lineage, "discovered": [self.discovered(k) for k in range(self.k)]}

    def folder_name(self, label: str = "") -> str:
        from lrlab.core.runs.sweep import folder_name

        return folder_name(self.spec, self.lrs, self.k, label, what="pbt")

    def out_of_memory_advice(self) -> str:
        return f" with {self.k} members: try a smaller population, batch size or model"


class PBTMember(SweepMember):
    """One member of a population as a run of its own: re-runs the whole population (the same
    first LRs, seed, path and settings: deterministic) and passes on only this member's metrics,
    so ``lrlab replay --verify`` compares it bit for bit."""

    kind: ClassVar[str] = "pbt_member"

    def build_group(self, base: RunSpec, meta: Mapping[str, Any], **options: Any) -> Sweep:
        return PBT(base, lrs=meta["lrs"], path=meta["path"], **meta["pbt"], **options)

    def describe(self) -> str:
        return (f"member {self.member} of a {self.sweep.k}-member population: re-running the whole population "
                f"({self.sweep.path} path), which is deterministic")


def read_result(folder: str | Path) -> dict[str, Any]:
    """A finished population, read back from its folder's ``summary.json``: ``winner``
    (``{"member", "schedule", "final_val_metric"}`` or None), ``members`` (``{"member",
    "final_val_metric", "lineage", "session"}`` each), ``exploits``, and ``spec``, ``status``,
    ``wall_time``. What ``lrlab pbt --json`` prints and the PBT window shows."""
    data = json.loads((Path(folder) / "summary.json").read_text())
    rows = data["members"]
    members = [{"member": k, "final_val_metric": row["final_val_metric"], "lineage": data["lineage"][k],
                "session": row["session"]} for k, row in enumerate(rows)]
    best = winner(rows)
    won = None if best is None else {"member": best, "schedule": data["discovered"][best],
                                     "final_val_metric": rows[best]["final_val_metric"]}
    return {"winner": won, "members": members, "exploits": int(data["exploits"]), "spec": data["spec"],
            "status": data["status"], "wall_time": float(data["summary"].get("wall_time", 0.0))}


def winner(rows: Sequence[Mapping[str, Any]]) -> int | None:
    """The index of the best member: the highest final validation metric among members that did
    not diverge (ties: the lower index); None when every one did."""
    alive = [(i, r) for i, r in enumerate(rows) if not Status(r["status"]).problem
             and r.get("final_val_metric") is not None]
    if not alive:
        return None
    return min(alive, key=lambda ir: (-ir[1]["final_val_metric"], ir[0]))[0]
