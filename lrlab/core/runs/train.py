"""The ``train`` run kind: one readable training loop that owns the step counter.

Between steps the loop drains a thread-safe command queue (pause, resume, stop,
edit), so the GUI, the CLI and a replay drive it the same way. Metrics leave it
in batches of numpy arrays (:class:`Update`), a few times a second, never one
callback per step: the session writer, the CLI progress bar and the GUI worker are
all just listeners.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from lrlab import __version__
from lrlab.core.compat import fast_step, foreach_norm, foreach_sub
from lrlab.core.data import BatchOrder, Dataset, load_dataset
from lrlab.core.devices import describe_device, resolve_device
from lrlab.core.effective_lr import quantiles as effective_quantiles
from lrlab.core.events import Event, Status
from lrlab.core.metrics import FLOAT_STEP_COLUMNS, INT_STEP_COLUMNS, QUANTILE_NAMES
from lrlab.core.models import build_model, count_parameters
from lrlab.core.optim import apply_hyperparameters, build_optimizer
from lrlab.core.params import Kinded
from lrlab.core.runs.base import RunnerBase, Update, register, set_deterministic
from lrlab.core.schedules import Timeline, parse_edit
from lrlab.core.spec import RunSpec


def choose_threads(n_params: int, device: torch.device) -> int:
    """Tiny models train faster on one intra-op thread: hand-offs cost more than the maths."""
    if device.type != "cpu" or n_params < 500_000:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def environment(device: torch.device, threads: int, deterministic: bool) -> dict[str, Any]:
    import sklearn

    env = {"lrlab": __version__, "python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__, "scikit-learn": sklearn.__version__,
           "platform": platform.platform(), "machine": platform.machine(),
           "device": str(device), "device_name": describe_device(device),
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


@register("train")
class Trainer(RunnerBase):
    """Trains one run spec. Build it, add listeners, call :meth:`run` (blocking).

    ``edits`` are (step, edit JSON) pairs applied exactly at those steps, as a replay
    or ``lrlab run --edit`` needs; live edits come through :meth:`edit` and apply at
    the next step boundary. ``max_steps`` cuts a run short (replaying a stopped run).
    ``data`` reuses a dataset another trainer of the same spec loaded (the range test's
    seeds share one); the split does not depend on the run seed, so it is the same data.
    """

    def __init__(self, spec: RunSpec, *, edits: Iterable[tuple[int, Mapping[str, Any]]] = (),
                 threads: int | None = None, max_steps: int | None = None,
                 flush_seconds: float = 0.2, pace: float | None = None, data: Dataset | None = None):
        super().__init__()
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
        self.data: Dataset = load_dataset(spec.dataset, self.device) if data is None else data
        self.order = BatchOrder(self.data.x_train, self.data.y_train, spec.batch_size, spec.drop_last,
                                self.seeds.batches)
        self.total_steps = spec.steps or spec.epochs * self.order.steps_per_epoch
        self.spec = spec = spec.resolved(self.total_steps, self.order.steps_per_epoch)  # "run", "25%" -> steps
        if max_steps is not None:
            self.total_steps = min(self.total_steps, max_steps)
        self.eval_every = spec.eval_every or max(1, math.ceil(self.total_steps / 50))
        self.effective_every = spec.effective_lr_every or max(50, math.ceil(self.total_steps / 1000))
        self.timeline = Timeline(spec.schedule, spec.lr)
        self.step = 0
        self.summary: dict[str, Any] = {}

        torch.manual_seed(self.seeds.init)
        self.model = build_model(spec.model, tuple(self.data.x_train.shape[1:]), self.data.n_outputs,
                                 self.data.image_shape).to(self.device)
        self.n_params = count_parameters(self.model)
        self.threads = threads or spec.threads or choose_threads(self.n_params, self.device)
        self.optimizer, optimizer_impl = build_optimizer(spec.optimizer, self.model.parameters(),
                                                         self.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.layers = [(name, p) for name, p in self.model.named_parameters() if p.requires_grad]
        self._optimizer_step = fast_step(self.optimizer)
        self.loss_fn = nn.CrossEntropyLoss() if self.data.task == "classification" else nn.MSELoss()
        self.environment = environment(self.device, self.threads, spec.deterministic)
        self.environment["optimizer_impl"] = optimizer_impl  # fused kernels round differently

    # --- what sessions and replays need --------------------------------------------------

    def session_meta(self) -> dict[str, Any]:
        return {"eval_every": self.eval_every, "update_ratio_every": self.spec.update_ratio_every,
                "effective_lr_every": self.effective_every,
                "total_steps": self.total_steps, "steps_per_epoch": self.order.steps_per_epoch}

    def final_summary(self) -> dict[str, Any]:
        extra = {k: v for k, v in self.summary.items() if k.startswith("test_")}
        errors = [e.data["message"] for e in self.events if e.kind == "out_of_memory"]
        if errors:
            extra["error"] = errors[0]
        return extra

    @classmethod
    def replay_options(cls, session: Any) -> dict[str, Any]:
        """Same edits and threads; a run that ended early (stopped, interrupted) as long as it got."""
        ended_early = session.status in (Status.STOPPED, Status.INTERRUPTED)
        return {"edits": session.edits(), "threads": session.environment.get("threads"),
                "max_steps": session.n_steps() if ended_early else None}

    # --- the loop --------------------------------------------------------------------------

    def _setup(self) -> None:
        # Seed again right before the loop: whatever used the global generators since
        # __init__ (another run, the GUI) cannot change this run's dropout masks.
        torch.manual_seed(self.seeds.loop)
        np.random.seed(self.seeds.numpy)
        random.seed(self.seeds.python)
        set_deterministic(self.spec.deterministic)
        torch.set_num_threads(self.threads)

    def _run(self) -> Status:
        self._setup()
        buf = _Columns(capacity=4096)
        evals: list[dict[str, float]] = []
        effective: list[tuple[int, dict[str, torch.Tensor]]] = []  # (step, quantiles on the device)
        new_events: list[Event] = []
        spe = self.order.steps_per_epoch
        groups = self.optimizer.param_groups
        ratio_every = self.spec.update_ratio_every
        first_loss = None
        last_eval = -1
        self.status = Status.RUNNING
        t0 = time.perf_counter()
        last_flush = t0

        def flush(status: Status) -> None:
            nonlocal last_flush
            update = Update(buf.take(), list(evals), list(new_events), self.step, self.total_steps,
                            status, _effective_rows(effective))
            evals.clear()
            effective.clear()
            new_events.clear()
            last_flush = time.perf_counter()
            for listener in self.listeners:
                listener(update)

        def record(kind: str, at: int | None = None, **data: Any) -> Event:
            ev = Event(self.step if at is None else at, kind, data, time.perf_counter() - t0)
            self.events.append(ev)
            new_events.append(ev)
            return ev

        try:
            while self.step < self.total_steps:
                # 1. between steps: wait for a watchable pace (never changes what is computed),
                # commands from other threads, then edits planned for this step
                self.keep_pace()
                if self.drain(record, flush):
                    self.status = Status.STOPPED
                    break
                for edit in self._planned.pop(self.step, ()):
                    self.apply_edit(edit, record)

                # 2. the LR for this step comes from the timeline (schedule + edits)
                step = self.step
                lr = self.timeline(step)
                for g in groups:
                    g["lr"] = lr

                # 3. one optimizer step on the next batch of the seeded order
                loss, grad_norm, ratio = self._optimize(*self.order.batch(step), step % ratio_every == 0)

                # 4. record; .item() is where the CPU waits for the step on a GPU
                loss_value = loss.item()
                self.step = step + 1
                buf.append(step, step // spe, self._samples(step), time.perf_counter() - t0,
                           loss_value, lr, grad_norm, ratio)

                # the spread of per-parameter step sizes (Adam's, AdaGrad's), now and then
                if step % self.effective_every == 0:
                    effective.append((step, effective_quantiles(self.optimizer, self.layers)))

                # 5. divergence ends the run; nothing crashes
                if first_loss is None:
                    first_loss = loss_value
                problem = self._divergence(loss_value, first_loss, step, lr)
                if problem:
                    record("diverged", at=step, loss=_json_float(loss_value), lr=lr, message=problem)
                    self.status = Status.DIVERGED
                    break

                # 6. validation every eval_every steps; a plateau schedule reacts to it
                if self.step % self.eval_every == 0 or self.step == self.total_steps:
                    ev = self._evaluate(step)
                    evals.append(ev)
                    last_eval = step
                    for name in ("val_loss", "val_metric"):
                        new_lr = self.timeline.observe(self.step, name, ev[name])
                        if new_lr is not None:
                            record("plateau", lr=new_lr, monitor=name)

                if time.perf_counter() - last_flush >= self.flush_seconds or buf.full:
                    flush(Status.RUNNING)
            else:
                self.status = Status.FINISHED
        except torch.OutOfMemoryError:
            # a GPU that runs out of memory ends the run; the session keeps every step so far
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            record("out_of_memory", message=f"{self.device} ran out of memory at step {self.step}: "
                                            "try a smaller batch size or model")
            self.status = Status.FAILED

        if self.status == Status.STOPPED and self.step > 0 and last_eval < self.step - 1:
            evals.append(self._evaluate(self.step - 1))  # a stopped run ends with an evaluation
        if self.data.test is not None and self.status in (Status.FINISHED, Status.STOPPED):
            test_loss, test_metric = self.measure(*self.data.test)
            self.summary.update(test_loss=test_loss, test_metric=test_metric)
            record("test", loss=test_loss, metric=test_metric, n=len(self.data.test[0]))
        wall = time.perf_counter() - t0
        self.summary.update(steps=self.step, wall_time=wall,
                            steps_per_second=self.step / wall if wall > 0 else 0.0)
        flush(self.status)
        return self.status

    def _optimize(self, xb: torch.Tensor, yb: torch.Tensor, sample_ratio: bool
                  ) -> tuple[torch.Tensor, float, float]:
        """Forward, backward and one optimizer step; (loss, gradient norm, update ratio or NaN).

        The update ratio ||w_after - w_before|| / ||w_before|| needs a copy of the weights,
        so it is measured only when ``sample_ratio`` (every ``update_ratio_every`` steps)."""
        params = self.params
        if self.data.prepare is not None:
            xb = self.data.prepare(xb)
        loss = self.loss_fn(self.model(xb), yb)
        for p in params:  # zero_grad(set_to_none=True) without its profiler annotation
            p.grad = None
        loss.backward()
        grad_norm = _norm([p.grad for p in params if p.grad is not None])
        if not sample_ratio:
            self._optimizer_step()
            return loss, grad_norm, math.nan
        before = [p.detach().clone() for p in params]
        self._optimizer_step()
        delta = foreach_sub([p.detach() for p in params], before)
        return loss, grad_norm, _norm(delta) / max(_norm(before), 1e-12)

    def _divergence(self, loss: float, first_loss: float, step: int, lr: float) -> str | None:
        return divergence(loss, first_loss, step, lr, self.spec.diverge_factor)

    def _samples(self, step: int) -> int:
        """Training samples seen after ``step`` (partial last batches counted as they are)."""
        spe, bs, n = self.order.steps_per_epoch, self.spec.batch_size, self.data.n_train
        epoch, i = divmod(step, spe)
        per_epoch = spe * bs if self.spec.drop_last else n
        return epoch * per_epoch + min((i + 1) * bs, n)

    def apply_edit(self, edit: Kinded, record: Callable[..., Event]) -> None:
        if edit.kind == "optimizer":
            apply_hyperparameters(self.optimizer, self.spec.optimizer.kind, dict(edit.params))
        else:
            self.timeline.apply(self.step, edit)
        record("edit", edit=edit.to_json())

    def _evaluate(self, step: int) -> dict[str, float]:
        loss, metric = self.measure(self.data.x_val, self.data.y_val)
        return {"step": step, "epoch": step // self.order.steps_per_epoch,
                "val_loss": loss, "val_metric": metric}

    @torch.no_grad()
    def measure(self, x: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> tuple[float, float]:
        """Mean loss and accuracy (classification) or R^2 (regression) on held-out data."""
        self.model.eval()
        total, correct, outs = 0.0, 0, []
        for i in range(0, len(x), chunk):
            xb, yb = x[i:i + chunk], y[i:i + chunk]
            out = self.model(xb if self.data.prepare is None else self.data.prepare(xb))
            total += self.loss_fn(out, yb).item() * len(out)
            if self.data.task == "classification":
                correct += int((out.argmax(1) == yb).sum().item())
            else:
                outs.append(out)
        self.model.train()
        n = max(len(x), 1)
        if self.data.task == "classification":
            return total / n, correct / n
        out = torch.cat(outs)
        ss_res = ((out - y) ** 2).sum().item()
        ss_tot = ((y - y.mean()) ** 2).sum().item()
        return total / n, (1 - ss_res / ss_tot if ss_tot > 0 else 0.0)


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


def _norm(tensors: Sequence[torch.Tensor]) -> float:
    """Global L2 norm of several tensors. For the handful of tensors of a small model, summing
    a few Python floats is cheaper than stacking them into one more tensor."""
    norms = foreach_norm(tensors)
    if len(norms) <= 16:
        return math.sqrt(sum(n.item() ** 2 for n in norms))
    return torch.linalg.vector_norm(torch.stack(norms)).item()


def _effective_rows(records: Sequence[tuple[int, dict[str, torch.Tensor]]]) -> list[dict[str, Any]]:
    """Effective-LR quantiles as table rows (step, layer, p5 ... p95), read off the device in one go."""
    rows = []
    for step, by_layer in records:
        for layer, values in by_layer.items():
            rows.append({"step": step, "layer": layer, **dict(zip(QUANTILE_NAMES, values.tolist(), strict=True))})
    return rows


def _json_float(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


class _Columns:
    """Preallocated per-step buffers laid out as the declared step columns (integers, then
    floats), handed out as numpy arrays and reused."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.ints = np.empty((capacity, len(INT_STEP_COLUMNS)), dtype=np.int64)
        self.floats = np.empty((capacity, len(FLOAT_STEP_COLUMNS)), dtype=np.float64)
        self.n_ints = len(INT_STEP_COLUMNS)
        self.n = 0

    @property
    def full(self) -> bool:
        return self.n >= self.capacity

    def append(self, *row: float) -> None:
        """One step's values in the order of :data:`lrlab.core.metrics.STEP_COLUMNS`."""
        i, k = self.n, self.n_ints
        self.ints[i] = row[:k]
        self.floats[i] = row[k:]
        self.n = i + 1

    def take(self) -> dict[str, np.ndarray]:
        n, self.n = self.n, 0
        ints, floats = self.ints[:n].copy(), self.floats[:n].copy()
        out = {name: ints[:, j] for j, name in enumerate(INT_STEP_COLUMNS)}
        out.update((name, floats[:, j]) for j, name in enumerate(FLOAT_STEP_COLUMNS))
        return out
