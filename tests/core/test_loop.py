"""The one loop (RunnerBase.loop), its named-column buffer and its evaluation function, driven
with a stand-in kind: what a new kind of run has to write is its step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lrlab.core.decl.events import Status
from lrlab.core.runs.base import Callback, Columns, RunnerBase
from lrlab.core.runs.loop import summarize, validation_sums


class Toy(RunnerBase):
    """A kind whose step is a formula: loss 1/(step+1) at LR 0.1."""

    kind = "toy"

    def __init__(self, total: int, oom_at: int | None = None, end_at: int | None = None):
        super().__init__()
        self.total_steps, self.oom_at, self.end_at = total, oom_at, end_at
        self.device = torch.device("cpu")
        self.spec = None
        self.seen: list[str] = []

    def begin(self) -> None:
        self.columns = Columns(capacity=8)
        self.callbacks = [Watch(self.seen)]

    def train_step(self, step: int) -> bool:
        if step == self.oom_at:
            raise torch.OutOfMemoryError("out of memory")
        self.step = step + 1
        self.columns.append(step=step, epoch=step // 4, samples=step + 1, wall_time=0.0, train_loss=1 / (step + 1),
                            lr=0.1)
        return step == self.end_at

    def finish(self) -> None:
        self.seen.append(f"finish {self.status}")


class Watch(Callback):
    def __init__(self, seen: list[str]):
        self.seen = seen

    def before_step(self, run: RunnerBase) -> bool:
        self.seen.append(f"before {run.step}")
        return False

    def after_step(self, run: RunnerBase) -> bool:
        self.seen.append(f"after {run.step}")
        return False

    def after_run(self, run: RunnerBase) -> None:
        self.seen.append(f"after_run {run.status}")


def run_toy(toy: Toy) -> list:
    updates: list = []
    toy.listeners.append(updates.append)
    toy.run()
    return updates


def test_the_loop_calls_the_hooks_in_order_and_flushes_a_full_buffer():
    toy = Toy(10)
    toy.flush_seconds = math.inf  # only a full buffer (8 rows) and the end flush
    updates = run_toy(toy)
    assert toy.status == Status.FINISHED and toy.summary["steps"] == 10
    assert [u.n for u in updates] == [8, 2] and [str(u.status) for u in updates] == ["running", "finished"]
    steps = np.concatenate([u.steps["step"] for u in updates])
    assert steps.tolist() == list(range(10))
    assert np.isnan(updates[0].steps["grad_norm"]).all()  # not given: not measured
    assert toy.seen[:4] == ["before 0", "after 1", "before 1", "after 2"]
    assert toy.seen[-2:] == ["after_run finished", "finish finished"]


def test_a_kinds_own_end_stop_and_out_of_memory():
    ended = Toy(10, end_at=3)
    run_toy(ended)
    assert ended.status == Status.FINISHED and ended.step == 4
    stopped = Toy(10)
    stopped.stop()  # queued before the first step: drained there
    run_toy(stopped)
    assert stopped.status == Status.STOPPED and stopped.step == 0 and [e.kind for e in stopped.events] == ["stop"]
    oom = Toy(10, oom_at=5)
    updates = run_toy(oom)
    assert oom.status == Status.FAILED and sum(u.n for u in updates) == 5
    assert oom.events[-1].data["message"] == "cpu ran out of memory at step 5: try a smaller batch size or model"


def test_columns_are_filled_by_name_and_start_over_unmeasured():
    cols = Columns(4, members=3)
    cols.append(step=0, epoch=0, samples=8, wall_time=0.1, lr=np.array([0.1, 0.2, 0.3]))
    cols.fill(0, 1, train_loss=np.array([[1.0, 2.0, 3.0]]))
    assert cols["train_loss"].tolist() == [[1.0, 2.0, 3.0]] and cols["wall_time"].shape == (1,)
    taken = cols.take()
    assert taken["lr"].shape == (1, 3) and taken["step"].tolist() == [0] and cols.n == 0
    cols.append(step=1, epoch=0, samples=16, wall_time=0.2, lr=np.zeros(3))
    assert np.isnan(cols["train_loss"]).all()  # the reused row is unmeasured again
    with pytest.raises(KeyError):
        cols.append(steps=2)  # a misspelt column is an error, never a silent position


def test_one_evaluation_function_for_one_model_and_for_members():
    torch.manual_seed(0)
    x, y = torch.randn(50, 4), torch.randint(0, 3, (50,))
    model = torch.nn.Linear(4, 3)
    loss_fn = torch.nn.CrossEntropyLoss()
    sums = validation_sums(model, model, loss_fn, x, y, "classification", chunk=16)
    assert sums.shape == (4, 2, 1) and sums.dtype == torch.float64  # 4 chunks, (loss, correct), 1 model
    loss, accuracy = summarize(sums.numpy(), len(x), "classification")
    with torch.no_grad():
        out = model(x)
    assert loss[0] == pytest.approx(float(loss_fn(out, y)), rel=1e-6)
    assert accuracy[0] == float((out.argmax(1) == y).double().mean())
    # two members stacked [K, n, C] are measured alike, each its own
    stacked = validation_sums(model, lambda xb: torch.stack((model(xb), -model(xb))),
                              lambda out, yb: torch.stack([loss_fn(o, yb) for o in out]), x, y, "classification")
    both, _ = summarize(stacked.numpy(), len(x), "classification")
    assert both.shape == (2,) and both[0] == pytest.approx(loss[0], rel=1e-6) and both[1] != both[0]
    # regression: the last row is (residual, total) sums of squares
    target = torch.randn(50, 3)
    reg = validation_sums(model, model, torch.nn.MSELoss(), x, target, "regression", chunk=16)
    mse, r2 = summarize(reg.numpy(), len(x), "regression")
    ss_res, ss_tot = float(((out - target) ** 2).sum()), float(((target - target.mean()) ** 2).sum())
    assert mse[0] == pytest.approx(float(torch.nn.functional.mse_loss(out, target)), rel=1e-6)
    assert r2[0] == pytest.approx(1 - ss_res / ss_tot, rel=1e-6)
