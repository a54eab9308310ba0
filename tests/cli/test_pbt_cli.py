"""`lrlab pbt` as a user types it: the --json shape, and one line with exit 2 for bad input."""

from __future__ import annotations

import json

import pytest

from lrlab.cli import main

SPEC = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "steps": 40, "batch_size": 32,
        "device": "cpu"}


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


def test_json_has_the_winner_the_members_and_the_exploits(spec_file, tmp_path, capsys):
    out = tmp_path / "pbt"
    assert main(["pbt", str(spec_file), "--population", "4", "--interval", "10", "-o", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["winner", "members", "exploits"]
    assert list(data["winner"]) == ["member", "schedule", "final_val_metric"]
    assert data["winner"]["schedule"]["kind"] in ("constant", "sequence")
    assert [m["member"] for m in data["members"]] == [0, 1, 2, 3]
    for m in data["members"]:
        assert list(m) == ["member", "final_val_metric", "lineage", "session"]
        assert m["session"].startswith(str(out))
        for step, source, lr in m["lineage"]:
            assert step in (10, 20, 30) and 0 <= source < 4 and lr > 0
    assert data["exploits"] == 3 == sum(len(m["lineage"]) for m in data["members"])
    assert max(m["final_val_metric"] for m in data["members"]) == data["winner"]["final_val_metric"]
    # a member replays on its own: the whole population re-runs
    exploited = next(m for m in data["members"] if m["lineage"])
    assert main(["replay", exploited["session"], "--verify"]) == 0
    assert "identical: 40 steps" in capsys.readouterr().out


@pytest.mark.parametrize(("flags", "message"), [
    (["--population", "1", "--interval", "10"], "--population: must be a whole number from 2 to 256, got 1"),
    (["--population", "4", "--interval", "41"], "--interval: must be at most the run's 40 steps, got 41"),
    (["--population", "4", "--interval", "10", "--quantile", "0"], "--quantile: must be a number in (0, 0.5]"),
    (["--population", "4", "--interval", "10", "--quantile", "0.75"], "--quantile: must be a number in (0, 0.5]"),
    (["--population", "4", "--interval", "10", "--perturb", "0.8,0"], "--perturb: each factor must be"),
    (["--population", "4", "--interval", "10", "--perturb=-1,2"], "--perturb: each factor must be"),
    (["--population", "4", "--interval", "10", "--perturb", "2"], "--perturb: expected two factors"),
])
def test_bad_input_is_one_line_and_exit_2(spec_file, tmp_path, capsys, flags, message):
    assert main(["pbt", str(spec_file), *flags, "-o", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "p").exists()
