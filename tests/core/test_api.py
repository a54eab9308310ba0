"""lrlab from Python: the public API gives what the command prints, as objects, and TensorBoard
reads what `lrlab export --tensorboard` writes."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from testkit import read_run, without

import lrlab
from lrlab.cli import main

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}, "epochs": 15, "batch_size": 16,
        "device": "cpu"}


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


@pytest.fixture
def session(tmp_path):
    """A run with one mid-run edit at step 30 (LR x0.5)."""
    return lrlab.run(SPEC, out=tmp_path / "a.lrlab", optimizer__lr=0.05,
                     edits=[(30, {"kind": "scale", "factor": 0.5})])


def test_import_lrlab_stays_light_and_the_api_loads_on_first_use():
    code = ("import sys, lrlab\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lrlab', 'numpy', 'torch')))\n"
            "run = lrlab.run\n"
            "print(run.__module__, 'lrlab.api' in sys.modules, set(lrlab.__all__) <= set(dir(lrlab)))\n"
            "try:\n    lrlab.nothing\nexcept AttributeError as err:\n    print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["['lrlab', 'lrlab._version']", "lrlab.api True True",
                                "module 'lrlab' has no attribute 'nothing'"]


def test_run_takes_changes_as_set_does_and_trains_what_the_command_trains(spec_file, tmp_path, capsys):
    assert main(["run", str(spec_file), "--set", "optimizer.lr=0.05", "--set", "epochs=3", "--quiet",
                 "--out", str(tmp_path / "cli.lrlab")]) == 0
    both = [lrlab.run(spec_file, optimizer__lr=0.05, epochs=3, out=tmp_path / "kw.lrlab"),
            lrlab.run(SPEC, out=tmp_path / "map.lrlab", **{"optimizer.lr": 0.05, "epochs": 3})]
    cli = lrlab.open_session(tmp_path / "cli.lrlab")
    for s in both:
        assert s.spec == cli.spec and s.spec["optimizer"]["lr"] == 0.05 and s.n_steps == 24
        assert s.status == "finished" and s.summary["steps"] == 24
        np.testing.assert_array_equal(np.asarray(s.steps()["train_loss"]), np.asarray(cli.steps()["train_loss"]))


def test_changes_apply_to_the_json_as_written(tmp_path):
    """--set's rule: switching the optimizer does not drag the old one's defaulted fields along."""
    spec = {**SPEC, "optimizer": {"name": "adagrad", "lr": 0.1}, "epochs": 1}
    s = lrlab.run(spec, optimizer__name="adam", out=tmp_path / "adam.lrlab")
    assert s.spec["optimizer"]["name"] == "adam" and "lr_decay" not in s.spec["optimizer"]


def test_bad_input_is_a_spec_error_naming_the_field(tmp_path):
    with pytest.raises(lrlab.SpecError, match=r"optimizer\.lr: must be a finite number > 0"):
        lrlab.run(SPEC, optimizer__lr=-1, out=tmp_path / "x.lrlab")
    with pytest.raises(lrlab.SpecError, match=r"edits\[0\]"):
        lrlab.run(SPEC, edits=[(5, {"kind": "scale"})], out=tmp_path / "x.lrlab")
    assert not (tmp_path / "x.lrlab").exists()
    with pytest.raises(lrlab.SessionError, match="no such file"):
        lrlab.open_session(tmp_path / "missing.lrlab")


def test_session_reads_spec_status_summary_events_and_tables(session):
    s = lrlab.open_session(session.path)
    assert s.spec["optimizer"]["lr"] == 0.05 and s.status == "finished" and s.kind == "train"
    assert [(e.step, e.describe()) for e in s.events] == [(30, "LR x0.5")]
    steps, evals = s.steps(), s.evals()
    assert type(steps).__name__ == "DataFrame" and len(steps) == 120
    assert list(steps.columns)[:6] == ["step", "epoch", "samples", "wall_time", "train_loss", "lr"]
    assert steps["lr"][29] == 0.05 and steps["lr"][30] == 0.025
    assert evals["val_metric"].iloc[-1] == s.summary["final_val_metric"]
    assert s.info()["events"] == [{"step": 30, "kind": "edit", "edit": {"kind": "scale", "factor": 0.5}}]


def test_every_table_is_a_data_frame(session, tmp_path):
    """One type whatever the call: pandas is a dependency, never an optional path."""
    import pandas as pd

    steps = session.steps(["step", "lr"])
    assert isinstance(steps, pd.DataFrame) and list(steps.columns) == ["step", "lr"]
    assert steps["step"].dtype == np.int64 and steps["lr"][30] == 0.025
    for table in (session.evals(), session.effective_lr(), lrlab.library(tmp_path).to_frame()):
        assert isinstance(table, pd.DataFrame)
    assert lrlab.library(tmp_path).to_frame()["optimizer.lr"].tolist() == [0.05]


def test_replay_verifies_bit_for_bit_and_finds_the_first_difference(session):
    replay = session.replay(verify=True)
    assert replay.identical and replay.describe() == "identical: 120 steps"
    con = sqlite3.connect(session.path)
    con.execute("UPDATE steps SET train_loss = train_loss + 0.5 WHERE step = 77")
    con.commit()
    con.close()
    replay = lrlab.open_session(session.path).replay()
    assert replay.identical is False and replay.verification.first_difference == 77
    assert session.replay(verify=False).describe() == "replayed: finished, 120 steps"


def test_find_lr_returns_what_find_lr_json_prints(spec_file, tmp_path, capsys):
    assert main(["find-lr", str(spec_file), "--iters", "40", "--seeds", "2", "--json", "--quiet",
                 "--out", str(tmp_path / "cli.lrlab")]) == 0
    printed = json.loads(capsys.readouterr().out)
    found = lrlab.find_lr(spec_file, num_iter=40, seeds=2, out=tmp_path / "api.lrlab")
    assert found.to_json() == printed
    assert found.suggestions == {rule: s["lr"] for rule, s in printed["suggestions"].items()}
    assert found.lr == printed["suggestions"]["steepest"]["lr"]
    assert lrlab.open_session(found.session).kind == "range_test"
    assert found.describe().startswith("range test: ") and len(found.curve()["lr"]) == len(printed["lrs"])
    with pytest.raises(lrlab.SpecError, match="end_lr: must be greater than start_lr"):
        lrlab.find_lr(spec_file, start_lr=0.1, end_lr=0.01)


def test_sweep_returns_its_members_as_summary_json_has_them(tmp_path):
    result = lrlab.sweep(SPEC, [0.01, 0.1, 3.0], epochs=2, out=tmp_path / "sw")
    summary = json.loads((tmp_path / "sw" / "summary.json").read_text())
    assert result.rows() == summary["members"] and [m.lr for m in result.members] == [0.01, 0.1, 3.0]
    assert result.best is not None and result.best.lr == summary["best"]["lr"] == result.ranked()[0].lr
    assert result.to_json()["path"] == summary["path"] == result.path
    assert len(result.to_frame()) == 3
    with pytest.raises(lrlab.SpecError, match="seeds: 3 LRs x 100 seeds is more than 256 members"):
        lrlab.sweep(SPEC, [0.01, 0.1, 3.0], seeds=100)


def test_compare_returns_the_tables_compare_prints_and_the_curves(session, tmp_path, capsys):
    other = lrlab.run(SPEC, out=tmp_path / "b.lrlab", optimizer__lr=0.3)
    paths = [str(session.path), str(other.path)]
    assert main(["compare", *paths, "--metric", "lr"]) == 0
    printed = capsys.readouterr().out
    cmp = lrlab.compare(paths, metric="lr")
    assert printed == cmp.describe() + "\n"
    assert [r.name for r in cmp.summary] == ["a", "b"] and {d.field for d in cmp.differences if d.differs} == {
        "optimizer.lr", "edits"}
    x, y = cmp.curves["a"]
    np.testing.assert_array_equal(x, np.arange(120))
    np.testing.assert_array_equal(y, np.asarray(session.steps()["lr"]))  # the LR is never smoothed
    assert len(cmp.to_frame()) == 240 and cmp.write_csv(tmp_path / "long.csv") > 240
    with pytest.raises(ValueError, match="at least two"):
        lrlab.compare(paths[:1])


def test_schedule_gives_the_lrs_the_command_prints(capsys):
    assert main(["schedule", "cosine-warmup", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    np.testing.assert_array_equal(lrlab.schedule("cosine-warmup"), printed["lr"])
    lrs = lrlab.schedule({"kind": "cosine", "T_max": "run"}, 5, lr=1.0)
    np.testing.assert_allclose(lrs, [1.0, 0.9045085, 0.6545085, 0.3454915, 0.0954915], rtol=1e-6)
    with pytest.raises(lrlab.SpecError, match="steps: required"):
        lrlab.schedule({"kind": "cosine", "T_max": 10})
    with pytest.raises(lrlab.SpecError, match="counts epochs; give steps_per_epoch=N"):
        lrlab.schedule({"kind": "step", "step_size": "2ep"}, 10)


def test_library_frame_has_a_row_per_session_with_spec_status_and_summary(session, tmp_path):
    lrlab.run(SPEC, out=tmp_path / "b.lrlab", optimizer={"name": "adam", "lr": 0.01}, epochs=1)
    (tmp_path / "broken.lrlab").write_text("not a session")
    df = lrlab.library(tmp_path).to_frame().set_index("name")
    assert set(df.index) == {"a", "b", "broken"}
    assert df.loc["a", "optimizer.lr"] == 0.05 and df.loc["b", "optimizer.name"] == "adam"
    assert df.loc["a", "optimizer.momentum"] == 0.9 and np.isnan(df.loc["b", "optimizer.momentum"])
    assert df.loc["a", "status"] == "finished" and df.loc["b", "summary.steps"] == 8
    assert df.loc["a", "best_val_metric"] == session.summary["best_val_metric"]
    assert df.loc["broken", "status"].startswith("unreadable")
    assert len(lrlab.library(tmp_path)) == 3


# --- TensorBoard ---------------------------------------------------------------------------------


def test_export_tensorboard_writes_scalars_events_and_hparams_tensorboard_reads(session, tmp_path, capsys):
    pytest.importorskip("tensorboard")
    assert main(["export", str(session.path), "--tensorboard", str(tmp_path / "tb")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'tb' / 'a'}\n"
    assert len(list((tmp_path / "tb" / "a").glob("events.out.tfevents.*"))) == 1
    acc, hp = read_run(tmp_path / "tb" / "a")
    steps, evals = session.steps(), session.evals()
    loss = acc.Scalars("train_loss")
    assert [e.step for e in loss] == list(range(120))
    np.testing.assert_allclose([e.value for e in loss], steps["train_loss"], rtol=1e-6)
    assert [e.value for e in acc.Scalars("lr")][29:31] == pytest.approx([0.05, 0.025])
    assert [e.step for e in acc.Scalars("val_metric")] == list(evals["step"])
    assert len(acc.Scalars("update_ratio")) == int(np.isfinite(steps["update_ratio"]).sum())  # NaN left out
    text = acc.Tensors("events/text_summary")
    assert [(t.step, t.tensor_proto.string_val[0].decode()) for t in text] == [(30, "step 30: LR x0.5")]
    start = hp["_hparams_/session_start_info"].session_start_info.hparams
    assert start["optimizer.lr"].number_value == 0.05 and start["optimizer.name"].string_value == "sgd"
    assert start["status"].string_value == "finished" and start["model.hidden"].string_value == "[16]"
    metrics = {m.name.tag for m in hp["_hparams_/experiment"].experiment.metric_infos}
    assert metrics == {"train_loss", "val_loss", "val_metric"}

    assert main(["export", str(session.path), "--tensorboard", str(tmp_path / "tb")]) == 2
    assert "already exists and is not an empty folder" in capsys.readouterr().err
    assert session.to_tensorboard(tmp_path / "tb2") == tmp_path / "tb2" / "a"


def test_export_tensorboard_without_the_package_names_the_extra(session, tmp_path, monkeypatch, capsys):
    without(monkeypatch, "tensorboard", "torch.utils.tensorboard")
    assert main(["export", str(session.path), "--tensorboard", str(tmp_path / "tb")]) == 2
    err = capsys.readouterr().err
    assert err == ("lrlab: error: TensorBoard export needs the tensorboard package: "
                   "pip install 'lrlab[tensorboard]'\n")
    assert not (tmp_path / "tb" / "a").exists()


def test_landscape_takes_the_commands_short_forms_and_names_problems_in_pythons_words(tmp_path, capsys):
    land = lrlab.landscape("quadratic", optimizers=["sgd:lr=0.1", "adam:lr=0.05,betas=0.9:0.999"], start=(-2, 0.5),
                           steps=150)
    assert main(["landscape", "quadratic", "--opt", "sgd:lr=0.1", "--opt", "adam:lr=0.05,betas=0.9:0.999",
                 "--start=-2,0.5", "--steps", "150", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["trajectories"] == json.loads(json.dumps(land.results()))  # what the command prints
    assert land.step == 150 and land.trajectories[0].status == "converged"
    for call, message in (
            (lambda: lrlab.landscape("quadratic", optimizers=["sgd:lr=0.1", "sgd:lr=-1"]),
             "optimizers[1]: lr must be a finite number > 0"),
            (lambda: lrlab.landscape("rosenbruck"), "surface: unknown 'rosenbruck', did you mean 'rosenbrock'?"),
            (lambda: lrlab.landscape(), "give a surface"),
            (lambda: lrlab.landscape("quadratic", start="1"), "start: expected X,Y"),
            (lambda: lrlab.landscape("quadratic", edits=[(3, {"kind": "scale", "factor": 2, "trajectory": 2})]),
             "edits[0].trajectory: must be a trajectory number 1 to 1")):
        with pytest.raises(lrlab.SpecError, match=re.escape(message)):
            call()
    out = tmp_path / "l.lrlab"
    lrlab.landscape(demo="saddle", steps=40, edits=[(10, {"kind": "scale", "factor": 0.5, "trajectory": 2})],
                    out=out)
    assert lrlab.open_session(out).replay().identical


def test_presets_and_comparison_json_are_what_the_command_prints(session, tmp_path, capsys):
    assert main(["presets", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(lrlab.presets()))
    other = lrlab.run(SPEC, out=tmp_path / "b.lrlab", epochs=3)
    assert main(["compare", str(session.path), str(other.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == lrlab.compare([session.path, other.path]).to_json()
