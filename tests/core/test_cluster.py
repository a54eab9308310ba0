"""Sweeps on a Ray cluster (one local instance for the whole test session, 2 CPUs): the same
sessions as a local sweep, a failing task reported while the rest arrive, a clear line without Ray."""

from __future__ import annotations

import json
import sys

import numpy as np

from lrlab.cli import main
from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs import RecordedSweep
from lrlab.core.storage.session import Session

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]}, "optimizer": {"name": "sgd", "lr": 0.1},
        "epochs": 2, "batch_size": 16, "threads": 1}
LRS = [0.01, 0.1, 1.0, 3.0]


def _steps(path):
    with Session.open(path) as s:
        return s.steps(("step", "train_loss", "lr", "grad_norm"))


def test_a_ray_sweep_writes_the_sessions_a_local_sweep_writes(ray_instance, tmp_path, capsys):
    local = RecordedSweep(RunSpec.from_json(SPEC), LRS, tmp_path / "local")
    local.run()
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    assert main(["sweep", str(spec), "--lrs", ",".join(map(str, LRS)), "--ray", "--ray-tasks", "2",
                 "--out", str(tmp_path / "ray"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "best: lr 1 (seed 0)" in out and "4 members" in out
    names = sorted(p.name for p in (tmp_path / "ray").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "local").iterdir())  # 0-lr0.01-seed0.lrlab ... summary.json
    for f in local.files:
        a, b = _steps(f), _steps(tmp_path / "ray" / f.name)
        for col in a:
            np.testing.assert_array_equal(a[col], b[col])  # bit for bit
        with Session.open(tmp_path / "ray" / f.name) as s:
            assert s.group == "ray" and s.kind == "sweep_member"
    summary = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert summary["ray"]["tasks"] == 2 and [m["lr"] for m in summary["members"]] == LRS
    # a member from the cluster replays on this machine
    assert main(["replay", str(tmp_path / "ray" / local.files[1].name), "--verify", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("identical: ")


def test_a_failing_task_is_reported_and_the_rest_arrive(ray_instance, tmp_path):
    from lrlab.core.runs.cluster import ray_sweep, run_chunk

    def flaky(spec_json, lrs, *rest):
        if 1.0 in lrs:
            raise RuntimeError("the node caught fire")
        return run_chunk(spec_json, lrs, *rest)

    result = ray_sweep(RunSpec.from_json(SPEC), LRS, tmp_path / "out", tasks=2, task=flaky)
    assert [row["lr"] for row in result.rows] == [0.01, 0.1]
    assert len(result.failures) == 1 and result.failures[0].startswith("LRs 1, 3: RuntimeError: ")
    assert "the node caught fire" in result.failures[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0-lr0.01-seed0.lrlab", "1-lr0.1-seed0.lrlab",
                                                                   "summary.json"]


def test_without_ray_the_command_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    assert main(["sweep", "lr-well-chosen", "--lrs", "0.1,1", "--ray", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lrlab: error: --ray needs the ray package: pip install 'lrlab[cluster]'"]


