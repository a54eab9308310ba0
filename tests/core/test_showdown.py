"""The auto-tuning showdown: its inputs, its figures, and a small one run end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import lrlab
from lrlab import api
from lrlab.core.decl.params import SpecError
from lrlab.core.features.showdown import (
    NAMES,
    RANGE_TEST_STEPS,
    MethodResult,
    SeedRun,
    best_so_far,
    check_budget,
    method_spec,
    parse_methods,
    parse_target,
    steps_to_target,
)
from lrlab.core.storage.session import Session

pytest.importorskip("prodigyopt", reason="needs the extra autotune: pip install 'lrlab[autotune]'")
pytest.importorskip("schedulefree", reason="needs the extra autotune: pip install 'lrlab[autotune]'")

SPEC = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "batch_size": 64, "device": "cpu"}


def test_inputs_are_checked_with_one_line_each():
    assert parse_methods(None) == list(NAMES)
    assert parse_methods("prodigy,given") == ["given", "prodigy"]  # the showdown's order
    with pytest.raises(SpecError, match="--methods: unknown method 'prodigi', did you mean 'prodigy'"):
        parse_methods("given,prodigi")
    target = parse_target("val_metric=0.97")
    assert str(target) == "val_metric >= 0.97" and str(parse_target("val_loss=0.1")) == "val_loss <= 0.1"
    with pytest.raises(SpecError, match="--target: must be NAME=VALUE"):
        parse_target("accuracy=0.9")
    with pytest.raises(SpecError, match=f"--budget: 100 steps is not longer than the range test's {RANGE_TEST_STEPS}"):
        check_budget(100, ["given", "range-cosine"])
    check_budget(100, ["given", "prodigy"])  # no range test: any budget
    with pytest.raises(SpecError, match="--budget: 30 steps is too short for pbt"):
        check_budget(30, ["pbt"])


def test_each_method_trains_its_own_spec_within_the_budget():
    cosine = method_spec(SPEC, "range-cosine", 500, 7, lr=0.2)
    assert cosine["steps"] == 400 and cosine["seed"] == 7 and cosine["optimizer"]["lr"] == 0.2
    assert cosine["schedule"] == {"kind": "cosine", "T_max": "run", "eta_min": 0.0}
    assert method_spec(SPEC, "range-onecycle", 500, 0, lr=0.2)["schedule"]["max_lr"] == 0.2
    assert method_spec(SPEC, "prodigy", 500, 0)["optimizer"] == {"name": "prodigy"}
    assert method_spec(SPEC, "schedulefree", 500, 0)["optimizer"] == {"name": "schedulefree_adamw"}
    assert method_spec(SPEC, "given", 500, 0)["optimizer"] == SPEC["optimizer"]
    assert method_spec(SPEC, "pbt", 500, 0)["steps"] == 125  # 4 members: the same total compute


def test_figures_are_medians_over_seeds_and_never_counts_as_never():
    target = parse_target("val_metric=0.9")
    assert steps_to_target([10, 20, 30], [0.5, 0.95, 0.8], target) == 20
    assert steps_to_target([10, 20], [0.5, float("nan")], target) is None
    np.testing.assert_array_equal(best_so_far([0.2, float("nan"), 0.5, 0.4]), [0.2, 0.2, 0.5, 0.5])
    r = MethodResult("given", [SeedRun(0, 0.9, 100, 2.0, ["a"]), SeedRun(1, 0.95, None, 4.0, ["b"]),
                               SeedRun(2, 0.8, 300, 3.0, ["c"])])
    assert r.final_val_metric() == 0.9 and r.wall_s() == 3.0 and r.spread() == [0.8, 0.95]
    assert r.steps_to_target() == 300  # 100, 300, never: the middle one
    r.runs[2].steps_to_target = None
    assert r.steps_to_target() is None  # two of three never arrive


def test_a_small_showdown_gives_every_method_finite_figures_and_sessions(tmp_path):
    methods = [m for m in NAMES if m != "pbt"]
    result = lrlab.autotune(SPEC, budget=RANGE_TEST_STEPS + 30, seeds=1, target="val_metric=0.5",
                            methods=methods, out=tmp_path / "show")
    data = result.to_json()
    assert data["budget"] == 130 and [m["name"] for m in data["methods"]] == methods
    for m in data["methods"]:
        assert math.isfinite(m["final_val_metric"]) and math.isfinite(m["wall_s"]) and m["wall_s"] > 0
        assert m["steps_to_target"] is not None and 0 < m["steps_to_target"] <= 130
        assert len(m["seeds"]) == 1 and all(p.endswith(".lrlab") for p in m["sessions"])
    assert json.loads((tmp_path / "show" / "showdown.json").read_text())["methods"] == data["methods"]
    by_name = {m.name: m for m in result.methods}
    # the range test's steps count: its methods train the rest and their curves start after it
    cosine = by_name["range-cosine"].runs[0]
    assert cosine.sessions[0].endswith("range-test-seed0.lrlab") and cosine.eval_steps[0] > RANGE_TEST_STEPS
    with Session.open(cosine.sessions[1]) as s:
        assert s.n_steps() == 30 and s.spec.schedule.kind == "cosine" and s.meta["autotune"]["seed"] == 0
    # Prodigy's LR curve is its step size d x lr, not lr=1
    assert by_name["prodigy"].runs[0].lrs[0] == pytest.approx(1e-6)
    assert "unavailable: " not in result.describe() and "range-onecycle" in result.describe()


def test_without_pbt_method_6_is_reported_unavailable(tmp_path, monkeypatch):
    """The core runs the showdown with whatever PBT its caller hands it (it never imports the API):
    handed none, method 6 says so and the others run."""
    monkeypatch.setattr(api, "pbt", None)
    result = lrlab.autotune(SPEC, budget=60, seeds=1, methods="given,pbt", out=tmp_path / "show")
    pbt = result.to_json()["methods"][1]
    assert pbt["name"] == "pbt" and pbt["unavailable"].startswith("needs the pbt run kind")
    assert pbt["final_val_metric"] is None and pbt["sessions"] == []


def test_all_six_methods_with_finite_figures(tmp_path):
    """The issue's check: the showdown's JSON has all six methods with finite figures."""
    result = lrlab.autotune(SPEC, budget=RANGE_TEST_STEPS + 60, seeds=1, target="val_metric=0.3",
                            out=tmp_path / "show")
    data = result.to_json()
    assert [m["name"] for m in data["methods"]] == list(NAMES)
    for m in data["methods"]:
        assert math.isfinite(m["final_val_metric"]) and math.isfinite(m["wall_s"]) and m["steps_to_target"]
        assert m["sessions"]
        for path in m["sessions"]:
            with Session.open(path) as s:
                assert s.n_steps() > 0
    assert len(data["methods"][-1]["sessions"]) == 4  # every member of the population
