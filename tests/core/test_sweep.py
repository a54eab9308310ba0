"""The sweep run kind: K learning rates trained at once, each member the run `lrlab run` would
make at its LR; one session per member; `lrlab sweep`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from schedule_examples import examples, resolved  # every kind's examples, from its declaration

from lrlab.cli import main
from lrlab.core.decl.schedules import SCHEDULES, Timeline, parse_edit
from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.optim import CLASSES, build_optimizer
from lrlab.core.engine.stacked import StackedOptimizer, choose_path, member_norms
from lrlab.core.runs import Collector, RecordedSweep, compare_steps, replay_runner
from lrlab.core.runs.sweep import (
    ROW_KEYS,
    Sweep,
    check_lrs,
    log_range,
    member_edit,
    scale_schedule,
)
from lrlab.core.runs.train import Trainer
from lrlab.core.storage.session import Session


def spec_of(optimizer: dict, steps: int = 200, model: dict | None = None, **extra) -> RunSpec:
    return RunSpec.from_json({"dataset": {"name": "digits"}, "model": model or {"kind": "mlp", "hidden": [32]},
                              "optimizer": optimizer, "steps": steps, "batch_size": 32, "device": "cpu", **extra})


def sweep_columns(sweep: Sweep) -> list[dict[str, np.ndarray]]:
    """Run a sweep; each member's step columns, concatenated over its updates."""
    updates = []
    sweep.listeners.append(updates.append)
    sweep.run()
    return [{c: np.concatenate([u.members[k].steps[c] for u in updates]) for c in updates[0].members[k].steps}
            for k in range(sweep.k)]


def train(spec: RunSpec) -> tuple[Trainer, Collector]:
    trainer = Trainer(spec)
    collector = Collector()
    trainer.listeners.append(collector)
    trainer.run()
    return trainer, collector


def relative(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b) / np.abs(b)))


# --- each member is the training run at its LR -------------------------------------------------

OPTIMIZERS = {
    "sgd-momentum": ({"name": "sgd", "momentum": 0.9, "weight_decay": 1e-3}, [0.003, 0.03]),
    "sgd-nesterov": ({"name": "sgd", "momentum": 0.9, "nesterov": True, "dampening": 0.0}, [0.003, 0.03]),
    "adam": ({"name": "adam", "weight_decay": 1e-3}, [1e-4, 1e-3]),
    "adamw": ({"name": "adamw", "weight_decay": 0.05}, [1e-4, 1e-3]),
    "rmsprop": ({"name": "rmsprop", "momentum": 0.5, "weight_decay": 1e-4}, [1e-4, 1e-3]),
    "adagrad": ({"name": "adagrad", "lr_decay": 1e-3}, [3e-3, 3e-2]),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_member_matches_a_training_run_at_its_lr_over_200_steps(name):
    """The issue's equivalence test: dropout off, 1e-5 relative, every step. The training runs
    use torch's fused kernels where torch has them (what `lrlab run` uses)."""
    optimizer, lrs = OPTIMIZERS[name]
    sweep = Sweep(spec_of({**optimizer, "lr": lrs[1]}), lrs=lrs)
    members = sweep_columns(sweep)
    for k, spec in enumerate(sweep.member_specs):
        trainer, run = train(spec)
        assert trainer.step == 200 and len(members[k]["train_loss"]) == 200
        assert relative(members[k]["train_loss"], run.column("train_loss")) < 1e-5
        assert np.array_equal(members[k]["lr"], run.column("lr"))  # the same timeline, step for step
    assert sweep.path == "bmm" and sweep.environment["sweep_path"] == "bmm"


@pytest.mark.parametrize("path", ["bmm", "vmap", "loop"])
def test_every_path_matches_with_batch_norm_weight_decay_and_a_schedule(path):
    spec = spec_of({"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3}, steps=100,
                   model={"kind": "mlp", "hidden": [24, 16], "batch_norm": True, "activation": "tanh"},
                   schedule={"kind": "warmup", "warmup_steps": 10, "then": {"kind": "cosine", "T_max": "run",
                                                                             "eta_min": 0.001}})
    sweep = Sweep(spec, lrs=[0.01, 0.05], path=path)
    members = sweep_columns(sweep)
    for k, member in enumerate(sweep.member_specs):
        trainer, run = train(member)
        assert relative(members[k]["train_loss"], run.column("train_loss")) < 1e-5
        assert np.array_equal(members[k]["lr"], run.column("lr"))
        # gradient norm and update ratio are the member's own, never a norm across members
        assert relative(members[k]["grad_norm"], run.column("grad_norm")) < 1e-4
        sampled = ~np.isnan(run.column("update_ratio"))
        assert np.array_equal(sampled, ~np.isnan(members[k]["update_ratio"]))
        assert relative(members[k]["update_ratio"][sampled], run.column("update_ratio")[sampled]) < 1e-4
        # batch norm keeps per-member running statistics
        for name, buf in sweep.model.buffers.items():
            mine, theirs = buf[k], dict(trainer.model.named_buffers())[name]
            assert torch.allclose(mine.double(), theirs.double(), rtol=1e-4, atol=1e-5), name
    assert sweep.path == path


def test_an_lr_by_seed_grid_gives_each_member_its_seeds_weights_and_batches():
    spec = spec_of({"name": "adam", "lr": 1e-3}, steps=80, seed=3)
    sweep = Sweep(spec, lrs=[3e-4, 1e-3], seeds=[3, 4])
    assert [(m.lr, m.seed) for m in sweep.members] == [(3e-4, 3), (3e-4, 4), (1e-3, 3), (1e-3, 4)]
    members = sweep_columns(sweep)
    for k, member in enumerate(sweep.member_specs):
        _, run = train(member)
        assert relative(members[k]["train_loss"], run.column("train_loss")) < 1e-5
    assert members[0]["train_loss"][0] == members[2]["train_loss"][0]  # one seed: same start, same batch
    assert members[0]["train_loss"][0] != members[1]["train_loss"][0]


def test_regression_members_match_too_and_report_r2():
    spec = RunSpec.from_json({"dataset": {"name": "diabetes"}, "model": {"kind": "mlp", "hidden": [16]},
                              "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9}, "steps": 100,
                              "batch_size": 32, "device": "cpu", "eval_every": 50})
    sweep = Sweep(spec, lrs=[0.003, 0.01])
    updates = []
    sweep.listeners.append(updates.append)
    sweep.run()
    for k, member in enumerate(sweep.member_specs):
        _, run = train(member)
        losses = np.concatenate([u.members[k].steps["train_loss"] for u in updates])
        assert relative(losses, run.column("train_loss")) < 1e-5
        evals = [e for u in updates for e in u.members[k].evals]
        assert [e["step"] for e in evals] == [e["step"] for e in run.evals] == [49, 99]
        for mine, theirs in zip(evals, run.evals, strict=True):
            assert mine["val_loss"] == pytest.approx(theirs["val_loss"], rel=1e-5)
            assert mine["val_metric"] == pytest.approx(theirs["val_metric"], rel=1e-4)  # R^2


def test_a_plateau_schedule_watches_each_members_own_validation():
    spec = spec_of({"name": "sgd", "lr": 0.1, "momentum": 0.9}, steps=300, eval_every=10,
                   schedule={"kind": "plateau", "monitor": "val_loss", "patience": 1, "factor": 0.5, "threshold": 0.05})
    sweep = Sweep(spec, lrs=[0.01, 0.3])
    members = sweep_columns(sweep)
    plateaus = [[e.step for e in sweep.member_events[k] if e.kind == "plateau"] for k in range(2)]
    assert plateaus[0] and plateaus[1] and plateaus[0] != plateaus[1]
    for k, member in enumerate(sweep.member_specs):
        timeline = Timeline.from_events(member.schedule, member.lr, sweep.member_events[k])
        assert np.array_equal([timeline(t) for t in range(300)], members[k]["lr"])  # step by step, as trained


def test_the_cnn_runs_under_vmap_and_matches_too():
    spec = spec_of({"name": "sgd", "lr": 0.05, "momentum": 0.9}, steps=30,
                   model={"kind": "cnn", "channels": [4], "hidden": 16})
    sweep = Sweep(spec, lrs=[0.02, 0.05])
    members = sweep_columns(sweep)
    assert sweep.path == "vmap"
    _, run = train(sweep.member_specs[1])
    assert relative(members[1]["train_loss"], run.column("train_loss")) < 1e-5


@pytest.mark.parametrize("model, path", [({"kind": "linear"}, "bmm"), ({"kind": "mlp", "hidden": [16]}, "bmm"),
                                         ({"kind": "mlp", "hidden": [16]}, "loop")])
def test_uint8_images_are_flattened_and_normalised_per_batch(tmp_path, model, path):
    """MNIST-format files: images stay uint8, each batch is normalised (and, for an LR x seed
    grid, stacked per seed) before the stacked model sees it; the official test split is
    measured per member at the end."""
    from fakedata import write_mnist_family

    write_mnist_family(tmp_path)
    spec = RunSpec.from_json({"dataset": {"name": "mnist", "root": str(tmp_path), "test_eval": True}, "model": model,
                              "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "batch_size": 32,
                              "steps": 30, "device": "cpu"})
    sweep = Sweep(spec, lrs=[0.01, 0.05], seeds=[0, 1], path=path)
    members = sweep_columns(sweep)
    for k in (0, 3):
        trainer, run = train(sweep.member_specs[k])
        # these images are easy: the loss falls to 1e-7 and below, where only an absolute bound means anything
        np.testing.assert_allclose(members[k]["train_loss"], run.column("train_loss"), rtol=1e-5, atol=1e-6)
        assert sweep.member_summary[k]["test_loss"] == pytest.approx(trainer.summary["test_loss"], rel=1e-5)
        assert [e.kind for e in sweep.member_events[k]] == ["test"]


def test_with_dropout_each_member_draws_its_own_masks_and_the_sweep_is_deterministic():
    spec = spec_of({"name": "sgd", "lr": 0.01}, steps=5, model={"kind": "mlp", "hidden": [32], "dropout": 0.5})
    for path in ("bmm", "vmap", "loop"):
        first = sweep_columns(Sweep(spec, lrs=[0.01, 0.0100001], path=path))
        again = sweep_columns(Sweep(spec, lrs=[0.01, 0.0100001], path=path))
        # step 0's loss comes before any update: only the dropout masks can make it differ
        assert first[0]["train_loss"][0] != first[1]["train_loss"][0], path
        assert all(np.array_equal(a["train_loss"], b["train_loss"]) for a, b in zip(first, again, strict=True))


# --- divergence: one member frozen, the others untouched --------------------------------------


@pytest.mark.parametrize("path", ["bmm", "vmap", "loop"])
def test_nan_from_training_stays_in_its_member(path):
    """LR 1000 drives its member to NaN; the others train bit for bit as in a sweep without it."""
    spec = spec_of({"name": "sgd", "lr": 0.05, "momentum": 0.9}, steps=40, diverge_factor=1e300,
                   model={"kind": "mlp", "hidden": [16]})
    with_nan = Sweep(spec, lrs=[0.01, 0.05, 1000.0], path=path)
    a = sweep_columns(with_nan)
    b = sweep_columns(Sweep(spec, lrs=[0.01, 0.05, 0.1], path=path))
    diverged = [e for e in with_nan.member_events[2] if e.kind == "diverged"]
    assert len(diverged) == 1 and "loss became NaN" in diverged[0].data["message"]
    at = diverged[0].step
    assert 0 < at < 39 and len(a[2]["train_loss"]) == at + 1  # recorded up to its step, then frozen
    assert not all(bool(torch.isfinite(p[2]).all()) for p in with_nan.params)  # it really holds NaN or inf
    for k in (0, 1):
        assert np.array_equal(a[k]["train_loss"], b[k]["train_loss"])
        assert np.array_equal(a[k]["grad_norm"], b[k]["grad_norm"])
        assert all(bool(torch.isfinite(p[k]).all()) for p in with_nan.params)
    assert with_nan.member_status[2] == "diverged" and with_nan.member_status[0] == "finished"
    assert with_nan.status == "finished"


@pytest.mark.parametrize("path", ["bmm", "vmap", "loop"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_nan_put_into_one_member_never_reaches_another(path, optimizer):
    """A NaN weight in the middle member (batch norm on, whose K x H channel trick is shared
    arithmetic if anything is): its neighbours are bit-identical to a sweep without it."""
    spec = spec_of({"name": optimizer, "lr": 0.01}, steps=30,
                   model={"kind": "mlp", "hidden": [16], "batch_norm": True, "dropout": 0.2})
    poisoned = Sweep(spec, lrs=[0.001, 0.01, 0.1], path=path)
    with torch.no_grad():
        poisoned.params[0][1, 0, 0] = math.nan
    a = sweep_columns(poisoned)
    b = sweep_columns(Sweep(spec, lrs=[0.001, 0.01, 0.1], path=path))
    assert poisoned.member_status == ["finished", "diverged", "finished"] and len(a[1]["step"]) == 1
    for k in (0, 2):
        for column in ("train_loss", "grad_norm", "update_ratio"):
            assert np.array_equal(a[k][column], b[k][column], equal_nan=True), column
        assert all(bool(torch.isfinite(buf[k].float()).all()) for buf in poisoned.model.buffers.values())


def test_a_frozen_member_no_longer_changes():
    spec = spec_of({"name": "adam", "lr": 1e-3}, steps=30)
    sweep = Sweep(spec, lrs=[1e-3, 500.0])
    updates = []
    sweep.listeners.append(updates.append)
    snapshots = []
    sweep.listeners.append(lambda u: snapshots.append([p[1].detach().clone() for p in sweep.params]))
    sweep.flush_seconds = 0.0  # an update after every step
    sweep.run()
    at = sweep.ended_at[1]
    assert at >= 0 and sweep.member_status[1] == "diverged"
    after = snapshots[at + 1:]
    assert len(after) > 3 and all(all(torch.equal(x, y) for x, y in zip(s, after[0], strict=True)) for s in after)


def test_the_sweep_ends_diverged_when_every_member_has():
    sweep = Sweep(spec_of({"name": "sgd", "lr": 100.0}, steps=50), lrs=[200.0, 500.0])
    assert sweep.run() == "diverged" and sweep.step < 50


# --- LR schedules and edits: every member as a multiple of its own base LR --------------------


@pytest.mark.parametrize("name, schedule", [(name, spec) for name, spec, _ in examples()],
                         ids=[name for name, _, _ in examples()])
def test_a_scaled_schedule_is_the_schedule_times_r(name, schedule):
    """Every kind's examples: the fields declared with ``role="lr"`` are all that must scale."""
    s = resolved(schedule)
    base, lr = Timeline(s, 0.1).values(0, 2000), Timeline(scale_schedule(s, 0.03), 0.1 * 0.03).values(0, 2000)
    np.testing.assert_allclose(lr, 0.03 * base, rtol=1e-12, atol=1e-18)


def test_the_lr_fields_come_from_the_declarations():
    """What the sweep's own table used to say about these kinds, now read from each field's role
    (a kind added later needs no entry here: its examples are scaled above)."""
    before = {"cosine": ("eta_min",), "cosine_restarts": ("eta_min",), "onecycle": ("max_lr",),
              "cyclic": ("base_lr", "max_lr"), "plateau": ("min_lr", "eps"), "constant": (), "step": (),
              "multistep": (), "exponential": (), "linear": (), "polynomial": (), "inverse_sqrt": (),
              "warmup": (), "sequence": ()}
    assert {kind: SCHEDULES.with_role(kind, "lr") for kind in before} == before
    warm = scale_schedule(SCHEDULES.parse({"kind": "warmup", "warmup_steps": 5, "then": {
        "kind": "sequence", "milestones": [9], "schedules": [{"kind": "cyclic", "base_lr": 0.01, "max_lr": 0.2},
                                                             {"kind": "cosine", "T_max": 9, "eta_min": 0.004}]}}), 0.5)
    parts = warm.to_json()["then"]["schedules"]
    assert (parts[0]["base_lr"], parts[0]["max_lr"], parts[1]["eta_min"]) == (0.005, 0.1, 0.002)


def test_edits_apply_to_each_member_scaled_to_its_base_lr():
    spec = spec_of({"name": "sgd", "lr": 0.1, "momentum": 0.9}, steps=60,
                   schedule={"kind": "cosine", "T_max": "run", "eta_min": 0.01})
    edits = [(10, {"kind": "scale", "factor": 0.5}), (20, {"kind": "hold", "lr": 0.05}),
             (30, {"kind": "schedule", "schedule": {"kind": "cosine", "T_max": 30, "eta_min": 0.02}, "lr": 0.08}),
             (40, {"kind": "params", "params": {"eta_min": 0.04}}), (45, {"kind": "optimizer", "momentum": 0.5})]
    sweep = Sweep(spec, lrs=[0.01, 0.1], edits=edits)
    members = sweep_columns(sweep)
    assert members[0]["lr"][25] == pytest.approx(0.005) and members[1]["lr"][25] == 0.05
    assert sweep.optimizer.param_groups[0]["momentum"] == 0.5
    for k, member in enumerate(sweep.member_specs):
        # the member's own edits are what its session stores; a training run replaying them matches
        own = [(e.step, e.data["edit"]) for e in sweep.member_events[k] if e.kind == "edit"]
        _, run = train_with_edits(member, own)
        assert np.array_equal(members[k]["lr"], run.column("lr"))
        assert relative(members[k]["train_loss"], run.column("train_loss")) < 1e-5
        np.testing.assert_allclose(members[k]["lr"], members[1]["lr"] * sweep.ratios[k], rtol=1e-12)


def train_with_edits(spec, edits):
    trainer = Trainer(spec, edits=edits)
    collector = Collector()
    trainer.listeners.append(collector)
    trainer.run()
    return trainer, collector


def test_member_edit_scales_absolute_lrs_only():
    hold = parse_edit({"kind": "hold", "lr": 0.05})
    assert member_edit(hold, 0.1, "constant").params["lr"] == pytest.approx(0.005)
    assert member_edit(parse_edit({"kind": "scale", "factor": 0.3}), 0.1, "constant").params["factor"] == 0.3
    params = member_edit(parse_edit({"kind": "params", "params": {"T_max": 300, "eta_min": 0.01}}), 0.5, "cosine")
    assert params.params["params"] == {"T_max": 300, "eta_min": 0.005}


def test_a_rejected_edit_changes_no_member():
    spec = spec_of({"name": "sgd", "lr": 0.1}, steps=20)
    sweep = Sweep(spec, lrs=[0.01, 0.1], edits=[(5, {"kind": "params", "params": {"T_max": 10}})])
    with pytest.raises(Exception, match="T_max"):
        sweep.run()  # a planned edit that does not fit fails loudly, as in the train kind
    live = Sweep(spec, lrs=[0.01, 0.1])
    live.edit({"kind": "params", "params": {"T_max": 10}})
    live.run()
    assert [e.kind for e in live.events] == ["rejected"]
    assert all([e.kind for e in live.member_events[k]] == ["rejected"] for k in range(2))


# --- the stacked optimizer against torch.optim, one step at a time --------------------------------


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_stacked_optimizer_steps_match_torch_optim_default_and_fused(name):
    optimizer, _ = OPTIMIZERS[name]
    spec = RunSpec.from_json({"optimizer": {**optimizer, "lr": 0.01}}).optimizer
    gen = torch.Generator().manual_seed(0)
    init = [torch.randn(3, 5, 4, generator=gen), torch.randn(3, 4, generator=gen)]
    grads = [[torch.randn(3, *p.shape[1:], generator=gen) for p in init] for _ in range(20)]
    lrs = np.array([0.001, 0.01, 0.1])
    stacked = [p.clone().requires_grad_() for p in init]
    ours = StackedOptimizer(spec, stacked)
    for g in grads:
        ours.step(g, lrs)
    for fused in (False, True):
        for k, lr in enumerate(lrs):
            params = [torch.nn.Parameter(p[k].clone()) for p in init]
            if fused:  # what the train kind uses: fused kernels where torch has them
                torch_opt, _ = build_optimizer(spec.replace(lr=float(lr)), params, torch.device("cpu"))
            else:  # torch's single-tensor loop, whose order of operations the stacked rules follow
                kwargs = {**spec.params, "lr": float(lr)}
                kwargs.update({"betas": tuple(kwargs["betas"])} if "betas" in kwargs else {})
                torch_opt = CLASSES[spec.kind](params, foreach=False, **kwargs)
            for g in grads:
                for p, gk in zip(params, g, strict=True):
                    p.grad = gk[k].clone()
                torch_opt.step()
            for p, mine in zip(params, stacked, strict=True):
                torch.testing.assert_close(mine[k].detach(), p.detach(), rtol=2e-6, atol=1e-7)


def test_member_norms_never_mix_members():
    a = torch.tensor([[3.0, 4.0], [float("nan"), 0.0]])
    b = torch.tensor([[12.0], [1.0]])
    norms = member_norms([a, b])
    assert norms[0] == 13.0 and math.isnan(norms[1])


def test_the_path_is_chosen_by_model_and_size():
    from lrlab.core.engine.models import build_model

    spec = spec_of({"name": "sgd"})
    cpu = torch.device("cpu")
    small = build_model(spec.model, (64,), 10)
    assert choose_path(small, 64, cpu) == "bmm"
    big = build_model(RunSpec.from_json({"model": {"kind": "mlp", "hidden": [512, 512]}}).model, (784,), 10)
    assert choose_path(big, 256, cpu) == "loop"
    cnn = build_model(RunSpec.from_json({"dataset": {"name": "digits"}, "model": {"kind": "cnn"}}).model,
                      (64,), 10, (1, 8, 8))
    assert choose_path(cnn, 64, cpu) == "vmap"


def test_lr_lists_and_ranges():
    assert check_lrs([0.1, 0.001, 0.01]) == [0.001, 0.01, 0.1]
    assert log_range(1e-3, 1, 4) == [0.001, 0.01, 0.1, 1.0]
    assert log_range(1e-4, 1e-2, 3) == [1e-4, 1e-3, 1e-2]
    for bad, message in (([0.1, 0.1], "appears more than once"), ([0], "> 0"), ([], "at least one")):
        with pytest.raises(Exception, match=message):
            check_lrs(bad)


# --- sessions: one per member, a group, a summary; replays -----------------------------------------


def test_each_member_is_a_session_in_one_group_and_replays_identical(tmp_path, capsys):
    spec = spec_of({"name": "sgd", "lr": 0.1, "momentum": 0.9}, steps=60, eval_every=10)
    out = tmp_path / "sweep"
    run = RecordedSweep(spec, [0.01, 0.1, 30.0], out, seeds=[0, 1], edits=[(20, {"kind": "hold", "lr": 0.05})])
    assert run.run() == "finished"
    assert sorted(p.name for p in out.iterdir()) == [f.name for f in run.files] + ["summary.json"]
    assert run.files[0].name == "0-lr0.01-seed0.lrlab" and run.files[5].name == "5-lr30-seed1.lrlab"
    for f, member in zip(run.files, run.runner.members, strict=True):
        with Session.open(f) as s:
            assert s.kind == "sweep_member" and s.group == "sweep"
            assert (s.spec.lr, s.spec.seed) == (member.lr, member.seed)
            assert s.environment["sweep_path"] == "bmm" and s.meta["sweep"]["member"] == member.index
            if member.lr == 30.0:
                assert s.status == "diverged" and s.n_steps() < 60
            else:
                assert s.status == "finished" and s.n_steps() == 60 and len(s.evals()["step"]) == 6
                assert s.edits() == [(20, {"kind": "hold", "lr": pytest.approx(0.05 * member.lr / 0.1)})]
                # the session's own spec and events say what LR it ran at (the GUI's planned curve)
                timeline = Timeline.from_events(s.spec.schedule, s.spec.lr, s.events())
                assert np.array_equal([timeline(t) for t in range(60)], s.steps()["lr"])  # step by step, as trained
    summary = json.loads((out / "summary.json").read_text())
    assert summary["group"] == "sweep" and summary["path"] == "bmm" and len(summary["members"]) == 6
    row = summary["members"][4]
    assert row["lr"] == 30.0 and row["status"] == "diverged" and isinstance(row["diverged_at"], int)
    assert summary["best"]["lr"] in (0.01, 0.1) and summary["best"]["status"] == "finished"

    for f in (run.files[2], run.files[4]):  # a finished member with an edit, a diverged one
        capsys.readouterr()
        assert main(["replay", str(f), "--verify", "--quiet"]) == 0
        printed = capsys.readouterr().out.splitlines()
        assert printed[0].startswith("replaying member ") and "re-running the whole sweep" in printed[0]
        assert printed[-1].startswith("identical: ")
    # a replay saved as a new session is a member of the same group, and replays identical in turn
    again = tmp_path / "again.lrlab"
    assert main(["replay", str(run.files[2]), "--out", str(again), "--quiet"]) == 0
    with Session.open(again) as s:
        assert s.kind == "sweep_member" and s.group == "sweep" and s.n_steps() == 60
    capsys.readouterr()
    assert main(["replay", str(again), "--verify", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "identical: 60 steps"


def test_a_stopped_sweep_stops_every_member_and_replays(tmp_path):
    spec = spec_of({"name": "sgd", "lr": 0.1}, steps=100000)
    run = RecordedSweep(spec, [0.01, 0.1], tmp_path / "s")
    run.runner.pause()
    run.runner.resume()

    def stop_soon(update):
        if update.step >= 25:
            run.runner.stop()

    run.add_listener(stop_soon)
    run.runner.flush_seconds = 0.0
    assert run.run() == "stopped"
    with Session.open(run.files[1]) as s:
        assert s.status == "stopped" and [e.kind for e in s.events()][:2] == ["pause", "resume"]
        n = s.n_steps()
        recorded = s.steps(("step", "train_loss", "lr"))
        runner = replay_runner(s)
    collector = Collector()
    runner.listeners.append(collector)
    runner.run()
    assert runner.step == n
    assert compare_steps(recorded, {c: collector.column(c) for c in ("step", "train_loss", "lr")}).identical


# --- lrlab sweep -----------------------------------------------------------------------------------


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
                                "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}, "epochs": 5,
                                "batch_size": 16, "device": "cpu"}))
    return path


def test_cli_json_has_the_issue_shape(spec_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(spec_file), "--range", "1e-3:100:4", "--seeds", "2", "--out", str(out), "--json",
                 "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"members", "best", "path"} and result["path"] == "bmm"
    assert [(m["lr"], m["seed"]) for m in result["members"]] == [
        (lr, seed) for lr in (0.001, 0.0464158883361, 2.15443469003, 100.0) for seed in (0, 1)]
    for m in result["members"]:
        assert tuple(m) == ROW_KEYS
        assert m["session"].startswith(str(out)) and m["status"] in ("finished", "diverged")
    assert result["members"][-1]["status"] == "diverged"
    assert set(result["best"]) == set(ROW_KEYS) and result["best"]["status"] == "finished"


def test_cli_prints_the_folder_and_the_table_best_first(spec_file, lrlab_home, capsys):
    assert main(["sweep", str(spec_file), "--lrs", "0.001,0.1,100", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(str(lrlab_home / "sessions"))
    assert lines[0].endswith("-sweep-iris-sgd-lr0.001-100-batch16-x3")
    assert lines[1].split()[:4] == ["#", "lr", "seed", "status"]
    ranked = [line.split() for line in lines[2:5]]
    assert [r[1] for r in ranked][-1] == "100" and ranked[-1][3] == "diverged"
    assert lines[5].startswith("best: lr ") and "bmm path" in lines[6]


@pytest.mark.parametrize("args, message", [
    (["--lrs", "0.1,abc"], "--lrs: 'abc' is not a number"),
    (["--lrs", "0.1,0"], "--lrs: each LR must be a finite number > 0"),
    (["--lrs", "0.1,0.1"], "--lrs: 0.1 appears more than once"),
    (["--range", "1e-3:1"], "--range: expected LO:HI:K"),
    (["--range", "1:1e-3:4"], "--range: HI must be greater than LO"),
    (["--range", "1e-3:1:1"], "--range: K must be a whole number from 2 to 256"),
    (["--range", "1e-3:1:300"], "--range: K must be a whole number from 2 to 256"),
    (["--range", "1e-3:1:100", "--seeds", "3"], "--seeds: 100 LRs x 3 seeds is more than 256 members"),
    (["--lrs", "0.1", "--seeds", "0"], "argument --seeds: --seeds must be a whole number >= 1"),
    ([], "one of the arguments --lrs --range is required"),
    (["--lrs", "0.1", "--range", "1e-3:1:3"], "not allowed with argument"),
    (["--lrs", "0.1", "--set", "optimizer.name=adamm"], "optimizer.name: unknown 'adamm'"),
])
def test_cli_bad_input_exits_2_with_one_line_naming_the_field(spec_file, capsys, args, message):
    try:
        status = main(["sweep", str(spec_file), *args])
    except SystemExit as exit_:  # argparse
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_cli_never_writes_into_a_folder_that_holds_files(spec_file, tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["sweep", str(spec_file), "--lrs", "0.1", "--out", str(out)]) == 2
    assert "--out: " in capsys.readouterr().err and sorted(p.name for p in out.iterdir()) == ["keep.txt"]
