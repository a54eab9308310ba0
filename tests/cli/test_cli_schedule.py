"""`lrlab schedule` prints values a user can paste into a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from schedule_examples import first_examples, resolved

from lrlab import __version__
from lrlab.cli import main
from lrlab.core.decl.schedules import build, values


@pytest.mark.parametrize("kind, example", first_examples(), ids=[kind for kind, _ in first_examples()])
def test_csv_for_each_kind(kind, example, tmp_path, capsys):
    """Each kind's first example (from its declaration), printed as the library evaluates it."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps(example))
    assert main(["schedule", str(path), "--steps", "10", "--lr", "0.2", "--steps-per-epoch", "2"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["step", "lr"]
    assert [int(r[0]) for r in rows[1:]] == list(range(10))
    lrs = [float(r[1]) for r in rows[1:]]
    assert all(lr >= 0 for lr in lrs)
    assert lrs == values(build(resolved(example, 10, 2), 0.2), 0, 10).tolist()


def test_run_spec_uses_its_optimizer_lr_and_json_format(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"dataset": {"name": "iris"}, "optimizer": {"name": "adam", "lr": 0.003},
                                "schedule": {"kind": "step", "step_size": 2, "gamma": 0.5}}))
    assert main(["schedule", str(path), "--steps", "5", "--json"]) == 0
    printed = capsys.readouterr()
    out = json.loads(printed.out)
    assert out["lr"] == [0.003, 0.003, 0.0015, 0.0015, 0.00075]
    assert out["base_lr"] == 0.003
    assert out["schedule"] == {"kind": "step", "step_size": 2, "gamma": 0.5}
    assert printed.err == ""


def test_format_json_still_works_with_a_warning_but_is_not_in_the_help(tmp_path, capsys):
    """Scripts written before --json keep working; the help shows only --json."""
    path = tmp_path / "s.json"
    path.write_text('{"kind": "constant"}')
    assert main(["schedule", str(path), "--steps", "2", "--format", "json"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["lr"] == [0.1, 0.1]
    assert printed.err == "lrlab: warning: --format json is deprecated: use --json\n"
    assert main(["schedule", str(path), "--steps", "2", "--format", "csv"]) == 0
    assert capsys.readouterr().out == "step,lr\n0,0.1\n1,0.1\n"
    proc = subprocess.run([sys.executable, "-m", "lrlab", "schedule", "--help"], capture_output=True, text=True)
    assert "--json" in proc.stdout and "--format" not in proc.stdout


@pytest.mark.parametrize("content, message", [
    ('{"kind": "cosin"}', "schedule.kind: unknown 'cosin', did you mean 'cosine'?"),
    ('{"kind": "cosine", "T_max": 0}',
     'schedule.T_max: must be a whole number of steps >= 1, "Nep", "P%" or "run", got 0'),
    ("not json", "not valid JSON"),
])
def test_bad_files_exit_2_with_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["schedule", str(path), "--steps", "3"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_bad_arguments_exit_2(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"kind": "constant"}')
    proc = subprocess.run([sys.executable, "-m", "lrlab", "schedule", str(path), "--steps", "-4"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--steps must be a whole number >= 1, got -4" in proc.stderr


def test_version_and_help():
    proc = subprocess.run([sys.executable, "-m", "lrlab", "--version"], capture_output=True, text=True)
    assert proc.stdout.strip() == f"lrlab {__version__}"
    proc = subprocess.run([sys.executable, "-m", "lrlab", "--help"], capture_output=True, text=True)
    assert "schedule" in proc.stdout and "print a schedule's LR at every step" in proc.stdout


def test_a_preset_prints_its_whole_run_by_default(capsys):
    assert main(["schedule", "step-decay"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 1 + 690  # digits: 1,437 training samples / 64 = 23 steps x 30 epochs
    assert rows[230] == "229,0.1" and rows[231].startswith("230,0.03")
