"""The compare tests' sessions: one small spec and variants of it, each differing in one thing."""

from __future__ import annotations

from pathlib import Path

BASE = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}, "epochs": 30, "batch_size": 16, "device": "cpu"}


def make_sessions(folder: Path) -> dict[str, Path]:
    """good, slow (LR 0.001), big-batch (with cosine), too-high (diverges), plateau, held (an edit)."""
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedRun

    specs = {"good": BASE, "slow": dict(BASE, optimizer={"name": "sgd", "lr": 0.001, "momentum": 0.9}),
             "big-batch": dict(BASE, batch_size=60, schedule={"kind": "cosine", "T_max": 60}),
             "too-high": dict(BASE, optimizer={"name": "sgd", "lr": 60.0, "momentum": 0.9})}
    specs["plateau"] = dict(BASE, schedule={"kind": "plateau", "patience": 0, "factor": 0.5})
    edits = {"held": [(100, {"kind": "hold", "lr": 0.5})]}
    paths = {}
    for name, spec in [*specs.items(), ("held", BASE)]:
        run = RecordedRun(RunSpec.from_json(spec), folder / f"{name}.lrlab", edits=edits.get(name, ()))
        run.run()
        paths[name] = run.path
    return paths
