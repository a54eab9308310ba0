"""Snapshots on disk within a budget: recent ones dense, older ones thinned, forks bounded."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import torch

from lrlab.core.decl.events import Status
from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.snapshots import DiskPolicy, Snapshot, rerun_bound, thin
from lrlab.core.runs import RecordedRun, fork_session
from lrlab.core.runs.base import Update
from lrlab.core.storage.session import Session, SessionWriter

SPEC = RunSpec.from_json({"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
                          "optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 16, "steps": 200,
                          "seed": 0, "device": "cpu"})


@pytest.mark.parametrize(("slots", "every", "steps"), [(10, 500, 10_000), (10, 500, 100_000), (4, 10, 2_000),
                                                       (2, 1, 300), (25, 100, 30_000)])
def test_thinning_keeps_the_budget_and_bounds_every_fork(slots, every, steps):
    kept: set[int] = set()
    for t in range(every, steps, every):  # the trainer snapshots before every multiple of `every`
        before = kept | {t}
        kept, spacing = thin(before, slots, every)
        assert kept <= before and t in kept and len(kept) <= slots  # only deletes; the newest stays
        assert rerun_bound(kept, 0, t + 1) <= spacing - 1  # a fork anywhere so far re-runs < spacing
        assert spacing <= max(every, 2 * t / (slots - 1))
    recent = sorted(kept)[-2:]
    assert recent[1] - recent[0] == every or slots < 10  # the newest at the trainer's own spacing (room allowing)


def test_a_10000_step_resnet18_session_stays_under_1_gb():
    """ResNet-18 (CIFAR-10, 11.2 M parameters) with SGD momentum: a snapshot is its weights, buffers
    and momentum, about 90 MB (benchmarks/bench_fork.py measures it); the policy keeps 10."""
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(num_classes=10)
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    size += sum(p.numel() * p.element_size() for p in model.parameters())  # the momentum buffers
    assert 85e6 < size < 95e6
    policy = DiskPolicy()
    kept: set[int] = set()
    for t in range(500, 10_000, 500):
        kept, _ = thin(kept | {t}, policy.slots(size), policy.every)
    assert len(kept) * size < 1e9
    assert sorted(kept) == [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 9500]
    assert rerun_bound(kept, 0, 10_000) == 999  # today's every-500 policy: 499


def test_a_thinned_session_forks_exactly_anywhere(tmp_path):
    policy = DiskPolicy(every=10, copies=4, floor_bytes=0)
    parent = RecordedRun(SPEC, tmp_path / "p.lrlab", snapshot_every=10, snapshot_policy=policy)
    parent.run()
    with Session.open(parent.path) as s:
        kept, summary = s.snapshot_steps(), s.snapshot_summary()
        losses = s.steps()["train_loss"]
        assert s.meta["snapshot_policy"] == {"every": 10, "copies": 4, "floor_bytes": 0}
    assert kept == [80, 160, 180, 190] and summary["kept"] == 4
    assert summary["rerun_at_most"] == 79  # spacing 80: from 0 to 79, or 80 to 159
    for at in (5, 79, 100, 159, 185, 199):
        fork = fork_session(parent.path, at, out=tmp_path / f"f{at}.lrlab", snapshot_policy=policy)
        fork.run()
        with Session.open(fork.path) as f:
            assert np.array_equal(f.steps()["train_loss"], losses[at:])


def test_an_every_500_session_keeps_all_and_forks(tmp_path):
    """A small model's session keeps every snapshot (the budget's floor), as sessions did before."""
    spec = SPEC.with_changes({"steps": 1600})
    parent = RecordedRun(spec, tmp_path / "p.lrlab")
    parent.run()
    with Session.open(parent.path) as s:
        assert s.snapshot_steps() == [500, 1000, 1500]
        assert s.snapshot_summary()["rerun_at_most"] == 499
    fork = fork_session(parent.path, 1499, out=tmp_path / "f.lrlab")
    fork.run()
    with Session.open(fork.path) as f, Session.open(parent.path) as s:
        assert np.array_equal(f.steps()["train_loss"], s.steps()["train_loss"][1499:])


def test_the_file_stays_within_the_budget_plus_one_snapshot(tmp_path):
    """Deleting before inserting in one transaction lets SQLite reuse the pages."""
    spec = SPEC.with_changes({"model.hidden": [256], "steps": 300})
    plain = RecordedRun(spec, tmp_path / "none.lrlab", snapshot_every=None)
    plain.run()
    thinned = RecordedRun(spec, tmp_path / "thin.lrlab", snapshot_every=5,
                          snapshot_policy=DiskPolicy(every=5, copies=3, floor_bytes=0))
    thinned.run()
    with Session.open(thinned.path) as s:
        summary = s.snapshot_summary()
    assert summary["kept"] == 3
    per = summary["bytes"] / 3
    extra = thinned.path.stat().st_size - plain.path.stat().st_size
    assert extra < 5 * per  # 59 snapshots were written


def snap(step: int) -> Snapshot:
    return Snapshot(step, {"model.w": torch.full((1000,), float(step))}, {})


def update(*steps: int) -> Update:
    return Update({"step": np.array([], dtype=np.int64)}, [], [], max(steps), 100, Status.RUNNING,
                  snapshots=[snap(s) for s in steps])


class FailingInserts:
    """A connection whose snapshot inserts fail (a full disk at that instant)."""

    def __init__(self, con: sqlite3.Connection):
        self._con = con

    def executemany(self, sql: str, rows):
        if sql.startswith("INSERT OR REPLACE INTO snapshots"):
            raise sqlite3.OperationalError("database or disk is full")
        return self._con.executemany(sql, rows)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_thinning_never_deletes_outside_the_transaction_that_adds(tmp_path):
    writer = SessionWriter(tmp_path / "s.lrlab", SPEC, {}, commit_seconds=0,
                           snapshot_policy=DiskPolicy(every=1, copies=2, floor_bytes=0))
    writer(update(1))
    writer(update(2))
    with Session.open(writer.path) as s:
        assert s.snapshot_steps() == [1, 2]
    writer.con = FailingInserts(writer.con)
    writer(update(3))  # would delete step 1 and add step 3: the insert fails, the delete rolls back
    assert writer.failure is not None and "disk is full" in writer.failure
    with Session.open(writer.path) as s:
        assert s.snapshot_steps() == [1, 2]
        assert torch.equal(s.snapshot(1).tensors["model.w"], snap(1).tensors["model.w"])


def test_a_file_from_before_the_budget_reads_forks_and_states_its_bound(tmp_path, capsys):
    from lrlab.cli import main

    parent = RecordedRun(SPEC.with_changes({"steps": 1600}), tmp_path / "old.lrlab")
    parent.run()
    con = sqlite3.connect(parent.path)
    with con:
        con.execute("DELETE FROM meta WHERE key = 'snapshot_policy'")  # as lrlab wrote it before issue 32
    con.close()
    assert main(["info", str(parent.path)]) == 0
    assert "  snapshots 3 kept (0.1 MiB): a fork re-runs at most 499 steps" in capsys.readouterr().out.splitlines()
    assert main(["fork", str(parent.path), "--at", "1200", "-q", "-o", str(tmp_path / "f.lrlab")]) == 0
    assert main(["replay", str(tmp_path / "f.lrlab"), "--verify", "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "identical: 400 steps"
