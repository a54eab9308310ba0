"""The bundled presets run offline and show what the textbook says about learning rates."""

from __future__ import annotations

import numpy as np
import pytest

from lrlab.core.decl.resources import list_presets
from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs import Collector, RecordedRun, compare_steps, replay_runner
from lrlab.core.storage.session import Session

PRESETS = {p.name: p for p in list_presets()}
REQUIRED = {"lr-too-high", "lr-too-low", "lr-well-chosen", "step-decay", "cosine-warmup",
            "cyclic-triangular", "cosine-restarts", "one-cycle", "adam", "sgd-same-lr-as-adam",
            "batch-64", "batch-256-unscaled", "batch-256-scaled"}


def test_presets_exist_with_title_and_explanation():
    assert PRESETS.keys() >= REQUIRED
    for p in PRESETS.values():
        assert p.title and len(p.explanation) > 80 and p.group
        RunSpec.from_json(p.spec)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every preset trained once, with its session replayed and verified; the "models" group's
    transformers and ResNets (minutes each, CIFAR-10's files) have their own tests (test_lessons.py)."""
    out = {}
    folder = tmp_path_factory.mktemp("presets")
    for name, preset in PRESETS.items():
        if preset.group == "models":
            continue
        run = RecordedRun(RunSpec.from_json(preset.spec), folder / f"{name}.lrlab")
        col = Collector()
        run.add_listener(col)
        status = run.run()
        out[name] = (status, col, run)
    return out


def final_val_loss(col):
    return col.evals[-1]["val_loss"] if col.evals else float("nan")


def val_loss_at_epoch(col, epoch):
    return next(e["val_loss"] for e in col.evals if e["epoch"] >= epoch)


def test_every_preset_replays_identically(runs):
    for name, (_, _, run) in runs.items():
        with Session.open(run.path) as s:
            recorded = s.steps(("step", "train_loss", "lr"))
            trainer = replay_runner(s)
        col = Collector()
        trainer.listeners.append(col)
        trainer.run()
        result = compare_steps(recorded, {c: col.column(c) for c in ("step", "train_loss", "lr")})
        assert result.identical, f"{name}: {result.describe()}"


def test_too_high_diverges_too_low_crawls_well_chosen_is_fast(runs):
    high, low, good = runs["lr-too-high"], runs["lr-too-low"], runs["lr-well-chosen"]
    assert high[0] == "diverged"
    assert low[0] == good[0] == "finished"
    # after 30 epochs the slow run is still worse than the good run after 3
    assert final_val_loss(low[1]) > val_loss_at_epoch(good[1], 3)
    assert good[1].evals[-1]["val_metric"] > 0.95


def test_adam_adapts_where_sgd_at_the_same_lr_crawls(runs):
    assert final_val_loss(runs["adam"][1]) < 0.5 * final_val_loss(runs["sgd-same-lr-as-adam"][1])


def test_lr_must_follow_the_batch_size(runs):
    ref, unscaled, scaled = (final_val_loss(runs[n][1]) for n in
                             ("batch-64", "batch-256-unscaled", "batch-256-scaled"))
    assert scaled < unscaled
    assert abs(scaled - ref) < abs(unscaled - ref)


def test_schedules_follow_their_plan(runs):
    lr = runs["step-decay"][1].column("lr")
    assert lr[229] == pytest.approx(0.1) and lr[230] == pytest.approx(0.03)
    lr = runs["cosine-warmup"][1].column("lr")
    assert lr[0] == pytest.approx(0.002) and lr[50] == pytest.approx(0.2) and lr[-1] < 0.001
    lr = runs["one-cycle"][1].column("lr")
    assert int(np.argmax(lr)) == pytest.approx(0.3 * 690, abs=2)
    lr = runs["cosine-restarts"][1].column("lr")
    restarts = np.flatnonzero(np.diff(lr) > 0) + 1
    assert restarts.tolist() == [46, 138, 322] and lr[-1] < 1e-4  # 2, 4, 8 and 16 epochs; the last ends the run


def test_sessions_store_the_durations_resolved_for_their_run(runs):
    with Session.open(runs["cosine-warmup"][2].path) as s:
        assert s.spec_json["schedule"]["then"]["T_max"] == 640  # "run": 690 steps less 50 of warmup
    with Session.open(runs["step-decay"][2].path) as s:
        assert s.spec_json["schedule"]["step_size"] == 230  # "10ep" at 23 steps per epoch


def test_too_high_lasts_long_enough_to_watch_at_its_pace_and_still_blows_up(tmp_path):
    """A class watches the blow-up: 5-10 s at the preset's pace, the loss far above its start."""
    preset = PRESETS["lr-too-high"]
    col = Collector()
    run = RecordedRun(RunSpec.from_json(preset.spec), tmp_path / "high.lrlab")
    run.add_listener(col)
    assert run.run() == "diverged"
    loss = col.column("train_loss")
    assert 5 <= len(loss) / preset.pace <= 10
    assert np.nanmax(loss) > 50 * loss[0]
