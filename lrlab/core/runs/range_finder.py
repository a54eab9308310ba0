"""The ``range_test`` run kind: the LR range test ("find LR") as a seeded run like any other.

For the experiment's spec (dataset, model, optimizer with its momentum or betas, batch size,
seed, device) it trains *freshly built* models while the LR ramps from ``start_lr`` to
``end_lr`` (:func:`lrlab.core.features.lrfind.lr_ramp`), one step per LR, and reads the loss curve.
Nothing the user trains next is touched: the models are its own, the spec is frozen data, and
the global random generators, thread count and determinism flag are put back afterwards.

Seeds: ``seeds`` models (default 3) train side by side, step by step, each with its own seed
(:func:`derive_seeds`: the run seed itself, then seeds spawned from it), so initial weights
and batch order differ; each keeps its own torch generator state for dropout. Every step
records the median loss over the seeds (the session's ``train_loss``; the LR ramp is its
``lr``), and the median of the seeds' smoothed losses is the curve the suggestions read,
with the lowest and highest smoothed loss of any seed as a band. Each seed's own curve gets
its own suggestions, so the spread says how stable the answer is.

The test stops after ``num_iter`` steps, or earlier once the median smoothed loss exceeds
``stop_factor`` times its lowest value or any seed's loss is NaN or infinite
(:func:`lrlab.core.features.lrfind.stop_reason`): the expected end of a range test, so the status is
``finished`` and an ``early_stop`` event says why. Stop, pause and pace work as for training;
edits are refused (the ramp is the point).

Same spec, seed and parameters give a bit-identical curve and the same suggestions; a session
replays ``identical`` like a training run. The pure parts (parameters, ramp, smoothing, rules,
"Use this LR") live in :mod:`lrlab.core.features.lrfind` and are re-exported here.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import torch

from lrlab.core.decl.events import Status
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import RunSpec
from lrlab.core.features.lrfind import (
    RANGE_TEST_PARAMS,
    RULES,
    LossSmoother,
    RangeTestParams,
    RangeTestResult,
    Suggestion,
    apply_suggestion,
    describe_suggestion,
    lr_ramp,
    smooth_losses,
    stop_reason,
    suggest,
    suggest_minimum,
    suggest_steepest,
    suggest_valley,
)
from lrlab.core.runs.base import Columns, RunnerBase, error_summary, recorded_threads
from lrlab.core.runs.train import Trainer

__all__ = ["RANGE_TEST_PARAMS", "RULES", "LossSmoother", "RangeTest", "RangeTestParams", "RangeTestResult",
           "Suggestion", "apply_suggestion", "derive_seeds", "describe_suggestion", "lr_ramp", "result_of",
           "smooth_losses", "stop_reason", "suggest", "suggest_minimum", "suggest_steepest", "suggest_valley"]


def derive_seeds(seed: int, n: int) -> list[int]:
    """The seeds of a test's ``n`` repeats: the run seed itself first (so a one-seed test sees
    the initial weights and batch order the training run will), then ``n - 1`` seeds spawned
    from it with numpy's ``SeedSequence`` (independent streams, the same every time)."""
    children = np.random.SeedSequence(seed).spawn(n - 1) if n > 1 else []
    return [int(seed)] + [int(c.generate_state(1, dtype=np.uint64)[0]) % 2**63 for c in children]


def result_of(session: Any) -> RangeTestResult | None:
    """The range test a session holds (its ``summary.range_test``), or None (another kind, or a
    test whose writer died before it ended)."""
    data = session.summary.get("range_test")
    return RangeTestResult.from_summary(data) if data else None


class _GlobalRandomState:
    """Every global random generator and torch setting a run changes, saved so a range test can
    put them back: the user's next run, and anything else in the process, sees no trace of it."""

    def __init__(self) -> None:
        self.torch = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        self.numpy = np.random.get_state()
        self.python = random.getstate()
        self.threads = torch.get_num_threads()
        self.deterministic = torch.are_deterministic_algorithms_enabled()

    def restore(self) -> None:
        torch.set_rng_state(self.torch)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)
        np.random.set_state(self.numpy)
        random.setstate(self.python)
        torch.set_num_threads(self.threads)
        torch.use_deterministic_algorithms(self.deterministic)


def _median(values: Sequence[float]) -> float:
    """The median of a few floats (the middle one, or the mean of the two middle ones); NaN if any
    is NaN, as ``np.median``. Plain Python: for three seeds it is cheaper than a numpy call."""
    if any(math.isnan(v) for v in values):
        return math.nan
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


class RangeTest(RunnerBase):
    """The LR range test for one run spec. Build it, add listeners, call :meth:`run` (blocking);
    :attr:`result` then holds the curve and the suggestions.

    ``params`` are the test's parameters (JSON or :class:`RangeTestParams`; missing fields take
    their defaults). ``threads`` and ``max_steps`` serve replays, as for the ``train`` kind.
    """

    kind: ClassVar[str] = "range_test"

    def __init__(self, spec: RunSpec, params: RangeTestParams | Mapping[str, Any] | None = None, *,
                 threads: int | None = None, max_steps: int | None = None, flush_seconds: float = 0.2,
                 pace: float | None = None, edits: Iterable[tuple[int, Mapping[str, Any]]] = ()):
        super().__init__()
        if list(edits):
            raise SpecError([("edits", "a range test ramps the LR itself: it takes no mid-run edits")])
        self.params = params if isinstance(params, RangeTestParams) else RangeTestParams.from_json(params)
        p = self.params
        self.pace = pace
        self.flush_seconds = flush_seconds
        self.lrs = lr_ramp(p.start_lr, p.end_lr, p.num_iter, p.mode)
        self.total_steps = p.num_iter if max_steps is None else min(p.num_iter, max_steps)
        self.seed_values = derive_seeds(spec.seed, p.seeds)

        # One Trainer per seed supplies the model, optimizer, batch order and loss the training
        # run would build; they share one loaded dataset. Building seeds the global generators,
        # which are put back, so nothing outside this test sees it was built.
        saved = _GlobalRandomState()
        try:
            first = Trainer(spec, threads=threads)
            self.trainers = [first] + [Trainer(replace(spec, seed=s), threads=first.threads, data=first.data)
                                       for s in self.seed_values[1:]]
        finally:
            saved.restore()
        self.spec = first.spec  # as the training run would store it (schedule durations in steps)
        self.environment = dict(first.environment)
        self.device = first.device
        self.steps_per_epoch = first.order.steps_per_epoch
        self.summary: dict[str, Any] = {}
        self.result: RangeTestResult | None = None

    # --- what sessions and replays need ----------------------------------------------------

    def session_meta(self) -> dict[str, Any]:
        return {"range_test": self.params.to_json(), "range_test_seeds": list(self.seed_values),
                "total_steps": self.total_steps, "steps_per_epoch": self.steps_per_epoch}

    def final_summary(self) -> dict[str, Any]:
        extra: dict[str, Any] = error_summary(self.events)
        if self.result is not None:
            extra["range_test"] = self.result.summary_json()
        return extra

    @classmethod
    def replay_options(cls, session: Any) -> dict[str, Any]:
        """Same parameters and threads; a test stopped by hand as long as it got (one that
        stopped by its own rule stops there again)."""
        ended_early = session.status in (Status.STOPPED, Status.INTERRUPTED)
        return {"params": session.meta.get("range_test") or {}, "threads": recorded_threads(session),
                "max_steps": session.n_steps() if ended_early else None}

    def apply_edit(self, edit: Any) -> None:
        raise SpecError([("edit", "a range test ramps the LR itself: it takes no mid-run edits")])

    # --- the loop --------------------------------------------------------------------------

    def run(self) -> Status:
        """Ramp the LR until ``num_iter`` steps, the stop rule or a stop command (the one loop,
        :meth:`RunnerBase.loop`); returns the final status. The global random generators and
        torch settings are put back afterwards."""
        saved = _GlobalRandomState()
        try:
            return super().run()
        finally:
            saved.restore()

    # --- the loop's hooks ------------------------------------------------------------------

    def begin(self) -> None:
        self.trainers[0].setup_globals()  # threads, determinism, numpy and python seeds, as the training loop
        # each seed's own torch generator (dropout), swapped in around its step
        self._generators = []
        for t in self.trainers:
            torch.manual_seed(t.seeds.loop)
            self._generators.append(self._rng_state())
        n = len(self.trainers)
        self._smoothers = [LossSmoother(self.params.beta) for _ in range(n)]
        # the curves the result reads: each seed's raw and smoothed loss, their median, the band
        self._raw: list[list[float]] = [[] for _ in range(n)]
        self._smooth: list[list[float]] = [[] for _ in range(n)]
        self._median_raw: list[float] = []
        self._median_smooth: list[float] = []
        self._low: list[float] = []
        self._high: list[float] = []
        self._best = math.inf
        self._lrs = self.lrs.tolist()
        self.stop_message = ""
        self.columns = Columns(capacity=4096)
        self.callbacks = []

    def train_step(self, step: int) -> bool:
        # one optimizer step per seed at this step's LR, on each seed's own batch
        lr = self._lrs[step]
        several = len(self.trainers) > 1
        losses, norms = [], []
        for k, t in enumerate(self.trainers):
            for g in t.optimizer.param_groups:
                g["lr"] = lr
            if several:
                self._set_rng_state(self._generators[k])
            loss, grad_norm, _, _ = t.optimize(*t.order.batch(step), False)
            if several:
                self._generators[k] = self._rng_state()
            losses.append(loss.item())
            norms.append(float(grad_norm))  # the stop rule reads every step's loss anyway

        # smooth each seed's loss; the median over seeds is the curve
        smoothed = [s.update(x) for s, x in zip(self._smoothers, losses, strict=True)]
        for k in range(len(self.trainers)):
            self._raw[k].append(losses[k])
            self._smooth[k].append(smoothed[k])
        m_raw, m_smooth = _median(losses), _median(smoothed)
        self._median_raw.append(m_raw)
        self._median_smooth.append(m_smooth)
        finite = [x for x in smoothed if math.isfinite(x)]
        self._low.append(min(finite) if finite else math.nan)
        self._high.append(max(finite) if finite else math.nan)
        self.step = step + 1
        self.columns.append(step=step, epoch=step // self.steps_per_epoch, samples=self.trainers[0].samples(step),
                            wall_time=time.perf_counter() - self.t0, train_loss=m_raw, lr=lr,
                            grad_norm=_median(norms))

        # the stop rule: past stop_factor x the best smoothed loss, or NaN/inf anywhere: the
        # expected end of a range test, so it finishes
        if math.isfinite(m_smooth):
            self._best = min(self._best, m_smooth)
        reason = stop_reason(losses, m_smooth, self._best, self.params.stop_factor, lr)
        if reason:
            self.stop_message = reason
            self.record("early_stop", at=step, lr=lr, message=reason)
            self.status = Status.FINISHED
            return True
        return False

    def finish(self) -> None:
        """The curve and its suggestions, with why the test ended."""
        if self.status == Status.STOPPED:
            self.stop_message = f"stopped by hand at step {self.step}"
        elif self.status == Status.FINISHED and not self.stop_message:
            self.stop_message = f"the ramp ended at LR {self._lrs[self.step - 1]:.3g}" if self.step else ""
        n = self.step
        self.result = RangeTestResult.from_curves(
            self.lrs[:n], np.array(self._median_raw), np.array(self._median_smooth), np.array(self._low),
            np.array(self._high), [(s, np.array(self._raw[k]), np.array(self._smooth[k]))
                                   for k, s in enumerate(self.seed_values)],
            self.stop_message, self.params.to_json())

    def _rng_state(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        device = self.trainers[0].device
        return torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    def _set_rng_state(self, state: tuple[torch.Tensor, torch.Tensor | None]) -> None:
        torch.set_rng_state(state[0])
        if state[1] is not None:
            torch.cuda.set_rng_state(state[1], self.trainers[0].device)
