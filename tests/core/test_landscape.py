"""The loss landscape playground: surfaces, real optimizer steps, the run kind, the CLI and the window."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
from schedule_examples import examples

from lrlab.cli import main
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.schedules import SCHEDULES, Timeline, kind_class
from lrlab.core.decl.spec import OPTIMIZERS
from lrlab.core.features.landscape import (
    CSV_COLUMNS,
    DEMOS,
    DIVERGED,
    MAX_TRAJECTORIES,
    QUADRATIC_PRESETS,
    SURFACES,
    Landscape,
    LandscapeSpec,
    build_surface,
    critical_lr,
    describe_results,
    log_levels,
    parse_short,
    preset_lr,
    short_spec,
    write_csv,
)
from lrlab.core.storage.session import Session

#: every surface, also with parameters other than the defaults
SURFACE_SPECS = [{"kind": k} for k in SURFACES.kinds] + [
    {"kind": "quadratic", "condition": 250}, {"kind": "rosenbrock", "b": 10}, {"kind": "noisy_bowl", "condition": 3}]


def spec_of(*opts: str, surface: str = "quadratic", steps: int = 200, **extra) -> LandscapeSpec:
    return LandscapeSpec.from_json({"surface": parse_short(surface, SURFACES, "surface"), "steps": steps,
                                    "trajectories": [{"optimizer": parse_short(o, OPTIMIZERS, "opt")} for o in opts],
                                    **extra})


# --- surfaces ---------------------------------------------------------------------------------


@pytest.mark.parametrize("data", SURFACE_SPECS, ids=lambda d: "-".join(map(str, d.values())))
def test_gradient_of_each_surface_matches_autograd(data):
    surface = build_surface(data)
    x0, x1, y0, y1 = surface.box
    rng = np.random.default_rng(0)
    points = [surface.start, *surface.minima, *zip(rng.uniform(x0, x1, 20), rng.uniform(y0, y1, 20), strict=True)]
    for x, y in points:
        w = torch.tensor([x, y], dtype=torch.float64, requires_grad=True)
        surface.f(w[0], w[1]).backward()
        assert surface.grad(float(x), float(y)) == pytest.approx(w.grad.tolist(), rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("kind", SURFACES.kinds)
def test_each_surface_declares_formula_box_start_and_true_minima(kind):
    surface = build_surface({"kind": kind})
    assert SURFACES.docs[kind].startswith("f(x, y) = ") and surface.formula == SURFACES.docs[kind].splitlines()[0]
    x0, x1, y0, y1 = surface.box
    assert x0 < surface.start[0] < x1 and y0 < surface.start[1] < y1
    for mx, my in surface.minima:
        assert x0 < mx < x1 and y0 < my < y1
        assert surface.f(mx, my) == pytest.approx(surface.f_min, abs=1e-12)
        assert math.hypot(*surface.grad(mx, my)) < 1e-9  # a stationary point ...
    assert min(surface.curvatures) > 0  # ... with positive curvature: a minimum
    _, _, z = __import__("lrlab.core.features.landscape", fromlist=["grid"]).grid(surface, n=120)
    assert z.min() >= surface.f_min - 1e-9  # nothing on the grid lies below the known minimum


def test_quadratic_curvature_and_critical_step_sizes():
    surface = build_surface({"kind": "quadratic", "condition": 10})
    assert surface.max_curvature == 10
    sgd = OPTIMIZERS.parse({"name": "sgd", "lr": 0.1})
    assert critical_lr(sgd, 10) == pytest.approx(0.2)  # 2/L
    assert critical_lr(sgd.replace(momentum=0.9), 10) == pytest.approx(2 * 1.9 / 10)  # 2(1 + b)/L
    assert critical_lr(sgd.replace(momentum=0.9, nesterov=True), 10) == pytest.approx(2 * 1.9 / (2.8 * 10))
    assert critical_lr(sgd.replace(weight_decay=1.0), 10) == pytest.approx(2 / 11)
    assert critical_lr(OPTIMIZERS.parse({"name": "adam"}), 10) is None  # adaptive: no 2/L
    rosen = build_surface({"kind": "rosenbrock"})
    assert rosen.max_curvature == pytest.approx(1001.6006, rel=1e-6)  # Hessian [[802, -400], [-400, 200]] at (1, 1)


def test_log_levels_span_the_basin_and_the_cliffs():
    surface = build_surface({"kind": "beale"})
    from lrlab.core.features.landscape import grid

    _, _, z = grid(surface, n=200)
    levels = log_levels(z, surface.f_min, 14)
    assert len(levels) == 15 and np.all(np.diff(np.log(levels)) == pytest.approx(np.log(levels[1] / levels[0])))
    assert levels[0] < 1 and levels[-1] > 1e4  # Beale: a basin below 1, cliffs above 10^4


# --- gradient descent and 2/L -------------------------------------------------------------------


@pytest.mark.parametrize("condition", [1, 10, 100])
def test_gd_at_a_safe_lr_reaches_the_minimum_and_above_2_over_l_diverges(condition):
    crit = 2 / condition
    land = Landscape(LandscapeSpec.from_json({
        "surface": {"kind": "quadratic", "condition": condition}, "steps": 3000,
        "trajectories": [{"optimizer": {"name": "sgd", "lr": f * crit}} for f in (0.5, 0.97, 1.03)]})).run()
    safe, edge, above = land.trajectories
    assert safe.status == "converged" and math.hypot(*safe.point) < 1e-6
    assert edge.status == "converged"  # zigzags, but |1 - lr L| < 1
    if condition > 1:
        assert above.status == DIVERGED and above.diverged_at is not None
        assert above.steps == above.diverged_at + 1  # stopped at the step that left the box
        x0, x1, y0, y1 = land.box
        x, y = above.point
        assert not (x0 <= x <= x1 and y0 <= y <= y1)  # its last point is the first one outside


@pytest.mark.parametrize("opt", ["sgd:lr=1,momentum=0.9", "sgd:lr=1,momentum=0.5,nesterov=true",
                                 "sgd:lr=1,momentum=0.8,dampening=0.5", "sgd:lr=1,weight_decay=2"])
def test_critical_lr_is_the_boundary_for_momentum_nesterov_dampening_and_weight_decay(opt):
    spec = OPTIMIZERS.parse(parse_short(opt, OPTIMIZERS, "opt"))
    crit = critical_lr(spec, 10)
    below, over = spec.replace(lr=0.97 * crit), spec.replace(lr=1.03 * crit)
    # near the bound momentum's two modes decay alike and their sum swings wide before it shrinks:
    # started close to the minimum, the swing stays inside the box
    land = Landscape(LandscapeSpec.from_json({
        "surface": {"kind": "quadratic", "condition": 10}, "steps": 6000, "start": [-0.05, 0.05],
        "trajectories": [{"optimizer": below.to_json()}, {"optimizer": over.to_json()}]})).run()
    assert land.trajectories[0].status == "converged"
    assert land.trajectories[1].status == DIVERGED


def test_quadratic_presets_sit_around_2_over_l_and_do_what_their_names_say():
    assert [preset_lr(n) for n in QUADRATIC_PRESETS] == [0.02, 0.1, 0.2, 0.21]
    land = Landscape(LandscapeSpec.from_json(DEMOS["quadratic-all"].spec)).run()
    statuses = [t.status for t in land.trajectories]
    # too low still crawls at 200; too high (2/L) bounces between the walls and never settles
    assert statuses == ["running", "converged", "running", DIVERGED]
    assert preset_lr("too high", 100) == 2 / 100 < preset_lr("divergent", 100)
    too_high = land.trajectories[2].loss.data
    assert too_high[-20:].min() > 0.1 * too_high[0]  # not settling, whatever the shallow axis does
    # done is done: no "running" once the run has ended
    assert land.trajectories[0].describe(land.done) == "not settled after 200 steps"
    assert not any(line.endswith("running") for line in describe_results(land))


# --- the optimizers are torch's ------------------------------------------------------------------

OPTIMIZER_CASES = ["sgd:lr=0.0005", "sgd:lr=0.0005,momentum=0.9,weight_decay=0.01",
                   "sgd:lr=0.0005,momentum=0.9,nesterov=true,dampening=0", "sgd:lr=0.0005,momentum=0.5,dampening=0.3",
                   "adam:lr=0.05", "adam:lr=0.05,amsgrad=true,weight_decay=0.1", "adamw:lr=0.05,betas=0.8:0.99",
                   "rmsprop:lr=0.01", "rmsprop:lr=0.01,centered=true,momentum=0.5", "adagrad:lr=0.1,lr_decay=0.01"]


@pytest.mark.parametrize("opt", OPTIMIZER_CASES)
def test_each_step_equals_torch_optimizers_own_update(opt):
    """The reference: torch's class with its defaults, stepped by hand on the same gradients."""
    spec = spec_of(opt, surface="rosenbrock", steps=5)
    land = Landscape(spec)
    traj = land.trajectories[0]
    surface = land.surface
    o = spec.trajectories[0].optimizer
    kwargs = {k: (tuple(v) if k == "betas" else v) for k, v in o.params.items()}
    p = torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)
    reference = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                 "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}[o.kind]([p], **kwargs)
    for _ in range(5):
        x, y = p.detach().tolist()
        p.grad = torch.tensor(surface.grad(x, y), dtype=torch.float64)
        reference.step()
        land.advance()
        assert traj.point == tuple(p.detach().tolist())  # bit for bit
    assert traj.status != DIVERGED


def test_the_analytic_gradient_is_what_autograd_would_feed_the_optimizer():
    land = Landscape(spec_of("adam:lr=0.05", surface="beale", steps=1))
    x, y = land.start
    w = torch.tensor([x, y], dtype=torch.float64, requires_grad=True)
    land.surface.f(w[0], w[1]).backward()
    land.advance()
    assert land.trajectories[0].grad_norm.data[0] == pytest.approx(float(w.grad.norm()), rel=1e-12)


# --- schedules and mid-run edits -----------------------------------------------------------------

#: every example of every kind that does not react to the loss (plateau has its own test below)
SCHEDULE_CASES = [(name, spec) for name, spec, _ in examples() if not kind_class(spec["kind"]).stateful]


def test_every_schedule_kind_is_tested_here():
    assert {s["kind"] for _, s in SCHEDULE_CASES} == {k for k in SCHEDULES.kinds if not kind_class(k).stateful}
    assert any(v == "run" for _, s in SCHEDULE_CASES for v in s.values())  # durations that follow the run too


@pytest.mark.parametrize("name, schedule", SCHEDULE_CASES, ids=[name for name, _ in SCHEDULE_CASES])
def test_each_schedule_kind_drives_the_lr_of_every_step(name, schedule):
    spec = LandscapeSpec.from_json({"steps": 100, "trajectories": [
        {"optimizer": {"name": "sgd", "lr": 0.05}, "schedule": schedule}]})
    traj = Landscape(spec).run().trajectories[0]
    resolved = spec.trajectories[0].schedule  # "run" became 100 steps
    assert not any(isinstance(v, str) and v in ("run",) for v in resolved.to_json().values())
    n = traj.steps  # every step, unless a large LR (a cyclic's max_lr of 1) took it out of the view
    assert n == 100 or (traj.diverged_at == n - 1 and n > 1)
    timeline = Timeline(resolved, 0.05)
    assert np.array_equal(traj.lr.data, [timeline(t) for t in range(n)])  # lr(t), as the trainer calls it
    np.testing.assert_allclose(traj.lr.data, timeline.at(np.arange(n)), rtol=1e-12)  # and as previews see it


def test_plateau_watches_the_loss_and_its_reductions_are_events():
    spec = LandscapeSpec.from_json({"surface": {"kind": "noisy_bowl", "noise": 2.0}, "steps": 150, "trajectories": [
        {"optimizer": {"name": "sgd", "lr": 0.1}, "schedule": {"kind": "plateau", "patience": 3, "factor": 0.5}}]})
    land = Landscape(spec)
    notes = []
    while not land.done:
        notes += land.advance()
    plateaus = [n for n in notes if n.kind == "plateau"]
    assert plateaus and plateaus[0].data["trajectory"] == 1
    lrs = land.trajectories[0].lr.data
    assert lrs[plateaus[0].step] == pytest.approx(0.05) and lrs[plateaus[0].step - 1] == 0.1


def test_mid_run_edits_reach_one_trajectory_or_all():
    spec = spec_of("sgd:lr=0.02", "sgd:lr=0.02,momentum=0.5", "adam:lr=0.02", steps=60)
    land = Landscape(spec, edits=[(10, {"kind": "scale", "factor": 0.5, "trajectory": 2}),
                                  (20, {"kind": "hold", "lr": 0.01}),
                                  (30, {"kind": "optimizer", "momentum": 0.9})])
    land.run()
    a, b, c = (t.lr.data for t in land.trajectories)
    assert a[10] == 0.02 and b[10] == 0.01 and c[10] == 0.02
    assert a[25] == b[25] == c[25] == 0.01
    assert land.trajectories[1].optimizer.param_groups[0]["momentum"] == 0.9  # applied where the field exists
    assert [s for s, _ in land.applied] == [10, 20, 30] and land.applied[0][1]["trajectory"] == 2
    with pytest.raises(SpecError, match="trajectory: must be a trajectory number 1 to 3"):
        Landscape(spec, edits=[(5, {"kind": "scale", "factor": 2, "trajectory": 4})])
    with pytest.raises(SpecError, match=r"has no amsgrad|unknown field"):
        Landscape(spec).apply_edit({"kind": "optimizer", "amsgrad": True})


def test_an_optimizer_edit_no_trajectory_has_is_refused():
    land = Landscape(spec_of("adam:lr=0.1"))
    with pytest.raises(SpecError, match="adam has no momentum"):
        land.apply_edit({"kind": "optimizer", "momentum": 0.9})


# --- noise, divergence, validation -----------------------------------------------------------------


def test_noisy_bowl_is_seeded_and_every_trajectory_sees_the_same_noise():
    def path(seed: int, opts=("sgd:lr=0.1", "sgd:lr=0.1")):
        land = Landscape(spec_of(*opts, surface="noisy_bowl", steps=50, seed=seed)).run()
        return [t.x.data.copy() for t in land.trajectories]

    a, b = path(3)
    assert np.array_equal(a, b)  # same optimizer, same noise: the same path
    assert np.array_equal(path(3)[0], a) and not np.array_equal(path(4)[0], a)
    quiet = Landscape(spec_of("sgd:lr=0.1", surface="quadratic:condition=5", steps=50)).run()
    assert not np.array_equal(quiet.trajectories[0].x.data, a)  # the noise does something


def test_a_nan_ends_a_trajectory_as_diverged_and_the_others_go_on():
    land = Landscape(spec_of("sgd:lr=1000", "sgd:lr=0.001", surface="beale", steps=30)).run()
    wild, tame = land.trajectories
    assert wild.status == DIVERGED and wild.diverged_at == 0 and wild.steps == 1
    assert tame.steps == 30 and land.step == 30


def test_all_diverged_ends_the_run():
    land = Landscape(spec_of("sgd:lr=0.5", steps=500)).run()
    assert land.done and land.step < 500 and land.trajectories[0].describe().startswith("diverged at step ")


def test_spec_validation_reports_every_problem_with_its_path():
    with pytest.raises(SpecError) as err:
        LandscapeSpec.from_json({"surface": {"kind": "quadratic", "condition": 0}, "steps": 0,
                                 "trajectories": [{"optimizer": {"name": "sgd", "lr": -1}}]})
    paths = [p for p, _ in err.value.problems]
    assert paths == ["surface.condition", "steps", "trajectories[0].optimizer.lr"]
    with pytest.raises(SpecError, match=f"at most {MAX_TRAJECTORIES} trajectories"):
        LandscapeSpec.from_json({"trajectories": [{}] * 7})
    with pytest.raises(SpecError, match=r"start: must lie inside the view box"):
        LandscapeSpec.from_json({"start": [10, 0]})
    spec = LandscapeSpec.from_json({"steps": 80, "trajectories": [{"schedule": {"kind": "cosine", "T_max": "50%"}}]})
    assert spec.trajectories[0].schedule["T_max"] == 40
    assert LandscapeSpec.from_json(spec.to_json()) == spec  # round trip


def test_short_forms_round_trip():
    data = parse_short("adam:lr=0.05,betas=0.8:0.99,amsgrad=true", OPTIMIZERS, "--opt 1")
    assert data == {"name": "adam", "lr": 0.05, "betas": [0.8, 0.99], "amsgrad": True}
    spec = OPTIMIZERS.parse(data)
    assert short_spec(spec) == "adam:lr=0.05,betas=0.8:0.99,amsgrad=true"
    assert short_spec(OPTIMIZERS.parse({"name": "sgd"})) == "sgd:lr=0.1"
    assert parse_short("cosine:T_max=run", SCHEDULES, "s") == {"kind": "cosine", "T_max": "run"}
    with pytest.raises(SpecError, match="expected key=value"):
        parse_short("sgd:lr", OPTIMIZERS, "--opt 1")


def test_the_windows_edits_are_the_specs_own_and_validated():
    """Every change the window makes goes through LandscapeSpec (one parser, field paths)."""
    spec = LandscapeSpec.from_json({"surface": {"kind": "quadratic"}, "start": [1, 1],
                                    "trajectories": [{"optimizer": {"name": "sgd", "lr": 0.1}, "label": "a"}]})
    assert spec.with_setup({"kind": "quadratic", "condition": 4}, 50, 3).start == (1.0, 1.0)  # same box: kept
    moved = spec.with_setup({"kind": "himmelblau"}, 50, 3)
    assert moved.start is None and (moved.steps, moved.seed) == (50, 3)  # another box: its own start
    copy = spec.with_copy_of(0).trajectories[1]
    assert copy.optimizer["lr"] == 0.05 and copy.label == ""
    assert spec.with_copy_of(0).without_trajectory(0).trajectories[0] == copy
    assert spec.with_trajectory(0, {"optimizer": {"name": "adam"}}).trajectories[0].optimizer.kind == "adam"
    with pytest.raises(SpecError, match=r"trajectories\[0\]\.optimizer\.lr"):
        spec.with_trajectory(0, {"optimizer": {"name": "sgd", "lr": -1}})
    with pytest.raises(SpecError, match="trajectories"):
        spec.without_trajectory(0)

def test_csv_has_one_row_per_point_and_the_declared_columns(tmp_path):
    land = Landscape(spec_of("sgd:lr=0.1", "sgd:lr=0.3", steps=80)).run()
    out = tmp_path / "l.csv"
    rows = write_csv(land, out)
    with out.open() as f:
        table = list(csv.reader(f))
    assert tuple(table[0]) == CSV_COLUMNS == ("trajectory", "optimizer", "step", "x", "y", "loss", "lr", "status")
    first = [r for r in table[1:] if r[0] == "1"]
    assert len(first) == 81 and first[0][2:5] == ["0", "-2.5", "0.8"] and first[-1][6] == ""
    assert first[-1][7] == "converged" and rows == len(table) - 1
    wild = [r for r in table[1:] if r[0] == "2"]
    assert wild[-1][7] == "diverged" and all(r[7] != "diverged" for r in wild[:-1])


# --- the run kind: sessions and replays ----------------------------------------------------------


def test_a_landscape_session_saves_every_trajectory_and_replays_identical(tmp_path, capsys):
    from lrlab.core.runs import RecordedRun
    from lrlab.core.runs.landscape import result_of, run_spec_of, verify

    spec = LandscapeSpec.from_json({**DEMOS["noisy-decay"].spec, "steps": 120})
    out = tmp_path / "l.lrlab"
    run = RecordedRun(run_spec_of(spec), out, kind="landscape", landscape=spec.to_json(),
                      edits=[(40, {"kind": "scale", "factor": 0.5, "trajectory": 3})])
    assert run.run() == "finished"
    land = run.runner.landscape
    with Session.open(out) as s:
        assert s.kind == "landscape" and s.meta["landscape"] == spec.to_json() and s.n_steps() == 120
        steps = s.steps()
        first = land.trajectories[0]
        assert np.array_equal(steps["train_loss"], first.loss.data[:120])
        assert np.array_equal(steps["lr"], first.lr.data) and np.array_equal(steps["grad_norm"], first.grad_norm.data)
        saved = s.summary["landscape"]["trajectories"]
        assert [t["x"] for t in saved] == [t.x.data.tolist() for t in land.trajectories]
        assert [(e.step, e.data["trajectory"]) for e in s.events() if e.kind == "edit"] == [(40, 3)]
        assert verify(s) == []
        assert result_of(s).trajectories[2].lr.data[40] == pytest.approx(0.075)
    assert main(["replay", str(out), "--verify", "--quiet"]) == 0
    assert capsys.readouterr().out.strip().endswith("identical: 120 steps")
    assert main(["export", str(out), "--csv", str(tmp_path / "steps.csv")]) == 0
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "surface   noisy_bowl" in info and "trajectory 3" in info


def test_a_run_cut_short_and_a_stopped_run_replay_as_far_as_they_got(tmp_path):
    from lrlab.core.runs import RecordedRun, replay_runner
    from lrlab.core.runs.landscape import run_spec_of

    spec = LandscapeSpec.from_json(DEMOS["quadratic-all"].spec)
    out = tmp_path / "cut.lrlab"
    run = RecordedRun(run_spec_of(spec), out, kind="landscape", landscape=spec.to_json(), max_steps=37)
    assert run.run() == "stopped"
    with Session.open(out) as s:
        runner = replay_runner(s)
        assert runner.run() == "stopped" and runner.step == 37
    stop = RecordedRun(run_spec_of(spec), tmp_path / "s.lrlab", kind="landscape", landscape=spec.to_json())
    stop.runner.stop()
    assert stop.run() == "stopped" and stop.runner.step == 0


def test_live_edits_and_bad_edits_are_recorded():
    from lrlab.core.runs.landscape import LandscapeRunner, run_spec_of

    spec = LandscapeSpec.from_json(DEMOS["quadratic-all"].spec)
    runner = LandscapeRunner(run_spec_of(spec), landscape=spec)
    runner.edit({"kind": "hold", "lr": 0.01, "trajectory": 1})
    runner.edit({"kind": "hold", "lr": 0.01, "trajectory": 9})
    runner.run()
    kinds = [(e.kind, e.step) for e in runner.events]
    assert ("edit", 0) in kinds and ("rejected", 0) in kinds
    assert runner.landscape.trajectories[0].lr.data[0] == 0.01


# --- the command line ---------------------------------------------------------------------------------


def test_cli_lists_surfaces_with_their_formulas(capsys):
    assert main(["landscape", "--list"]) == 0
    out = capsys.readouterr().out
    for kind in SURFACES.kinds:
        assert kind in out and build_surface({"kind": kind}).formula in out


def test_cli_saves_a_session_with_edits(tmp_path, capsys):
    out = tmp_path / "c.lrlab"
    assert main(["landscape", "--demo", "saddle", "--steps", "40", "--out", str(out),
                 "--edit", '10:{"kind":"scale","factor":0.5,"trajectory":2}']) == 0
    assert str(out) in capsys.readouterr().out
    assert main(["replay", str(out), "--verify", "--quiet"]) == 0


@pytest.mark.parametrize(("argv", "message"), [
    (["landscape"], "name a SURFACE"),
    (["landscape", "rosenbruck"], "SURFACE: unknown 'rosenbruck', did you mean 'rosenbrock'?"),
    (["landscape", "quadratic", "--opt", "sgd:lr=-1"], "--opt 1: lr must be a finite number > 0"),
    (["landscape", "quadratic", "--opt", "sgd:lr=0.1", "--schedule", "cosine"], "--schedule 1: T_max is required"),
    (["landscape", "quadratic", "--start", "1"], "--start: expected X,Y"),
    (["landscape", "quadratic", "--start=9,9"], "--start: must lie inside the view box"),
    (["landscape", "--demo", "sadle"], "did you mean 'saddle'"),
    (["landscape", "quadratic", "--edit", '3:{"kind":"scale","factor":2,"trajectory":2}'], "trajectory number 1 to 1"),
    (["landscape", "quadratic"] + ["--opt", "sgd"] * 7, "at most 6 trajectories"),
])
def test_cli_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


# --- the window -------------------------------------------------------------------------------------------


# --- the packages' shape ---------------------------------------------------------------------------

#: the longest a module of the landscape packages may be: past it, split it by what it owns
MODULE_LINES = 500


def test_landscape_packages_are_small_modules_and_the_core_imports_no_qt():
    import ast
    import subprocess
    import sys
    from pathlib import Path

    lrlab_dir = Path(__file__).resolve().parents[2] / "lrlab"
    core, gui = lrlab_dir / "core" / "features" / "landscape", lrlab_dir / "gui" / "landscape"
    modules = sorted(core.glob("*.py")) + sorted(gui.glob("*.py"))
    assert len(modules) >= 8 and (core / "__init__.py") in modules and (gui / "__init__.py") in modules
    long = {str(f.relative_to(lrlab_dir)): n for f in modules if (n := len(f.read_text().splitlines())) >= MODULE_LINES}
    assert long == {}
    qt = ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph")
    for f in sorted(core.glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.split(".")[0] in qt or n.startswith("lrlab.gui")], f.name
    code = ("import sys, lrlab.core.features.landscape as l\n"
            "l.Landscape(l.spec_from_short('quadratic', optimizers=['adam:lr=0.1'], steps=5)).run()\n"
            f"print(sorted(k for k in sys.modules if k.split('.')[0] in {qt!r} or k.startswith('lrlab.gui')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
