"""Prodigy and Schedule-Free AdamW and SGD: they train, record the step size they use, are
evaluated at the right point, and replay, fork and sweep like torch's optimizers."""

from __future__ import annotations

import importlib.util
import math
import re

import numpy as np
import pytest
import torch
from testkit import replay_verdict

from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import OPTIMIZERS, RunSpec
from lrlab.core.runs import RecordedRun, fork_session
from lrlab.core.runs.train import Trainer
from lrlab.core.storage.session import Session

pytest.importorskip("prodigyopt", reason="needs the extra autotune: pip install 'lrlab[autotune]'")
pytest.importorskip("schedulefree", reason="needs the extra autotune: pip install 'lrlab[autotune]'")

LR_FREE = ("prodigy", "schedulefree_adamw", "schedulefree_sgd")


def spec(name: str, **changes) -> RunSpec:
    return RunSpec.from_json({"optimizer": {"name": name}, "device": "cpu", **changes})


def trained(run_spec: RunSpec) -> tuple[Trainer, dict, list]:
    run = Trainer(run_spec)
    steps, evals = {}, []

    def listen(update):
        for k, v in update.steps.items():
            steps.setdefault(k, []).extend(np.asarray(v).tolist())
        evals.extend(update.evals)
    run.listeners.append(listen)
    assert run.run() == "finished"
    return run, {k: np.asarray(v) for k, v in steps.items()}, evals


@pytest.mark.parametrize("name", LR_FREE)
def test_each_trains_digits_to_95_percent_at_its_defaults(name):
    _, _, evals = trained(spec(name))  # digits, the default MLP, 10 epochs (230 steps)
    assert evals[-1]["val_metric"] >= 0.95


def test_the_lr_column_is_the_step_size_they_use():
    # Prodigy: d x lr, starting at d0 = 1e-6 and growing, never the nominal lr=1
    _, steps, _ = trained(spec("prodigy", epochs=2))
    assert steps["lr"][0] == pytest.approx(1e-6)
    assert steps["lr"][-1] > 1e-4 and np.all(np.diff(steps["lr"]) >= 0) and np.all(steps["lr"] < 1)
    # Prodigy's bias correction: d x lr x sqrt(1 - beta2^(k+1)) / (1 - beta1^(k+1))
    _, steps, _ = trained(spec("prodigy", epochs=1, optimizer={"name": "prodigy", "use_bias_correction": True}))
    assert steps["lr"][0] == pytest.approx(1e-6 * math.sqrt(1 - 0.999) / (1 - 0.9))
    # Schedule-Free: the base sequence's step, its own warmup included
    _, steps, _ = trained(spec("schedulefree_adamw", epochs=1,
                               optimizer={"name": "schedulefree_adamw", "lr": 0.01, "warmup_steps": 10}))
    np.testing.assert_allclose(steps["lr"][:12], [0.01 * min(1, (k + 1) / 10) for k in range(12)])


@pytest.mark.parametrize("name", LR_FREE)
def test_effective_lr_quantiles_are_recorded(name, tmp_path):
    run = RecordedRun(spec(name, epochs=2, effective_lr_every=5), tmp_path / "r.lrlab")
    run.run()
    with Session.open(run.path) as s:
        quantiles, lrs = s.effective_lr("all"), s.steps()["lr"]
    assert len(quantiles["p50"]) == 10 and np.all(quantiles["p5"] <= quantiles["p95"])
    assert np.all(np.isfinite(quantiles["p50"])) and np.all(quantiles["p50"] > 0)
    if name == "schedulefree_sgd":  # one step size for every parameter: the lr column's
        np.testing.assert_allclose(quantiles["p50"], lrs[quantiles["step"].astype(int)])


def test_schedule_free_is_evaluated_at_its_averaged_point():
    """The validation loss recorded is the averaged point's x, not the gradient point y that
    the parameters hold while training (without the switch it would be y's)."""
    run, _, evals = trained(spec("schedulefree_adamw", epochs=3))
    x_val, y_val = run.data.x_val, run.data.y_val

    def loss() -> float:
        with torch.no_grad():
            return float(run.loss_fn(run.model(x_val), y_val))
    at_y = loss()  # the parameters hold y after training
    run.optimizer.eval()
    at_x = loss()
    run.optimizer.train()
    assert abs(at_x - at_y) > 1e-3  # the two points differ visibly
    assert evals[-1]["val_loss"] == pytest.approx(at_x, rel=1e-5)
    assert evals[-1]["val_loss"] != pytest.approx(at_y, rel=1e-3)


def test_validation_never_changes_the_training_of_schedule_free():
    # evaluating every step (eval, then back exactly) trains bit for bit like evaluating rarely
    _, often, _ = trained(spec("schedulefree_adamw", epochs=2, eval_every=1))
    _, rarely, _ = trained(spec("schedulefree_adamw", epochs=2, eval_every=1000))
    np.testing.assert_array_equal(often["train_loss"], rarely["train_loss"])


@pytest.mark.parametrize("name", LR_FREE)
def test_replay_is_identical_and_a_fork_continues_exactly(name, tmp_path):
    parent = RecordedRun(spec(name, epochs=3), tmp_path / "p.lrlab", snapshot_every=20)
    parent.run()
    assert replay_verdict(parent.path) == "identical: 69 steps"
    fork = fork_session(parent.path, 47)  # from the snapshot at 40 (optimizer state, d, z, train mode)
    assert fork.run() == "finished"
    with Session.open(fork.path) as f, Session.open(parent.path) as p:
        mine, theirs = f.steps(), p.steps()
        np.testing.assert_array_equal(mine["train_loss"], theirs["train_loss"][47:])
        np.testing.assert_array_equal(mine["lr"], theirs["lr"][47:])
        np.testing.assert_array_equal(f.evals()["val_loss"], p.evals()["val_loss"][p.evals()["step"] >= 47])


def test_without_the_packages_they_are_listed_as_unavailable(monkeypatch):
    from lrlab.core.decl import lrfree

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("prodigyopt", "schedulefree") else real(name, *a))
    assert lrfree.missing("prodigy") == "needs prodigyopt: pip install 'lrlab[autotune]'"
    assert lrfree.missing("adam") is None
    from lrlab.core.decl.params import Registry

    registry = Registry("optimizer", "name")
    lrfree.register(registry)
    assert registry.docs["schedulefree_sgd"].endswith("Unavailable: needs schedulefree: pip install 'lrlab[autotune]'.")
    with pytest.raises(SpecError, match=re.escape("optimizer.name: 'prodigy' needs prodigyopt: pip install")):
        Trainer(spec("prodigy", epochs=1))
    assert "prodigy" in OPTIMIZERS.kinds  # still listed: a session made elsewhere still opens


SWEEPS = {"prodigy": [0.5, 1.0], "schedulefree_adamw": [1e-3, 2.5e-3], "schedulefree_sgd": [0.3, 1.0]}


@pytest.mark.parametrize("name", LR_FREE)
def test_a_sweep_runs_the_package_per_member_and_matches_training_runs(name):
    """The stacked maths does not implement them: each member gets the package's own optimizer
    (recorded as optimizer_impl "per-member"), and matches a training run at its LR to 1e-5
    relative at each of 200 steps, its step sizes and its averaged-point validation too."""
    from lrlab.core.runs.sweep import Sweep

    lrs = SWEEPS[name]
    base = RunSpec.from_json({"model": {"kind": "mlp", "hidden": [32]}, "optimizer": {"name": name, "lr": lrs[1]},
                              "steps": 200, "batch_size": 32, "eval_every": 50, "device": "cpu"})
    sweep = Sweep(base, lrs=lrs)
    updates = []
    sweep.listeners.append(updates.append)
    sweep.run()
    assert sweep.environment["optimizer_impl"] == "per-member"
    for k, member_spec in enumerate(sweep.member_specs):
        mine = {c: np.concatenate([u.members[k].steps[c] for u in updates]) for c in ("train_loss", "lr")}
        evals = [e for u in updates for e in u.members[k].evals]
        _, theirs, their_evals = trained(member_spec)
        assert len(mine["train_loss"]) == 200
        np.testing.assert_allclose(mine["train_loss"], theirs["train_loss"], rtol=1e-5)
        np.testing.assert_allclose(mine["lr"], theirs["lr"], rtol=1e-5)
        assert name != "prodigy" or mine["lr"][-1] < lrs[k] / 10  # d x lr, not the nominal lr
        np.testing.assert_allclose([e["val_loss"] for e in evals], [e["val_loss"] for e in their_evals], rtol=1e-5)


def test_the_landscape_steps_them_with_their_packages(capsys):
    from lrlab.cli import main

    assert main(["landscape", "quadratic", "--opt", "prodigy", "--opt", "schedulefree_sgd:lr=0.1"]) == 0
    out = capsys.readouterr().out
    assert "prodigy lr=1" in out and "converged at step" in out.splitlines()[2]


def test_a_sweep_member_of_schedule_free_replays_identical(tmp_path):
    from lrlab.core.runs import RecordedSweep

    base = RunSpec.from_json({"model": {"kind": "mlp", "hidden": [16]}, "steps": 40, "eval_every": 10,
                              "optimizer": {"name": "schedulefree_sgd", "lr": 0.5}, "device": "cpu"})
    sweep = RecordedSweep(base, [0.2, 0.5], out=tmp_path / "sweep")
    sweep.run()
    with Session.open(sweep.files[1]) as s:
        assert s.environment["optimizer_impl"] == "per-member"
    assert replay_verdict(sweep.files[1]) == "identical: 40 steps"


@pytest.mark.parametrize("name", [*LR_FREE, "adam"])
def test_a_member_copied_onto_another_then_steps_exactly_like_it(name):
    """What a population's exploit needs from a per-member optimizer: after the parameters and
    the optimizer are copied, the copy's next step is the source's, bit for bit."""
    from lrlab.core.engine.per_member import PerMemberOptimizer

    torch.manual_seed(0)
    params = [torch.randn(3, 4, 5, requires_grad=True), torch.randn(3, 5, requires_grad=True)]
    from lrlab.core.engine.stacked import StackedOptimizer

    spec = OPTIMIZERS.parse({"name": name})
    opt = (StackedOptimizer(spec, params) if name == "adam"  # the stacked maths: the same call
           else PerMemberOptimizer(spec, params, torch.device("cpu")))
    for _ in range(4):
        opt.step([torch.randn_like(p) for p in params], np.array([1e-3, 3e-3, 1e-2]))
    with torch.no_grad():
        for p in params:
            p[2] = p[0]
    opt.copy_member(0, 2)
    g = [torch.randn(p.shape[1:]) for p in params]
    opt.step([torch.stack([x, x * 0.5, x]) for x in g], np.array([1e-3, 3e-3, 1e-3]))
    for p in params:
        assert torch.equal(p[2], p[0])
    assert name == "adam" or opt.step_sizes[2] == opt.step_sizes[0]


@pytest.mark.parametrize("name", LR_FREE)
def test_the_effective_lr_predicts_each_update(name):
    """Prodigy: the update is -eff x m / d_t (d_t the step's d); Schedule-Free: its base sequence
    moves by -eff x g. Checked at each of 20 steps against the package's own update."""
    from lrlab.core.engine.effective_lr import effective_lr
    from lrlab.core.engine.optim import build_optimizer, step_size

    torch.manual_seed(0)
    p = torch.randn(6, 5, requires_grad=True)
    opt, _ = build_optimizer(OPTIMIZERS.parse({"name": name, "lr": 0.5}), [p], torch.device("cpu"))
    for _ in range(20):
        p.grad = torch.randn_like(p)
        g = p.grad.clone()
        used = step_size(opt)
        # Prodigy moves the parameters; Schedule-Free's base sequence z (made from p at the first step)
        before = opt.state[p]["z"].clone() if name != "prodigy" and opt.state[p] else p.detach().clone()
        d_t = opt.param_groups[0].get("d")
        opt.step()
        eff = effective_lr(opt, p, opt.param_groups[0])
        if name == "prodigy":
            predicted = before - eff * opt.state[p]["exp_avg"] / d_t
            torch.testing.assert_close(p.detach(), predicted, rtol=1e-5, atol=1e-7)
        else:
            torch.testing.assert_close(opt.state[p]["z"], before - eff * g, rtol=1e-5, atol=1e-7)
        assert used > 0
