"""Helpers shared by the tests of several folders: reading a TensorBoard run lrlab wrote, hiding a
package as if it were not installed, and replaying a session against its recording."""

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


def replay_verdict(path: Any) -> str:
    """Replay the session at ``path`` and compare its steps with the recorded ones: the verdict
    ("identical: 69 steps", or where they differ)."""
    from lrlab.core.runs import Collector, compare_steps, replay_runner
    from lrlab.core.storage.session import Session

    columns = ("step", "train_loss", "lr")
    with Session.open(path) as s:
        recorded = s.steps(columns)
        runner = replay_runner(s)
    col = Collector()
    runner.listeners.append(col)
    runner.run()
    return compare_steps(recorded, {c: col.column(c) for c in columns}).describe()


def without(monkeypatch: Any, *modules: str) -> None:
    """Make ``import`` of ``modules`` fail, as on a machine without those packages."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def loaded_by(code: str, packages: tuple[str, ...]) -> list[str]:
    """The modules of ``packages`` (top-level names) that running ``code`` in a fresh interpreter
    leaves imported: how the tests check that a light path stays light (the GUI's validation
    without torch, the core without Qt, ``lrlab --help`` without numpy)."""
    import ast
    import subprocess

    probe = f"{code}\nimport sys\nprint(sorted(k for k in sys.modules if k.split('.')[0] in {packages!r}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])
