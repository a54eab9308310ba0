"""Helpers shared by the GUI tests (the ``window`` fixture lives in conftest.py)."""

from __future__ import annotations

from lrlab.core.decl.spec import RunSpec

QUICK = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [16]},
         "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}, "epochs": 40, "batch_size": 16,
         "device": "cpu"}
LONG = dict(QUICK, epochs=20_000)


def set_spec(window, data) -> None:
    window.experiment.set_json(RunSpec.from_json(data).to_json())


def wait_idle(qtbot, window, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: window.controller.state == "idle" and window.controller.thread is None, timeout=timeout)
