"""Every schedule agrees with torch.optim.lr_scheduler at every one of 2,000 steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tls

from lrlab.core.schedules import MAX_LR, SCHEDULES, Timeline, build, parse_edit, parse_schedule, values
from lrlab.core.spec import SpecError

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


PARITY = [
    ({"kind": "step", "step_size": 300, "gamma": 0.5}, lambda o: tls.StepLR(o, 300, 0.5)),
    ({"kind": "step", "step_size": 1, "gamma": 0.999}, lambda o: tls.StepLR(o, 1, 0.999)),
    ({"kind": "multistep", "milestones": [100, 700, 1500], "gamma": 0.3},
     lambda o: tls.MultiStepLR(o, [100, 700, 1500], 0.3)),
    ({"kind": "exponential", "gamma": 0.998}, lambda o: tls.ExponentialLR(o, 0.998)),
    ({"kind": "cosine", "T_max": 2000, "eta_min": 0.0}, lambda o: tls.CosineAnnealingLR(o, 2000, 0.0)),
    ({"kind": "cosine", "T_max": 700, "eta_min": 0.001},
     lambda o: tls.CosineAnnealingLR(o, 700, 0.001)),  # runs past T_max: rises again, as torch does
    ({"kind": "cosine_restarts", "T_0": 150, "T_mult": 1, "eta_min": 0.0},
     lambda o: tls.CosineAnnealingWarmRestarts(o, 150, 1, 0.0)),
    ({"kind": "cosine_restarts", "T_0": 100, "T_mult": 2, "eta_min": 0.005},
     lambda o: tls.CosineAnnealingWarmRestarts(o, 100, 2, 0.005)),
    ({"kind": "cosine_restarts", "T_0": 7, "T_mult": 3, "eta_min": 0.0},
     lambda o: tls.CosineAnnealingWarmRestarts(o, 7, 3, 0.0)),
    ({"kind": "linear", "start_factor": 0.1, "end_factor": 1.0, "total_iters": 500},
     lambda o: tls.LinearLR(o, 0.1, 1.0, 500)),
    ({"kind": "linear", "start_factor": 1.0, "end_factor": 0.0, "total_iters": 2000},
     lambda o: tls.LinearLR(o, 1.0, 0.0, 2000)),
    ({"kind": "polynomial", "total_iters": 1500, "power": 2.0},
     lambda o: tls.PolynomialLR(o, 1500, 2.0)),
    ({"kind": "polynomial", "total_iters": 2000, "power": 1.0},
     lambda o: tls.PolynomialLR(o, 2000, 1.0)),
    ({"kind": "onecycle", "max_lr": 0.5, "total_steps": 2000},
     lambda o: tls.OneCycleLR(o, 0.5, total_steps=2000, cycle_momentum=False)),
    ({"kind": "onecycle", "max_lr": 0.5, "total_steps": 2000, "anneal_strategy": "linear",
      "pct_start": 0.25, "div_factor": 10, "final_div_factor": 100},
     lambda o: tls.OneCycleLR(o, 0.5, total_steps=2000, pct_start=0.25, anneal_strategy="linear",
                              div_factor=10, final_div_factor=100, cycle_momentum=False)),
    ({"kind": "onecycle", "max_lr": 1.0, "total_steps": 2000, "three_phase": True},
     lambda o: tls.OneCycleLR(o, 1.0, total_steps=2000, three_phase=True, cycle_momentum=False)),
    ({"kind": "cyclic", "base_lr": 0.01, "max_lr": 0.2, "step_size_up": 250},
     lambda o: tls.CyclicLR(o, 0.01, 0.2, step_size_up=250, cycle_momentum=False)),
    ({"kind": "cyclic", "base_lr": 0.01, "max_lr": 0.2, "step_size_up": 100, "step_size_down": 300,
      "mode": "triangular2"},
     lambda o: tls.CyclicLR(o, 0.01, 0.2, step_size_up=100, step_size_down=300, mode="triangular2",
                            cycle_momentum=False)),
    ({"kind": "cyclic", "base_lr": 0.01, "max_lr": 0.2, "step_size_up": 200, "mode": "exp_range",
      "gamma": 0.999},
     lambda o: tls.CyclicLR(o, 0.01, 0.2, step_size_up=200, mode="exp_range", gamma=0.999,
                            cycle_momentum=False)),
    ({"kind": "warmup", "warmup_steps": 100, "start_factor": 0.05,
      "then": {"kind": "cosine", "T_max": 1900}},
     lambda o: tls.SequentialLR(o, [tls.LinearLR(o, 0.05, 1.0, 100), tls.CosineAnnealingLR(o, 1900)],
                                milestones=[100])),
    ({"kind": "sequence", "milestones": [400],
      "schedules": [{"kind": "constant"}, {"kind": "exponential", "gamma": 0.997}]},
     lambda o: tls.SequentialLR(o, [tls.ConstantLR(o, 1.0, 400), tls.ExponentialLR(o, 0.997)],
                                milestones=[400])),
]


@pytest.mark.parametrize("spec, make", PARITY, ids=lambda v: v["kind"] if isinstance(v, dict) else "")
def test_matches_torch_at_every_step(spec, make):
    """Both ways of evaluating: lr(t) one step at a time (the training loop) and the whole
    array at once (previews, ``values``)."""
    expected = torch_lrs(make)
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


def test_round_trip_is_lossless():
    for spec, _ in PARITY:
        parsed = parse_schedule(spec)
        again = parse_schedule(parsed.to_json())
        assert again == parsed and again.to_json() == parsed.to_json()


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
#: what each kind needs besides its defaults; each case then pushes one parameter to an extreme
REQUIRED_FIELDS = {
    "constant": {}, "step": {"step_size": 1}, "multistep": {"milestones": [1, 2, 3]},
    "exponential": {"gamma": 2.0}, "cosine": {"T_max": 1}, "cosine_restarts": {"T_0": 1},
    "linear": {}, "polynomial": {}, "onecycle": {"total_steps": 10}, "cyclic": {"max_lr": 1.0},
    "inverse_sqrt": {}, "plateau": {},
    "warmup": {"warmup_steps": 3, "then": {"kind": "exponential", "gamma": HUGE}},
    "sequence": {"schedules": [{"kind": "exponential", "gamma": 1.5}, {"kind": "step", "step_size": 1,
                                                                        "gamma": HUGE}],
                 "milestones": [5000]},
}


def _extremes(check):
    """The edge values a numeric check allows: its bounds (or just inside them), else 1 and huge."""
    from lrlab.core.params import MAX_INTEGER, Num, Optional
    from lrlab.core.schedules import Duration

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


def _extreme_cases():
    for kind in SCHEDULES.kinds:
        base = {"kind": kind, **REQUIRED_FIELDS[kind]}  # a KeyError here: declare the new kind above
        yield kind, base
        for p in SCHEDULES.params_of(kind):
            for value in _extremes(p.check):
                if kind == "cyclic" and p.name in ("base_lr", "max_lr"):
                    value = {"base_lr": min(value, 0.5), "max_lr": max(value, 1.0)}[p.name]
                for mode in ({"triangular", "triangular2", "exp_range"} if kind == "cyclic" else {None}):
                    data = {**base, p.name: value, **({"mode": mode} if mode else {})}
                    yield f"{kind}.{p.name}={value:g}", parse_schedule(data).to_json()


@pytest.mark.parametrize("base_lr", [1e-300, 1e3])
def test_every_kind_is_finite_at_every_step_of_the_longest_run_with_extreme_parameters(base_lr):
    """Both paths (the trainer's lr(t) and the previews' vectorized at) agree and stay finite up
    to the last step of the longest run, at the edges of every parameter's range: the cyclic
    triangular2's 2 ** k divisor and a gamma of 2 over 3,000 steps used to overflow."""
    steps = np.unique(np.concatenate([np.arange(3000), np.linspace(0, LONGEST - 1, 1500).astype(np.int64),
                                      np.arange(LONGEST - 1500, LONGEST)]))
    seen = set()
    for name, data in _extreme_cases():
        seen.add(data["kind"])
        timeline = Timeline(parse_schedule(data), base_lr)
        timeline.apply(2000, parse_edit({"kind": "scale", "factor": HUGE}))
        for fn in (build(parse_schedule(data), base_lr), timeline):
            vectorized = fn.at(steps)
            scalar = np.array([fn(int(t)) for t in steps])
            assert np.isfinite(vectorized).all() and np.isfinite(scalar).all(), name
            assert (vectorized >= 0).all() and (vectorized <= MAX_LR).all(), name
            np.testing.assert_allclose(vectorized, scalar, rtol=1e-9, atol=0, err_msg=name)
    assert seen == set(SCHEDULES.kinds)
