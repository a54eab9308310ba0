"""The LR range test: pure rules on constructed curves, the seeded run kind, sessions and `lrlab find-lr`."""

from __future__ import annotations

import copy
import json
import math
import random

import numpy as np
import pytest
import torch
from testkit import loaded_by

from lrlab.cli import main
from lrlab.core.decl.resources import list_presets
from lrlab.core.decl.spec import RunSpec, SpecError
from lrlab.core.features.lrfind import (
    MIN_POINTS,
    RangeTestParams,
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
from lrlab.core.features.series import debiased_ema
from lrlab.core.runs import Collector, RecordedRun, compare_steps, replay_runner
from lrlab.core.runs.range_finder import RangeTest, derive_seeds, result_of
from lrlab.core.runs.train import Trainer
from lrlab.core.storage.session import Session

PRESETS = {p.name: p for p in list_presets()}


def small_spec(**overrides):
    data = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [32]},
            "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
            "batch_size": 64, "epochs": 4, "seed": 0, "device": "cpu"}
    data.update(overrides)
    return RunSpec.from_json(data)


def run_test(spec, **params):
    test = RangeTest(spec, params)
    col = Collector()
    test.listeners.append(col)
    status = test.run()
    return test, col, status


# --- the ramp, the smoothing, the stop rule --------------------------------------------------------


def test_exponential_and_linear_ramps_follow_the_formula_bit_for_bit():
    start, end, n = 1e-7, 10.0, 100
    exp = lr_ramp(start, end, n)
    assert exp.tolist() == [start * (end / start) ** (i / (n - 1)) for i in range(n)]
    assert exp[0] == start and exp[-1] == pytest.approx(end, rel=1e-14)
    assert np.allclose(exp[1:] / exp[:-1], (end / start) ** (1 / (n - 1)), rtol=1e-12)  # equal ratios
    lin = lr_ramp(0.01, 1.0, 5, "linear")
    assert lin.tolist() == [0.01 + (1.0 - 0.01) * i / 4 for i in range(5)]
    assert np.allclose(np.diff(lin), 0.2475)  # equal differences
    with pytest.raises(ValueError):
        lr_ramp(1e-3, 1.0, 1)


def test_smoothed_loss_is_a_bias_corrected_ema():
    beta = 0.98
    losses = [2.0, 1.0, 3.0, 0.5]
    avg, expected = 0.0, []
    for i, x in enumerate(losses):
        avg = beta * avg + (1 - beta) * x
        expected.append(avg / (1 - beta ** (i + 1)))
    got = smooth_losses(losses, beta)
    assert got.tolist() == expected
    assert got[0] == 2.0  # the correction makes the curve start at the first loss, not near zero
    assert np.allclose(smooth_losses([1.7] * 50, beta), 1.7, rtol=1e-12)  # a constant stays put
    noisy = np.random.default_rng(0).normal(2, 0.3, 200)
    assert np.allclose(smooth_losses(noisy, beta), debiased_ema(noisy, beta)[0], rtol=1e-12)
    assert smooth_losses(losses, 0.0).tolist() == losses  # beta 0: no smoothing


def test_stop_rule_past_stop_factor_times_the_best_or_on_nan_and_inf():
    assert stop_reason([1.0], smoothed=3.9, best=1.0, stop_factor=4, lr=0.5) is None
    assert stop_reason([1.0], smoothed=4.0, best=1.0, stop_factor=4, lr=0.5) is None  # "exceeds"
    message = stop_reason([1.0], smoothed=4.1, best=1.0, stop_factor=4, lr=0.5)
    assert message and "4x" in message and "0.5" in message
    assert "NaN" in stop_reason([1.0, math.nan], 1.0, 1.0, 4, 0.5)
    assert "infinite" in stop_reason([math.inf], 1.0, 1.0, 4, 0.5)


# --- suggestions on constructed curves with known answers ---------------------------------------


def s_curve(lrs, centre, width=0.5):
    """A loss that falls by 2 around ``centre``, fastest exactly there (against ln lr)."""
    return 2 - np.tanh((np.log(lrs) - math.log(centre)) / width)


def test_steepest_is_the_most_negative_slope_against_ln_lr():
    lrs = lr_ramp(1e-4, 1e2, 61)  # ten points per decade: lrs[30] is 0.1
    s = suggest_steepest(lrs, s_curve(lrs, lrs[30]))
    assert (s.index, s.lr) == (30, lrs[30]) and "fastest" in s.reason
    # a linear ramp: against ln(lr) the answer is the same LR; against the index (torch-lr-finder)
    # or the raw LR (Lightning) it would be lower, where the points are denser on the log axis
    lin = lr_ramp(0.01, 1.0, 400, "linear")
    y = s_curve(lin, 0.3, width=1.0)
    s = suggest_steepest(lin, y)
    assert s.lr == pytest.approx(0.3, abs=0.005)
    assert lin[np.argmin(np.gradient(y))] < 0.2


def test_steepest_skips_the_first_tenth_and_the_last_five_points():
    lrs = lr_ramp(1e-4, 1e2, 100)
    y = 3 - 0.01 * np.arange(100.0)  # a gentle fall everywhere ...
    y[3:] -= 1.0  # ... a cliff inside the first 10% ...
    y[97:] -= 5.0  # ... and one in the last five points
    y[50:] -= 0.2  # the steepest point that counts
    s = suggest_steepest(lrs, y)
    assert s.index in (49, 50)


def test_valley_is_half_way_down_the_longest_fall():
    lrs = lr_ramp(1e-5, 1e1, 100)
    y = np.concatenate([np.linspace(3.0, 1.0, 60), np.linspace(1.1, 5.0, 40)])
    s = suggest_valley(lrs, y)  # L = 60 points up to e = 59: s = 0, 0 + 20 + 10
    assert s.index == 30 and s.lr == lrs[30]
    # a bump on the fall is stepped over: the stretch is still 59 points long
    bumped = y.copy()
    bumped[20] += 0.5
    s = suggest_valley(lrs, bumped)
    assert s.index == 1 + 59 // 3 + 59 // 6
    # a flat start with noise is not part of the fall (it would pull the answer to tiny LRs)
    flat = np.concatenate([3.0 + 0.001 * np.random.default_rng(1).standard_normal(50), np.linspace(2.9, 1.0, 30),
                           np.linspace(1.2, 6.0, 20)])
    s = suggest_valley(lrs, flat)
    assert 50 <= s.index <= 70


def test_minimum_is_a_tenth_of_the_lr_of_the_lowest_smoothed_loss():
    lrs = lr_ramp(1e-4, 1e2, 61)  # ten points per decade
    y = (np.log10(lrs) + 0.5) ** 2  # lowest at lr = 10**-0.5, index 35
    s = suggest_minimum(lrs, y)
    assert s.lr == pytest.approx(lrs[35] / 10) and s.index == 25  # the point one decade back
    assert "lowest" in s.reason


def test_the_three_rules_on_one_curve_give_their_known_answers():
    lrs = lr_ramp(1e-7, 10.0, 100)  # 12.4 points per decade
    fall = 2 - np.tanh((np.log(lrs[:80]) - math.log(1e-2)) / 1.0)  # falls all the way, fastest at 0.01
    y = np.concatenate([fall, fall[-1] + np.linspace(0, 8, 21)[1:]])  # lowest at 79, then up
    found = suggest(lrs, y)
    assert list(found) == ["steepest", "valley", "minimum"]
    assert found["steepest"].index == int(np.argmin(np.abs(np.log(lrs / 1e-2))))
    assert found["valley"].index == 0 + 80 // 3 + 80 // 6  # the fall is points 0..79
    assert found["minimum"].lr == lrs[79] / 10 and found["minimum"].index == 67  # a decade back
    # as documented: valley is the lowest here, steepest sits in the fall, minimum near its end
    assert found["valley"].lr < found["steepest"].lr < found["minimum"].lr < lrs[79]


def test_nan_in_the_middle_of_the_curve_is_skipped():
    lrs = lr_ramp(1e-4, 1e2, 61)
    y = s_curve(lrs, lrs[30])
    clean = suggest(lrs, y)
    y[[10, 45, 46]] = np.nan
    y[50] = np.inf
    holed = suggest(lrs, y)
    assert holed["steepest"].index == clean["steepest"].index == 30
    assert holed["minimum"].ok and math.isfinite(y[holed["minimum"].index])
    assert holed["valley"].ok and math.isfinite(y[holed["valley"].index])


def test_too_few_points_or_all_nan_give_messages_not_crashes():
    lrs = lr_ramp(1e-3, 1.0, 3)
    for s in suggest(lrs, [2.0, 1.5, 1.0]).values():
        assert not s.ok and s.index is None and "too few points" in s.reason and str(MIN_POINTS) in s.reason
    for s in suggest(lr_ramp(1e-3, 1.0, 20), [math.nan] * 20).values():
        assert not s.ok and "NaN" in s.reason
    for s in suggest(np.empty(0), np.empty(0)).values():
        assert not s.ok
    # enough points for the minimum, too few for a slope once the ends are skipped
    lrs = lr_ramp(1e-3, 1.0, 7)
    found = suggest(lrs, np.linspace(2, 1, 7))
    assert found["minimum"].ok and not found["steepest"].ok and "skipping" in found["steepest"].reason
    # a curve that never falls
    flat = suggest(lr_ramp(1e-3, 1.0, 30), np.linspace(1, 2, 30))
    assert not flat["steepest"].ok and not flat["valley"].ok and flat["minimum"].ok


# --- parameters and "Use this LR" -----------------------------------------------------------------


def test_parameters_have_defaults_and_field_messages():
    p = RangeTestParams.from_json({})
    assert p.to_json() == {"start_lr": 1e-7, "end_lr": 10.0, "num_iter": 100, "mode": "exponential",
                           "beta": 0.98, "stop_factor": 4.0, "seeds": 3}
    with pytest.raises(SpecError) as err:
        RangeTestParams.from_json({"start_lr": -1, "num_iter": 1.5, "mode": "exponentail", "beta": 1, "seeds": 0,
                                   "stop_factor": 1, "end": 3})
    paths = [p for p, _ in err.value.problems]
    assert paths == ["end", "start_lr", "num_iter", "mode", "beta", "stop_factor", "seeds"]
    assert "did you mean 'exponential'" in str(err.value) and "did you mean 'end_lr'" in str(err.value)
    with pytest.raises(SpecError, match=r"end_lr: must be greater than start_lr \(0.1\), got 0.01"):
        RangeTestParams.from_json({"start_lr": 0.1, "end_lr": 0.01})


def test_use_this_lr_sets_the_optimizer_lr_for_sgd():
    spec = copy.deepcopy(PRESETS["lr-well-chosen"].spec)
    before = copy.deepcopy(spec)
    out = apply_suggestion(spec, 0.17)
    assert spec == before  # the form's JSON is not touched
    assert out["optimizer"] == {**before["optimizer"], "lr": 0.17}
    assert {k: v for k, v in out.items() if k != "optimizer"} == {k: v for k, v in before.items() if k != "optimizer"}
    assert describe_suggestion(spec, 0.17) == "sets the optimizer's LR (optimizer.lr) to 0.17"
    RunSpec.from_json(out)
    assert apply_suggestion({}, 0.2) == {"optimizer": {"lr": 0.2}}  # a spec that never named one


def test_use_this_lr_sets_one_cycle_max_lr_and_cyclic_bounds():
    one = copy.deepcopy(PRESETS["one-cycle"].spec)
    out = apply_suggestion(one, 0.5)
    assert out["schedule"]["max_lr"] == 0.5 and out["optimizer"] == one["optimizer"]
    assert "schedule.max_lr" in describe_suggestion(one, 0.5) and "one-cycle" in describe_suggestion(one, 0.5)
    cyc = copy.deepcopy(PRESETS["cyclic-triangular"].spec)
    out = apply_suggestion(cyc, 0.4)
    assert out["schedule"]["max_lr"] == 0.4 and out["schedule"]["base_lr"] == pytest.approx(0.04)
    assert "a tenth" in describe_suggestion(cyc, 0.4)
    RunSpec.from_json(out)
    warm = {"schedule": {"kind": "warmup", "warmup_steps": 50, "then": {"kind": "onecycle", "total_steps": "run"}}}
    assert apply_suggestion(warm, 0.3)["schedule"]["then"]["max_lr"] == 0.3


# --- the run ---------------------------------------------------------------------------------------


def test_the_lr_well_chosen_preset_trained_at_the_steepest_suggestion_reaches_96_percent():
    preset = PRESETS["lr-well-chosen"]
    spec_json = preset.spec
    assert (spec_json["dataset"]["name"], spec_json["model"]["kind"], spec_json["optimizer"]["name"],
            spec_json["optimizer"]["momentum"]) == ("digits", "mlp", "sgd", 0.9)
    test, _, status = run_test(RunSpec.from_json(spec_json))
    assert status == "finished"
    steepest = test.result.suggestions["steepest"]
    assert steepest.ok
    trainer = Trainer(RunSpec.from_json({**apply_suggestion(spec_json, steepest.lr), "epochs": 20}))
    col = Collector()
    trainer.listeners.append(col)
    assert trainer.run() == "finished"
    assert col.evals[-1]["val_metric"] >= 0.96


def test_same_spec_gives_identical_json_whatever_ran_before():
    spec = small_spec(model={"kind": "mlp", "hidden": [32], "dropout": 0.2})
    a, _, _ = run_test(spec, num_iter=40, seeds=2)
    torch.manual_seed(1234)
    np.random.seed(5)
    b, _, _ = run_test(spec, num_iter=40, seeds=2)
    assert json.dumps(a.result.cli_json()) == json.dumps(b.result.cli_json())
    c, _, _ = run_test(small_spec(seed=1), num_iter=40, seeds=2)
    assert c.result.cli_json()["losses"] != a.result.cli_json()["losses"]


def test_seeds_are_derived_from_the_run_seed_and_train_independently():
    assert derive_seeds(7, 3)[0] == 7 and derive_seeds(7, 3) == derive_seeds(7, 3)
    assert len(set(derive_seeds(7, 3))) == 3 and derive_seeds(7, 1) == [7]
    spec = small_spec(model={"kind": "mlp", "hidden": [32], "dropout": 0.2})
    three, col, _ = run_test(spec, num_iter=30, seeds=3, stop_factor=1e6)
    one, _, _ = run_test(spec, num_iter=30, seeds=1, stop_factor=1e6)
    result = three.result
    assert [c.seed for c in result.seeds] == derive_seeds(0, 3)
    # each seed's numbers do not depend on the others training beside it (own dropout generator)
    assert result.seeds[0].losses.tolist() == one.result.seeds[0].losses.tolist()
    assert result.seeds[1].losses.tolist() != result.seeds[0].losses.tolist()
    # median curve, band, per-seed smoothing, and the session columns
    raw = np.array([c.losses for c in result.seeds])
    smooth = np.array([c.smoothed for c in result.seeds])
    assert result.losses.tolist() == np.median(raw, axis=0).tolist() == col.column("train_loss").tolist()
    assert result.smoothed.tolist() == np.median(smooth, axis=0).tolist()
    assert result.low.tolist() == smooth.min(axis=0).tolist() and result.high.tolist() == smooth.max(axis=0).tolist()
    for c in result.seeds:
        assert c.smoothed.tolist() == smooth_losses(c.losses, 0.98).tolist()
    assert col.column("lr").tolist() == lr_ramp(1e-7, 10.0, 30).tolist()
    assert result.describe("minimum").startswith("minimum ") and "across 3 seeds" in result.describe("minimum")
    spread = result.spread("minimum")
    assert spread[0] <= spread[1]


def test_early_stop_past_four_times_the_best_smoothed_loss():
    test, _, status = run_test(small_spec(), num_iter=100, seeds=1)
    assert status == "finished" and test.step < 100
    (event,) = [e for e in test.events if e.kind == "early_stop"]
    assert event.step == test.step - 1 and "4x" in event.describe()
    smoothed = test.result.smoothed
    best = np.minimum.accumulate(smoothed)
    assert smoothed[-1] > 4 * best[-1] and (smoothed[:-1] <= 4 * best[:-1]).all()
    # without the rule it runs the whole ramp
    full, _, _ = run_test(small_spec(), num_iter=100, seeds=1, stop_factor=1e6, end_lr=0.1)
    assert full.step == 100 and not [e for e in full.events if e.kind == "early_stop"]


def test_a_nan_loss_in_any_seed_ends_the_test_and_too_few_points_give_messages():
    test = RangeTest(small_spec(), {"num_iter": 50, "seeds": 2})
    optimize, calls = test.trainers[1].optimize, []

    def nan_at_step_20(*args):
        loss, grad_norm, ratio, noise = optimize(*args)
        calls.append(1)
        return (torch.tensor(math.nan) if len(calls) == 21 else loss), grad_norm, ratio, noise

    test.trainers[1].optimize = nan_at_step_20
    assert test.run() == "finished" and test.step == 21
    assert "NaN" in test.result.stop and "NaN" in test.events[-1].describe()
    assert math.isnan(test.result.losses[-1]) and math.isfinite(test.result.seeds[0].losses[-1])
    assert all(s.ok for s in test.result.suggestions.values())  # the NaN point is skipped
    short, _, _ = run_test(small_spec(), num_iter=3, seeds=1)
    assert all(not s.ok and "too few points" in s.reason for s in short.result.suggestions.values())


def test_the_spec_and_the_process_are_left_as_they_were():
    data = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [32]},
            "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "steps": 30, "seed": 3, "device": "cpu"}
    before = copy.deepcopy(data)
    spec = RunSpec.from_json(data)
    expected = Trainer(spec)
    col = Collector()
    expected.listeners.append(col)
    expected.run()
    torch.manual_seed(99)
    rng, threads = torch.get_rng_state(), torch.get_num_threads()
    np_state, py_state = np.random.get_state()[1].copy(), random.getstate()
    test, _, _ = run_test(spec, num_iter=20, seeds=2)
    assert torch.equal(torch.get_rng_state(), rng) and torch.get_num_threads() == threads
    assert (np.random.get_state()[1] == np_state).all() and random.getstate() == py_state
    assert data == before and spec.to_json() == RunSpec.from_json(before).to_json()
    again = Trainer(spec)  # the run the user trains next is exactly what it would have been
    col2 = Collector()
    again.listeners.append(col2)
    again.run()
    assert col.column("train_loss").tolist() == col2.column("train_loss").tolist()
    assert test.trainers[0].model is not again.model


def test_edits_are_refused():
    with pytest.raises(SpecError, match="no mid-run edits"):
        RangeTest(small_spec(), {"num_iter": 10}, edits=[(3, {"kind": "scale", "factor": 0.5})])
    test = RangeTest(small_spec(), {"num_iter": 10, "seeds": 1}, flush_seconds=0.0)
    test.edit({"kind": "scale", "factor": 0.5})
    test.run()
    assert [e.kind for e in test.events] == ["rejected"]


# --- sessions ----------------------------------------------------------------------------------------


def test_saved_as_a_session_that_opens_replays_exports_and_compares(tmp_path, capsys):
    from lrlab.core.features.compare import differences, open_runs, summary
    from lrlab.core.storage.export import write_csv

    spec = small_spec()
    run = RecordedRun(spec, tmp_path / "rt.lrlab", kind="range_test", params={"num_iter": 60, "seeds": 2})
    assert run.run() == "finished"
    with Session.open(run.path) as s:
        assert s.kind == "range_test" and s.meta["range_test"]["num_iter"] == 60
        assert s.meta["range_test_seeds"] == derive_seeds(0, 2)
        assert json.dumps(result_of(s).cli_json()) == json.dumps(run.runner.result.cli_json())
        steps = s.steps(("lr", "train_loss"))
        assert steps["lr"].tolist() == lr_ramp(1e-7, 10.0, 60)[: s.n_steps()].tolist()
        assert steps["train_loss"].tolist() == run.runner.result.losses.tolist()
        write_csv(s, tmp_path / "rt.csv")
        replayed = replay_runner(s)
        recorded = s.steps(("step", "train_loss", "lr"))
    col = Collector()
    replayed.listeners.append(col)
    replayed.run()
    assert compare_steps(recorded, {c: col.column(c) for c in ("step", "train_loss", "lr")}).identical
    assert main(["replay", str(run.path), "--verify", "--quiet"]) == 0
    assert capsys.readouterr().out.strip().startswith("identical:")
    assert (tmp_path / "rt.csv").read_text().count("\n") == 1 + len(recorded["step"])
    train = RecordedRun(spec, tmp_path / "train.lrlab")
    train.run()
    runs = open_runs([run.path, train.path])
    try:
        assert len(summary(runs)) == 2 and differences(runs)
        assert runs[0].x_of(np.arange(3), "lr").tolist() == lr_ramp(1e-7, 10.0, 60)[:3].tolist()
    finally:
        for r in runs:
            r.close()
    assert main(["info", str(run.path)]) == 0
    assert "suggests  steepest" in capsys.readouterr().out


def test_a_test_stopped_by_hand_keeps_its_steps_and_replays_identically(tmp_path):
    run = RecordedRun(small_spec(), tmp_path / "stopped.lrlab", kind="range_test", params={"seeds": 2},
                      flush_seconds=0.0)
    run.add_listener(lambda u: u.step >= 12 and run.runner.stop())
    assert run.run() == "stopped"
    with Session.open(run.path) as s:
        n = s.n_steps()
        assert 12 <= n < 100 and "stopped by hand" in s.summary["range_test"]["stop"]
        recorded = s.steps(("step", "train_loss", "lr"))
        replayed = replay_runner(s)
    col = Collector()
    replayed.listeners.append(col)
    replayed.run()
    assert compare_steps(recorded, {c: col.column(c) for c in ("step", "train_loss", "lr")}).identical


# --- lrlab find-lr ---------------------------------------------------------------------------------


def test_find_lr_json_has_exactly_the_documented_shape(tmp_path, capsys):
    out = tmp_path / "find.lrlab"
    args = ["find-lr", "lr-well-chosen", "--iters", "40", "--seeds", "2", "--json", "--quiet", "--out", str(out)]
    assert main(args) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert str(out) in captured.err
    assert list(data) == ["suggestions", "lrs", "losses", "smoothed", "seeds"]
    assert list(data["suggestions"]) == ["steepest", "valley", "minimum"]
    for s in data["suggestions"].values():
        assert list(s) == ["lr", "index", "spread"] and len(s["spread"]) == 2
        assert s["spread"][0] <= s["spread"][1] and data["lrs"][s["index"]] == pytest.approx(s["lr"], rel=0.2)
    assert [list(s) for s in data["seeds"]] == [["seed", "suggestions"]] * 2
    assert all(list(v) == ["lr", "index"] for v in data["seeds"][0]["suggestions"].values())
    assert len(data["lrs"]) == len(data["losses"]) == len(data["smoothed"]) <= 40
    # the same command again prints the same JSON
    assert main([*args[:-1], str(tmp_path / "again.lrlab")]) == 0
    assert capsys.readouterr().out == captured.out


@pytest.mark.parametrize(("args", "message"), [
    (["--start", "-1"], "--start: must be a finite number > 0"),
    (["--start", "1", "--end", "0.5"], "--end: must be greater than --start (1), got 0.5"),
    (["--iters", "1"], "--iters: must be an integer in [2, 10000], got 1"),
    (["--seeds", "0"], "--seeds: must be an integer in [1, 16], got 0"),
    (["--set", "optimizer.lr=-1"], "optimizer.lr: must be a finite number > 0"),
    (["--mode", "log"], "argument --mode: invalid choice"),
])
def test_find_lr_bad_input_is_one_line_naming_the_field(args, message, tmp_path, capsys):
    try:
        status = main(["find-lr", "lr-well-chosen", "--out", str(tmp_path / "x.lrlab"), *args])
    except SystemExit as exit_:  # argparse's own checks (a --mode it does not offer)
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "x.lrlab").exists()


def test_the_pure_layer_loads_no_torch():
    code = ("import sys, lrlab.core.features.lrfind as f\n"
            "f.RangeTestParams.from_json({'num_iter': 50}); f.suggest(f.lr_ramp(1e-3, 1, 50), [1.0] * 50)\n"
            "f.apply_suggestion({'optimizer': {'name': 'sgd'}}, 0.1)")
    assert loaded_by(code, ('torch', 'sklearn', 'PySide6')) == []


def test_the_drawn_curve_and_the_suggestions_follow_the_loss_without_lag():
    """Issue 29: the causal EMA (beta 0.98) bottomed three times right of the raw curve's dip; the
    zero-phase curve the plot draws and the suggestions read sits on it."""
    from lrlab.core.features.lrfind import RangeTestResult, suggest, zero_phase

    lrs = np.logspace(-5, 1, 100)
    rng = np.random.default_rng(0)
    raw = 2.0 - 1.5 * np.exp(-0.5 * ((np.log(lrs) - np.log(0.5)) / 1.2) ** 2) + rng.normal(0, 0.05, 100)
    raw[-3:] = np.inf  # diverged at the end
    ema = smooth_losses(raw, 0.98)
    result = RangeTestResult.from_curves(lrs, raw, ema, ema, ema, [(0, raw, ema)])
    lowest = lrs[np.nanargmin(result.curve)]
    assert 0.5 / 1.5 < lowest < 0.5 * 1.5
    assert result.suggestions["minimum"].lr == pytest.approx(lowest / 10)
    assert suggest(lrs, ema)["minimum"].lr > 2 * result.suggestions["minimum"].lr  # the lagging EMA's
    assert np.isnan(result.curve[-3:]).all() and np.isfinite(result.curve[:-3]).all()
    flat = zero_phase(np.full(50, 3.0))
    assert np.allclose(flat, 3.0)  # no bias at the ends
    back = RangeTestResult.from_summary(result.summary_json())
    assert np.allclose(back.curve[:-3], result.curve[:-3])
