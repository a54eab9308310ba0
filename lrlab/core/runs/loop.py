"""The callbacks of the one loop (:meth:`lrlab.core.runs.base.RunnerBase.loop`) and the one
evaluation function every kind measures held-out data with.

Callbacks do the work beside a kind's own step: :class:`Snapshots` (the exact state before a
step, for forks), :class:`EffectiveLR` (the spread of per-parameter step sizes, now and then)
and :class:`Evaluation` (validation every ``eval_every`` steps, a stopped run's last one, the
test split). What they compute belongs to the kind (a sweep evaluates K members at once), so
they call the kind's methods; when they act is decided here, once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from lrlab.core.decl.events import Status
from lrlab.core.engine.effective_lr import quantiles as effective_quantiles
from lrlab.core.runs.base import Callback


class Snapshots(Callback):
    """Before a step that is due (every ``snapshot_every`` steps, at a planned edit, when a
    command waits), the run's state is cloned (``run.take_snapshot()``): the first loss is part
    of that state, so it is read first, and a divergence found then ends the run."""

    def before_step(self, run: Any) -> bool:
        if not run.snapshot_due():
            return False
        if run.first_loss is None and run.settle():
            return True
        run.take_snapshot()
        return False


class EffectiveLR(Callback):
    """Every ``every`` steps, the quantiles of each layer's per-parameter step sizes (Adam's,
    AdaGrad's), left on the device in :attr:`pending` until the run reads its values in one go;
    :attr:`rows` holds them read, as table rows."""

    def __init__(self, every: int, optimizer: Any, layers: list[tuple[str, Any]]):
        self.every, self.optimizer, self.layers = every, optimizer, layers
        self.pending: list[tuple[int, dict[str, torch.Tensor]]] = []  # (step, quantiles on the device)
        self.rows: list[dict[str, Any]] = []

    def after_step(self, run: Any) -> bool:
        step = run.step - 1
        if step % self.every == 0:
            self.pending.append((step, effective_quantiles(self.optimizer, self.layers)))
        return False

    def take_rows(self) -> list[dict[str, Any]]:
        """The rows read since the last call (those still on the device are dropped with them:
        the run has read everything it keeps)."""
        rows, self.rows = self.rows, []
        self.pending.clear()
        return rows


class Evaluation(Callback):
    """Validation after every ``every``-th step and after the last (``run.evaluate(step)``,
    which may find a divergence and end the run); a stopped run ends with one more unless its
    last step was just evaluated; a run that finished or was stopped then measures its test
    split (``run.test()``)."""

    def __init__(self, every: int):
        self.every = every
        self.last = -1  # the last step evaluated

    def after_step(self, run: Any) -> bool:
        if run.step % self.every == 0 or run.step == run.total_steps:
            if run.evaluate(run.step - 1):
                return True
            self.last = run.step - 1
        return False

    def after_run(self, run: Any) -> None:
        if run.status == Status.STOPPED and run.step > 0 and self.last < run.step - 1:
            run.evaluate(run.step - 1, final=True)
        if run.data.test is not None and run.status in (Status.FINISHED, Status.STOPPED):
            run.test()


# --- the one evaluation function ---------------------------------------------------------------


@torch.no_grad()
def validation_sums(model: torch.nn.Module, forward: Callable[[torch.Tensor], torch.Tensor],
                    chunk_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
                    y: torch.Tensor, task: str, chunk: int = 4096) -> torch.Tensor:
    """The sums a validation needs, left on the device so a caller can read them with other
    values (one wait, not two): ``[rows, 2, K]`` float64, K the members (1 for one model).

    One row per chunk of held-out data: its summed loss (``chunk_loss(out, y)``, the mean loss
    of one model or ``[K]`` members, in float32, times the chunk's size in float64) and its
    correct count (classification); for regression one more row, the residual and total sums
    of squares (float32 sums, as the training loss is). :func:`summarize` adds the rows up, in
    order. A model's output is ``[n, C]``, a stack of K members' ``[K, n, C]``: both are reduced
    over their last dimensions, so one model and a member of a sweep are measured alike."""
    model.eval()
    sums, outs = [], []
    for i in range(0, len(x), chunk):
        xb, yb = x[i:i + chunk], y[i:i + chunk]
        out = forward(xb)
        loss = chunk_loss(out, yb)
        right = (out.argmax(-1) == yb).sum(-1) if task == "classification" else torch.zeros_like(loss)
        sums.append(torch.stack((loss.double() * len(yb), right.double())).reshape(2, -1))
        if task == "regression":
            outs.append(out)
    model.train()
    if task == "regression":
        residual = (torch.cat(outs, dim=-2) - y).pow(2).flatten(-2).sum(-1).double().reshape(-1)
        total = ((y - y.mean()) ** 2).sum().double()
        sums.append(torch.stack((residual, total.expand_as(residual))))
    return torch.stack(sums)


def summarize(values: np.ndarray, n_samples: int, task: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean loss, accuracy or R^2), each ``[K]``, from :func:`validation_sums` read to the host
    (``[rows, 2, K]`` float64), the chunks added up in order."""
    n = max(n_samples, 1)
    rows = list(values)
    if task == "regression":
        *rows, (ss_res, ss_tot) = rows
    loss, metric = np.zeros(values.shape[-1]), np.zeros(values.shape[-1])
    for chunk_loss, right in rows:
        loss = loss + chunk_loss
        metric = metric + right
    if task == "regression":
        return loss / n, (1 - ss_res / ss_tot) if ss_tot[0] > 0 else np.zeros_like(ss_res)
    return loss / n, metric / n
