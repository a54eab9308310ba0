"""Readers of what lrlab writes for other tools, shared by the core and GUI tests."""

from __future__ import annotations


def read_run(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    hp = {tag: plugin_data_pb2.HParamsPluginData.FromString(c) for tag, c in acc.PluginTagToContent("hparams").items()}
    return acc, hp
