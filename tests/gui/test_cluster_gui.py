"""Sweeps on a Ray cluster (one local instance for the whole test session, 2 CPUs): the same
sessions as a local sweep, a failing task reported while the rest arrive, a clear line without Ray.

Here: the window (they need Qt); the rest are in tests/core/test_cluster.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]}, "optimizer": {"name": "sgd", "lr": 0.1},
        "epochs": 2, "batch_size": 16, "threads": 1}


def test_the_sweep_window_runs_on_ray_and_shows_each_member_as_it_arrives(qtbot, window, ray_instance):
    from guitools import set_spec

    set_spec(window, SPEC)
    window.tools.show_sweep()
    sweep = window.tools.sweep
    assert sweep.run_on.model().item(1).isEnabled()
    sweep.run_on.setCurrentIndex(sweep.run_on.findData("ray"))
    assert sweep.ray_address.isEnabled() and sweep.cluster_address() == ""
    sweep.lr_text.setText("0.01, 0.1, 1")
    shown: list[str] = []  # every status line the main window showed for the sweep
    sweep.sig_cluster_progress.connect(lambda *_: shown.append(window.status_label.text()))
    sweep.run_button.click()
    assert window.progress.maximum() == 3 and window.progress.value() == 0
    assert "3 members sent" in window.status_label.text()
    qtbot.waitUntil(lambda: len(sweep.files) == 3, timeout=120_000)
    qtbot.waitUntil(lambda: window.progress.value() == 3)
    assert any(t.endswith(" of 3 members back") for t in shown[:-1])  # as the chunks came back
    assert shown[-1].startswith("sweep on Ray finished: ") and window.status_label.text() == shown[-1]
    assert np.isfinite(sweep.latest_loss).all() and sweep.status_of == ["finished"] * 3
    folder = Path(sweep.files[0]).parent  # one new folder of the sessions folder, with the group summary
    assert json.loads((folder / "summary.json").read_text())["ray"]["tasks"] >= 1
    assert sweep.selected == sweep.best_member() and "finished, latest smoothed loss" in sweep.status.text()
    assert sweep.best_member() is not None and window.controller.state == "idle"  # the main run was never busy


def test_without_ray_the_option_is_greyed_with_the_hint(qtbot, monkeypatch):
    import lrlab.core.runs.cluster as cluster
    from lrlab.gui.app import make_app
    from lrlab.gui.sweep import SweepWindow

    make_app()
    monkeypatch.setattr(cluster, "ray_available", lambda: False)
    w = SweepWindow()
    qtbot.addWidget(w)
    item = w.run_on.model().item(1)
    assert not item.isEnabled() and "pip install 'lrlab[cluster]'" in item.toolTip()
    assert w.cluster_address() is None
