"""The effective LR formulas predict torch's own parameter updates (one step, 1e-6 relative).

Here: the commands that draw PNG or SVG files (they need Qt offscreen); the rest are in
tests/core/test_effective_lr.py.
"""

from __future__ import annotations

import numpy as np


def test_a_replay_records_the_same_effective_lrs_and_compare_plots_them(tmp_path):
    from lrlab.cli import main
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedRun
    from lrlab.core.storage.session import Session

    spec = RunSpec.from_json({"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
                              "optimizer": {"name": "rmsprop", "lr": 0.01}, "epochs": 10, "batch_size": 16,
                              "device": "cpu", "effective_lr_every": 5})
    paths = []
    for name in ("a", "b"):
        run = RecordedRun(spec, tmp_path / f"{name}.lrlab")
        run.run()
        paths.append(str(run.path))
    with Session.open(paths[0]) as a, Session.open(paths[1]) as b:
        for layer in a.effective_lr_layers():
            ea, eb = a.effective_lr(layer), b.effective_lr(layer)
            assert len(ea["step"]) == 16 and all(np.array_equal(ea[k], eb[k]) for k in ea)
    png = tmp_path / "eff.png"
    assert main(["compare", *paths, "--metric", "effective_lr_p50", "--png", str(png)]) == 0
    assert png.stat().st_size > 5000
