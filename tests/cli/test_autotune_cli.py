"""``lrlab autotune``: bad input is one line and exit 2 before anything trains; --json's shape."""

from __future__ import annotations

import json

import pytest

from lrlab.cli import main

pytest.importorskip("prodigyopt", reason="needs the extra autotune: pip install 'lrlab[autotune]'")

SPEC = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "device": "cpu"}


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


@pytest.mark.parametrize("args, message", [
    (["--budget", "500", "--methods", "given,prodigi"],
     "--methods: unknown method 'prodigi', did you mean 'prodigy'? (one or more of: given, range-cosine, "
     "range-onecycle, prodigy, schedulefree, pbt)"),
    (["--budget", "80"], "--budget: 80 steps is not longer than the range test's 100 steps (range-cosine, "
                         "range-onecycle train after it): give at least 101, or leave those methods out"),
    (["--budget", "500", "--target", "acc=0.9"],
     "--target: must be NAME=VALUE with NAME one of val_metric, val_loss, got 'acc=0.9'"),
    (["--budget", "500", "--seeds", "40"], "--seeds: must be from 1 to 16, got 40"),
])
def test_bad_input_is_one_line_and_exit_2(spec_file, tmp_path, capsys, args, message):
    assert main(["autotune", str(spec_file), *args, "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"lrlab: error: {message}\n"
    assert not (tmp_path / "out").exists()  # nothing trained, nothing written


def test_a_budget_below_one_is_refused_by_the_parser(spec_file, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["autotune", str(spec_file), "--budget", "0"])
    assert stop.value.code == 2
    assert "--budget must be a whole number >= 1, got 0" in capsys.readouterr().err


def test_json_has_the_issue_shape_and_every_run_replays(spec_file, tmp_path, capsys):
    out = tmp_path / "show"
    code = main(["autotune", str(spec_file), "--budget", "60", "--seeds", "1", "--methods", "given,prodigy",
                 "--target", "val_metric=0.5", "-o", str(out), "--json", "-q"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["budget"] == 60 and [m["name"] for m in data["methods"]] == ["given", "prodigy"]
    for m in data["methods"]:
        assert {"name", "final_val_metric", "steps_to_target", "wall_s", "sessions"} <= m.keys()
        assert m["final_val_metric"] > 0.5 and m["wall_s"] > 0 and len(m["sessions"]) == 1
    prodigy = data["methods"][1]["sessions"][0]
    assert main(["replay", prodigy, "--verify", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("identical: 60 steps")
