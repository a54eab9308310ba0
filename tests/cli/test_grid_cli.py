"""``lrlab grid``: the grid, the best LR per batch size and the rules on a terminal and as JSON;
bad input as one line and exit status 2 before anything trains."""

from __future__ import annotations

import json

import pytest

from lrlab.cli import main

TINY = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}, "epochs": 2, "batch_size": 16, "device": "cpu",
        "threads": 1}


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


def cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:
        code = stop.code
    printed = capsys.readouterr()
    return code, printed.out, printed.err


def test_json_has_the_issues_shape(spec_file, tmp_path, capsys):
    code, out, err = cli(capsys, "grid", spec_file, "--lrs", "0.01,0.3,100", "--batch-sizes", "8,32", "--seeds", "2",
                         "--target", "val_metric=0.6", "-o", tmp_path / "g", "--json", "-q")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert list(data) == ["budget", "cells", "best", "rules", "noise_scale", "knee"]
    assert data["budget"] == "epochs" and len(data["cells"]) == 3 * 2 * 2
    cell = data["cells"][0]
    assert list(cell) == ["batch_size", "lr", "seed", "status", "final_train_loss", "final_val_metric",
                          "steps_to_target", "session"]
    assert (cell["batch_size"], cell["lr"], cell["seed"]) == (8, 0.01, 0)
    assert {c["status"] for c in data["cells"] if c["lr"] == 100} == {"diverged"}
    assert set(data["best"]) == {"8", "32"} and data["best"]["8"]["lr"] in (0.01, 0.3)
    lr0 = data["best"]["8"]["lr"]
    assert data["rules"]["linear"] == {"32": pytest.approx(4 * lr0)}
    assert data["rules"]["sqrt"] == {"32": pytest.approx(2 * lr0)}
    assert set(data["knee"]) == {"steps_to_target", "critical_batch", "min_steps"}
    assert set(data["noise_scale"]) <= {"8", "32"}  # {} where the sessions record no noise scale
    assert (tmp_path / "g" / "summary.json").exists()


def test_the_table_shows_the_grid_and_the_rules(spec_file, tmp_path, capsys):
    code, out, _ = cli(capsys, "grid", spec_file, "--lrs", "1e-2:1:3", "--batch-sizes", "32,8", "--budget", "steps",
                       "-o", tmp_path / "g", "-q")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == str(tmp_path / "g")
    assert lines[1].split()[-3:] == ["0.01", "0.1", "1"] and lines[2].split()[0] == "8"
    assert lines[4].split() == ["batch", "best", "lr", "linear", "rule", "sqrt", "rule"]
    assert lines[-1].startswith("6 cells, budget steps")


@pytest.mark.parametrize(("argv", "message"), [
    (["--batch-sizes", "16,500"], "--batch-sizes: each batch size must be a whole number from 1 to 120"),
    (["--batch-sizes", ""], "--batch-sizes: '' is not a whole number"),
    (["--batch-sizes", "16,32,16"], "--batch-sizes: 16 appears more than once"),
    (["--batch-sizes", "16", "--lrs", "0.1,0.1"], "--lrs: 0.1 appears more than once"),
    (["--batch-sizes", "16", "--lrs", "1:0.1:3"], "--lrs: HI must be greater than LO"),
    (["--batch-sizes", "100", "--set", "steps=2"], "--budget: batch size 100 gets 0 steps with budget epochs"),
    (["--batch-sizes", "16", "--target", "val_metric=x"], "target: expected METRIC<=VALUE"),
])
def test_bad_input_is_one_line_and_exit_2(spec_file, tmp_path, capsys, argv, message):
    args = {"--lrs": "0.1"}
    rest = list(argv)
    if "--lrs" in rest:
        i = rest.index("--lrs")
        args["--lrs"] = rest[i + 1]
        del rest[i:i + 2]
    code, out, err = cli(capsys, "grid", spec_file, "--lrs", args["--lrs"], *rest, "-o", tmp_path / "g")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "g").exists()


def test_ray_runs_a_task_per_batch_size_with_the_same_json(ray_instance, spec_file, tmp_path, capsys):
    code, out, err = cli(capsys, "grid", spec_file, "--lrs", "0.01,0.3", "--batch-sizes", "8,32", "--ray",
                         "-o", tmp_path / "ray", "--json", "-q")
    assert code == 0, err
    data = json.loads(out)
    assert [(c["batch_size"], c["lr"]) for c in data["cells"]] == [(8, 0.01), (8, 0.3), (32, 0.01), (32, 0.3)]
    summary = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert summary["kind"] == "grid" and summary["ray"]["tasks"] == 2 and summary["best"] == data["best"]
