"""Your own code in the window: the file picker in the Experiment form, and the question before a
Re-run of a session that names code."""

from __future__ import annotations

import textwrap

import pytest

from lrlab.core.decl import usercode
from lrlab.core.decl.files import sha256_file
from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs import RecordedRun

MODEL = """
from torch import nn

def build(sample_shape, n_outputs):
    return nn.Sequential(nn.Linear(sample_shape[0], 8), nn.Tanh(), nn.Linear(8, n_outputs))
"""


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "my_model.py"
    path.write_text(textwrap.dedent(MODEL))
    return path


def test_your_model_is_picked_in_the_experiment_form(window, qtbot, model_file, monkeypatch):
    from PySide6.QtWidgets import QPushButton

    from lrlab.gui import usercode as gui_code

    form = window.experiment
    combo = form.model.combo
    combo.setCurrentIndex(combo.findData("python"))
    assert combo.currentText() == "Your model (Python file)…"
    assert form.validate() is None  # nothing chosen yet: an inline message, Start disabled
    assert "choose the file" in form.model.form.errors["entry"].text()
    assert not window.act_start.isEnabled()
    monkeypatch.setattr(gui_code, "open_file", lambda parent, title: str(model_file))
    form.model.findChild(QPushButton, "choose_model_code").click()
    spec = form.validate()
    assert spec is not None and window.act_start.isEnabled()
    assert spec.model["entry"] == f"{model_file.resolve()}:build"
    assert spec.model["sha256"] == sha256_file(model_file)
    assert form.model.form.errors["entry"].text() == ""
    form.steps.setValue(30)
    with qtbot.waitSignal(window.controller.sig_finished, timeout=60_000) as finished:
        window.start(out=str(model_file.parent / "gui.lrlab"))  # trains your model in the worker thread
    assert finished.args[0] == "finished" and len(window.plots.data) == 30


def test_rerun_of_a_session_with_code_asks_showing_path_and_hash(window, qtbot, model_file, tmp_path, monkeypatch):
    from lrlab.gui import usercode as gui_code

    usercode.allow(model_file)
    spec = RunSpec.from_json({"dataset": {"name": "iris"}, "steps": 20, "batch_size": 16, "device": "cpu",
                              "model": {"kind": "python", "entry": f"{model_file}:build",
                                        "sha256": sha256_file(model_file)}})
    RecordedRun(spec, tmp_path / "code.lrlab").run()
    usercode.forget_all()  # a new window: the session alone is no consent
    assert window.sessions.open_session(str(tmp_path / "code.lrlab"))
    asked: list[str] = []
    monkeypatch.setattr(gui_code, "ask", lambda parent, text: asked.append(text) or "cancel")
    started: list = []
    monkeypatch.setattr(window.controller, "start", lambda *a, **k: started.append(a))
    window.sessions.rerun_session()
    assert not started and str(model_file) in asked[0] and sha256_file(model_file) in asked[0]
    monkeypatch.setattr(gui_code, "ask", lambda parent, text: "run")
    window.sessions.rerun_session()
    assert len(started) == 1


def test_changed_code_is_refused_with_a_message(window, qtbot, model_file, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from lrlab.gui import usercode as gui_code

    spec = {"model": {"kind": "python", "entry": f"{model_file}:build", "sha256": "0" * 64}}
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warned.append(text))
    monkeypatch.setattr(gui_code, "ask", lambda parent, text: "run")
    assert not gui_code.confirm_code(window, spec)
    assert "model.sha256" in warned[0] and "the code changed" in warned[0]


def test_your_data_is_picked_in_the_experiment_form(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QPushButton

    from lrlab.gui import usercode as gui_code

    data = tmp_path / "my_data.py"
    data.write_text("import numpy as np\n\ndef load(seed):\n    x = np.eye(4, dtype='float32')\n"
                    "    return x, np.arange(4), x, np.arange(4)\n")
    form = window.experiment
    combo = form.dataset.combo
    combo.setCurrentIndex(combo.findData("python"))
    assert combo.currentText() == "Your data (Python file)…" and form.validate() is None
    monkeypatch.setattr(gui_code, "open_file", lambda parent, title: str(data))
    form.dataset.findChild(QPushButton, "choose_dataset_code").click()
    spec = form.validate()
    assert spec is not None and spec.dataset["entry"] == f"{data.resolve()}:load"
