"""`lrlab run / replay / info / export` as a user types them."""

from __future__ import annotations

import csv
import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from lrlab.cli import main
from lrlab.core.storage.session import Session

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}, "epochs": 15, "batch_size": 16,
        "device": "cpu"}


def lrlab(*args, **kw):
    return subprocess.run([sys.executable, "-m", "lrlab", *map(str, args)], capture_output=True,
                          text=True, timeout=300, **kw)


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


def test_run_writes_a_session_and_prints_its_path_and_summary(spec_file, tmp_path, capsys):
    out = tmp_path / "a.lrlab"
    assert main(["run", str(spec_file), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == str(out)
    assert printed[1].startswith("finished, 120 steps") and "val accuracy" in printed[1]
    with Session.open(out) as s:
        assert s.status == "finished" and s.n_steps() == 120


def test_default_output_goes_to_the_sessions_folder(spec_file, lrlab_home, capsys):
    assert main(["run", str(spec_file), "--quiet"]) == 0
    path = capsys.readouterr().out.splitlines()[0]
    assert path.startswith(str(lrlab_home / "sessions")) and path.endswith("-iris-sgd-lr0.1-batch16.lrlab")


def test_two_edits_then_replay_verify_is_identical(spec_file, tmp_path):
    out = tmp_path / "edited.lrlab"
    proc = lrlab("run", spec_file, "--out", out, "--quiet",
                 "--edit", '30:{"kind":"scale","factor":0.1}',
                 "--edit", '60:{"kind":"schedule","schedule":{"kind":"cosine","T_max":40}}')
    assert proc.returncode == 0, proc.stderr
    with Session.open(out) as s:
        assert [step for step, _ in s.edits()] == [30, 60]
        lr = s.steps()["lr"]
        assert lr[29] == 0.1 and lr[30] == pytest.approx(0.01) and lr[60] == 0.1
    proc = lrlab("replay", out, "--verify")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "identical: 120 steps"


def test_replay_verify_reports_the_first_differing_step(spec_file, tmp_path, capsys):
    out = tmp_path / "x.lrlab"
    assert main(["run", str(spec_file), "--out", str(out), "--quiet"]) == 0
    con = sqlite3.connect(out)
    con.execute("UPDATE steps SET train_loss = train_loss + 0.5 WHERE step = 77")
    con.commit()
    con.close()
    capsys.readouterr()
    assert main(["replay", str(out), "--verify"]) == 1
    out = capsys.readouterr().out
    assert "differs: first at step 77 (train_loss); largest absolute difference 0.5" in out


def test_info_json_and_export(spec_file, tmp_path, capsys):
    out = tmp_path / "s.lrlab"
    main(["run", str(spec_file), "--out", str(out), "--quiet", "--edit", '50:{"kind":"hold","lr":0.01}'])
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["status"] == "finished" and info["steps"] == 120 and info["seed"] == 0
    assert info["spec"]["dataset"]["name"] == "iris"
    assert {"torch", "threads"} <= info["environment"].keys()
    assert info["summary"]["steps"] == 120
    csv_path, spec_path = tmp_path / "s.csv", tmp_path / "s.json"
    assert main(["export", str(out), "--csv", str(csv_path), "--spec", str(spec_path)]) == 0
    rows = list(csv.DictReader(csv_path.open()))
    assert list(rows[0]) == ["step", "epoch", "samples", "wall_time", "train_loss", "lr", "grad_norm",
                             "update_ratio", "noise_scale", "val_loss", "val_metric", "effective_lr_p5",
                             "effective_lr_p25", "effective_lr_p50", "effective_lr_p75", "effective_lr_p95"]
    recorded = [r for r in rows if r["effective_lr_p50"]]  # every 50 steps, all parameters; SGD: the LR itself
    assert [r["step"] for r in recorded] == ["0", "50", "100"]
    for r in recorded:  # float32 like the parameters
        assert float(r["effective_lr_p5"]) == float(r["effective_lr_p95"]) == pytest.approx(float(r["lr"]), rel=1e-6)
    assert [int(r["step"]) for r in rows] == list(range(120))
    assert float(rows[49]["lr"]) == 0.1 and float(rows[50]["lr"]) == 0.01
    with_eval = [r for r in rows if r["val_loss"]]
    assert with_eval and with_eval[-1]["step"] == "119" and rows[0]["val_loss"] == ""
    # every cell a spreadsheet reads as a number: plain floats, never numpy's "np.float64(...)"
    with csv_path.open() as f:
        body = list(csv.reader(f))[1:]
    numbers = [float(cell) for row in body for cell in row if cell != ""]
    assert len(numbers) >= 120 * 7 + 2 * len(with_eval)
    assert 0 < float(with_eval[-1]["val_metric"]) <= 1 and float(with_eval[-1]["val_loss"]) > 0
    # the exported spec runs again and gives the same losses
    again = tmp_path / "again.lrlab"
    assert main(["run", str(spec_path), "--out", str(again), "--quiet"]) == 0
    with Session.open(out) as a, Session.open(again) as b:
        assert a.steps()["train_loss"][:50].tolist() == b.steps()["train_loss"][:50].tolist()


def test_set_applies_to_the_spec_as_written(tmp_path, capsys):
    """Switching optimizer with --set: the old optimizer's defaults were never written, so they
    do not come along; a field the user did write that the new one lacks is still an error."""
    path, out = tmp_path / "adagrad.json", tmp_path / "adam.lrlab"
    path.write_text(json.dumps(dict(SPEC, epochs=2, optimizer={"name": "adagrad", "lr": 0.05})))
    assert main(["run", str(path), "--set", "optimizer.name=adam", "--out", str(out), "--quiet"]) == 0
    with Session.open(out) as s:
        assert s.spec_json["optimizer"] == {"name": "adam", "lr": 0.05, "betas": [0.9, 0.999], "eps": 1e-08,
                                            "weight_decay": 0.0, "amsgrad": False}
    path.write_text(json.dumps(dict(SPEC, optimizer={"name": "adagrad", "lr": 0.05, "lr_decay": 0.1})))
    capsys.readouterr()
    assert main(["run", str(path), "--set", "optimizer.name=adam", "--out", str(tmp_path / "no.lrlab")]) == 2
    assert capsys.readouterr().err == ("lrlab: error: optimizer.lr_decay: unknown field, did you mean "
                                       "'weight_decay'? (allowed: lr, betas, eps, weight_decay, amsgrad)\n")
    path.write_text(json.dumps({"dataset": {"name": "iris"}, "epochs": 1, "device": "cpu"}))  # no optimizer written
    out = tmp_path / "rmsprop.lrlab"
    assert main(["run", str(path), "--set", "optimizer.lr=0.02", "--set", "optimizer.name=rmsprop",
                 "--out", str(out), "--quiet"]) == 0
    with Session.open(out) as s:
        assert s.spec_json["optimizer"]["name"] == "rmsprop" and s.spec_json["optimizer"]["lr"] == 0.02


@pytest.mark.parametrize("args, message", [
    (["--set", "optimizer.lr=-1"], "optimizer.lr: must be a finite number > 0"),
    (["--set", "schedule.kind=cosin"], "schedule.kind: unknown 'cosin', did you mean 'cosine'?"),
    (["--edit", "x:{}"], "--edit: expected STEP:JSON"),
    (["--edit", '5:{"kind":"scale"}'], "--edit 5.factor: is required"),
    (["--set", "device=cuda:7"], "device: 'cuda:7' is not available on this machine"),
])
def test_bad_input_exits_2_with_one_line(spec_file, tmp_path, args, message):
    proc = lrlab("run", spec_file, "--out", tmp_path / "no.lrlab", "--quiet", *args)
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "no.lrlab").exists()


def test_damaged_session_input_exits_2(tmp_path):
    bad = tmp_path / "bad.lrlab"
    bad.write_text("hello")
    for command in (["info", bad], ["replay", bad, "--verify"], ["export", bad, "--csv", tmp_path / "o.csv"]):
        proc = lrlab(*command)
        assert proc.returncode == 2
        assert proc.stderr == f"lrlab: error: {bad}: not an lrlab session (not an SQLite database)\n"


def test_ctrl_c_stops_cleanly_and_keeps_the_file(tmp_path):
    spec = dict(SPEC, epochs=100_000)
    path = tmp_path / "long.json"
    path.write_text(json.dumps(spec))
    out = tmp_path / "long.lrlab"
    proc = subprocess.Popen([sys.executable, "-m", "lrlab", "run", str(path), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if out.exists():
            with Session.open(out) as s:
                if s.n_steps() > 500:
                    break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "stopping after this step" in stderr
    assert stdout.splitlines()[1].startswith("stopped, ")
    with Session.open(out) as s:
        assert s.status == "stopped"
        assert [e.kind for e in s.events()] == ["stop"]
        assert s.n_steps() > 500
