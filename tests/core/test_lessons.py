"""The lessons of the "models" presets: warmup rescues a post-LN transformer at a high LR, one-cycle
on a ResNet, grokking on modular arithmetic. The warmup gap is asserted over 3 seeds on a shortened
run of the presets themselves; the ResNet and grokking presets are checked to build and train."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrlab.core.decl.resources import list_presets
from lrlab.core.decl.spec import RunSpec, schedule_warnings
from lrlab.core.runs import Collector
from lrlab.core.runs.train import Trainer

PRESETS = {p.name: p for p in list_presets()}
LESSONS = ("warmup-post-ln-none", "warmup-post-ln-warmup", "warmup-pre-ln-none", "one-cycle-resnet-cpu",
           "constant-resnet-cpu", "one-cycle-resnet", "grokking")


def final_loss(spec: dict, **changes) -> float:
    """The mean training loss of the last 30 steps of a run of ``spec`` with ``changes``."""
    trainer, col = Trainer(RunSpec.from_json({**spec, **changes}), snapshot_every=None), Collector()
    trainer.listeners.append(col)
    trainer.run()
    return float(np.mean(col.column("train_loss")[-30:]))


def test_the_lessons_are_presets_of_one_group_in_teaching_order():
    names = [p.name for p in list_presets() if p.group == "models"]
    assert names == list(LESSONS)
    for name in LESSONS:
        spec = RunSpec.from_json(PRESETS[name].spec)
        assert schedule_warnings(spec) == [], name


def test_warmup_rescues_a_post_ln_transformer_at_a_high_lr_over_3_seeds():
    """150 of the presets' 400 steps (the warmup's 50 included), batch 64: without warmup the
    post-LN run sits at chance (ln 17 = 2.83) for every seed; with it the loss has fallen far below."""
    chance = math.log(17)
    for seed in range(3):
        without = final_loss(PRESETS["warmup-post-ln-none"].spec, steps=150, seed=seed)
        with_warmup = final_loss(PRESETS["warmup-post-ln-warmup"].spec, steps=150, seed=seed)
        assert without > 0.9 * chance, (seed, without)
        assert with_warmup < without - 0.5, (seed, without, with_warmup)


def test_the_pre_ln_variant_and_the_post_ln_one_differ_only_in_the_norm_and_the_warmup():
    post, warm, pre = (PRESETS[n].spec for n in ("warmup-post-ln-none", "warmup-post-ln-warmup", "warmup-pre-ln-none"))
    assert post["model"]["norm"] == warm["model"]["norm"] == "post" and pre["model"]["norm"] == "pre"
    assert {**post, "schedule": None} == {**warm, "schedule": None}
    assert {**post, "model": None} == {**pre, "model": None}
    assert warm["schedule"]["kind"] == "warmup" and post["schedule"] == pre["schedule"] == {"kind": "constant"}


@pytest.mark.parametrize("name", ["one-cycle-resnet-cpu", "one-cycle-resnet"])
def test_the_resnet_presets_train_on_cifar_files(tmp_path, monkeypatch, name):
    import torchvision.datasets.cifar as cifar
    from fakedata import write_cifar10

    write_cifar10(tmp_path, n_per_batch=40)
    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: __import__("os").path.isfile(path))
    spec = PRESETS[name].spec
    changes = {"dataset": {**spec["dataset"], "root": str(tmp_path), "subset": 60}, "device": "cpu", "steps": 2,
               "batch_size": 16, "model": {**spec["model"], "width": 4}}
    assert final_loss(spec, **changes) > 0
    if name == "one-cycle-resnet":  # the GPU preset asks for bf16 and channels-last
        assert spec["amp"] == "bf16" and spec["channels_last"] is True


def test_the_grokking_preset_trains_with_weight_decay_on_a_small_share():
    spec = PRESETS["grokking"].spec
    assert spec["dataset"]["name"] == "modular" and spec["dataset"]["train_fraction"] <= 0.5
    assert spec["optimizer"]["weight_decay"] >= 0.1
    assert math.isfinite(final_loss(spec, steps=3))
