"""The ``sweep`` run kind: K learning rates (x seeds) trained at once, and ``sweep_member``, one
member of a sweep replayed on its own.

Seeing "too low crawls, too high diverges, the middle wins" takes a dozen runs one after
another; a sweep trains them side by side in one process, with the K members' parameters
stacked (:mod:`lrlab.core.engine.stacked`) so one forward and one backward pass serve all of them.

What makes member k the run ``lrlab run`` would make at its LR:

- **Same start**: members of one seed share the initial weights (the model is built under
  ``torch.manual_seed(Seeds.derive(seed).init)``, as the ``train`` kind does) and the batch
  order (``BatchOrder`` seeded with ``Seeds.derive(seed).batches``), so they differ only in LR.
  With dropout off, member k's per-step losses match a plain training run at its LR to float
  rounding (``tests/core/test_sweep.py`` holds them to 1e-5 relative over 200 steps for every
  optimizer); they are not bit-identical, because batched products and the stacked optimizer
  round differently from one model's matrix products and torch's fused kernels. (With batch
  norm, Adam, RMSprop and Adagrad magnify rounding: a bias just before batch norm does not
  change the loss, so its gradient is rounding noise, which these optimizers scale up to steps
  of about the LR. There torch's own fused and default Adagrad differ by 13% after 200 steps on
  the digits MLP, and a member differs from a training run as much; SGD stays within 1e-6.)
- **Its own LR curve**: member k's spec is the sweep's spec with ``optimizer.lr`` = its LR and
  every absolute LR in the schedule (``eta_min``, ``max_lr``, ``base_lr``, ``min_lr``) scaled
  by ``r_k = lr_k / reference``, the reference being the spec's own ``optimizer.lr``; member k
  follows its own :class:`~lrlab.core.decl.schedules.Timeline` of that spec, so the LR column of its
  session is what a training run of its spec computes, step for step. Mid-run edits apply to
  every member as a multiple of its own base LR: ``scale`` as it is, ``hold 0.01`` as
  ``0.01 x r_k``, a new schedule with its absolute LRs scaled the same way. A ``plateau``
  schedule watches each member's own validation metric.
- **Divergence**: the train kind's rule (NaN, or more than ``diverge_factor`` times the first
  loss) per member. A member that diverges is marked at its step and frozen: its gradient
  and LR are zero and its optimizer state is cleared, so its parameters no longer change; its
  losses are no longer recorded; the others train on. Nothing mixes members' numbers, so a
  NaN in one never reaches another.
- **Dropout**: each member draws its own masks (``vmap(randomness="different")``), from
  torch's global generator seeded with the first seed's ``loop`` seed. With dropout on, the
  members of one seed therefore differ in their masks as well as their LR.
- **Batch norm**: per-member running statistics (stacked buffers).
- **Prodigy, Schedule-Free AdamW and SGD**: the stacked maths does not implement them; each
  member steps with its own instance of the package's optimizer on its slices of the stacked
  parameters (:mod:`lrlab.core.engine.per_member`; sessions record ``optimizer_impl:
  "per-member"``, the sweep window says so). Its ``lr`` column is the step size it used (d x lr
  for Prodigy), and Schedule-Free members are validated at their averaged points.

Output (:class:`lrlab.core.runs.RecordedSweep`): one ordinary session per member (``kind``
``sweep_member``, the sweep's folder name as ``group``, the member's LR and seed in its spec),
so open, export and compare work unchanged, plus a group summary ``summary.json``.

Replaying a member (``lrlab replay MEMBER.lrlab --verify``) re-runs the whole sweep, which is
deterministic, with the recorded path, threads and edits, and compares that member bit for
bit: a single training run at the member's LR would agree only to float rounding. The
sweep stops as soon as the replayed member has ended.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch

from lrlab.core.decl.events import Event, Status
from lrlab.core.decl.metrics import LR, MONITORED, TRAIN_LOSS, VAL_LOSS, VAL_METRIC
from lrlab.core.decl.params import Kinded, SpecError
from lrlab.core.decl.schedules import SCHEDULES, Timeline, nested_fields, parse_edit
from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.data import BatchOrder, Dataset, load_dataset
from lrlab.core.engine.devices import resolve_device
from lrlab.core.engine.limits import check_resources
from lrlab.core.engine.models import build_model, count_parameters
from lrlab.core.engine.noise_scale import NoiseScale, split
from lrlab.core.engine.optim import apply_hyperparameters
from lrlab.core.engine.per_member import PerMemberOptimizer, needs_per_member
from lrlab.core.engine.per_member import engine_note as engine_note  # for the sweep window
from lrlab.core.engine.stacked import (
    StackedModel,
    StackedOptimizer,
    choose_path,
    member_losses,
    member_norms,
    member_view,
)
from lrlab.core.runs.base import Columns, Listener, RunnerBase, Update, error_summary, recorded_threads
from lrlab.core.runs.loop import Evaluation, summarize, validation_sums
from lrlab.core.runs.train import (
    Seeds,
    _json_float,
    check_spec_agrees,
    choose_threads,
    divergence,
    environment,
    samples_seen,
    setup_globals,
)

#: the most members one sweep may train (LRs x seeds)
MAX_MEMBERS = 256

# --- each member's LR: the sweep's schedule and edits scaled to its base LR -------------------

def _scaled_fields(spec: Kinded, r: float) -> dict[str, Any]:
    """The changes that scale ``spec`` (a schedule or an edit) by ``r``: each parameter declared
    with ``role="lr"`` times ``r``, each nested schedule through :func:`scale_schedule`."""
    changes: dict[str, Any] = {name: spec[name] * r for name in spec.registry.with_role(spec.kind, "lr")
                               if spec[name] is not None}
    for name, is_list, _ in nested_fields(spec.registry.params_of(spec.kind)):
        value = spec[name]
        if value is not None:
            changes[name] = ([scale_schedule(s, r).to_json() for s in value] if is_list
                             else scale_schedule(value, r).to_json())
    return changes


def scale_schedule(schedule: Kinded, r: float) -> Kinded:
    """The schedule whose LR is ``r`` times this one's when its base LR is ``r`` times as large:
    every absolute LR in it (the fields declared with ``role="lr"``, in nested schedules too)
    multiplied by ``r``; kinds that only multiply the base LR by factors stay as they are.
    ``Timeline(scale_schedule(s, r), r * base)(t) == r * Timeline(s, base)(t)`` to rounding."""
    if r == 1:
        return schedule
    changes = _scaled_fields(schedule, r)
    return schedule.replace(**changes) if changes else schedule


def member_edit(edit: Kinded, r: float, current_kind: str) -> Kinded:
    """A mid-run edit of the sweep as member k applies it (``r = lr_k / reference``): a
    ``scale`` or ``optimizer`` edit as it is; a held LR, a new schedule's base LR and absolute
    LRs (the edit's and the schedule's fields declared with ``role="lr"``), and absolute LRs among
    changed parameters of the current schedule (of kind ``current_kind``) times ``r``."""
    if r == 1:
        return edit
    if edit.kind == "params":  # fields of the current schedule, not declared by the edit
        lr_names = SCHEDULES.with_role(current_kind, "lr")
        params = {k: (v * r if k in lr_names and isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                  for k, v in edit.params["params"].items()}
        return edit.replace(params=params)
    changes = _scaled_fields(edit, r)
    return edit.replace(**changes) if changes else edit


def member_spec(spec: RunSpec, lr: float, seed: int) -> RunSpec:
    """Member (lr, seed) of a sweep of ``spec``: the spec a plain training run of this member has."""
    r = lr / spec.lr
    return replace(spec, optimizer=spec.optimizer.replace(lr=lr), seed=seed,
                   schedule=scale_schedule(spec.schedule, r))


# --- the LRs and seeds of a sweep --------------------------------------------------------------


def check_lrs(lrs: Iterable[Any], field: str = "lrs") -> list[float]:
    """The sweep's LRs, validated and sorted; SpecError names ``field``."""
    values = []
    for x in lrs:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not (0 < x <= 1e3):
            raise SpecError([(field, f"each LR must be a finite number > 0 and <= 1000, got {x!r}")])
        values.append(float(x))
    if not values:
        raise SpecError([(field, "needs at least one LR")])
    dup = sorted({x for x in values if values.count(x) > 1})
    if dup:
        raise SpecError([(field, f"{dup[0]:g} appears more than once")])
    if len(values) > MAX_MEMBERS:
        raise SpecError([(field, f"at most {MAX_MEMBERS} LRs, got {len(values)}")])
    return sorted(values)


def log_range(lo: float, hi: float, k: int, field: str = "range") -> list[float]:
    """``k`` LRs from ``lo`` to ``hi``, evenly spaced on a log scale, ends included, each
    rounded to 12 significant digits (``1e-3:1:4`` gives 0.001, 0.01, 0.1, 1)."""
    for name, x in (("LO", lo), ("HI", hi)):
        if not (0 < x <= 1e3):
            raise SpecError([(field, f"{name} must be a finite number > 0 and <= 1000, got {x!r}")])
    if not hi > lo:
        raise SpecError([(field, f"HI must be greater than LO, got {lo:g}:{hi:g}")])
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= MAX_MEMBERS:
        raise SpecError([(field, f"K must be a whole number from 2 to {MAX_MEMBERS}, got {k!r}")])
    values = np.logspace(math.log10(lo), math.log10(hi), k)
    out = [float(f"{v:.12g}") for v in values]
    out[0], out[-1] = lo, hi
    return out


def check_seeds(seeds: Iterable[Any], field: str = "seeds") -> list[int]:
    values = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= 2**63 - 1:
            raise SpecError([(field, f"each seed must be a whole number >= 0, got {s!r}")])
        values.append(s)
    if not values or len(set(values)) != len(values):
        raise SpecError([(field, "needs one or more distinct seeds")])
    return values


@dataclass(frozen=True)
class Member:
    index: int
    lr: float
    seed: int


# --- the sweep --------------------------------------------------------------------------------


class Sweep(RunnerBase):
    """Trains the members (every LR in ``lrs`` x every seed in ``seeds``) of a sweep of ``spec``.

    ``spec.optimizer.lr`` is the reference LR that the schedule's absolute LRs and edits are
    written for (see the module docstring); it need not be one of ``lrs``. Members are
    ordered by LR, then seed. ``path`` forces a way of stacking (``bmm``, ``vmap``, ``loop``;
    default: :func:`~lrlab.core.engine.stacked.choose_path`, falling back to ``loop`` when vmap cannot
    run the model). ``edits`` are (step, edit JSON) pairs of the sweep, applied to every
    member at those steps; ``watch`` ends the sweep once that member has ended (a replay of
    one member). Listeners get an :class:`Update` with each member's own in ``members``.
    """

    kind: ClassVar[str] = "sweep"
    #: the kind of its members' sessions (:class:`~lrlab.core.runs.RecordedSweep` writes them)
    member_kind: ClassVar[str] = "sweep_member"

    def __init__(self, spec: RunSpec, *, lrs: Sequence[float], seeds: Sequence[int] | None = None,
                 edits: Iterable[tuple[int, Mapping[str, Any]]] = (), threads: int | None = None,
                 max_steps: int | None = None, flush_seconds: float = 0.2, pace: float | None = None,
                 path: str | None = None, watch: int | None = None):
        super().__init__()
        self.pace = pace
        self.flush_seconds = flush_seconds
        lr_values = check_lrs(lrs)
        seed_values = check_seeds([spec.seed] if seeds is None else list(seeds))
        if len(lr_values) * len(seed_values) > MAX_MEMBERS:
            raise SpecError([("seeds", f"{len(lr_values)} LRs x {len(seed_values)} seeds is more than "
                                       f"{MAX_MEMBERS} members")])
        self.lrs, self.seeds = lr_values, seed_values
        self.members = [Member(i * len(seed_values) + j, lr, seed)
                        for i, lr in enumerate(lr_values) for j, seed in enumerate(seed_values)]
        self.k = k = len(self.members)
        self.watch = watch
        self._planned: dict[int, list[Kinded]] = {}
        for step, edit in edits:
            self._planned.setdefault(int(step), []).append(edit if isinstance(edit, Kinded) else parse_edit(edit))

        self.seeds_of = [Seeds.derive(s) for s in seed_values]
        self.device = resolve_device(spec.device)
        if spec.deterministic and self.device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        check_resources(spec, members=k, device=self.device)  # before loading or building anything
        if spec.amp != "off" or spec.channels_last:  # the stacked maths is written for float32 NCHW tensors
            raise SpecError([("amp" if spec.amp != "off" else "channels_last", "applies to single runs (run, fork, "
                              "find-lr); a sweep trains its members in float32 NCHW: set it to off/false")])
        self.data: Dataset = load_dataset(spec.dataset, self.device)
        self.orders = [BatchOrder(self.data.x_train, self.data.y_train, spec.batch_size, spec.drop_last, s.batches,
                                  augment=self.data.augment) for s in self.seeds_of]
        spe = self.orders[0].steps_per_epoch
        self.total_steps = spec.steps or spec.epochs * spe
        self.spec = spec = spec.resolved(self.total_steps, spe)
        planned = self.total_steps
        if max_steps is not None:
            self.total_steps = min(self.total_steps, max_steps)
        self.cut_short = self.total_steps < planned  # recorded (see train.check_spec_agrees)
        self.eval_every = spec.eval_every or max(1, math.ceil(self.total_steps / 50))
        self.member_specs = [member_spec(spec, m.lr, m.seed) for m in self.members]
        self.ratios = [m.lr / spec.lr for m in self.members]
        self.timelines = [Timeline(s.schedule, s.lr) for s in self.member_specs]

        # members of one seed start from the same weights: the train kind's initialisation
        modules = []
        for s in self.seeds_of:
            torch.manual_seed(s.init)
            modules.append(build_model(spec.model, tuple(self.data.x_train.shape[1:]), self.data.n_outputs,
                                       self.data.image_shape).to(self.device))
        self.n_params = count_parameters(modules[0])
        self.seed_index = torch.tensor([m.index % len(seed_values) for m in self.members], device=self.device)
        self.path = path or choose_path(modules[0], spec.batch_size, self.device)
        self.model = StackedModel([modules[m.index % len(seed_values)] for m in self.members], self.path)
        if self.path == "vmap" and path is None and not self._vmap_works():
            self.path = "loop"  # a layer vmap cannot batch: one call per member instead
            self.model = StackedModel([modules[m.index % len(seed_values)] for m in self.members], "loop")
        self.params = self.model.parameters()
        # Prodigy, Schedule-Free: the package's own optimizer per member (engine/per_member.py)
        self.per_member = needs_per_member(spec.optimizer)
        self.optimizer = (PerMemberOptimizer(spec.optimizer, self.params, self.device) if self.per_member
                          else StackedOptimizer(spec.optimizer, self.params))
        # threads as for one member's run: the batched products are K small ones, and on a
        # busy 2-core laptop two threads made a K=64 sweep 3-5x slower (bench_sweep.py)
        self.threads = threads or spec.threads or choose_threads(self.n_params, self.device)
        self.environment = environment(self.device, self.threads, spec.deterministic)
        self.environment.update(optimizer_impl="per-member" if self.per_member else "stacked", sweep_path=self.path,
                                sweep_members=k)
        if self.data.provenance:  # the user's own files: a replay on changed data says so
            self.environment["data"] = self.data.provenance

        self.summary: dict[str, Any] = {}
        self.active = np.ones(k, dtype=bool)
        self.ended_at = np.full(k, -1, dtype=np.int64)  # last recorded step of a member that diverged
        self.member_status = [Status.CREATED] * k
        self.member_events: list[list[Event]] = [[] for _ in range(k)]
        self.member_summary: list[dict[str, Any]] = [{} for _ in range(k)]
        self._member_new_events: list[list[Event]] = [[] for _ in range(k)]
        self._member_evals: list[list[dict[str, float]]] = [[] for _ in range(k)]

    def _vmap_works(self) -> bool:
        """Try one forward pass under vmap (restoring the buffers it may update)."""
        saved = {n: b.clone() for n, b in self.model.buffers.items()}
        try:
            with torch.no_grad():
                self.model(self._prepare(self.data.x_train[:2]), True)
            return True
        except (RuntimeError, NotImplementedError):
            return False
        finally:
            for n, b in self.model.buffers.items():
                b.copy_(saved[n])

    # --- what sessions, replays and clients need -----------------------------------------

    def session_meta(self) -> dict[str, Any]:
        """What every member's session records about the run (its own part: :meth:`member_meta`)."""
        return {"eval_every": self.eval_every, "update_ratio_every": self.spec.update_ratio_every,
                "total_steps": self.total_steps, "steps_per_epoch": self.orders[0].steps_per_epoch,
                **({"max_steps": self.total_steps} if self.cut_short else {})}

    def member_meta(self, k: int) -> dict[str, Any]:
        """Session meta of member k: the run's, plus ``sweep``, all a replay needs to re-run the
        sweep: the base spec, the LRs and seeds, the member's index and the path that ran."""
        return {**self.session_meta(),
                "sweep": {"member": k, "lrs": self.lrs, "seeds": self.seeds, "reference_lr": self.spec.lr,
                          "path": self.path, "spec": self.spec.to_json()}}

    def final_summary(self) -> dict[str, Any]:
        return {}

    # --- what the recorder of a run per member reads (lrlab.core.runs.recorded.RecordedSweep) ---

    def folder_name(self, label: str = "") -> str:
        """A new folder for this sweep's sessions (:func:`folder_name`)."""
        return folder_name(self.spec, self.lrs, self.k, label)

    def member_file_name(self, k: int) -> str:
        return member_file_name(self.members[k], self.k)

    def member_started(self, k: int) -> bool:
        """Whether member k's spec, environment and meta are known (a sweep's: from the start)."""
        return True

    def member_session(self, k: int) -> tuple[RunSpec, dict[str, Any], dict[str, Any]]:
        """Member k's session: its spec, the environment and its meta (:meth:`member_meta`)."""
        return self.member_specs[k], self.environment, self.member_meta(k)

    def ended_members(self) -> list[int]:
        """Members whose sessions may be closed before the run ends: none (the test split of
        every member is measured at the end)."""
        return []

    def group_extra(self) -> dict[str, Any]:
        """What the group summary adds about how it ran (a population adds its lineage)."""
        return {"path": self.path}

    def group_info(self) -> dict[str, Any]:
        """What the group summary records about the sweep
        (:func:`~lrlab.core.runs.recorded.write_group_summary`'s keywords)."""
        return {"kind": self.kind, "lrs": self.lrs, "seeds": self.seeds, "spec_json": self.spec.to_json(),
                "environment": self.environment, "summary": self.summary, **self.group_extra()}

    def member_final_summary(self, k: int) -> dict[str, Any]:
        """Summary entries only the runner knows for member k (test split, an error)."""
        return {**{key: v for key, v in self.member_summary[k].items() if key.startswith("test_")},
                **error_summary(self.member_events[k])}

    @classmethod
    def replay_options(cls, session: Any) -> dict[str, Any]:
        """The sweep a member's session came from: LRs, seeds, path, the sweep's own edits,
        threads; a sweep that ended early (stopped, interrupted) as long as it got."""
        sweep = session.meta["sweep"]
        ended_early = session.status in (Status.STOPPED, Status.INTERRUPTED)
        return {"lrs": sweep["lrs"], "seeds": sweep["seeds"], "path": sweep["path"],
                "edits": sweep_edits(session.events()), "threads": recorded_threads(session),
                "max_steps": session.n_steps() if ended_early else None}

    # --- recording ---------------------------------------------------------------------------

    def record(self, kind: str, at: int | None = None, **data: Any) -> Event:
        """An event of the whole sweep: in its own list and every running member's."""
        ev = super().record(kind, at, **data)
        for k in np.flatnonzero(self.active):
            self.member_events[k].append(ev)
            self._member_new_events[k].append(ev)
        return ev

    def _record_member(self, k: int, kind: str, at: int | None = None, **data: Any) -> Event:
        ev = Event(self.step if at is None else at, kind, data, time.perf_counter() - self._started)
        self.member_events[k].append(ev)
        self._member_new_events[k].append(ev)
        return ev

    def collect(self, status: Status) -> Update:
        """Each member's own Update (its steps up to where it diverged, its evaluations and
        events), in an Update of the whole sweep with the sweep's own events."""
        taken = self.columns.take()
        steps = taken["step"]
        members = []
        for k in range(self.k):
            end = self.ended_at[k]
            rows = slice(None) if end < 0 else steps <= end
            cols = {name: (v[rows] if v.ndim == 1 else v[rows, k]) for name, v in taken.items()}
            done = self.step if end < 0 else min(self.step, int(end) + 1)
            member_status = self.member_status[k] if self.member_status[k].final else status
            members.append(Update(cols, self._member_evals[k], self._member_new_events[k], done,
                                  self.total_steps, member_status))
            self._member_evals[k], self._member_new_events[k] = [], []
        return Update({}, [], self.take_events(), self.step, self.total_steps, status, members=members)

    # --- the loop's hooks (the loop: lrlab.core.runs.base.RunnerBase.loop) -------------------

    def begin(self) -> None:
        # dropout masks: one stream for all members (the first seed's), each its own masks
        setup_globals(self.seeds_of[0], self.threads, self.spec.deterministic)
        self.columns = Columns(capacity=2048, members=self.k)
        self.first_loss: np.ndarray | None = None
        self.member_status = [Status.RUNNING] * self.k
        self.noise_scale = NoiseScale(self.k)  # each member's own averages, on the host
        self.callbacks = [Evaluation(self.eval_every)]

    def train_step(self, step: int) -> bool:
        # each member's LR from its own timeline; a frozen member's is 0
        lrs = np.fromiter((tl(step) for tl in self.timelines), dtype=np.float64, count=self.k)
        # one optimizer step of every member on its seed's next batch
        losses, grad_norms, ratios, noise = self._optimize(step, np.where(self.active, lrs, 0.0),
                                                           step % self.spec.update_ratio_every == 0,
                                                           step % self.spec.noise_scale_every == 0)
        self.step = step + 1
        self.columns.append(step=step, epoch=step // self.orders[0].steps_per_epoch, samples=self._samples(step),
                            wall_time=time.perf_counter() - self.t0, train_loss=losses,
                            lr=self.optimizer.step_sizes.copy() if self.per_member else lrs,  # d x lr, ...
                            grad_norm=grad_norms, update_ratio=ratios, noise_scale=noise)
        # divergence freezes a member; the others go on
        if self.first_loss is None:
            self.first_loss = losses.copy()
        first_loss = self.first_loss
        with np.errstate(invalid="ignore"):
            bad = self.active & ~(losses <= self.spec.diverge_factor * np.maximum(first_loss, 1e-12))
        for k in np.flatnonzero(bad):
            self._freeze(int(k), step, float(losses[k]), float(first_loss[k]), float(lrs[k]))
        if not self.active.any():
            self.status = Status.DIVERGED
            return True
        return self.watch is not None and not self.active[self.watch]  # the member being replayed has ended

    def evaluate(self, step: int, final: bool = False) -> bool:
        """Each running member's validation after ``step``; plateau schedules react per member
        (not to a stopped run's ``final`` one)."""
        self._evaluate(step, plateau=not final)
        return False

    def test(self) -> None:
        test_loss, test_metric = self.measure(*self.data.test)
        for k in np.flatnonzero(self.active):
            self.member_summary[k].update(test_loss=float(test_loss[k]), test_metric=float(test_metric[k]))
            self._record_member(int(k), "test", loss=float(test_loss[k]), metric=float(test_metric[k]),
                                n=len(self.data.test[0]))

    def finish(self) -> None:
        for k in np.flatnonzero(self.active):
            self.member_status[k] = self.status
        self.summary.update(members=self.k, path=self.path, diverged=int((self.ended_at >= 0).sum()))

    def out_of_memory_advice(self) -> str:
        return f" with {self.k} members: try fewer LRs or seeds, a smaller batch size or model"

    def _freeze(self, k: int, step: int, loss: float, first_loss: float, lr: float) -> None:
        """Member k diverged at ``step``: record why, stop recording it, stop updating it."""
        message = divergence(loss, first_loss, step, lr, self.spec.diverge_factor) or "diverged"
        self._record_member(k, "diverged", at=step, loss=_json_float(loss), lr=lr, message=message)
        self.active[k] = False
        self.ended_at[k] = step
        self.member_status[k] = Status.DIVERGED
        self.optimizer.reset_member(k)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.data.prepare is None else self.data.prepare(x)

    def _batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(inputs, targets, shared): one batch for all members when there is one seed, else the
        batch of each member's seed, stacked ``[K, B, ...]``."""
        if len(self.orders) == 1:
            x, y = self.orders[0].batch(step)
            return self._prepare(x), y, True
        batches = [o.batch(step) for o in self.orders]
        xs = torch.stack([self._prepare(x) for x, _ in batches])
        ys = torch.stack([y for _, y in batches])
        return xs.index_select(0, self.seed_index), ys.index_select(0, self.seed_index), False

    def _optimize(self, step: int, lrs: np.ndarray, sample_ratio: bool, sample_noise: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Forward, backward and one update of every member; per-member (loss, gradient norm,
        update ratio or NaN, noise scale or NaN), float64 ``[K]`` arrays. The noise scale is the
        train kind's (:meth:`lrlab.core.runs.train.Trainer.optimize`): one more backward pass of
        the members' losses on the first half of the batch, each member its own averages."""
        x, y, shared = self._batch(step)
        out = self.model(x, shared)
        task = self.data.task
        losses = member_losses(out, y, task, shared)
        params = self.params
        half = split(out.shape[1]) if sample_noise else 0
        small = None
        if half:  # before backward() frees the graph; p.grad is not touched
            small = torch.autograd.grad(member_losses(out[:, :half], y[:half] if shared else y[:, :half], task,
                                                      shared).sum(), params, retain_graph=True)
        for p in params:
            p.grad = None
        losses.sum().backward()  # d(sum)/d(loss_k) = 1: each member gets its own loss's gradient
        grads = [p.grad for p in params]
        if not self.active.all():  # frozen members: zero gradients (a NaN times a zero LR is still NaN)
            keep = torch.as_tensor(self.active, device=self.device)
            grads = [torch.where(member_view(keep, g), g, 0.0) for g in grads]
        grad_norms = member_norms(grads)
        rows = [losses.detach(), grad_norms]
        if small is not None:  # |G_A| and |G_A - G_B| of each member (lrlab.core.engine.noise_scale)
            rows += [member_norms(small), member_norms([a - g for a, g in zip(small, grads, strict=True)])]
        if sample_ratio:
            before = [p.detach().clone() for p in params]
        self.optimizer.step(grads, lrs)
        if sample_ratio:
            delta = [p.detach() - b for p, b in zip(params, before, strict=True)]
            rows.append(member_norms(delta) / member_norms(before).clamp_min(1e-12))
        values = _numpy(torch.stack(rows))  # the step's one read of the device
        missing = np.full(self.k, math.nan)
        noise = (self.noise_scale.update(values[2], half, values[1], out.shape[1], values[3]) if small is not None
                 else missing)
        ratio = values[-1] if sample_ratio else missing
        return values[0], values[1], ratio, noise

    def _samples(self, step: int) -> int:
        return samples_seen(step, self.orders[0].steps_per_epoch, self.spec.batch_size, self.data.n_train,
                            self.spec.drop_last)

    def apply_edit(self, edit: Kinded) -> None:
        """Apply a sweep edit to every member (each scaled to its base LR), or to none: a
        SpecError for any member rejects it for all."""
        if edit.kind == "optimizer":
            apply_hyperparameters(self.optimizer, self.spec.optimizer.kind, dict(edit.params))
            translated = [edit] * self.k
        else:
            current = self.timelines[0].current.spec.kind
            translated = [member_edit(edit, r, current) for r in self.ratios]
            timelines = [tl.copy() for tl in self.timelines]
            for tl, e in zip(timelines, translated, strict=True):
                tl.apply(self.step, e)
            self.timelines = timelines
        RunnerBase.record(self, "edit", edit=edit.to_json())  # the sweep's own; members get theirs below
        for k in np.flatnonzero(self.active):
            self._record_member(int(k), "edit", edit=translated[k].to_json(), sweep_edit=edit.to_json())

    def _evaluate(self, step: int, plateau: bool = True) -> None:
        loss, metric = self.measure(self.data.x_val, self.data.y_val)
        epoch = step // self.orders[0].steps_per_epoch
        for k in np.flatnonzero(self.active):
            k = int(k)
            ev = {"step": step, "epoch": epoch, VAL_LOSS.name: float(loss[k]), VAL_METRIC.name: float(metric[k])}
            self._member_evals[k].append(ev)
            if not plateau:
                continue
            for name in MONITORED:
                new_lr = self.timelines[k].observe(self.step, name, ev[name])
                if new_lr is not None:
                    self._record_member(k, "plateau", lr=new_lr, monitor=name)

    def measure(self, x: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Each member's mean loss and accuracy (classification) or R^2 (regression) on held-out
        data, as ``[K]`` arrays (:func:`~lrlab.core.runs.loop.validation_sums`)."""
        task = self.data.task
        with self.optimizer.averaged() if self.per_member else contextlib.nullcontext():  # Schedule-Free
            sums = validation_sums(self.model, lambda xb: self.model(self._prepare(xb), True),
                                   lambda out, yb: member_losses(out, yb, task, True), x, y, task, chunk)
        return summarize(sums.cpu().numpy(), len(x), task)


def progress_words(update: Update) -> str:
    """A progress line's words for a sweep: members training and diverged, and the lowest latest
    loss with its LR (the ``sweep`` kind's, :mod:`lrlab.core.runs.kinds`)."""
    latest = [(float(m.steps[TRAIN_LOSS.name][-1]), float(m.steps[LR.name][-1])) for m in update.members
              if m.n and not Status(m.status).problem]
    diverged = sum(Status(m.status) == Status.DIVERGED for m in update.members)
    best = f" lowest loss {min(latest)[0]:.4g} at lr {min(latest)[1]:.3g}" if latest else ""
    return f"{len(update.members)} members, {diverged} diverged,{best}"


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A tensor's values as float64 numpy (to the CPU first: MPS has no float64). The one place a
    step waits for the device."""
    return t.detach().cpu().numpy().astype(np.float64)


def sweep_edits(events: Iterable[Event]) -> list[tuple[int, dict[str, Any]]]:
    """The sweep's own edits among a member's events (what a replay of the sweep re-applies)."""
    return [(e.step, e.data.get("sweep_edit", e.data["edit"])) for e in events if e.kind == "edit"]


# --- one member, replayed -----------------------------------------------------------------------


class SweepMember:
    """One member of a sweep as a run of its own: re-runs the sweep it came from (deterministic:
    the same LRs, seeds, path, threads and edits) and passes on only this member's metrics, so
    a replay of its session compares bit for bit. ``spec`` is the member's spec; ``sweep`` is the
    ``sweep`` entry of its session's meta (:meth:`Sweep.member_meta`)."""

    kind: ClassVar[str] = "sweep_member"

    def __init__(self, spec: RunSpec, *, sweep: Mapping[str, Any], edits: Iterable[tuple[int, Mapping[str, Any]]] = (),
                 threads: int | None = None, max_steps: int | None = None, flush_seconds: float = 0.2,
                 pace: float | None = None):
        base = RunSpec.from_json(sweep["spec"], "sweep.spec")
        self.member = int(sweep["member"])
        self.sweep = self.build_group(base, sweep, edits=edits, threads=threads, max_steps=max_steps,
                                      flush_seconds=flush_seconds, pace=pace)
        self.spec = self.sweep.member_specs[self.member]
        if self.spec.to_json() != spec.to_json():
            raise SpecError([("sweep.member", f"member {self.member} of this sweep has lr {self.spec.lr:g} and "
                                              f"seed {self.spec.seed}, not the spec's lr {spec.lr:g} and seed "
                                              f"{spec.seed}")])
        self._sweep_meta = dict(sweep)
        self.listeners: list[Listener] = []
        self.sweep.listeners.append(self._forward)
        self.total_steps = self.sweep.total_steps
        self.environment = self.sweep.environment

    def build_group(self, base: RunSpec, meta: Mapping[str, Any], **options: Any) -> Sweep:
        """The run this member came from, as its session's ``sweep`` meta describes it."""
        return Sweep(base, lrs=meta["lrs"], seeds=meta["seeds"], path=meta["path"], watch=self.member, **options)

    def describe(self) -> str:
        m = self.sweep.members[self.member]
        return (f"member {self.member} of a {self.sweep.k}-member sweep (lr {m.lr:g}, seed {m.seed}): "
                f"re-running the whole sweep ({self.sweep.path} path), which is deterministic")

    def _forward(self, update: Update) -> None:
        mine = update.members[self.member]
        for listener in self.listeners:
            listener(mine)

    @property
    def events(self) -> list[Event]:
        return self.sweep.member_events[self.member]

    @property
    def status(self) -> Status:
        return self.sweep.member_status[self.member]

    @property
    def step(self) -> int:
        end = int(self.sweep.ended_at[self.member])
        return self.sweep.step if end < 0 else min(self.sweep.step, end + 1)

    @property
    def summary(self) -> dict[str, Any]:
        return self.sweep.summary

    def pause(self) -> None:
        self.sweep.pause()

    def resume(self) -> None:
        self.sweep.resume()

    def stop(self) -> None:
        self.sweep.stop()

    def edit(self, edit: Mapping[str, Any]) -> None:
        self.sweep.edit(edit)

    def set_pace(self, steps_per_second: float | None) -> None:
        self.sweep.set_pace(steps_per_second)

    def run(self) -> Status:
        self.sweep.run()
        return self.status

    def session_meta(self) -> dict[str, Any]:
        return self.sweep.member_meta(self.member)

    def final_summary(self) -> dict[str, Any]:
        return self.sweep.member_final_summary(self.member)

    @classmethod
    def replay_options(cls, session: Any) -> dict[str, Any]:
        check_spec_agrees(session)
        options = Sweep.replay_options(session)
        return {"sweep": session.meta["sweep"], "edits": options["edits"], "threads": options["threads"],
                "max_steps": options["max_steps"]}


# --- the group summary ----------------------------------------------------------------------------

#: the keys of a member's row in the group summary and in ``lrlab sweep --json``
ROW_KEYS = ("lr", "seed", "status", "final_train_loss", "final_val_loss", "best_val_metric", "session")


def member_row(lr: float, seed: int, status: str, summary: Mapping[str, Any], events: Iterable[Event],
               session: str) -> dict[str, Any]:
    """One member's line of the group summary: LR, seed, status, final and best metrics, the
    step it diverged at (None if it did not), its session file."""
    diverged = [e.step for e in events if e.kind == "diverged"]
    return {"lr": lr, "seed": seed, "status": str(status),
            "final_train_loss": summary.get("final_train_loss"), "final_val_loss": summary.get("final_val_loss"),
            "final_val_metric": summary.get("final_val_metric"), "best_val_metric": summary.get("best_val_metric"),
            "diverged_at": diverged[0] if diverged else None, "session": session}


def rank(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Best first: members that did not diverge or fail before those that did, then the highest
    best validation metric (accuracy or R^2), then the lowest final validation loss."""
    def key(row: Mapping[str, Any]) -> tuple[bool, float, float]:
        metric, loss = row.get("best_val_metric"), row.get("final_val_loss")
        return (Status(row["status"]).problem, -metric if metric is not None else math.inf,
                loss if loss is not None else math.inf)

    return sorted(rows, key=key)


def folder_name(spec: RunSpec, lrs: Sequence[float], members: int, label: str = "", what: str = "sweep") -> str:
    """A new sweep's folder (also its sessions' ``group``): ``YYYYMMDD-HHMM-sweep-`` then the
    preset label or the main settings, with the LR range and the number of members
    (``20261123-1930-sweep-digits-sgd-lr0.001-1-x8``); ``what`` names another kind run per
    member in place of ``sweep`` (a ``grid``)."""
    from datetime import datetime

    from lrlab.core.decl.names import settings_words

    lr_range = f"lr{lrs[0]:g}" if len(lrs) == 1 else f"lr{min(lrs):g}-{max(lrs):g}"
    words = [label] if label else [lr_range if w.startswith("lr") and w == f"lr{spec.lr:g}" else w
                                   for w in settings_words(spec)]
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    return "-".join(w.replace("/", "_").replace("\\", "_") for w in [stamp, what, *words, f"x{members}"] if w)


def member_file_name(member: Member, members: int) -> str:
    """``03-lr0.01-seed0.lrlab``: numbered in member order (by LR, then seed), so a folder
    listing reads from the lowest LR up."""
    width = len(str(max(members - 1, 0)))
    return f"{member.index:0{width}d}-lr{member.lr:g}-seed{member.seed}.lrlab"
