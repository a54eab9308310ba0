"""Your own code from the command line: a session that names it never runs it by itself."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from lrlab.cli import main
from lrlab.core.decl import usercode
from lrlab.core.decl.files import sha256_file

CANARY_MODEL = """
import os
from pathlib import Path

Path(os.environ["LRLAB_CANARY"]).write_text("imported")  # what any import of this file leaves

from torch import nn

def build(sample_shape, n_outputs):
    return nn.Sequential(nn.Linear(sample_shape[0], 8), nn.Tanh(), nn.Linear(8, n_outputs))
"""


def run_main(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """A session of a model whose file writes a canary when imported, and the canary's path."""
    canary = tmp_path / "canary"
    monkeypatch.setenv("LRLAB_CANARY", str(canary))
    (tmp_path / "canary_model.py").write_text(textwrap.dedent(CANARY_MODEL))
    spec = {"dataset": {"name": "iris"}, "model": {"kind": "python", "entry": "canary_model.py:build"},
            "optimizer": {"name": "sgd", "lr": 0.1}, "steps": 20, "batch_size": 16, "device": "cpu"}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    assert run_main("run", tmp_path / "spec.json", "-q", "-o", tmp_path / "a.lrlab") == 0
    assert canary.exists()  # naming the spec on the command line is consent: the model ran
    canary.unlink()
    usercode.forget_all()  # what a new lrlab process knows: only the session file
    return tmp_path / "a.lrlab", canary


READ_ALL = """
import sys
import lrlab
from lrlab.cli import main

session, out = sys.argv[1], sys.argv[2]
for args in (["info", session], ["info", session, "--json"], ["compare", session, session],
             ["export", session, "--csv", out + "/steps.csv", "--spec", out + "/spec-out.json"]):
    assert main(args) == 0, args
s = lrlab.open_session(session)
s.steps(); s.evals(); s.info()
lrlab.compare([session, session]).describe()
assert not [m for m in sys.modules if m.startswith("lrlab_user")]
"""


def test_reading_a_session_never_imports_its_code(recorded, tmp_path):
    """Opening, info, compare and export in a fresh process: the canary the model file writes on
    import stays absent."""
    session, canary = recorded
    proc = subprocess.run([sys.executable, "-c", READ_ALL, str(session), str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "steps.csv").exists() and "canary_model.py" in (tmp_path / "spec-out.json").read_text()
    assert not canary.exists()


def test_replay_and_fork_need_code_named(recorded, tmp_path, capsys):
    session, canary = recorded
    assert run_main("info", session) == 0
    sha = sha256_file(tmp_path / "canary_model.py")
    assert (f"  code      model: {tmp_path / 'canary_model.py'}:build (sha256 {sha}); replay and fork need "
            "--code FILE") in capsys.readouterr().out.splitlines()
    for args in (["replay", session, "--verify"], ["fork", session, "--at", "10", "-o", tmp_path / "f.lrlab"]):
        assert run_main(*args) == 2
        out, err = capsys.readouterr()
        line, = err.strip().splitlines()
        assert out == "" and "model.entry: runs code from " in line and "canary_model.py" in line
        assert "--code FILE" in line and not canary.exists()
    assert run_main("replay", session, "--verify", "--code", tmp_path / "canary_model.py") == 0
    assert capsys.readouterr().out.strip() == "identical: 20 steps"


def test_changed_code_needs_allow_changed_code(recorded, tmp_path, capsys):
    session, canary = recorded
    model = tmp_path / "canary_model.py"
    model.write_text(model.read_text().replace("nn.Tanh()", "nn.ReLU()"))
    assert run_main("fork", session, "--at", "10", "--code", model, "-o", tmp_path / "f.lrlab") == 2
    err = capsys.readouterr().err
    assert "model.sha256: " in err and "--allow-changed-code" in err
    assert not canary.exists() and not (tmp_path / "f.lrlab").exists()
    assert run_main("fork", session, "--at", "10", "--code", model, "--allow-changed-code", "-q",
                    "-o", tmp_path / "f.lrlab") == 0


def test_bad_code_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "m.py").write_text("def build(shape):\n    pass\n")
    for entry, says in ((str(tmp_path / "missing.py") + ":build", "model.entry: no such Python file: "),
                        (str(tmp_path / "m.py") + ":build", "model.entry: build(shape) in ")):
        spec = {"dataset": {"name": "iris"}, "model": {"kind": "python", "entry": entry}, "steps": 5, "device": "cpu"}
        (tmp_path / "spec.json").write_text(json.dumps(spec))
        assert run_main("run", tmp_path / "spec.json", "-o", tmp_path / "x.lrlab") == 2
        line, = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("lrlab: error: ") and says in line, line
        assert not (tmp_path / "x.lrlab").exists()
