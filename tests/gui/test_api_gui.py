"""lrlab from Python: the public API gives what the command prints, as objects, and TensorBoard
reads what `lrlab export --tensorboard` writes.

Here: the window (they need Qt); the rest are in tests/core/test_api.py.
"""

from __future__ import annotations

import pytest
from testkit import read_run, without

import lrlab

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}, "epochs": 15, "batch_size": 16,
        "device": "cpu"}


@pytest.fixture
def session(tmp_path):
    """A run with one mid-run edit at step 30 (LR x0.5)."""
    return lrlab.run(SPEC, out=tmp_path / "a.lrlab", optimizer__lr=0.05,
                     edits=[(30, {"kind": "scale", "factor": 0.5})])


def test_gui_export_to_tensorboard_and_greyed_without_it(window, session, tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from lrlab.gui import exports

    assert window.sessions.open_session(str(session.path))
    act = window.act_tensorboard
    file_menu = window.menuBar().actions()[0].menu()
    export_menu = next(a.menu() for a in file_menu.actions() if a.text() == "Export")
    assert act.isEnabled() and act in export_menu.actions()
    monkeypatch.setattr(exports.QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "tb"))
    act.trigger()
    assert (tmp_path / "tb" / "a").is_dir() and "tb" in window.status_label.text()
    acc, _ = read_run(tmp_path / "tb" / "a")
    assert len(acc.Scalars("train_loss")) == 120

    without(monkeypatch, "tensorboard")
    monkeypatch.setattr(exports, "TENSORBOARD", exports.tensorboard_available())
    window._update_controls()
    assert not act.isEnabled()
    greyed = exports.tensorboard_action(window, lambda: str(session.path), lambda out: out)
    assert not greyed.isEnabled() and "pip install 'lrlab[tensorboard]'" in greyed.toolTip()
