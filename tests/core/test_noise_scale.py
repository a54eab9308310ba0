"""The gradient noise scale B_simple (lrlab.core.engine.noise_scale): it agrees with a direct
estimate from per-sample gradients, training runs and sweep members record it, and measuring it
changes no training number (replays stay identical, forks continue its averages)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrlab.core.decl.metrics import NOISE_SCALE
from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.noise_scale import NoiseScale
from lrlab.core.runs import Collector, RecordedRun, RecordedSweep, compare_steps, fork_session, replay_runner
from lrlab.core.runs.train import Trainer, _norm
from lrlab.core.storage.session import Session

NAME = NOISE_SCALE.name


def spec_of(**extra) -> RunSpec:
    data = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [32]},
            "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "batch_size": 64, "steps": 120,
            "device": "cpu", "threads": 1}
    data.update(extra)
    return RunSpec.from_json(data)


def train(spec: RunSpec, **kw) -> tuple[Trainer, Collector]:
    trainer = Trainer(spec, **kw)
    collector = Collector()
    trainer.listeners.append(collector)
    trainer.run()
    return trainer, collector


def direct_noise_scale(trainer: Trainer) -> float:
    """B_simple from every training sample's own gradient (torch.func.vmap over grad), at the
    trainer's current weights: tr(Σ) = mean_i |g_i - G|², |G|² of the mean gradient G."""
    model = trainer.model
    params = {n: p.detach() for n, p in model.named_parameters()}
    x, y = trainer.data.x_train, trainer.data.y_train

    def loss(p, xi, yi):
        return trainer.loss_fn(torch.func.functional_call(model, p, (xi[None],)), yi[None])

    grads = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(params, x, y)
    flat = torch.cat([g.reshape(len(x), -1) for g in grads.values()], 1).double()
    mean = flat.mean(0)
    return float((flat - mean).pow(2).sum(1).mean() / mean.pow(2).sum())


def test_the_estimator_converges_to_the_per_sample_estimate():
    """At fixed weights, on random batches of 64 split 32 + 32 as the trainer splits them: the
    two-batch-size estimate, averaged long, lands on the per-sample gradients' B_simple (about
    200 samples here, so well above the batch: the hard case)."""
    trainer, _ = train(spec_of(steps=30))
    torch.set_num_threads(1)  # the run put the caller's back
    direct = direct_noise_scale(trainer)
    gen = torch.Generator().manual_seed(0)
    noise = NoiseScale(decay=0.99)
    x, y = trainer.data.x_train, trainer.data.y_train
    for _ in range(300):
        idx = torch.randperm(len(x), generator=gen)[:64]
        out = trainer.model(x[idx])
        small = torch.autograd.grad(trainer.loss_fn(out[:32], y[idx][:32]), trainer.params, retain_graph=True)
        big = torch.autograd.grad(trainer.loss_fn(out, y[idx]), trainer.params)
        diff = float(_norm([a - b for a, b in zip(small, big, strict=True)]))
        value = noise.update(float(_norm(small)), 32, float(_norm(big)), 64, diff)
    ratio = float(value) / direct
    print(f"estimator at fixed weights: {float(value):.1f} vs per-sample {direct:.1f} samples ({ratio:.2f}x)")
    assert 0.5 < ratio < 2


def test_a_training_run_records_it_and_it_agrees_with_per_sample_gradients():
    """Measured at every step of a slow run (the weights barely move), the recorded B_simple
    over the second half agrees with the per-sample estimate at the end within a factor of 2."""
    trainer, col = train(spec_of(optimizer={"name": "sgd", "lr": 1e-3}, steps=300, noise_scale_every=1))
    recorded = col.column(NAME)
    assert np.isfinite(recorded[10:]).all() and (recorded[10:] > 0).all()
    direct = direct_noise_scale(trainer)
    estimate = float(np.median(recorded[150:]))
    ratio = estimate / direct
    print(f"training run: {estimate:.1f} vs per-sample {direct:.1f} samples ({ratio:.2f}x)")
    assert 0.5 < ratio < 2


def test_it_is_sampled_every_n_steps_and_changes_no_training_number(tmp_path):
    """With dropout and batch norm (the extra backward pass could consume dropout's RNG or move
    the running statistics): the losses, gradient norms and final weights are bit for bit those
    of a run that measures it once, and a recorded session replays identical."""
    model = {"kind": "mlp", "hidden": [32], "dropout": 0.2, "batch_norm": True}
    on, col_on = train(spec_of(model=model, noise_scale_every=7))
    off, col_off = train(spec_of(model=model, noise_scale_every=10**9))
    for column in ("train_loss", "grad_norm"):
        assert np.array_equal(col_on.column(column), col_off.column(column))
    for a, b in zip(on.model.state_dict().values(), off.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    values = col_on.column(NAME)
    steps = col_on.column("step")
    assert np.isnan(values[steps % 7 != 0]).all()
    assert np.isfinite(values[(steps % 7 == 0) & (steps > 20)]).all()
    assert np.isfinite(col_off.column(NAME)).sum() <= 1  # step 0 only

    run = RecordedRun(spec_of(model=model, noise_scale_every=7), tmp_path / "run.lrlab")
    run.run()
    with Session.open(run.path) as s:
        stored = s.steps()
        runner = replay_runner(s)
    np.testing.assert_array_equal(stored[NAME], values)  # NULL where not measured
    replayed = Collector()
    runner.listeners.append(replayed)
    runner.run()
    columns = ("step", "train_loss", "lr")
    assert compare_steps(stored, {c: replayed.column(c) for c in columns}).describe() == "identical: 120 steps"
    np.testing.assert_array_equal(replayed.column(NAME), values)


def test_a_fork_continues_its_parents_averages(tmp_path):
    """The averages are part of a snapshot's state: a fork without edits records the parent's values."""
    parent = RecordedRun(spec_of(noise_scale_every=3), tmp_path / "parent.lrlab", snapshot_every=40)
    parent.run()
    run = fork_session(parent.path, 57)  # re-runs from the snapshot at 40
    run.run()
    with Session.open(run.path) as mine, Session.open(parent.path) as theirs:
        np.testing.assert_array_equal(mine.steps()[NAME], theirs.steps()[NAME][57:])


def test_each_sweep_member_records_its_own(tmp_path):
    """A grid's cells are sweep members: each member's session holds its own B_simple, the one a
    training run at its LR records (SGD members agree with training runs to float rounding)."""
    spec = spec_of(steps=60, eval_every=30, noise_scale_every=5)
    sweep = RecordedSweep(spec, [0.01, 0.1], tmp_path / "sweep")
    assert sweep.run() == "finished"
    for f, lr in zip(sweep.files, (0.01, 0.1), strict=True):
        with Session.open(f) as s:
            values, steps = s.steps()[NAME], s.steps()["step"]
        assert np.isnan(values[steps % 5 != 0]).all() and np.isfinite(values[steps % 5 == 0][2:]).all()
        _, col = train(spec.with_changes({"optimizer.lr": lr}))
        np.testing.assert_allclose(values, col.column(NAME), rtol=1e-3)
    assert replay_identical(sweep.files[1])


def replay_identical(path) -> bool:
    with Session.open(path) as s:
        stored = s.steps()
        runner = replay_runner(s)
    replayed = Collector()
    runner.listeners.append(replayed)
    runner.run()
    return compare_steps(stored, {c: replayed.column(c) for c in ("step", "train_loss", "lr")}).identical


@pytest.mark.parametrize("small,big", [(0, 4), (4, 4), (5, 4)])
def test_the_estimator_needs_two_batch_sizes(small, big):
    with pytest.raises(ValueError, match="needs 0 < small < big"):
        NoiseScale().update(1.0, small, 1.0, big, 0.5)
