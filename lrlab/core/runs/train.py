"""The ``train`` run kind: one model trained on the one loop (:meth:`RunnerBase.loop`).

The loop owns the step counter; between steps it drains a thread-safe command queue (pause,
resume, stop, edit), so the GUI, the CLI and a replay drive it the same way. This module
gives it the step (:meth:`Trainer.train_step`: LR from the timeline, forward, backward,
update) and the reads of what stays on the device (:meth:`Trainer.settle`); snapshots,
effective-LR samples and evaluation are its callbacks. Metrics leave it in batches of numpy
arrays (:class:`Update`), a few times a second, never one callback per step: the session
writer, the CLI progress bar and the GUI worker are all just listeners.

Determinism: every random source is seeded from the run seed (model init and
dropout through torch's global generator, batch order through its own
generator, numpy and python for good measure). The intra-op thread count changes
float results, so it is chosen once, recorded, and restored on replay. With the
same spec, seed, edits, threads, library versions and device, losses are
bit-identical.
"""

from __future__ import annotations

import math
import os
import platform
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from lrlab._version import __version__
from lrlab.core.decl.events import Event, Status
from lrlab.core.decl.lrfree import PACKAGES as LR_FREE
from lrlab.core.decl.metrics import (
    GRAD_NORM,
    LR,
    MONITORED,
    NOISE_SCALE,
    QUANTILE_NAMES,
    TRAIN_LOSS,
    UPDATE_RATIO,
    VAL_LOSS,
    VAL_METRIC,
)
from lrlab.core.decl.params import Kinded, SpecError
from lrlab.core.decl.schedules import Timeline, parse_edit
from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.compat import fast_step, foreach_norm, foreach_sub
from lrlab.core.engine.data import BatchOrder, Dataset, load_dataset
from lrlab.core.engine.devices import cpu_kernels, describe_device, resolve_device
from lrlab.core.engine.limits import check_resources
from lrlab.core.engine.models import build_model, count_parameters
from lrlab.core.engine.noise_scale import NoiseScale, split
from lrlab.core.engine.optim import apply_hyperparameters, averaged, build_optimizer, step_size
from lrlab.core.engine.precision import apply_layout, autocast, layout
from lrlab.core.engine.precision import check_options as check_precision
from lrlab.core.engine.precision import environment as precision_environment
from lrlab.core.engine.precision import uses as uses_precision
from lrlab.core.engine.snapshots import Snapshot, SnapshotError, SnapshotStore
from lrlab.core.runs.base import Columns, RunnerBase, Update, error_summary, recorded_threads, set_deterministic
from lrlab.core.runs.loop import EffectiveLR, Evaluation, Snapshots, summarize, validation_sums
from lrlab.core.storage.session import SessionError

#: the step columns measured on the device and read back in one go (settle), in buffer order; two
#: more norms follow them, |G_A| and |G_A - G_B|, from which the host computes the noise scale
MEASURED = (TRAIN_LOSS.name, GRAD_NORM.name, UPDATE_RATIO.name)
NOISE_NORMS = 2
#: steps between two snapshots of a training run (and the most a fork re-runs to reach its step)
SNAPSHOT_EVERY = 500
#: bytes of snapshots a run keeps in memory (the oldest go first); the session file keeps them all
SNAPSHOT_BUDGET = 256 * 2**20


def choose_threads(n_params: int, device: torch.device) -> int:
    """Tiny models train faster on one intra-op thread: hand-offs cost more than the maths."""
    if device.type != "cpu" or n_params < 500_000:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def environment(device: torch.device, threads: int, deterministic: bool) -> dict[str, Any]:
    from importlib.metadata import version  # not `import sklearn`: 2 s that a run no longer needs

    env = {"lrlab": __version__, "python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__, "scikit-learn": version("scikit-learn"),
           "platform": platform.platform(), "machine": platform.machine(),
           "device": str(device), "device_name": describe_device(device), "cpu_kernels": cpu_kernels(),
           "threads": threads, "deterministic": deterministic}
    if device.type == "cuda" and deterministic:
        env["CUBLAS_WORKSPACE_CONFIG"] = os.environ.get("CUBLAS_WORKSPACE_CONFIG", "")
    return env


@dataclass(frozen=True)
class Seeds:
    """Independent seeds for each random source, all derived from the run seed."""

    init: int  # torch's global generator while the model is built
    batches: int  # the batch order's own generator
    loop: int  # torch's global generator during training (dropout)
    numpy: int
    python: int

    @classmethod
    def derive(cls, seed: int) -> Seeds:
        a, b, c, d, e = np.random.SeedSequence(seed).generate_state(5, dtype=np.uint64).tolist()
        return cls(a % 2**63, b % 2**63, c % 2**63, d % 2**32, e)


class Trainer(RunnerBase):
    """Trains one run spec. Build it, add listeners, call :meth:`run` (blocking).

    ``edits`` are (step, edit JSON) pairs applied exactly at those steps, as a replay
    or ``lrlab run --edit`` needs; live edits come through :meth:`edit` and apply at
    the next step boundary. ``max_steps`` cuts a run short (replaying a stopped run).
    ``data`` reuses a dataset another trainer of the same spec loaded (the range test's
    seeds share one); the split does not depend on the run seed, so it is the same data.

    Snapshots (:mod:`lrlab.core.engine.snapshots`): every ``snapshot_every`` steps, at every planned
    edit and whenever a command (an edit, a pause) arrives, the state before the step is
    cloned on the device, kept in ``self.snapshots`` (the oldest dropped beyond
    ``snapshot_budget`` bytes) and handed to listeners in the next :class:`Update` (the
    session writer stores it). ``snapshot_every=None`` takes none.

    Continuing another run (what a fork does): ``start`` is a snapshot of a run of this same spec;
    the loop continues from its step, with ``edits`` the whole run's (those before the
    snapshot rebuild the LR timeline, the others apply at their steps). ``record_from`` keeps
    steps, evaluations and events before that step out of the updates (they are the parent's
    history, computed again only to reach the fork step); ``history`` are events that go out
    first instead (the parent's edits and plateau decisions before the fork step).
    """

    kind: ClassVar[str] = "train"

    def __init__(self, spec: RunSpec, *, edits: Iterable[tuple[int, Mapping[str, Any]]] = (),
                 threads: int | None = None, max_steps: int | None = None,
                 flush_seconds: float = 0.2, pace: float | None = None, data: Dataset | None = None,
                 snapshot_every: int | None = SNAPSHOT_EVERY, snapshot_budget: int = SNAPSHOT_BUDGET,
                 start: Snapshot | None = None, record_from: int = 0, history: Sequence[Event] = ()):
        super().__init__()
        if snapshot_every is not None and snapshot_every < 1:
            raise SpecError([("snapshot_every", f"must be a whole number >= 1 (or none), got {snapshot_every}")])
        self.snapshot_every = snapshot_every
        self.snapshots = SnapshotStore(snapshot_budget)
        self.start, self.record_from, self.history = start, record_from, list(history)
        self.pace = pace
        self.spec = spec
        self.flush_seconds = flush_seconds
        self._planned: dict[int, list[Kinded]] = {}
        for step, edit in edits:
            self._planned.setdefault(int(step), []).append(
                edit if isinstance(edit, Kinded) else parse_edit(edit))

        self.seeds = Seeds.derive(spec.seed)
        self.device = resolve_device(spec.device)
        if spec.deterministic and self.device.type == "cuda":
            # cuBLAS needs this before its first call to be deterministic (torch docs, "Reproducibility")
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        if data is None:  # refuse a run that would not fit before loading or building anything
            check_resources(spec, device=self.device)
        self.data: Dataset = load_dataset(spec.dataset, self.device) if data is None else data
        self.order = BatchOrder(self.data.x_train, self.data.y_train, spec.batch_size, spec.drop_last,
                                self.seeds.batches, augment=self.data.augment)
        self.total_steps = planned = spec.steps or spec.epochs * self.order.steps_per_epoch
        self.spec = spec = spec.resolved(self.total_steps, self.order.steps_per_epoch)  # "run", "25%" -> steps
        if max_steps is not None:
            self.total_steps = min(self.total_steps, max_steps)
        self.cut_short = self.total_steps < planned  # recorded, so the spec's longer plan is not a disagreement
        # from the planned length, so a replay cut short (max_steps) evaluates at the same steps
        self.eval_every = spec.eval_every or max(1, math.ceil(planned / 50))
        self.effective_every = spec.effective_lr_every or max(50, math.ceil(planned / 1000))
        self.timeline = Timeline(spec.schedule, spec.lr)
        self.summary: dict[str, Any] = {}

        torch.manual_seed(self.seeds.init)
        check_precision(spec, self.data.image_shape is not None)
        self.model = apply_layout(build_model(spec.model, tuple(self.data.x_train.shape[1:]), self.data.n_outputs,
                                              self.data.image_shape).to(self.device), spec)
        self._autocast = autocast(spec, self.device)  # bf16 forward passes, when the spec asks (precision.py)
        self.n_params = count_parameters(self.model)
        self.threads = threads or spec.threads or choose_threads(self.n_params, self.device)
        self.optimizer, optimizer_impl = build_optimizer(spec.optimizer, self.model.parameters(),
                                                         self.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.layers = [(name, p) for name, p in self.model.named_parameters() if p.requires_grad]
        self._optimizer_step = fast_step(self.optimizer)
        # Prodigy and Schedule-Free: the lr column records the step size they use (step_size)
        self._lr_free = spec.optimizer.kind in LR_FREE
        self.loss_fn = nn.CrossEntropyLoss() if self.data.task == "classification" else nn.MSELoss()
        self.environment = environment(self.device, self.threads, spec.deterministic)
        self.environment["optimizer_impl"] = optimizer_impl  # fused kernels round differently
        self.environment.update(precision_environment(spec))
        if self.data.provenance:  # the user's own files: a replay on changed data says so
            self.environment["data"] = self.data.provenance
        if start is not None:
            self._continue_timeline(start)

    # --- snapshots: the exact state before a step -------------------------------------------------

    def _snapshot(self, first_loss: float | None) -> Snapshot:
        """The state before step ``self.step`` (and before its edits), cloned on the device."""
        step = self.step
        tensors = {f"model.{k}": v.detach().clone() for k, v in self.model.state_dict().items()}
        opt = self.optimizer.state_dict()
        values: dict[str, Any] = {}
        for i, state in opt["state"].items():
            for k, v in state.items():
                if torch.is_tensor(v):
                    tensors[f"optimizer.{i}.{k}"] = v.detach().clone()
                else:
                    values[f"{i}.{k}"] = v
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        tensors["rng.batches"] = self.order.state(step)
        np_name, np_keys, np_pos, np_gauss, np_cached = np.random.get_state()
        tensors["rng.numpy"] = torch.from_numpy(np_keys.astype(np.int64))
        py_version, py_state, py_gauss = random.getstate()
        tensors["rng.python"] = torch.tensor(py_state, dtype=torch.int64)
        groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in opt["param_groups"]]
        state = {"first_loss": first_loss, "param_groups": groups, "optimizer_values": values,
                 "timeline": self.timeline.state(), "numpy": [np_name, np_pos, np_gauss, np_cached],
                 "python": [py_version, py_gauss], NOISE_SCALE.name: self._noise_state()}
        return Snapshot(step, tensors, state)

    def _noise_state(self) -> list[float]:
        """The noise scale's averages before this step: those read so far, with the measurements
        still on the device folded into a copy (one read of the device, at a snapshot only)."""
        if not self._noise_rows:
            return self.noise_scale.state()
        noise = self.noise_scale.copy()
        columns = [1, len(MEASURED), len(MEASURED) + 1]
        rows = self._measured[[r for r, _, _ in self._noise_rows]][:, columns].tolist()
        for (_, small, big), (big_norm, small_norm, diff_norm) in zip(self._noise_rows, rows, strict=True):
            noise.update(small_norm, small, big_norm, big, diff_norm)
        return noise.state()

    def _continue_timeline(self, start: Snapshot) -> None:
        """Check ``start`` fits this run's model and optimizer (SnapshotError if not), and rebuild
        the LR timeline as it was at its step: the edits before it, then its plateau memory."""
        expected = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        got = {k: v for k, v in start.tensors.items() if k.startswith("model.")}
        if got.keys() != expected.keys():
            missing, extra = sorted(expected.keys() - got.keys()), sorted(got.keys() - expected.keys())
            raise SnapshotError(f"snapshot does not fit this model (missing {missing[:3]}, unknown {extra[:3]})")
        for k, v in expected.items():
            if got[k].shape != v.shape or got[k].dtype != v.dtype:
                raise SnapshotError(f"snapshot tensor {k}: {got[k].dtype} {list(got[k].shape)}, the model's "
                                    f"is {v.dtype} {list(v.shape)}")
        for k, v in start.tensors.items():
            if k.startswith("optimizer."):
                _, index, key = [*k.split(".", 2), "", ""][:3]
                if not index.isdigit() or int(index) >= len(self.params) or not key:
                    raise SnapshotError(f"snapshot tensor {k}: names no parameter of this model")
                shape = self.params[int(index)].shape  # Prodigy keeps some state flattened
                if v.dim() and v.shape not in (shape, torch.Size([shape.numel()])):
                    raise SnapshotError(f"snapshot tensor {k}: shape {list(v.shape)} is not its parameter's")
            elif not k.startswith(("model.", "rng.")):
                raise SnapshotError(f"snapshot tensor {k}: unknown name")
        for name in ("rng.torch", "rng.batches", "rng.numpy", "rng.python"):
            if name not in start.tensors:
                raise SnapshotError(f"snapshot has no {name}")
        first = start.state.get("first_loss")
        if first is not None and type(first) not in (int, float):
            raise SnapshotError(f"snapshot's first loss must be a number, got {str(first)[:40]!r}")
        groups = start.state.get("param_groups")
        if not isinstance(groups, list) or len(groups) != len(self.optimizer.param_groups):
            raise SnapshotError("snapshot's optimizer hyperparameters do not fit this optimizer")
        _check_state(start.state)
        for step in sorted(s for s in self._planned if s < start.step):
            for edit in self._planned.pop(step):
                self.timeline.apply(step, edit)
        try:
            self.timeline.set_state(start.state.get("timeline"))
        except ValueError as err:
            raise SnapshotError(f"snapshot's schedule state does not fit this run's edits: {err}") from None

    def _restore(self, start: Snapshot) -> None:
        """Put the model, the optimizer and every random generator as they were at ``start``."""
        t = start.tensors
        self.model.load_state_dict({k[len("model."):]: v for k, v in t.items() if k.startswith("model.")})
        state: dict[int, dict[str, Any]] = {}
        for k, v in t.items():
            if k.startswith("optimizer."):
                _, index, key = k.split(".", 2)
                state.setdefault(int(index), {})[key] = v
        try:
            for k, v in start.state.get("optimizer_values", {}).items():
                index, key = k.split(".", 1)
                state.setdefault(int(index), {})[key] = v
            groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
                      for g in start.state["param_groups"]]
            self.optimizer.load_state_dict({"state": state, "param_groups": groups})
            torch.set_rng_state(t["rng.torch"].to(torch.uint8))
            if self.device.type == "cuda" and "rng.cuda" in t:
                torch.cuda.set_rng_state(t["rng.cuda"].to(torch.uint8), self.device)
            self.order.restore(t["rng.batches"].to(torch.uint8))
            np_name, np_pos, np_gauss, np_cached = start.state["numpy"]
            np.random.set_state((np_name, t["rng.numpy"].numpy().astype(np.uint32), np_pos, np_gauss, np_cached))
            py_version, py_gauss = start.state["python"]
            random.setstate((py_version, tuple(t["rng.python"].tolist()), py_gauss))
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as err:
            raise SnapshotError(f"snapshot at step {start.step} cannot be restored: {str(err)[:200]}") from None
        self.step = start.step

    def snapshot_due(self) -> bool:
        step = self.step
        if self.snapshot_every is None or step < self.record_from or step == 0:
            return False
        if self.start is not None and step == self.start.step:
            return False  # the run started from this very state
        return (step % self.snapshot_every == 0 or step == self.record_from or step in self._planned
                or not self._commands.empty())

    def record(self, kind: str, at: int | None = None, **data: Any) -> Event:
        """As :meth:`RunnerBase.record`; events before ``record_from`` stay out of the record (a
        fork re-running its parent's history: the parent recorded them, ``history`` carries them)."""
        step = self.step if at is None else at
        if step < self.record_from:
            return Event(step, kind, data)
        return super().record(kind, at, **data)

    # --- what sessions and replays need --------------------------------------------------

    def session_meta(self) -> dict[str, Any]:
        return {"eval_every": self.eval_every, "update_ratio_every": self.spec.update_ratio_every,
                "effective_lr_every": self.effective_every,
                "total_steps": self.total_steps, "steps_per_epoch": self.order.steps_per_epoch,
                "snapshot_every": self.snapshot_every,
                **({"max_steps": self.total_steps} if self.cut_short else {})}

    def final_summary(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.summary.items() if k.startswith("test_")}, **error_summary(self.events)}

    @classmethod
    def replay_options(cls, session: Any) -> dict[str, Any]:
        """Same edits and threads; a run that ended early (stopped, interrupted) as long as it got."""
        check_spec_agrees(session)
        ended_early = session.status in (Status.STOPPED, Status.INTERRUPTED)
        return {"edits": session.edits(), "threads": recorded_threads(session),
                "max_steps": session.n_steps() if ended_early else None}

    # --- the loop's hooks (the loop: lrlab.core.runs.base.RunnerBase.loop) ---------------------

    def setup_globals(self) -> None:
        """Seed the global generators and set torch's threads and determinism for this run."""
        setup_globals(self.seeds, self.threads, self.spec.deterministic)

    def begin(self) -> None:
        self.setup_globals()
        self.first_loss: float | None = None  # the divergence rule compares every loss with it
        self.noise_scale = NoiseScale()  # B_simple's averages, on the host (a snapshot carries them)
        self._noise_rows: list[tuple[int, int, int]] = []  # (row, small, big) of measurements not yet read
        if self.start is not None:
            self._restore(self.start)
            self.first_loss = self.start.state.get("first_loss")
            self.noise_scale.set_state(self.start.state.get(NOISE_SCALE.name))  # an older snapshot: afresh
        self.columns = Columns(capacity=4096)
        # loss, gradient norm, update ratio and noise scale stay on the device until a flush or
        # an evaluation: on a GPU each read is a wait for the device (one read per flush instead)
        self._measured = torch.empty((self.columns.capacity, len(MEASURED) + NOISE_NORMS), dtype=torch.float32,
                                     device=self.device)
        self._no_ratio = torch.tensor(math.nan, device=self.device)
        self._settled = 0  # rows of columns whose measured values are on the host
        self._read_extra: list[float] | None = None  # validation sums read by the last settle
        self._evals: list[dict[str, float]] = []
        self._new_snapshots: list[Snapshot] = []  # taken since the last update
        self._groups = self.optimizer.param_groups
        self.effective_lr = EffectiveLR(self.effective_every, self.optimizer, self.layers)
        self.callbacks = [*([Snapshots()] if self.snapshot_every is not None else []), self.effective_lr,
                          Evaluation(self.eval_every)]
        for ev in self.history:  # the parent's history goes out first (see the class docstring)
            self.events.append(ev)
            self._unsent.append(ev)

    def train_step(self, step: int) -> bool:
        # the LR for this step comes from the timeline (schedule + edits)
        lr = self.timeline(step)
        for g in self._groups:
            g["lr"] = lr
        if self._lr_free:  # the step size they derive from it (d x lr, the warmed-up lr)
            lr = step_size(self.optimizer)
        # one optimizer step on the next batch of the seeded order
        spec = self.spec
        xb, yb = self.order.batch(step)
        half = split(len(yb)) if step % spec.noise_scale_every == 0 else 0
        loss, grad_norm, ratio, small = self.optimize(xb, yb, step % spec.update_ratio_every == 0, half)
        # the measured values go into a device buffer (no wait for the device)
        self.step = step + 1
        cols, none = self.columns, self._no_ratio
        if small is not None:
            self._noise_rows.append((cols.n, half, len(yb)))
        noise = (none, none) if small is None else small
        self._measured[cols.n] = torch.stack((loss.detach(), grad_norm, none if ratio is None else ratio, *noise))
        cols.append(step=step, epoch=step // self.order.steps_per_epoch, samples=self.samples(step),
                    wall_time=time.perf_counter() - self.t0, lr=lr)
        return False

    def settle(self, extra: torch.Tensor | None = None) -> bool:
        """Read the measured values of the steps since the last read (one synchronisation;
        ``extra``, validation sums, come along and land in ``_read_extra``) and end the run at
        the first step whose loss diverged; True if one did. The steps computed after it are
        dropped, so the session ends exactly where the loss blew up."""
        cols = self.columns
        n, settled = cols.n, self._settled
        extra_flat = None if extra is None else extra.reshape(-1)
        if n == settled:
            self._read_extra = None if extra_flat is None else extra_flat.tolist()
            return False
        # the effective-LR quantiles recorded since the last read come along in the same read
        pending = self.effective_lr.pending
        unread = [(s, layer, q) for s, by_layer in pending for layer, q in by_layer.items()]
        pending.clear()
        tail = () if extra_flat is None else (extra_flat,)  # float64: float32 values convert exactly
        flat = torch.cat((self._measured[settled:n].reshape(-1).double(),
                          *(q.reshape(-1).double() for _, _, q in unread), *tail)).tolist()
        self._read_extra = flat[len(flat) - len(extra_flat):] if extra_flat is not None else None
        per_row = len(MEASURED) + NOISE_NORMS
        k = per_row * (n - settled)
        values = np.asarray(flat[:k], dtype=np.float64).reshape(-1, per_row)
        cols.fill(settled, n, **{name: values[:, i] for i, name in enumerate(MEASURED)})
        noise = cols.arrays[NOISE_SCALE.name]
        for row, small, big in self._noise_rows:  # B_simple's averages, in step order
            i = row - settled
            noise[row] = self.noise_scale.update(values[i, -2], small, values[i, 1], big, values[i, -1])
        self._noise_rows.clear()
        width = len(QUANTILE_NAMES)
        self.effective_lr.rows.extend(
            {"step": s, "layer": layer, **dict(zip(QUANTILE_NAMES, flat[k + i * width:k + (i + 1) * width],
                                                   strict=True))}
            for i, (s, layer, _) in enumerate(unread))
        losses = values[:, 0]
        if self.first_loss is None:
            self.first_loss = float(losses[0])
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(losses) | (losses > self.spec.diverge_factor * max(self.first_loss, 1e-12))
        self._settled = n
        if not bad.any():
            return False
        j = settled + int(np.argmax(bad))
        at, lr_at, loss_at = int(cols["step"][j]), float(cols[LR.name][j]), float(cols[TRAIN_LOSS.name][j])
        cols.n = self._settled = j + 1
        self.effective_lr.rows[:] = [r for r in self.effective_lr.rows if r["step"] <= at]
        self.step = at + 1
        self.record("diverged", at=at, loss=_json_float(loss_at), lr=lr_at,  # the step that diverged
                    message=divergence(loss_at, self.first_loss, at, lr_at, self.spec.diverge_factor))
        self.status = Status.DIVERGED
        return True

    def collect(self, status: Status) -> Update:
        self.settle()
        steps, evals, effective = self.columns.take(), self._evals, self.effective_lr.take_rows()
        self._settled, self._evals = 0, []
        if self.record_from:  # a fork's re-run of shared history is not its record
            keep = steps["step"] >= self.record_from
            if not keep.all():
                steps = {k: v[keep] for k, v in steps.items()}
            evals = [e for e in evals if e["step"] >= self.record_from]
            effective = [e for e in effective if e["step"] >= self.record_from]
        snapshots, self._new_snapshots = self._new_snapshots, []
        return Update(steps, evals, self.take_events(), self.step, self.total_steps, status, effective, snapshots)

    def take_snapshot(self) -> None:
        """The state before this step, kept and sent with the next Update (:class:`Snapshots`)."""
        snapshot = self._snapshot(self.first_loss)
        self._new_snapshots.append(snapshot)
        self.snapshots.add(snapshot)

    def evaluate(self, step: int, final: bool = False) -> bool:
        """Validation after ``step``; a plateau schedule reacts to it (not to a stopped run's
        ``final`` one). The losses so far are read with it first: a divergence ends the run
        (True) and no evaluation or plateau decision ever follows it."""
        sums = self.validation_sums(self.data.x_val, self.data.y_val)
        if final:
            values = sums.reshape(-1).tolist()
        else:
            if self.settle(sums):
                return True
            values = self._read_extra
        ev = self._evaluate(step, values, sums.shape)
        self._evals.append(ev)
        if not final:
            for name in MONITORED:
                new_lr = self.timeline.observe(self.step, name, ev[name])
                if new_lr is not None:
                    self.record("plateau", lr=new_lr, monitor=name)
        return False

    def test(self) -> None:
        """The test split's loss and metric, once the run has finished or was stopped."""
        test_loss, test_metric = self.measure(*self.data.test)
        self.summary.update(test_loss=test_loss, test_metric=test_metric)
        self.record("test", loss=test_loss, metric=test_metric, n=len(self.data.test[0]))

    def optimize(self, xb: torch.Tensor, yb: torch.Tensor, sample_ratio: bool, half: int = 0
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, tuple[torch.Tensor, torch.Tensor] | None]:
        """Forward, backward and one optimizer step; (loss, gradient norm, update ratio or None,
        (|G_A|, |G_A - G_B|) or None, G_A the gradient of the batch's first ``half`` samples and
        G_B the batch's), all tensors on the device: reading them is left to the caller, once per
        batch of steps.

        The update ratio ||w_after - w_before|| / ||w_before|| needs a copy of the weights,
        so it is measured only when ``sample_ratio`` (every ``update_ratio_every`` steps). The
        noise scale B_simple needs one more backward pass, of the loss on the first ``half``
        samples of the batch through the same forward pass (:mod:`lrlab.core.engine.noise_scale`),
        so it is measured only when ``half`` > 0 (every ``noise_scale_every`` steps); it reads the
        graph and leaves ``p.grad``, the RNG and the batch-norm statistics as they were."""
        params = self.params
        if self.data.prepare is not None:
            xb = self.data.prepare(xb)
        with self._autocast():
            out = self.model(layout(xb, self.spec))
            loss = self.loss_fn(out, yb)
            small = None
            if half:  # before backward() frees the graph; p.grad is not touched
                small = torch.autograd.grad(self.loss_fn(out[:half], yb[:half]), params, retain_graph=True,
                                            allow_unused=True)
        for p in params:  # zero_grad(set_to_none=True) without its profiler annotation
            p.grad = None
        loss.backward()
        grad_norm = _norm([p.grad for p in params if p.grad is not None])
        norms = None
        if small is not None:
            pairs = [(a, p.grad) for a, p in zip(small, params, strict=True) if a is not None and p.grad is not None]
            norms = (_norm([a for a, _ in pairs]), _norm(foreach_sub([a for a, _ in pairs], [g for _, g in pairs])))
        if not sample_ratio:
            self._optimizer_step()
            return loss, grad_norm, None, norms
        before = [p.detach().clone() for p in params]
        self._optimizer_step()
        delta = foreach_sub([p.detach() for p in params], before)
        return loss, grad_norm, _norm(delta) / _norm(before).clamp_min(1e-12), norms

    def samples(self, step: int) -> int:
        """Training samples seen after ``step``."""
        return samples_seen(step, self.order.steps_per_epoch, self.spec.batch_size, self.data.n_train,
                            self.spec.drop_last)

    def apply_edit(self, edit: Kinded) -> None:
        """A live edit; one that arrives while a fork re-runs its parent's history waits for the
        fork step (the history is the parent's, and nothing before the fork step is recorded)."""
        if self.step < self.record_from:
            self.timeline.copy().apply(self.record_from, edit)  # SpecError now (a rejected edit) if it cannot fit
            self._planned.setdefault(self.record_from, []).append(edit)
            return
        self.apply_planned(edit)

    def apply_planned(self, edit: Kinded) -> None:
        """An edit applied at this very step (a planned one, or a live one now due)."""
        if edit.kind == "optimizer":
            apply_hyperparameters(self.optimizer, self.spec.optimizer.kind, dict(edit.params))
        else:
            self.timeline.apply(self.step, edit)
        self.record("edit", edit=edit.to_json())

    def _evaluate(self, step: int, values: list[float], shape: torch.Size) -> dict[str, float]:
        """The validation row after ``step`` from the sums :meth:`validation_sums` read back."""
        loss, metric = summarize(np.asarray(values, dtype=np.float64).reshape(shape), len(self.data.x_val),
                                 self.data.task)
        return {"step": step, "epoch": step // self.order.steps_per_epoch,
                VAL_LOSS.name: float(loss[0]), VAL_METRIC.name: float(metric[0])}

    def measure(self, x: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> tuple[float, float]:
        """Mean loss and accuracy (classification) or R^2 (regression) on held-out data."""
        loss, metric = summarize(self.validation_sums(x, y, chunk).cpu().numpy(), len(x), self.data.task)
        return float(loss[0]), float(metric[0])

    def validation_sums(self, x: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """:func:`~lrlab.core.runs.loop.validation_sums` of this run's model, on the device."""
        prepare = self.data.prepare
        if uses_precision(self.spec):
            def forward(xb: torch.Tensor) -> torch.Tensor:
                with self._autocast():
                    return self.model(layout(xb if prepare is None else prepare(xb), self.spec)).float()
        else:
            forward = self.model if prepare is None else lambda xb: self.model(prepare(xb))
        with averaged(self.optimizer):  # Schedule-Free: at its averaged point, then back exactly
            return validation_sums(self.model, forward, self.loss_fn, x, y, self.data.task, chunk)


def setup_globals(seeds: Seeds, threads: int, deterministic: bool) -> None:
    """Seed the global generators (dropout draws from torch's) and set torch's thread count and
    determinism, right before a loop: whatever used the generators since the run was built
    (another run, the GUI) cannot change its dropout masks."""
    torch.manual_seed(seeds.loop)
    np.random.seed(seeds.numpy)
    random.seed(seeds.python)
    set_deterministic(deterministic)
    torch.set_num_threads(threads)


def samples_seen(step: int, steps_per_epoch: int, batch_size: int, n_train: int, drop_last: bool) -> int:
    """Training samples seen after ``step`` (partial last batches counted as they are)."""
    epoch, i = divmod(step, steps_per_epoch)
    per_epoch = steps_per_epoch * batch_size if drop_last else n_train
    return epoch * per_epoch + min((i + 1) * batch_size, n_train)


def divergence(loss: float, first_loss: float, step: int, lr: float, factor: float) -> str | None:
    """Why a run diverged at ``step``, or None: a NaN or infinite loss, or one more than
    ``factor`` (the spec's ``diverge_factor``) times the first. Every run kind uses this rule."""
    if not math.isfinite(loss):
        return (f"loss became {'NaN' if math.isnan(loss) else 'infinite'} at step {step} at LR {lr:.4g}: "
                "try a lower LR or a warmup")
    if loss > factor * max(first_loss, 1e-12):
        return (f"loss {loss:.4g} at step {step} is more than {factor:g}x the first loss "
                f"({first_loss:#.3g}) at LR {lr:.4g}: try a lower LR or a warmup")
    return None


def _norm(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Global L2 norm of several tensors, as a tensor on their device (no synchronisation)."""
    return torch.linalg.vector_norm(torch.stack(foreach_norm(tensors)))


def _json_float(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


def _check_state(state: dict[str, Any]) -> None:
    """The JSON part of a snapshot's state, checked before anything is restored: a damaged file
    (``numpy: null``, ``optimizer_values: 5``) gives a SnapshotError that names the field, never
    an AttributeError half-way through restoring, and never after the fork's file exists."""
    values = state.get("optimizer_values", {})
    if not isinstance(values, dict) or any(
            not isinstance(k, str) or "." not in k or not k.split(".", 1)[0].isdigit()
            or len(k.split(".", 1)[0]) > 6 for k in values):
        raise SnapshotError("snapshot's optimizer_values must be an object of 'INDEX.KEY' names")
    if any(not isinstance(g, dict) or not isinstance(g.get("params"), list) for g in state["param_groups"]):
        raise SnapshotError("snapshot's param_groups must be objects that list their params")
    numpy = state.get("numpy")
    if (not isinstance(numpy, list) or len(numpy) != 4 or not isinstance(numpy[0], str)
            or type(numpy[1]) is not int or type(numpy[2]) is not int or type(numpy[3]) not in (int, float)):
        raise SnapshotError("snapshot's numpy state must be [name, position, has_gauss, cached_gaussian]")
    python = state.get("python")
    if (not isinstance(python, list) or len(python) != 2 or type(python[0]) is not int
            or (python[1] is not None and type(python[1]) not in (int, float))):
        raise SnapshotError("snapshot's python state must be [version, gauss or null]")


def check_spec_agrees(session: Any) -> None:
    """SessionError when a session's spec plans more steps than its recording says the run had
    (``meta.total_steps``), or the recording holds more steps than that: a 690-step session whose
    spec was changed to 100,000 epochs would otherwise make a replay or a fork train millions of
    steps. The spec's plan is counted with the recorded ``steps_per_epoch``, before any data loads."""
    meta = session.meta
    total, per_epoch = meta.get("total_steps"), meta.get("steps_per_epoch")
    if type(total) is not int:
        return  # an older file: nothing to hold the spec against
    spec = session.spec
    planned = spec.steps or (spec.epochs * per_epoch if type(per_epoch) is int else None)
    cut = meta.get("max_steps")
    if planned is not None and type(cut) is int and 0 < cut < planned:  # a run cut short on purpose
        planned = cut
    parent = session.parent
    recorded = (parent["step"] if parent else 0) + session.n_steps()
    if planned is not None and planned > total:
        raise SessionError(f"{session.path}: the spec and the recorded steps disagree: its spec plans "
                           f"{planned:,} steps, the run it recorded had {total:,}; nothing was run")
    if recorded > total or (recorded != total and session.status == Status.FINISHED):
        raise SessionError(f"{session.path}: the spec and the recorded steps disagree: it holds steps up "
                           f"to {recorded:,}, its run had {total:,} ({session.status}); nothing was run")
