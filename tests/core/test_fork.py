"""Forks: a run branched at any step continues from the parent's exact state with new edits."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from testkit import replay_verdict

from lrlab.cli import main
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.snapshots import Snapshot, SnapshotError, SnapshotStore
from lrlab.core.runs import RecordedRun, fork, fork_session
from lrlab.core.runs.train import Trainer
from lrlab.core.storage.session import Session, SessionError

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 20, "batch_size": 16, "device": "cpu"}
DECAY = {"kind": "scale", "factor": 0.1}


def record(path: Path, spec: dict = SPEC, edits=(), **options) -> Path:
    run = RecordedRun(RunSpec.from_json(spec), path, edits=list(edits), **options)
    run.run()
    return run.path


def steps(path: Path) -> dict[str, np.ndarray]:
    with Session.open(path) as s:
        return s.steps()


@pytest.fixture
def parent(tmp_path):
    """160 steps, a snapshot every 40, an edit at step 30 (so a snapshot there too)."""
    return record(tmp_path / "parent.lrlab", edits=[(30, {"kind": "scale", "factor": 0.5})], snapshot_every=40)


def test_parent_keeps_snapshots_every_n_steps_and_at_edits(parent):
    with Session.open(parent) as s:
        assert s.snapshot_steps() == [30, 40, 80, 120]
        snap = s.snapshot(80)
    assert snap.step == 80 and {"rng.torch", "rng.batches", "rng.numpy", "rng.python"} <= snap.tensors.keys()
    assert snap.tensors["model.0.weight"].shape == (16, 4)
    assert snap.state["param_groups"][0]["lr"] == pytest.approx(0.005)  # the LR of the step before


def test_fork_without_edit_continues_exactly_like_its_parent(parent):
    run = fork_session(parent, 57)  # between the snapshots at 40 and 80
    assert run.runner.start.step == 40
    assert run.run() == "finished"
    mine, theirs = steps(run.path), steps(parent)
    assert mine["step"][0] == 57 and len(mine["step"]) == 160 - 57
    for column in ("train_loss", "lr", "grad_norm"):
        np.testing.assert_array_equal(mine[column], theirs[column][57:])
    with Session.open(run.path) as s, Session.open(parent) as p:
        assert s.kind == "fork" and s.parent == {"id": p.file_id, "path": str(parent.resolve()), "step": 57}
        assert s.edits() == [(30, {"kind": "scale", "factor": 0.5})]  # the shared past, carried along
        assert s.evals()["step"].min() >= 57
        np.testing.assert_array_equal(s.evals()["val_loss"], p.evals()["val_loss"][p.evals()["step"] >= 57])


def test_fork_edit_applies_from_the_fork_step_and_replaces_the_parents_later_edits(tmp_path):
    parent = record(tmp_path / "p.lrlab", edits=[(100, {"kind": "scale", "factor": 0.5})], snapshot_every=40)
    run = fork_session(parent, 70, [(70, DECAY)])
    run.run()
    mine, theirs = steps(run.path), steps(parent)
    np.testing.assert_allclose(mine["lr"], 0.001)  # 0.01 x 0.1, and no x0.5 at 100
    assert theirs["lr"][99] == 0.01 and theirs["lr"][100] == 0.005
    assert mine["train_loss"][0] == theirs["train_loss"][70]  # same state, same batch: same loss before the update
    assert mine["train_loss"][1] != theirs["train_loss"][71]
    with Session.open(run.path) as s:
        assert s.edits() == [(70, DECAY)]
        assert 70 in s.snapshot_steps()  # at its own edit


def test_a_live_edit_during_the_re_run_applies_at_the_fork_step(parent):
    run = fork_session(parent, 57)
    run.runner.edit(DECAY)  # arrives at once, while the fork re-runs steps 40..56
    run.run()
    mine, theirs = steps(run.path), steps(parent)
    np.testing.assert_array_equal(mine["lr"], theirs["lr"][57:] * np.float64(0.1))
    with Session.open(run.path) as s:
        assert s.edits()[-1] == (57, DECAY)
    assert replay_verdict(run.path) == "identical: 103 steps"


def test_fork_replays_identical_without_its_parent(parent, tmp_path):
    run = fork_session(parent, 90, [(90, DECAY), (120, {"kind": "hold", "lr": 0.02})])
    run.run()
    moved = tmp_path / "alone" / "fork.lrlab"
    moved.parent.mkdir()
    shutil.move(run.path, moved)
    parent.unlink()
    assert replay_verdict(moved) == "identical: 70 steps"
    assert main(["replay", str(moved), "--verify", "--quiet"]) == 0


def test_forks_of_forks(parent):
    first = fork_session(parent, 50, [(50, DECAY)])
    first.run()
    second = fork_session(first.path, 100)  # later than the first fork: from the first fork's snapshots
    assert second.runner.start.step == 50
    second.run()
    np.testing.assert_array_equal(steps(second.path)["train_loss"], steps(first.path)["train_loss"][50:])
    earlier = f"the steps before 50 are its parent's: fork {parent.resolve()} there"
    with pytest.raises(SpecError, match=re.escape(earlier)):
        fork_session(first.path, 45)
    at40 = fork_session(parent, 40, [(40, DECAY)])  # starts from the parent's snapshot at 40: keeps none there
    at40.run()
    with Session.open(at40.path) as s:
        assert 40 not in s.snapshot_steps()
    grandchild = fork_session(at40.path, 45)  # so its state comes from the grandparent's file
    assert grandchild.runner.start.step == 40 and fork.nearest_snapshot(at40.path, 45)[1] == parent
    grandchild.run()
    np.testing.assert_array_equal(steps(grandchild.path)["train_loss"], steps(at40.path)["train_loss"][5:])
    assert [a["step"] for a in fork.lineage(second.path)] == [100, 50]
    assert all(a["found"] for a in fork.lineage(second.path))
    assert replay_verdict(second.path) == "identical: 60 steps"


def test_plateau_memory_is_part_of_the_state(tmp_path):
    spec = dict(SPEC, epochs=40, eval_every=8,
                schedule={"kind": "plateau", "patience": 1, "factor": 0.5, "threshold": 0.2})
    parent = record(tmp_path / "p.lrlab", spec, snapshot_every=64)
    with Session.open(parent) as s:
        reductions = [e.step for e in s.events() if e.kind == "plateau"]
    assert len(reductions) >= 2
    at = 130  # after a snapshot (128), with reductions both before and after it
    assert min(reductions) < at < max(reductions)
    run = fork_session(parent, at)
    run.run()
    mine, theirs = steps(run.path), steps(parent)
    np.testing.assert_array_equal(mine["lr"], theirs["lr"][at:])
    np.testing.assert_array_equal(mine["train_loss"], theirs["train_loss"][at:])


def test_a_session_without_snapshots_forks_by_re_running_from_step_0(tmp_path):
    parent = record(tmp_path / "p.lrlab", snapshot_every=None)
    run = fork_session(parent, 33)
    assert run.runner.start is None
    run.run()
    np.testing.assert_array_equal(steps(run.path)["train_loss"], steps(parent)["train_loss"][33:])


def test_bad_fork_step_and_edits_are_refused_before_training(parent):
    with pytest.raises(SpecError, match="must be a step from 0 to 159"):
        fork_session(parent, 160)
    with pytest.raises(SpecError, match="apply from its step 50 on"):
        fork_session(parent, 50, [(49, DECAY)])
    with pytest.raises(SpecError, match="unknown"):
        fork_session(parent, 50, [(50, {"kind": "params", "params": {"gamma": 0.1}})])


def hostile(parent: Path, change) -> Path:
    """Rewrite the snapshot at step 40 with ``change(header) -> (header, blob)``."""
    con = sqlite3.connect(parent)
    text, blob = con.execute("SELECT header, data FROM snapshots WHERE step = 40").fetchone()
    header, blob = change(json.loads(text), blob)
    con.execute("UPDATE snapshots SET header = ?, data = ? WHERE step = 40",
                (header if isinstance(header, str) else json.dumps(header), blob))
    con.commit()
    con.close()
    return parent


def _entry(header, name="model.0.weight"):
    return next(e for e in header["tensors"] if e["name"] == name)


def _tensors(header, **changes):
    """The header with every tensor entry changed (or the first layer's weight only, ``first=True``)."""
    first = changes.pop("first", False)
    return {**header, "tensors": [dict(e, **changes) if not first or e["name"] == "model.0.weight" else e
                                  for e in header["tensors"]]}


@pytest.mark.parametrize(("change", "message"), [
    (lambda h, b: ("{'__reduce__': 'os.system'}", b), "snapshot header is not JSON"),
    (lambda h, b: ({**h, "tensors": [dict(_entry(h), dtype="object")]}, b), "unknown dtype 'object'"),
    (lambda h, b: (_tensors(h, shape=[1000, 1000], first=True), b), "do not match shape [1000, 1000]"),
    (lambda h, b: (h, b[:-8]), "run past the data"),
    (lambda h, b: (h, b + b"\0" * 8), "8 bytes no tensor names"),
    (lambda h, b: (_tensors(h, shape=[-1]), b), "shape must be"),
    (lambda h, b: ({**h, "tensors": h["tensors"] * 2}, b), "name must be a new text"),
    (lambda h, b: ({**h, "version": 99}, b), "not a version-1 header"),
])
def test_a_hostile_snapshot_header_gives_a_clean_message(parent, change, message):
    hostile(parent, change)
    with Session.open(parent) as s, pytest.raises(SessionError) as err:
        s.snapshot(40)
    assert message in str(err.value) and "damaged snapshot at step 40" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(SessionError, match="damaged snapshot"):
        fork_session(parent, 41)


def test_a_snapshot_of_another_model_is_refused(parent):
    with Session.open(parent) as s:
        snap = s.snapshot(40)
    other = RunSpec.from_json(dict(SPEC, model={"kind": "mlp", "hidden": [8]}))
    with pytest.raises(SnapshotError, match=r"model\.0\.weight"):
        Trainer(other, start=snap)


def test_snapshot_bytes_round_trip_every_dtype():
    tensors = {name: torch.arange(6).reshape(2, 3).to(dtype)
               for name, dtype in (("f32", torch.float32), ("f64", torch.float64), ("bf16", torch.bfloat16),
                                   ("f16", torch.float16), ("i64", torch.int64), ("u8", torch.uint8),
                                   ("b", torch.bool))}
    tensors["scalar"] = torch.tensor(3.5)
    header, blob = Snapshot(7, tensors, {"first_loss": 1.5}).encode()
    back = Snapshot.decode(header, blob)
    assert back.step == 7 and back.state == {"first_loss": 1.5}
    for name, t in tensors.items():
        assert back.tensors[name].dtype == t.dtype and torch.equal(back.tensors[name], t), name


def test_memory_keeps_the_newest_snapshots_within_the_budget():
    one = {"w": torch.zeros(250)}  # 1000 bytes
    store = SnapshotStore(budget=2500)
    for step in (10, 20, 30, 40):
        store.add(Snapshot(step, dict(one)))
    assert store.steps() == [30, 40] and store.nbytes == 2000
    assert store.before(35).step == 30 and store.before(25) is None


def test_trainer_keeps_snapshots_in_memory_within_its_budget():
    trainer = Trainer(RunSpec.from_json(SPEC), snapshot_every=20, snapshot_budget=3 * 5000)
    trainer.run()
    kept = trainer.snapshots.steps()
    assert kept[-1] == 140 and 1 <= len(kept) < 7  # 20 ... 140 taken; the oldest dropped


def cli(argv: list[str], capsys) -> tuple[int, str]:
    """Exit status and stderr of ``lrlab ARGV`` (argparse's own errors exit through SystemExit)."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


def test_cli_fork_and_info(parent, tmp_path, capsys):
    out = tmp_path / "branch.lrlab"
    assert main(["fork", str(parent), "--at", "60", "--edit", json.dumps(DECAY),
                 "--edit", '100:{"kind": "hold", "lr": 0.02}', "--out", str(out), "--quiet"]) == 0
    with Session.open(out) as s:
        assert s.edits() == [(30, {"kind": "scale", "factor": 0.5}), (60, DECAY), (100, {"kind": "hold", "lr": 0.02})]
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert f"parent    {parent.resolve()} (id " in capsys.readouterr().out
    for argv, message in ((["--at", "-3"], "--at must be a whole number >= 0"),
                          (["--at", "500"], "must be a step from 0 to 159"),
                          (["--at", "5", "--edit", "{oops"], "not valid JSON"),
                          (["--at", "5", "--edit", '{"kind": "scale"}'], "factor")):
        code, err = cli(["fork", str(parent), *argv, "--quiet"], capsys)
        assert code == 2 and message in err and err.count("\n") == 1, err


DOC = Path(__file__).resolve().parents[2] / "resources" / "docs" / "session-format.md"


def test_the_format_document_states_each_presets_snapshot_size(monkeypatch):
    """Every bundled preset's snapshot, measured. The CIFAR presets read small files in CIFAR's
    format (their md5 check patched); a snapshot's size does not depend on the data, the device or
    the batch size, so those run on the CPU with small batches."""
    import os

    import torchvision.datasets.cifar as cifar
    from fakedata import write_cifar10

    from lrlab.core.decl import paths
    from lrlab.core.decl.resources import presets_dir
    from lrlab.core.decl.spec import load_spec

    write_cifar10(paths.datasets_dir())
    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))

    text = DOC.read_text()
    table = text[text.index("What a snapshot costs"):text.index("File size:")]
    rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| `")]
    stated = {name.strip(" `"): int(cells[2].replace(",", "")) for cells in rows for name in cells[0].split(",")}
    presets = sorted(f.stem for f in presets_dir().glob("*.json"))
    assert sorted(stated) == presets  # every bundled preset, once
    for name in presets:
        spec = load_spec(str(presets_dir() / f"{name}.json"))
        small = spec.dataset.kind == "digits"
        tensor_bytes, header = fork.snapshot_size(spec if small else spec.with_changes({"device": "cpu",
                                                                                          "batch_size": 8}))
        assert tensor_bytes == stated[name], name
        assert header < (3000 if small else 30_000), name


def test_a_10000_step_run_with_default_snapshots_stays_under_the_stated_size(tmp_path):
    """The `adam` preset has the largest snapshots of the bundled presets (see the test above)."""
    from lrlab.core.decl.resources import preset_path
    from lrlab.core.decl.spec import load_spec

    assert "stays under **3 MB**" in DOC.read_text()
    spec = load_spec(str(preset_path("adam"))).with_changes({"steps": 10_000})
    path = record(tmp_path / "long.lrlab", spec.to_json())
    with Session.open(path) as s:
        assert s.n_steps() == 10_000 and len(s.snapshot_steps()) == 19
    assert path.stat().st_size < 3_000_000
