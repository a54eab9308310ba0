"""The training loop: determinism, edits at exact steps, commands between steps, divergence."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from lrlab.core.decl.schedules import Timeline, build, parse_schedule
from lrlab.core.decl.spec import RunSpec, SpecError
from lrlab.core.runs import Collector, compare_steps
from lrlab.core.runs import base as base_mod
from lrlab.core.runs.train import Trainer


def make_spec(**overrides):
    data = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [32]},
            "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
            "batch_size": 64, "epochs": 4, "seed": 0, "device": "cpu"}
    data.update(overrides)
    return RunSpec.from_json(data)


def train(spec, **kw):
    trainer = Trainer(spec, **kw)
    col = Collector()
    trainer.listeners.append(col)
    status = trainer.run()
    return trainer, col, status


def test_same_seed_is_bit_identical_and_another_seed_is_not():
    spec = make_spec(model={"kind": "mlp", "hidden": [32], "dropout": 0.2})
    _, a, _ = train(spec)
    _, b, _ = train(spec)
    _, c, _ = train(spec.with_changes({"seed": 1}))
    assert np.array_equal(a.column("train_loss"), b.column("train_loss"))
    assert not np.array_equal(a.column("train_loss"), c.column("train_loss"))


def test_steps_count_from_zero_and_use_the_schedule_value():
    spec = make_spec(schedule={"kind": "step", "step_size": 10, "gamma": 0.5}, epochs=2)
    trainer, col, status = train(spec)
    assert status == "finished"
    steps = col.column("step")
    assert steps.tolist() == list(range(trainer.total_steps))
    expected = build(parse_schedule({"kind": "step", "step_size": 10, "gamma": 0.5}), 0.05)
    assert col.column("lr").tolist() == [expected(s) for s in steps.tolist()]
    assert col.column("epoch")[trainer.order.steps_per_epoch] == 1
    # samples seen: digits has 1,437 training samples, batches of 64, last one partial
    spe = trainer.order.steps_per_epoch
    assert col.column("samples")[spe - 1] == 1437 and col.column("samples")[spe] == 1437 + 64


def test_planned_edits_apply_exactly_at_their_step():
    spec = make_spec()
    edits = [(30, {"kind": "scale", "factor": 0.1}), (50, {"kind": "hold", "lr": 0.001})]
    trainer, col, _ = train(spec, edits=edits)
    lr = col.column("lr")
    assert lr[29] == 0.05 and lr[30] == pytest.approx(0.005) and lr[49] == pytest.approx(0.005)
    assert (lr[50:] == 0.001).all()
    assert [(e.step, e.kind) for e in trainer.events] == [(30, "edit"), (50, "edit")]


def test_metrics_leave_in_batches_not_per_step():
    trainer, col, _ = train(make_spec(epochs=40))
    assert trainer.total_steps == 920
    assert col.updates < 50
    assert len(col.column("step")) == 920


def test_live_edit_lands_at_the_recorded_step_and_replays_identically():
    spec = make_spec(epochs=6)
    trainer = Trainer(spec, flush_seconds=0.0)  # an update after every step
    col = Collector()
    trainer.listeners.append(col)
    sent = []

    def send_edit_once(update):
        if update.step >= 25 and not sent:
            sent.append(update.step)
            trainer.edit({"kind": "schedule", "schedule": {"kind": "cosine", "T_max": 50}})
            trainer.edit({"kind": "optimizer", "momentum": 0.5})

    trainer.listeners.append(send_edit_once)
    trainer.run()
    edit_events = [e for e in trainer.events if e.kind == "edit"]
    assert [e.step for e in edit_events] == [sent[0], sent[0]]
    lr = col.column("lr")
    at = edit_events[0].step
    assert lr[at - 1] == 0.05 and lr[at] == 0.05 and lr[at + 1] < 0.05  # cosine from its own step 0
    assert trainer.optimizer.param_groups[0]["momentum"] == 0.5
    # a replay fed the recorded edits reproduces every loss bit for bit
    _, again, _ = train(spec, edits=[(e.step, e.data["edit"]) for e in edit_events])
    result = compare_steps({c: col.column(c) for c in ("step", "train_loss", "lr")},
                           {c: again.column(c) for c in ("step", "train_loss", "lr")})
    assert result.identical, result.describe()


def test_pause_blocks_between_steps_until_resume():
    trainer = Trainer(make_spec(), flush_seconds=0.0)
    paused_at = []

    def pause_once(update):
        if update.step >= 10 and not paused_at and update.status == "running":
            paused_at.append(update.step)
            trainer.pause()

    trainer.listeners.append(pause_once)
    seen_paused = threading.Event()
    trainer.listeners.append(lambda u: u.status == "paused" and seen_paused.set())
    worker = threading.Thread(target=trainer.run)
    worker.start()
    assert seen_paused.wait(10)
    step_when_paused = trainer.step
    worker.join(0.3)
    assert worker.is_alive() and trainer.step == step_when_paused  # nothing moves while paused
    trainer.resume()
    worker.join(30)
    assert not worker.is_alive() and trainer.status == "finished"
    kinds = [(e.kind, e.step) for e in trainer.events]
    assert kinds == [("pause", step_when_paused), ("resume", step_when_paused)]


def test_stop_ends_the_run_with_status_stopped():
    trainer = Trainer(make_spec(epochs=100), flush_seconds=0.0)
    trainer.listeners.append(lambda u: u.step >= 40 and trainer.stop())
    col = Collector()
    trainer.listeners.append(col)
    assert trainer.run() == "stopped"
    assert 40 <= trainer.step < trainer.total_steps
    assert len(col.column("step")) == trainer.step
    assert col.evals[-1]["step"] == trainer.step - 1  # a final evaluation at the stop


def test_divergence_ends_the_run_with_an_event_naming_the_step():
    trainer, col, status = train(make_spec(optimizer={"name": "sgd", "lr": 50.0, "momentum": 0.9}))
    assert status == "diverged"
    (event,) = [e for e in trainer.events if e.kind == "diverged"]
    last = int(col.column("step")[-1])
    loss = col.column("train_loss")
    assert event.step == last and loss[last] > 50 * loss[0]
    # the exploding loss comes first and the first loss in brackets, never the other way round
    assert event.data["message"] == (f"loss {loss[last]:.4g} at step {last} is more than 50x the first loss "
                                     f"({loss[0]:#.3g}) at LR 50: try a lower LR or a warmup")


def test_a_nan_loss_names_the_step_and_the_lr():
    spec = make_spec(optimizer={"name": "sgd", "lr": 1000.0, "momentum": 0.9}, diverge_factor=1e300)
    trainer, col, status = train(spec)
    (event,) = [e for e in trainer.events if e.kind == "diverged"]
    assert status == "diverged" and np.isnan(col.column("train_loss")[-1])
    assert event.data["message"] == f"loss became NaN at step {event.step} at LR 1000: try a lower LR or a warmup"


def test_warmup_from_zero_trains_and_its_first_step_leaves_the_weights_alone():
    spec = make_spec(epochs=1, update_ratio_every=1,
                     schedule={"kind": "warmup", "warmup_steps": 10, "start_factor": 0})
    _, col, status = train(spec)
    lr, ratio = col.column("lr"), col.column("update_ratio")
    assert status == "finished" and lr[0] == 0.0 and lr[5] == pytest.approx(0.025) and lr[10] == 0.05
    assert ratio[0] == 0.0 and ratio[1] > 0


def test_invalid_live_edit_is_rejected_and_the_run_goes_on():
    trainer = Trainer(make_spec(optimizer={"name": "adam", "lr": 0.001}), flush_seconds=0.0)
    trainer.listeners.append(lambda u: u.step == 5 and trainer.edit({"kind": "optimizer", "momentum": 0.1}))
    assert trainer.run() == "finished"
    (rej,) = [e for e in trainer.events if e.kind == "rejected"]
    assert "adam has no momentum" in rej.data["message"]


def test_update_ratio_is_sampled_and_grad_norm_recorded_every_step():
    _, col, _ = train(make_spec(update_ratio_every=5, epochs=1))
    ratio, gn = col.column("update_ratio"), col.column("grad_norm")
    assert np.isfinite(ratio[::5]).all() and (ratio[::5] > 0).all()
    assert np.isnan(ratio[1::5]).all()
    assert np.isfinite(gn).all() and (gn > 0).all()


def test_regression_reports_r2_and_tiny_models_use_one_thread():
    trainer, col, _ = train(make_spec(dataset={"name": "diabetes"}, optimizer={"name": "adam", "lr": 0.01},
                                      epochs=20))
    assert trainer.data.task == "regression"
    r2 = col.evals[-1]["val_metric"]
    assert 0.2 < r2 <= 1.0
    assert trainer.threads == 1 and trainer.environment["threads"] == 1


def test_plateau_decisions_replay_and_follow_from_recorded_metrics():
    spec = make_spec(optimizer={"name": "sgd", "lr": 0.5}, epochs=30, eval_every=10,
                     schedule={"kind": "plateau", "patience": 1, "factor": 0.5, "threshold": 0.05})
    trainer, col, status = train(spec)
    reductions = [e for e in trainer.events if e.kind == "plateau"]
    assert status == "finished" and len(reductions) >= 2
    lr = col.column("lr")
    for ev in reductions:
        assert lr[ev.step] == pytest.approx(ev.data["lr"]) and lr[ev.step - 1] > lr[ev.step]
    # the same decisions from nothing but the recorded validation losses
    tl = Timeline(spec.schedule, spec.lr)
    for ev in col.evals:
        tl.observe(ev["step"] + 1, "val_loss", ev["val_loss"])
    assert [tl(t) for t in range(len(lr))] == lr.tolist()  # the trainer's lr(t), step by step
    _, again, _ = train(spec)
    assert np.array_equal(again.column("train_loss"), col.column("train_loss"))


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits", "diabetes", "moons", "blobs"])
def test_planned_steps_match_the_trainer_without_loading_data(name):
    from lrlab.core.decl.spec import planned_steps

    spec = make_spec(dataset={"name": name, "val_fraction": 0.25}, batch_size=50, epochs=3)
    assert planned_steps(spec) == Trainer(spec).total_steps
    dropped = spec.with_changes({"drop_last": True})
    assert planned_steps(dropped) == Trainer(dropped).total_steps


class FakeClock:
    """Stands in for the ``time`` module of the loop's pacing: ``sleep`` advances ``monotonic``
    at once, so a test sees exactly how long the loop chose to wait, whatever the machine's load."""

    def __init__(self, on_sleep=None):
        self.now, self.slept, self.on_sleep = 1000.0, 0.0, on_sleep

    def monotonic(self) -> float:
        return self.now

    perf_counter = monotonic

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds
        if self.on_sleep is not None:
            self.on_sleep()


def test_a_paced_run_waits_between_steps_but_computes_exactly_the_same(monkeypatch):
    spec = make_spec(steps=40)
    _, fast_col, _ = train(spec)
    clock = FakeClock()
    monkeypatch.setattr(base_mod, "time", clock)
    paced = Trainer(spec, pace=200.0)
    col = Collector()
    paced.listeners.append(col)
    assert paced.run() == "finished"
    # 40 steps at 200 steps/s: each step after the first waits for its turn, 5 ms apart
    assert clock.slept == pytest.approx(39 / 200, rel=0.05)
    assert compare_steps({c: fast_col.column(c) for c in ("step", "train_loss", "lr")},
                         {c: col.column(c) for c in ("step", "train_loss", "lr")}).identical


def test_a_slow_pace_still_answers_stop_at_once(monkeypatch):
    trainer = Trainer(make_spec(steps=1000), pace=0.5)  # one step every two seconds
    trainer.listeners.append(lambda u: None)
    clock = FakeClock(on_sleep=trainer.stop)  # Stop pressed while the loop waits for the next step
    monkeypatch.setattr(base_mod, "time", clock)
    assert trainer.run() == "stopped"
    assert trainer.step <= 1 and clock.slept <= 0.05  # the wait ended at the command, not 2 s later


def test_pace_can_change_mid_run_and_bad_values_are_refused():
    trainer = Trainer(make_spec(steps=30), pace=1000.0)
    trainer.set_pace(None)
    assert trainer.run() == "finished" and trainer.pace is None
    with pytest.raises(SpecError, match="pace: must be a number of steps per second > 0"):
        trainer.set_pace(0)


def test_the_loop_reads_the_device_once_per_flush_and_once_per_evaluation(monkeypatch):
    """On a GPU every read of a tensor's value waits for the device. Counted here on the CPU by
    wrapping the reads: at most one per flush plus one per evaluation, whatever the steps."""
    spec = make_spec(steps=500, optimizer={"name": "adam", "lr": 1e-3}, effective_lr_every=20)
    trainer = Trainer(spec, flush_seconds=0.01)
    flushes = []
    trainer.listeners.append(flushes.append)
    reads = []
    for name in ("item", "tolist", "__float__", "cpu"):
        original = getattr(torch.Tensor, name)

        def counted(self, *a, _original=original, _name=name, **k):
            reads.append(_name)
            return _original(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counted)
    assert trainer.run() == "finished"
    monkeypatch.undo()
    evaluations = 500 // trainer.eval_every
    assert len(flushes) >= 2 and len(reads) <= len(flushes) + evaluations, (len(reads), len(flushes), evaluations)
    col = Collector()
    for update in flushes:
        col(update)
    assert len(col.column("train_loss")) == 500 and np.isfinite(col.column("grad_norm")).all()


def test_a_divergence_found_at_a_read_ends_the_run_at_its_own_step():
    """The losses are read in batches, so steps run past a divergence before it is seen; they are
    dropped, and the run (and its replay) ends at the step whose loss blew up."""
    spec = make_spec(optimizer={"name": "sgd", "lr": 50.0, "momentum": 0.9}, eval_every=1000)
    trainer, col, status = train(spec, flush_seconds=10.0)  # one read, at the end
    (event,) = [e for e in trainer.events if e.kind == "diverged"]
    losses = col.column("train_loss")
    assert status == "diverged" and col.column("step")[-1] == event.step == trainer.step - 1
    first_bad = int(np.flatnonzero(~np.isfinite(losses) | (losses > 50 * losses[0]))[0])
    assert first_bad == len(losses) - 1  # nothing after the step that diverged
