"""Your own model and data from a Python file: consent, hashes, checks, and every run kind."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import lrlab
from lrlab.core.decl import usercode
from lrlab.core.decl.files import sha256_file
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import RunSpec
from lrlab.core.storage.session import Session

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"

MODEL = """
from torch import nn

def build(sample_shape, n_outputs):
    return nn.Sequential(nn.Flatten(), nn.Linear(sample_shape[-1], 8), nn.Tanh(), nn.Linear(8, n_outputs))
"""
DATA = """
import numpy as np

def load(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(120, 3)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    return x[:96], y[:96], x[96:], y[96:]
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def spec_json(model: Path, data: Path, **extra) -> dict:
    return {"dataset": {"name": "python", "entry": f"{data}:load", "n_train": 96, "n_features": 3},
            "model": {"kind": "python", "entry": f"{model}:build"}, "optimizer": {"name": "adam", "lr": 0.01},
            "batch_size": 16, "steps": 30, "seed": 0, "device": "cpu", **extra}


@pytest.fixture
def code(tmp_path):
    return write(tmp_path, "model.py", MODEL), write(tmp_path, "data.py", DATA)


def test_a_spec_you_name_runs_your_code_and_records_its_hash(code, tmp_path):
    model, data = code
    run = lrlab.run(spec_json(model, data), out=tmp_path / "a.lrlab")
    assert run.status == "finished" and run.summary["steps"] == 30
    assert run.spec["model"]["sha256"] == sha256_file(model)
    assert run.spec["dataset"]["sha256"] == sha256_file(data)
    assert run.spec["model"]["entry"] == f"{model}:build"


def test_the_example_files_in_the_readme_train(tmp_path):
    run = lrlab.run(str(EXAMPLES / "my-code.json"), out=tmp_path / "ex.lrlab", epochs=8)
    assert run.status == "finished" and run.summary["best_val_metric"] > 0.6  # chance: 0.5
    assert Path(run.spec["model"]["entry"].rsplit(":", 1)[0]) == EXAMPLES / "my_model.py"


def test_a_saved_session_needs_code_named_in_this_session(code, tmp_path):
    model, data = code
    run = lrlab.run(spec_json(model, data), out=tmp_path / "a.lrlab")
    usercode.forget_all()  # a new lrlab process: only the session file is left
    session = lrlab.open_session(run.path)
    with pytest.raises(SpecError, match=r"dataset.entry: runs code from .*data.py \(sha256 .*--code FILE"):
        session.replay()
    assert session.replay(code=[model, data]).identical


def test_changed_code_is_refused_unless_allowed(code, tmp_path):
    model, data = code
    run = lrlab.run(spec_json(model, data), out=tmp_path / "a.lrlab")
    usercode.forget_all()
    model.write_text(MODEL.replace("nn.Tanh()", "nn.ReLU()"))
    with pytest.raises(SpecError, match=r"model.sha256: .*model.py has sha256 .* but the spec records .*"
                                         r"--allow-changed-code"):
        usercode.allow_for(run.spec, [model, data])
    usercode.forget_all()
    usercode.allow_for(run.spec, [model, data], allow_changed=True)
    replay = run.replay()
    assert replay.identical is False  # another model: the losses differ, and it says so


def test_code_named_for_another_path_is_matched_by_its_hash(code, tmp_path):
    """A session from another machine: the recorded path does not exist here, the file does."""
    model, data = code
    run = lrlab.run(spec_json(model, data), out=tmp_path / "a.lrlab")
    usercode.forget_all()
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "m.py").write_bytes(model.read_bytes())
    (moved / "d.py").write_bytes(data.read_bytes())
    model.unlink()
    data.unlink()
    usercode.allow_for(run.spec, [moved / "m.py", moved / "d.py"])
    assert run.replay().identical


def test_fork_of_a_session_with_your_code(code, tmp_path):
    model, data = code
    run = lrlab.run(spec_json(model, data, steps=40), out=tmp_path / "a.lrlab")
    usercode.forget_all()
    forked = lrlab.fork(run.path, 20, out=tmp_path / "f.lrlab", code=[model, data])
    assert forked.status == "finished"
    assert forked.steps()["train_loss"].tolist() == run.steps()["train_loss"].tolist()[20:]


@pytest.mark.parametrize("path", ["loop", "vmap"])
def test_sweep_runs_your_model_on_both_stacked_paths(code, tmp_path, path):
    from lrlab.core.runs.recorded import RecordedSweep

    model, data = code
    _, spec = lrlab.api.resolve_spec(spec_json(model, data))
    sweep = RecordedSweep(spec, [0.001, 0.01], out=tmp_path / "sweep", path=path)
    sweep.run()
    assert sweep.runner.path == path
    with Session.open(sweep.files[1]) as s:
        assert s.status == "finished" and s.n_steps() == 30


def test_find_lr_runs_your_code(code, tmp_path):
    model, data = code
    found = lrlab.find_lr(spec_json(model, data), num_iter=20, seeds=1, out=tmp_path / "r.lrlab")
    assert set(found.suggestions) == {"steepest", "valley", "minimum"}


def bad(tmp_path: Path, model: str = MODEL, data: str = DATA, **changes) -> str:
    m, d = write(tmp_path, "model.py", model), write(tmp_path, "data.py", data)
    spec = spec_json(m, d)
    for key, value in changes.items():
        section, field = key.split("__")
        spec[section][field] = value
    with pytest.raises(SpecError) as err:
        lrlab.run(spec, out=tmp_path / "bad.lrlab")
    assert not (tmp_path / "bad.lrlab").exists()
    return str(err.value)


@pytest.mark.parametrize(("changes", "message"), [
    ({"model__entry": "nowhere.py:build"}, "model.entry: no such Python file: "),
    ({"model__entry": "model.py"}, "model.entry: must be FILE.py:FUNCTION"),
    ({"dataset__entry": "data.py:missing"}, "dataset.entry: .*data.py has no function 'missing'"),
])
def test_bad_entry_points(tmp_path, monkeypatch, changes, message):
    import re

    monkeypatch.chdir(tmp_path)  # relative entries name files in the working folder
    text = bad(tmp_path, **changes)
    assert re.search(message, text), text


@pytest.mark.parametrize(("model", "data", "message"), [
    ("def build(sample_shape):\n    pass\n", DATA, r"model.entry: build\(sample_shape\) in .* cannot be called as "
                                                 r"build\(sample_shape, n_outputs\)"),
    ("def build(s, n):\n    return 3\n", DATA, "model.entry: build must return a torch.nn.Module, got int"),
    (MODEL.replace("nn.Linear(8, n_outputs)", "nn.Linear(8, 5)"), DATA,
     r"model.entry: the model's output for a batch of 2 must have shape \[2, 2\] \(2 classes\), got \[2, 5\]"),
    ("raise ImportError('no such thing')\n", DATA, "model.entry: importing .*model.py failed: ImportError: no such"),
    (MODEL, DATA.replace("return x[:96], y[:96], x[96:], y[96:]", "return x, y, x"),
     r"dataset.entry: load\(seed\) must return 4 values .*got 3 values"),
    (MODEL, DATA.replace("return x[:96], y[:96], x[96:], y[96:]", "return x[:96], y[:90], x[96:], y[96:]"),
     "dataset.entry: X_train has 96 samples but y_train has 90"),
    (MODEL, DATA.replace("return x[:96], y[:96], x[96:], y[96:]", "return x[:96], ['a'] * 96, x[96:], y[96:]"),
     "dataset.entry: load\\(seed\\) returned y_train as list of <U1; expected a numeric array"),
    (MODEL, DATA.replace("return x[:96], y[:96], x[96:], y[96:]", "return x[:96], y[:96], x[96:, :2], y[96:]"),
     r"dataset.entry: X_train's samples have shape \[3\] but X_val's \[2\]"),
    (MODEL, DATA.replace("return x[:96], y[:96], x[96:], y[96:]", "return x[:96], y[:96] + 0.5, x[96:], y[96:]"),
     "dataset.entry: classification labels must be whole numbers"),
])
def test_bad_code_is_one_message_naming_the_field(tmp_path, model, data, message):
    import re

    text = bad(tmp_path, model, data)
    assert re.search(message, text), text
    assert "\n" not in text


def test_regression_data(tmp_path):
    data = DATA.replace('(x[:, 0] + x[:, 1] > 0).astype("int64")', 'x[:, 0] * 2.0')
    m, d = write(tmp_path, "model.py", MODEL), write(tmp_path, "data.py", data)
    spec = spec_json(m, d)
    spec["dataset"]["task"] = "regression"
    run = lrlab.run(spec, out=tmp_path / "r.lrlab")
    assert run.status == "finished" and run.task == "regression"


def test_a_spec_is_valid_without_reading_the_code():
    spec = RunSpec.from_json({"dataset": {"name": "python", "entry": "nowhere.py:load"},
                              "model": {"kind": "python", "entry": "nowhere.py:build"}, "steps": 5})
    assert [r.field for r in usercode.code_refs(spec)] == ["model", "dataset"]
    assert json.loads(json.dumps(spec.to_json()))["model"]["sha256"] is None


def test_ray_sweeps_of_your_code_are_refused_before_anything_starts(code, tmp_path):
    from lrlab.core.runs.cluster import ray_sweep

    model, data = code
    _, spec = lrlab.api.resolve_spec(spec_json(model, data))
    with pytest.raises(SpecError, match=r"model\.entry: your own code does not run on Ray workers"):
        ray_sweep(spec, [0.01, 0.1], tmp_path / "ray", task=None)
    assert not (tmp_path / "ray").exists()
