"""Every schedule agrees with torch.optim.lr_scheduler at every one of 2,000 steps.

The cases are each kind's ``examples`` (on its declaration; see ``schedule_examples.py``), so a new
kind is checked here by declaring its examples, and ``tiny_schedule.py`` proves it."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tiny_schedule
import torch
from schedule_examples import examples, resolved
from torch.optim import lr_scheduler as tls

from lrlab.core.decl.params import MAX_INTEGER, Choice, Num, OfType, Optional
from lrlab.core.decl.schedules import (
    EDITS,
    LR,
    LR_FLOOR,
    MAX_LR,
    SCHEDULES,
    Duration,
    Timeline,
    build,
    duration_warnings,
    kind_class,
    parse_edit,
    parse_schedule,
    resolve_schedule,
    unregister_kind,
    values,
)
from lrlab.core.decl.spec import SpecError

STEPS = 2000
BASE = 0.1


def torch_lrs(make, steps=STEPS, base=BASE):
    """The LR torch uses for optimizer steps 0..steps-1 (read before each scheduler.step())."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base, momentum=0.9)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def ours(spec, steps=STEPS, base=BASE):
    return values(build(parse_schedule(spec), base), 0, steps).tolist()


def assert_close(a, b):
    assert len(a) == len(b)
    for step, (x, y) in enumerate(zip(a, b, strict=True)):
        assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-15), f"step {step}: lrlab {x} vs torch {y}"


#: (test id, spec, torch's scheduler) for every example that declares its torch equivalent
PARITY = [(name, spec, ex.torch) for name, spec, ex in examples() if ex.torch is not None]


def test_every_kind_has_examples():
    """A kind without examples would escape every per-kind test."""
    assert all(kind_class(kind).examples for kind in SCHEDULES.kinds)
    assert len(PARITY) >= 20  # every kind torch has, some several times


@pytest.mark.parametrize("name, spec, torch_scheduler", PARITY, ids=[name for name, _, _ in PARITY])
def test_matches_torch_at_every_step(name, spec, torch_scheduler):
    """Both ways of evaluating: lr(t) one step at a time (the training loop) and the whole
    array at once (previews, ``values``)."""
    expected = torch_lrs(torch_scheduler.make)
    assert_close(ours(spec), expected)
    fn = build(parse_schedule(spec), BASE)
    assert_close([fn(t) for t in range(STEPS)], expected)


def test_timelines_evaluate_arrays_like_steps():
    """Edits, plateau reductions, global-time schedules and overflowing exponentials, as arrays."""
    tl = Timeline(parse_schedule({"kind": "plateau", "factor": 0.5}), 0.1)
    tl.reduce_from(300, 0.05)
    tl.apply(500, parse_edit({"kind": "scale", "factor": 3}))
    tl.apply(900, parse_edit({"kind": "schedule", "time": "global",
                              "schedule": {"kind": "cyclic", "max_lr": 0.3, "step_size_up": 7,
                                           "mode": "triangular2"}}))
    tl.apply(1400, parse_edit({"kind": "schedule", "schedule": {"kind": "exponential", "gamma": 1.5}}))
    steps = np.arange(0, 6000)
    with np.errstate(over="raise"):
        arr = tl.at(steps)  # no overflow warning: the exponential is held at the ceiling
    assert arr[299] == 0.1 and arr[300] == 0.05 and arr[500] == pytest.approx(0.15)
    assert arr[-1] == MAX_LR
    scalar = [tl(int(t)) for t in steps]  # no OverflowError either
    np.testing.assert_allclose(arr, scalar, rtol=1e-12)


@pytest.mark.parametrize("mode,threshold_mode,cooldown", [("min", "rel", 0), ("min", "abs", 3),
                                                          ("max", "rel", 2)])
def test_plateau_matches_reduce_lr_on_plateau(mode, threshold_mode, cooldown):
    # a loss that falls, stalls, wiggles and falls again: several reductions happen
    gen = torch.Generator().manual_seed(1)
    metrics = [1 / (1 + 0.01 * i) + 0.05 * float(torch.rand(1, generator=gen)) for i in range(400)]
    if mode == "max":
        metrics = [-m for m in metrics]
    kw = dict(mode=mode, factor=0.5, patience=5, threshold=1e-3, threshold_mode=threshold_mode,
              cooldown=cooldown, min_lr=1e-4)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    ref = tls.ReduceLROnPlateau(opt, **kw)
    fn = build(parse_schedule({"kind": "plateau", **kw}), BASE)
    reductions = 0
    for i, m in enumerate(metrics):
        ref.step(m)
        reductions += fn.observe(m, i + 1) is not None
        assert math.isclose(fn(i + 1), opt.param_groups[0]["lr"], rel_tol=1e-12), f"evaluation {i}"
    assert reductions >= 3
    # the LR at earlier steps is what it was then: replaying history gives the same curve
    assert fn(0) == BASE


def test_every_kind_has_a_documented_formula():
    for kind in SCHEDULES.kinds:
        doc = SCHEDULES.docs[kind]
        assert "lr" in doc or "LR" in doc, kind


def test_warmup_exponential_and_inverse_sqrt():
    fn = build(parse_schedule({"kind": "warmup", "warmup_steps": 4, "start_factor": 0.01,
                               "mode": "exponential"}), 1.0)
    assert [round(fn(t), 6) for t in range(6)] == [0.01, round(0.01 ** 0.75, 6),
                                                   0.1, round(0.01 ** 0.25, 6), 1.0, 1.0]
    inv = build(parse_schedule({"kind": "inverse_sqrt", "warmup_steps": 100}), 1.0)
    assert inv(0) == pytest.approx(0.01)
    assert inv(99) == 1.0
    assert inv(399) == pytest.approx(0.5)


def test_linear_warmup_may_start_from_zero_but_an_exponential_one_may_not():
    fn = build(parse_schedule({"kind": "warmup", "warmup_steps": 4, "start_factor": 0,
                               "then": {"kind": "constant"}}), 0.2)
    assert [fn(t) for t in range(6)] == [0.0, 0.05, 0.1, pytest.approx(0.15), 0.2, 0.2]
    with pytest.raises(SpecError) as err:
        parse_schedule({"kind": "warmup", "warmup_steps": 4, "start_factor": 0, "mode": "exponential"})
    assert str(err.value) == ("schedule.start_factor: must be > 0 with mode 'exponential': the ramp multiplies "
                              "by a constant factor each step and cannot leave 0 (use mode 'linear' to start "
                              "from zero), got 0")


def test_onecycle_holds_final_lr_after_total_steps_and_defaults_to_optimizer_lr():
    fn = build(parse_schedule({"kind": "onecycle", "total_steps": 100}), 0.4)
    assert max(fn(t) for t in range(100)) == pytest.approx(0.4)
    assert fn(150) == fn(99) == pytest.approx(0.4 / 25 / 1e4)


@pytest.mark.parametrize("data, message", [
    ({"kind": "cosin"}, "schedule.kind: unknown 'cosin', did you mean 'cosine'?"),
    ({"kind": "cosine"}, "schedule.T_max: is required"),
    ({"kind": "step", "step_size": 0},
     'schedule.step_size: must be a whole number of steps >= 1, "Nep", "P%" or "run", got 0'),
    ({"kind": "step", "step_size": 10, "gama": 0.5}, "schedule.gama: unknown field, did you mean 'gamma'?"),
    ({"kind": "multistep", "milestones": [10, 5]}, "schedule.milestones: must be strictly increasing"),
    ({"kind": "sequence", "schedules": [{"kind": "constant"}], "milestones": [10]},
     "schedule.milestones: must have one entry fewer than schedules"),
    ({"kind": "warmup", "warmup_steps": 10, "then": {"kind": "cosine", "T_max": -3}},
     'schedule.then.T_max: must be a whole number of steps >= 1, "Nep", "P%" or "run", got -3'),
    ({"kind": "warmup", "warmup_steps": 10, "then": {"kind": "plateau"}}, "can only be the top-level"),
    ({"kind": "cyclic", "base_lr": 0.1, "max_lr": 0.05}, "schedule.max_lr: must be > base_lr"),
    ({"kind": "cosine", "T_max": 10, "eta_min": float("nan")}, "schedule.eta_min: must be a finite number"),
])
def test_invalid_parameters_name_the_field(data, message):
    with pytest.raises(SpecError) as err:
        parse_schedule(data)
    assert message in str(err.value)


def test_all_problems_reported_at_once():
    with pytest.raises(SpecError) as err:
        parse_schedule({"kind": "onecycle", "total_steps": 0, "pct_start": 2, "bogus": 1})
    paths = {p for p, _ in err.value.problems}
    assert paths == {"schedule.total_steps", "schedule.pct_start", "schedule.bogus"}


@pytest.mark.parametrize("name, spec, example", examples(), ids=[name for name, _, _ in examples()])
def test_each_example_round_trips_losslessly_and_resolves(name, spec, example):
    parsed = parse_schedule(spec)
    again = parse_schedule(parsed.to_json())
    assert again == parsed and again.to_json() == parsed.to_json()
    fn = build(resolved(spec), BASE)
    lrs = fn.at(np.arange(STEPS))
    assert np.isfinite(lrs).all() and (lrs >= 0).all()


def test_constant_and_plateau_hold_the_base_lr_exactly():
    for spec in ({"kind": "constant"}, {"kind": "plateau"}):
        fn = build(parse_schedule(spec), 0.2)
        assert fn.at(np.arange(STEPS)).tolist() == [0.2] * STEPS and fn(STEPS) == 0.2


def _unwrapped(check):
    return check.inner if isinstance(check, Optional) else check


def test_every_named_lr_carries_the_lr_role():
    """A sweep scales exactly the fields with ``role="lr"`` (tests/core/test_sweep.py checks the result
    for every example): a field checked as an LR without the role would not follow the member's LR."""
    for registry in (SCHEDULES, EDITS):
        for kind in registry.kinds:
            for p in registry.params_of(kind):
                assert p.role in ("", "lr", "count"), (kind, p.name)
                if _unwrapped(p.check) in (LR, LR_FLOOR):
                    assert p.role == "lr", (kind, p.name)
    assert SCHEDULES.with_role("plateau", "lr") == ("min_lr", "eps")  # eps is an LR, though checked as >= 0


# --- the timeline of a run: base schedule plus mid-run edits --------------------------------


def test_timeline_edits_apply_from_their_step_and_never_change_the_past():
    cos = {"kind": "cosine", "T_max": 1000}
    tl = Timeline(parse_schedule(cos), 0.1)
    before = tl.values(0, 1000)
    tl.apply(300, parse_edit({"kind": "scale", "factor": 0.1}))
    tl.apply(500, parse_edit({"kind": "params", "params": {"T_max": 2000}}))
    tl.apply(700, parse_edit({"kind": "schedule", "schedule": {"kind": "exponential", "gamma": 0.99},
                              "time": "local"}))
    tl.apply(800, parse_edit({"kind": "hold", "lr": 0.002}))
    after = tl.values(0, 1000)
    assert (after[:300] == before[:300]).all()
    assert after[299] == before[299] and after[300] == pytest.approx(0.1 * before[300])
    # params keep the clock and the 0.1 scaling: cosine over 2000 steps evaluated at step 600
    assert after[600] == pytest.approx(0.1 * (0.1 * (1 + math.cos(math.pi * 600 / 2000)) / 2))
    assert after[700] == pytest.approx(0.1) and after[701] == pytest.approx(0.1 * 0.99)
    assert (after[800:] == 0.002).all()
    with pytest.raises(SpecError, match="cannot change the past"):
        tl.apply(100, parse_edit({"kind": "scale", "factor": 2}))


def test_global_time_schedule_edit_sees_the_run_step():
    tl = Timeline(parse_schedule({"kind": "constant"}), 0.1)
    tl.apply(50, parse_edit({"kind": "schedule", "time": "global", "lr": 1.0,
                             "schedule": {"kind": "exponential", "gamma": 0.9}}))
    assert tl(49) == 0.1
    assert tl(50) == pytest.approx(0.9 ** 50)


def test_params_edit_with_a_bad_field_is_rejected_with_its_path():
    tl = Timeline(parse_schedule({"kind": "cosine", "T_max": 100}), 0.1)
    with pytest.raises(SpecError) as err:
        tl.apply(10, parse_edit({"kind": "params", "params": {"T_max": 0}}))
    assert 'edit.params.T_max: must be a whole number of steps >= 1, "Nep", "P%" or "run", got 0' in str(err.value)
    assert len(tl.segments) == 1


def test_timeline_sample_is_every_step_or_an_even_spread():
    tl = Timeline(parse_schedule({"kind": "cosine", "T_max": 100_000}), 0.1)
    steps, lrs = tl.sample(10, 110)
    assert steps.tolist() == list(range(10, 110)) and lrs.tolist() == tl.values(10, 110).tolist()
    steps, lrs = tl.sample(0, 100_000, points=500)
    assert len(steps) == 500 and steps[0] == 0 and steps[-1] == 99_999
    assert lrs[-1] == pytest.approx(tl(99_999))
    assert tl.sample(50, 50)[0].size == 0


# --- every kind stays finite over the longest run the spec allows ---------------------------

LONGEST = 100_000_000  # RunSpec's largest ``steps``
HUGE = 1.7e308  # the largest float a JSON file can give an unbounded number
#: nested schedules that grow past float's range: the examples' bases are all tame
HOSTILE = [
    {"kind": "warmup", "warmup_steps": 3, "then": {"kind": "exponential", "gamma": HUGE}},
    {"kind": "sequence", "schedules": [{"kind": "exponential", "gamma": 1.5},
                                       {"kind": "step", "step_size": 1, "gamma": HUGE}], "milestones": [5000]},
]


def _extremes(check):
    """The edge values a numeric check allows: its bounds (or just inside them), else 1 and huge."""
    check = check.inner if isinstance(check, Optional) else check
    if isinstance(check, Duration):
        return [1, MAX_INTEGER]
    if not isinstance(check, Num):
        return []
    low = check.ge if check.ge is not None else (check.gt + 5e-324 if check.gt == 0 else
                                                  math.nextafter(check.gt, math.inf) if check.gt is not None else 1)
    top = MAX_INTEGER if check.integer else HUGE
    high = check.le if check.le is not None else (math.nextafter(check.lt, 0) if check.lt is not None else top)
    return [low, high]


#: every example, and the hostile specs: the bases that the extremes below start from
EXTREME_BASES = [(name, spec) for name, spec, _ in examples()] + [(f"hostile-{i}", d) for i, d in enumerate(HOSTILE)]


def _pushes(name, spec):
    """Whether the extremes start from this base too: each kind's first example, each example
    that picks another shape (a Choice or Bool away from its default: cyclic's modes, a
    three-phase one-cycle, an exponential warmup), and the hostile specs. The other examples
    differ only in numbers, which the extremes replace anyway."""
    if name.endswith("-0") or name.startswith("hostile"):
        return True
    return any(isinstance(p.check, (Choice, OfType)) and p.name in spec and spec[p.name] != p.default
               for p in SCHEDULES.params_of(spec["kind"]))


def _pushed(base):
    """``base`` with one numeric parameter at an edge of its range, each in turn; a value that
    breaks a rule across fields (cyclic's max_lr > base_lr) is skipped."""
    for p in SCHEDULES.params_of(base["kind"]):
        for value in _extremes(p.check):
            try:
                yield p.name, value, parse_schedule({**base, p.name: value}).to_json()
            except SpecError:
                continue


def test_every_numeric_parameter_reaches_an_edge_from_some_example():
    pushed = {(spec["kind"], p) for name, spec in EXTREME_BASES if _pushes(name, spec)
              for p, _, _ in _pushed(resolved(spec).to_json())}
    numeric = {(kind, p.name) for kind in SCHEDULES.kinds for p in SCHEDULES.params_of(kind) if _extremes(p.check)}
    assert pushed == numeric
    assert {spec["kind"] for _, spec in EXTREME_BASES} == set(SCHEDULES.kinds)


@pytest.mark.parametrize("base_lr", [1e-300, 1e3])
@pytest.mark.parametrize("name, spec", EXTREME_BASES, ids=[name for name, _ in EXTREME_BASES])
def test_every_kind_is_finite_at_every_step_of_the_longest_run_with_extreme_parameters(name, spec, base_lr):
    """Both paths (the trainer's lr(t) and the previews' vectorized at) agree and stay finite up
    to the last step of the longest run, at the edges of every parameter's range: the cyclic
    triangular2's 2 ** k divisor and a gamma of 2 over 3,000 steps used to overflow."""
    steps = np.unique(np.concatenate([np.arange(3000), np.linspace(0, LONGEST - 1, 1500).astype(np.int64),
                                      np.arange(LONGEST - 1500, LONGEST)]))
    base = resolved(spec).to_json()
    pushed = [(f"{name}.{p}={v:g}", d) for p, v, d in _pushed(base)] if _pushes(name, spec) else []
    for case, data in [(name, base), *pushed]:
        timeline = Timeline(parse_schedule(data), base_lr)
        timeline.apply(2000, parse_edit({"kind": "scale", "factor": HUGE}))
        for fn in (build(parse_schedule(data), base_lr), timeline):
            vectorized = fn.at(steps)
            scalar = np.array([fn(int(t)) for t in steps])
            assert np.isfinite(vectorized).all() and np.isfinite(scalar).all(), case
            assert (vectorized >= 0).all() and (vectorized <= MAX_LR).all(), case
            np.testing.assert_allclose(vectorized, scalar, rtol=1e-9, atol=0, err_msg=case)


# --- a new kind is one declaration ----------------------------------------------------------


@pytest.fixture
def tiny_kind():
    """``tiny_schedule.py``'s kind, registered for one test."""
    cls = tiny_schedule.declare()
    yield cls
    unregister_kind(cls.kind)
    assert tiny_schedule.KIND not in SCHEDULES.kinds


def test_a_new_kind_parses_validates_previews_fits_and_scales(tiny_kind):
    from lrlab.core.decl.spec import RunSpec, preview_timeline, schedule_warnings
    from lrlab.core.runs.sweep import scale_schedule

    kind = tiny_schedule.KIND
    assert kind in SCHEDULES.kinds and "lr(t) = base * f + floor" in SCHEDULES.docs[kind]  # menus, tooltips
    assert [p.name for p in SCHEDULES.params_of(kind)] == ["half_life", "factor", "floor"]  # its form's fields
    with pytest.raises(SpecError) as err:
        parse_schedule({"kind": kind, "half_life": 0, "floor": -1})
    assert [path for path, _ in err.value.problems] == ["schedule.half_life", "schedule.floor"]
    # nested, with a duration relative to the run, in a run spec and its preview
    schedule = {"kind": "warmup", "warmup_steps": 10, "then": {"kind": kind, "half_life": "run", "floor": 0.01}}
    spec = RunSpec.from_json({"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
                              "optimizer": {"name": "sgd", "lr": 0.1}, "steps": 110, "schedule": schedule})
    lr = preview_timeline(spec).values(0, 110)
    assert lr[10] == pytest.approx(0.1) and lr[109] == pytest.approx(0.01 + 0.09 * 0.5 ** (99 / 100))
    assert schedule_warnings(spec) == []
    short = parse_schedule({"kind": kind, "half_life": "2ep"})
    assert duration_warnings(short, 30, 20) == [
        'schedule.half_life ("2ep") is 40 steps but the run has 30 steps: the LR never halves']
    assert resolve_schedule(short, 30, 20)["half_life"] == 40
    # a sweep member's schedule: the declared LR field scales, so the curve is r times the reference
    s = parse_schedule({"kind": kind, "half_life": 50, "floor": 0.01})
    assert scale_schedule(s, 0.5)["floor"] == 0.005
    np.testing.assert_allclose(Timeline(scale_schedule(s, 0.5), 0.05).values(0, 200),
                               0.5 * Timeline(s, 0.1).values(0, 200), rtol=1e-12)
    # a mid-run switch to it
    tl = Timeline(parse_schedule({"kind": "constant"}), 0.1)
    tl.apply(5, parse_edit({"kind": "schedule", "schedule": {"kind": kind, "half_life": 4}}))
    assert tl(4) == 0.1 and tl(9) == pytest.approx(0.05)


def test_a_new_kind_is_picked_up_by_every_per_kind_test():
    """Registered before collection (as a plugin), the new kind's examples run through the
    per-kind tests of every file that has them: parity with torch, round trips, extreme
    parameters, durations, the CLI, a sweep's scaling and the landscape."""
    tests = Path(__file__).parents[1]
    files = ["core/test_schedules.py", "core/test_durations.py", "cli/test_cli_schedule.py", "core/test_sweep.py",
             "core/test_landscape.py"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "tiny_schedule", "-v", "-p", "no:cacheprovider",
                           "-k", f"{tiny_schedule.KIND} and not picked_up",
                           *[str(tests / f) for f in files]],
                          capture_output=True, text=True, env=env, cwd=tests.parent, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    passed = [line for line in proc.stdout.splitlines() if line.endswith("PASSED") or " PASSED " in line]
    for test in ("test_matches_torch_at_every_step[tiny_halving-0]", "test_each_example_round_trips",
                 "test_every_kind_is_finite_at_every_step_of_the_longest_run_with_extreme_parameters[tiny_halving-1",
                 "test_each_duration_field_takes_steps",
                 "test_csv_for_each_kind[tiny_halving]", "test_a_scaled_schedule_is_the_schedule_times_r",
                 "test_each_schedule_kind_drives_the_lr"):
        assert any(test in line for line in passed), (test, proc.stdout[-3000:])


def test_a_kind_that_holds_schedules_must_say_where_they_start():
    """Resolution and warnings walk nested schedules through children(); without it they would
    silently skip them, so declaring such a kind fails at once and registers nothing."""
    from lrlab.core.decl.params import Param
    from lrlab.core.decl.schedules import Schedule, schedule_kind

    with pytest.raises(TypeError, match="does not define children"):
        schedule_kind("tiny_wrapper", Param("inner", SCHEDULES, {"kind": "constant"}))(
            type("Wrapper", (Schedule,), {"__doc__": "lr(t) = inner(t)"}))
    assert "tiny_wrapper" not in SCHEDULES.kinds
