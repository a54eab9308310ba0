"""Schedule durations follow the run: steps, "Nep", "P%" and "run", resolved when a run starts."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from schedule_examples import first_examples

from lrlab.cli import main
from lrlab.core.decl.params import ListOf, Num, Optional
from lrlab.core.decl.resources import list_presets, preset_path
from lrlab.core.decl.schedules import (
    SCHEDULES,
    Timeline,
    build,
    duration_fields,
    parse_edit,
    parse_schedule,
    resolve_schedule,
    values,
)
from lrlab.core.decl.spec import (
    RunSpec,
    SpecError,
    load_spec,
    planned_steps,
    preview_timeline,
    read_json,
    schedule_warnings,
    unwrap_preset,
)
from lrlab.core.runs import Collector, RecordedRun, compare_steps, replay_runner
from lrlab.core.storage.session import Session

#: (kind, its first example, the names of its duration fields) for every kind that has durations;
#: both read from the kind's declaration
DURATIONS = [(kind, example, [name for name, _ in duration_fields(SCHEDULES.params_of(kind))])
             for kind, example in first_examples() if duration_fields(SCHEDULES.params_of(kind))]
QUICK = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [16]},
         "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}, "epochs": 10, "batch_size": 16,
         "device": "cpu"}  # 120 training samples / 16 = 8 steps per epoch, 80 steps


def inner(check):
    check = check.inner if isinstance(check, Optional) else check
    return check.item if isinstance(check, ListOf) else check


def test_every_whole_number_that_is_not_a_length_says_so():
    """A length declared as a plain integer would not take "run", "25%" or "3ep": every
    whole-number schedule field is a Duration or declares what else it counts (``role="count"``)."""
    for kind in SCHEDULES.kinds:
        for p in SCHEDULES.params_of(kind):
            if isinstance(inner(p.check), Num) and inner(p.check).integer:
                assert p.role == "count", (kind, p.name)
    counts = {p.name for kind in SCHEDULES.kinds for p in SCHEDULES.params_of(kind) if p.role == "count"}
    assert {"T_mult", "patience", "cooldown"} <= counts  # a factor and two counts of evaluations
    assert {kind for kind, _, _ in DURATIONS} >= {"step", "multistep", "cosine", "cosine_restarts", "linear",
                                                   "polynomial", "onecycle", "cyclic", "inverse_sqrt", "warmup",
                                                   "sequence"}


@pytest.mark.parametrize("kind, example, names", DURATIONS, ids=[kind for kind, _, _ in DURATIONS])
@pytest.mark.parametrize("written, steps", [(7, 7), ("3ep", 24), ("25%", 50), ("run", 200)])
def test_each_duration_field_takes_steps_epochs_shares_and_run(kind, example, names, written, steps):
    """Each duration field of the kind's first example, written each way (a list: one item)."""
    lists = {name for name, is_list in duration_fields(SCHEDULES.params_of(kind)) if is_list}
    for name in names:
        value = [written] if name in lists else written
        spec = parse_schedule({**example, name: value})
        assert spec.to_json()[name] == value  # kept as written until a run resolves it
        resolved = resolve_schedule(spec, total_steps=200, steps_per_epoch=8)
        assert resolved[name] == ((steps,) if name in lists else steps)
        build(resolved, 0.1)(0)


@pytest.mark.parametrize("value", ["abc", "0%", "-3ep", "ep", "run2", "3 epochs", 0, 2.5, True, None, [3]])
def test_a_bad_duration_names_the_field_and_the_forms(value):
    with pytest.raises(SpecError) as err:
        parse_schedule({"kind": "cosine", "T_max": value})
    assert str(err.value) == ('schedule.T_max: must be a whole number of steps >= 1, "Nep", "P%" or "run", '
                              f"got {json.dumps(value)}")


def test_relative_forms_are_written_canonically_and_round_trip():
    spec = parse_schedule({"kind": "multistep", "milestones": [" 1.50 EP", "12.50%", "RUN"]})
    assert spec.to_json()["milestones"] == ["1.5ep", "12.5%", "run"]
    assert parse_schedule(spec.to_json()) == spec


def test_run_is_what_is_left_after_a_nested_schedule_starts():
    spec = parse_schedule({"kind": "warmup", "warmup_steps": 50, "then": {"kind": "cosine", "T_max": "run"}})
    assert resolve_schedule(spec, 690, 23)["then"]["T_max"] == 640
    seq = parse_schedule({"kind": "sequence", "milestones": [100, "50%"], "schedules": [
        {"kind": "constant"}, {"kind": "cosine", "T_max": "run"},
        {"kind": "warmup", "warmup_steps": "1ep", "then": {"kind": "cosine", "T_max": "run"}}]})
    out = resolve_schedule(seq, 1000, 20).to_json()
    assert out["milestones"] == [100, 500]
    assert out["schedules"][1]["T_max"] == 900  # starts at step 100
    assert out["schedules"][2]["warmup_steps"] == 20 and out["schedules"][2]["then"]["T_max"] == 480  # 1000-500-20


def test_rounding_is_half_up_and_never_below_one_step():
    spec = parse_schedule({"kind": "multistep", "milestones": ["1%", "0.5ep", "50%"]})
    assert resolve_schedule(spec, 30, 3)["milestones"] == (1, 2, 15)  # 0.3 -> 1, 1.5 -> 2
    late = parse_schedule({"kind": "warmup", "warmup_steps": 40, "then": {"kind": "cosine", "T_max": "run"}})
    assert resolve_schedule(late, 30, 3)["then"]["T_max"] == 1  # starts after the run: still a valid cosine


def test_milestones_out_of_order_once_resolved_are_reported():
    spec = parse_schedule({"kind": "multistep", "milestones": ["50%", 40]})  # fine until the run is known
    assert resolve_schedule(spec, 60, 1)["milestones"] == (30, 40)
    with pytest.raises(SpecError, match=r"schedule\.milestones: must be strictly increasing, got \[50, 40\]"):
        resolve_schedule(spec, 100, 1)


def test_an_unresolved_schedule_cannot_be_built_and_edits_take_whole_steps():
    with pytest.raises(SpecError, match=r'schedule\.T_max: "run" is relative to the run'):
        build(parse_schedule({"kind": "cosine", "T_max": "run"}), 0.1)
    tl = Timeline(parse_schedule({"kind": "cosine", "T_max": 100}), 0.1)
    with pytest.raises(SpecError) as err:
        tl.apply(10, parse_edit({"kind": "params", "params": {"T_max": "run"}}))
    assert str(err.value) == 'edit.params.T_max: a mid-run edit takes whole steps, got "run"'
    assert len(tl.segments) == 1


def test_raising_the_epochs_keeps_one_cosine_decay():
    """The teacher's case: 600 epochs of the cosine-with-warmup preset still decay once to zero."""
    spec = load_spec(preset_path("cosine-warmup")).with_changes({"epochs": 600})
    total = planned_steps(spec)
    assert total == 600 * 23
    lr = preview_timeline(spec).values(0, total)
    assert lr[0] == pytest.approx(0.002) and lr[50] == pytest.approx(0.2)
    assert (np.diff(lr[50:]) <= 0).all() and lr[-1] < 1e-5
    assert schedule_warnings(spec) == []


def test_run_resolves_once_and_the_session_stores_steps(tmp_path):
    spec = RunSpec.from_json(dict(QUICK, schedule={"kind": "warmup", "warmup_steps": "1ep",
                                                   "then": {"kind": "cosine", "T_max": "run"}}))
    run = RecordedRun(spec, tmp_path / "r.lrlab")
    col = Collector()
    run.add_listener(col)
    assert run.run() == "finished"
    assert run.runner.spec.schedule.to_json()["then"]["T_max"] == 72  # 80 - 8
    planned = preview_timeline(spec)
    np.testing.assert_array_equal(col.column("lr"), [planned(t) for t in range(80)])  # lr(t), step by step
    np.testing.assert_allclose(col.column("lr"), planned.values(0, 80), rtol=1e-12)  # the preview (vectorized)
    with Session.open(run.path) as s:
        assert s.spec_json["schedule"]["warmup_steps"] == 8 and s.spec_json["schedule"]["then"]["T_max"] == 72
        recorded = s.steps(("step", "train_loss", "lr"))
        trainer = replay_runner(s)
    replay = Collector()
    trainer.listeners.append(replay)
    trainer.run()
    assert compare_steps(recorded, {c: replay.column(c) for c in ("step", "train_loss", "lr")}).identical


# --- warnings when fixed steps do not fit the run ------------------------------------------


def test_a_fixed_cosine_on_a_longer_run_is_named_with_what_happens():
    data = unwrap_preset(read_json(preset_path("cosine-warmup")))
    data["schedule"]["then"]["T_max"] = 640
    spec = RunSpec.from_json(dict(data, epochs=250))  # 5,750 steps, 5,700 after warmup
    assert schedule_warnings(spec) == [
        'schedule.then.T_max is 640 steps but the run has 5,700 steps after warmup: after 640 of them the '
        "cosine climbs back up, sweeping between its peak and eta_min 8 times instead of decaying once; "
        'use "run" to follow the run']
    short = RunSpec.from_json(dict(data, epochs=10))
    assert "the run ends 28% of the way through the decay" in schedule_warnings(short)[0]


@pytest.mark.parametrize("schedule, expected", [
    ({"kind": "onecycle", "total_steps": 50}, "schedule.total_steps is 50 steps but the run has 80 steps: the cycle "
                                              "is over after 50 of them and the LR stays at its final value for "
                                              "the last 30 steps"),
    ({"kind": "onecycle", "total_steps": "200%"}, 'schedule.total_steps ("200%") is 160 steps but the run has 80 '
                                                  "steps: the run ends 50% of the way through the cycle"),
    ({"kind": "polynomial", "total_iters": 5}, "the LR reaches 0 after 5 of them, so the last 75 steps do not train"),
    ({"kind": "step", "step_size": "10ep"}, 'schedule.step_size ("10ep") is 80 steps but the run has 80 steps: '
                                            "the LR never decays"),
    ({"kind": "multistep", "milestones": [40, 80, 90]}, "schedule.milestones 80, 90 are not before the end (the "
                                                        "run has 80 steps): those decays never happen"),
    ({"kind": "warmup", "warmup_steps": 100}, "schedule.warmup_steps is 100 steps but the run has 80 steps: the "
                                              "run ends during the warmup"),
    ({"kind": "cosine_restarts", "T_0": 10, "T_mult": 2}, "schedule.T_0 is 10 steps but the run has 80 steps: "
                                                          "cycles end at steps 10, 30, 70, 150, so the run ends "
                                                          "12% into cycle 4"),
    ({"kind": "sequence", "milestones": [20, 70], "schedules": [
        {"kind": "constant"}, {"kind": "cosine", "T_max": 10}, {"kind": "constant"}]},
     "schedule.schedules[1].T_max is 10 steps but it runs for 50 steps (20 to 69): after 10 of them the "
     "cosine climbs back up, sweeping between its peak and eta_min 5 times instead of decaying once; use 50 "
     "to end at the next milestone"),
    ({"kind": "sequence", "milestones": [20], "schedules": [
        {"kind": "constant"}, {"kind": "onecycle", "total_steps": 80}]},
     "schedule.schedules[1].total_steps is 80 steps but it runs for 60 steps (20 to 79): the run ends 75% of the "
     'way through the cycle, before the LR has annealed; use "run" to follow the run'),
    ({"kind": "sequence", "milestones": [20, 100], "schedules": [
        {"kind": "constant"}, {"kind": "constant"}, {"kind": "constant"}]},
     "schedule.milestones[1] is step 100 but the run has 80 steps: schedules[2] never starts"),
    ({"kind": "cyclic", "max_lr": 1.0, "step_size_up": 50}, "schedule.step_size_up + step_size_down is 100 steps "
                                                            "but the run has 80 steps: the run ends before one "
                                                            "full cycle"),
])
def test_warnings_for_each_kind_that_can_miss_the_run(schedule, expected):
    warnings = schedule_warnings(RunSpec.from_json(dict(QUICK, schedule=schedule)))
    assert len(warnings) == 1 and expected in warnings[0], warnings


@pytest.mark.parametrize("schedule", [
    {"kind": "cosine", "T_max": "run"}, {"kind": "cosine", "T_max": 80}, {"kind": "onecycle", "total_steps": "100%"},
    {"kind": "cosine_restarts", "T_0": "2ep", "T_mult": 1},
    {"kind": "cosine_restarts", "T_0": "25%", "T_mult": 3}, {"kind": "sequence", "milestones": [20], "schedules": [
        {"kind": "warmup", "warmup_steps": 10, "then": {"kind": "cosine", "T_max": 10}},
        {"kind": "cosine", "T_max": "run"}]}, {"kind": "step", "step_size": "25%"},
    {"kind": "linear", "total_iters": 5}, {"kind": "exponential", "gamma": 0.99}, {"kind": "plateau"},
])
def test_schedules_that_fit_the_run_give_no_warning(schedule):
    assert schedule_warnings(RunSpec.from_json(dict(QUICK, schedule=schedule))) == []


def test_every_preset_fits_its_run():
    for p in list_presets():
        assert schedule_warnings(RunSpec.from_json(p.spec)) == [], p.name


# --- the command line ---------------------------------------------------------------------


def test_lrlab_run_warns_on_stderr_before_training(tmp_path, capsys):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(dict(QUICK, schedule={"kind": "cosine", "T_max": 20})))
    assert main(["run", str(path), "--out", str(tmp_path / "w.lrlab"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("lrlab: warning: schedule.T_max is 20 steps but the run has 80 steps: ")
    assert captured.err.count("\n") == 1 and captured.out.startswith(str(tmp_path / "w.lrlab"))


def lrs_printed(capsys):
    return [float(row[1]) for row in list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]]


def test_lrlab_schedule_resolves_a_bare_schedule_against_steps(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"kind": "cosine", "T_max": "run"}))
    assert main(["schedule", str(path), "--steps", "5", "--lr", "1"]) == 0
    assert lrs_printed(capsys) == values(build(parse_schedule({"kind": "cosine", "T_max": 5}), 1.0), 0, 5).tolist()
    path.write_text(json.dumps({"kind": "step", "step_size": "2ep", "gamma": 0.5}))
    assert main(["schedule", str(path), "--steps", "6", "--lr", "1"]) == 2
    assert capsys.readouterr().err == ("lrlab: error: schedule.step_size: '2ep' counts epochs; give "
                                       "--steps-per-epoch N, or use a run spec or preset\n")
    assert main(["schedule", str(path), "--steps", "6", "--lr", "1", "--steps-per-epoch", "2"]) == 0
    assert lrs_printed(capsys) == [1, 1, 1, 1, 0.5, 0.5]


def test_lrlab_schedule_resolves_a_preset_against_its_run(capsys):
    assert main(["schedule", "one-cycle", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schedule"]["total_steps"] == 690 and len(out["lr"]) == 690
    assert int(np.argmax(out["lr"])) == pytest.approx(0.3 * 690, abs=2)
    assert main(["schedule", "one-cycle", "--steps", "10"]) == 0  # fewer steps printed, same run
    assert lrs_printed(capsys) == out["lr"][:10]
