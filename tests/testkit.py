"""Helpers shared by the tests of several folders: reading a TensorBoard run lrlab wrote, and
hiding a package as if it were not installed."""

from __future__ import annotations

import sys
from typing import Any


def read_run(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    hp = {tag: plugin_data_pb2.HParamsPluginData.FromString(c) for tag, c in acc.PluginTagToContent("hparams").items()}
    return acc, hp


def without(monkeypatch: Any, *modules: str) -> None:
    """Make ``import`` of ``modules`` fail, as on a machine without those packages."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)
