"""Session files: written as the run goes, crash safe, and every bad file gets a clear message."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lrlab.cli import main
from lrlab.core.decl import files as files_mod
from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs import Collector, RecordedRun, compare_steps, environment_differences, replay_runner
from lrlab.core.storage import session as session_mod
from lrlab.core.storage.session import Session, SessionError, SessionWriter

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}, "epochs": 20, "batch_size": 16,
        "device": "cpu"}


@pytest.fixture
def recorded(tmp_path):
    run = RecordedRun(RunSpec.from_json(SPEC), tmp_path / "run.lrlab",
                      edits=[(40, {"kind": "scale", "factor": 0.5})])
    col = Collector()
    run.add_listener(col)
    run.run()
    return run.path, col


def test_session_holds_everything_about_the_run(recorded):
    path, col = recorded
    with Session.open(path) as s:
        assert s.status == "finished"
        assert s.spec == RunSpec.from_json(SPEC)
        assert s.seed == 0
        steps = s.steps()
        for name in ("step", "train_loss", "lr", "grad_norm"):
            assert np.array_equal(steps[name], col.column(name), equal_nan=True), name
        assert s.n_steps() == len(col.column("step"))
        env = s.environment
        assert {"python", "torch", "numpy", "scikit-learn", "platform", "device", "device_name",
                "threads", "deterministic"} <= env.keys()
        assert s.edits() == [(40, {"kind": "scale", "factor": 0.5})]
        evals = s.evals()
        assert evals["step"][-1] == s.n_steps() - 1
        summ = s.summary
        assert summ["steps"] == s.n_steps()
        assert summ["final_val_metric"] == pytest.approx(evals["val_metric"][-1])
        assert summ["best_val_metric"] == pytest.approx(np.nanmax(evals["val_metric"]))
    # readable with nothing but sqlite3, the format's promise
    con = sqlite3.connect(path)
    assert con.execute("SELECT COUNT(*) FROM steps").fetchone()[0] == len(col.column("step"))
    assert json.loads(con.execute("SELECT value FROM meta WHERE key='status'").fetchone()[0]) == "finished"


def test_writer_never_overwrites_an_existing_file(recorded):
    path, _ = recorded
    before = path.read_bytes()
    with pytest.raises(SessionError, match="already exists"):
        SessionWriter(path, RunSpec.from_json(SPEC), {})
    assert path.read_bytes() == before


def test_a_new_session_file_is_never_visible_before_it_is_a_session(tmp_path, monkeypatch):
    """The name is given to the finished database in one step (a hard link), so a reader polling
    for a run that has just started never finds an empty file (`lrlab run --out`, then `lrlab
    info` at once: it said "not an SQLite database"). Without hard links (FAT, some network
    shares) the name is claimed empty and the file renamed onto it; a taken name is refused
    either way."""
    out = tmp_path / "new.lrlab"
    seen = []
    real_link = os.link

    def link(src, dst):
        seen.append((Path(dst).exists(), Path(src).read_bytes()[:16]))  # at the moment of naming
        return real_link(src, dst)

    monkeypatch.setattr(files_mod.os, "link", link)
    SessionWriter(out, RunSpec.from_json(SPEC), {}).close("stopped")
    assert seen == [(False, b"SQLite format 3\x00")]
    with Session.open(out) as s:
        assert s.status == "stopped"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.lrlab"]

    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(files_mod.os, "link", no_links)
    other = tmp_path / "fat.lrlab"
    SessionWriter(other, RunSpec.from_json(SPEC), {}).close("stopped")
    with Session.open(other) as s:
        assert s.status == "stopped" and s.spec == RunSpec.from_json(SPEC)
    for taken in (out, other):
        before = taken.read_bytes()
        with pytest.raises(SessionError, match="already exists; choose another name"):
            SessionWriter(taken, RunSpec.from_json(SPEC), {})
        assert taken.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fat.lrlab", "new.lrlab"]  # no .part left


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from lrlab.core.runs import RecordedRun
    from lrlab.core.decl.spec import RunSpec
    spec = RunSpec.from_json({"dataset": {"name": "iris"}, "optimizer": {"name": "sgd", "lr": 0.01},
                              "steps": 10_000_000, "batch_size": 8, "device": "cpu"})
    RecordedRun(spec, sys.argv[1]).run()
""")


def test_sigkill_mid_run_leaves_an_interrupted_session_with_committed_steps(tmp_path):
    path = tmp_path / "killed.lrlab"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(path)])
    try:
        deadline = time.monotonic() + 60
        steps = 0
        while time.monotonic() < deadline and steps < 2000:
            time.sleep(0.2)
            if path.exists():
                with Session.open(path) as s:
                    steps = s.n_steps()
                    assert s.status == "running"
        assert steps >= 2000, "the run did not commit steps while running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with Session.open(path) as s:
        assert s.status == "interrupted"
        got = s.steps()
        assert len(got["step"]) >= steps
        assert got["step"].tolist() == list(range(len(got["step"])))  # every step, none torn
        assert np.isfinite(got["train_loss"]).all()


def _messages(path: Path) -> str:
    with pytest.raises(SessionError) as err:
        Session.open(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(str(path))
    return text


def test_truncated_file(recorded, tmp_path):
    path, _ = recorded
    cut = tmp_path / "cut.lrlab"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert "damaged session file" in _messages(cut)


def test_random_bytes_and_renamed_text_and_missing(tmp_path):
    noise = tmp_path / "noise.lrlab"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    assert "not an lrlab session (not an SQLite database)" in _messages(noise)
    text = tmp_path / "notes.lrlab"
    text.write_text("these are my notes, not a session\n")
    assert "not an lrlab session" in _messages(text)
    assert "no such file" in _messages(tmp_path / "absent.lrlab")


def test_foreign_sqlite_database(tmp_path):
    other = tmp_path / "other.lrlab"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    assert "an SQLite database of another application" in _messages(other)


def test_newer_format_version(recorded):
    path, _ = recorded
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    msg = _messages(path)
    assert "written by a newer lrlab (session format 99" in msg and "upgrade lrlab" in msg


def test_older_format_is_read_in_memory_and_migrated_only_by_repair(recorded, monkeypatch):
    path, _ = recorded  # written in today's format; pretend a next one exists
    now = session_mod.FORMAT_VERSION
    monkeypatch.setattr(session_mod, "FORMAT_VERSION", now + 1)
    monkeypatch.setattr(session_mod, "MIGRATIONS", {**session_mod.MIGRATIONS,
        now: lambda con: con.execute("INSERT INTO meta VALUES ('notes', '\"migrated\"')")})
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    with Session.open(path) as s:  # a read: migrated in memory, the file as it was
        assert s.meta["notes"] == "migrated"
        assert s.meta["format_version"] == now + 1
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    assert not (path.parent / f"{path.name}.v{now}.bak").exists()
    assert session_mod.repair(path) == [f"migrated from format {now} to {now + 1} (backup: {path.name}.v{now}.bak)"]
    assert (path.parent / f"{path.name}.v{now}.bak").read_bytes() == before
    with Session.open(path) as s:  # migrated in the file now
        assert s.meta["notes"] == "migrated"
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == now + 1


def test_failed_migration_leaves_the_file_unchanged(recorded, monkeypatch):
    path, _ = recorded
    before = path.read_bytes()

    def broken(con):
        con.execute("INSERT INTO meta VALUES ('half', '1')")
        raise sqlite3.OperationalError("boom")

    now = session_mod.FORMAT_VERSION
    monkeypatch.setattr(session_mod, "FORMAT_VERSION", now + 1)
    monkeypatch.setattr(session_mod, "MIGRATIONS", {**session_mod.MIGRATIONS, now: broken})
    assert f"could not read format {now} (boom)" in _messages(path)
    with pytest.raises(SessionError, match=f"could not migrate from format {now} \\(boom\\)"):
        session_mod.repair(path)
    assert path.read_bytes() == before


def test_no_pickle_or_torch_load_in_the_package():
    root = Path(__file__).resolve().parents[2] / "lrlab"
    for f in root.rglob("*.py"):
        text = f.read_text()
        assert "import pickle" not in text and "torch.load(" not in text, f


def test_running_session_of_a_live_writer_reads_as_running(tmp_path):
    w = SessionWriter(tmp_path / "live.lrlab", RunSpec.from_json(SPEC), {"threads": 1})
    with Session.open(w.path) as s:
        assert s.status == "running"
    w.close("stopped")
    with Session.open(w.path) as s:
        assert s.status == "stopped"
    assert os.path.getsize(w.path) > 0


def test_default_names_never_collide(lrlab_home):
    spec = RunSpec.from_json(dict(SPEC, epochs=1))
    paths = [RecordedRun(spec).path for _ in range(3)]  # same second, same spec
    assert len(set(paths)) == 3 and all(p.exists() for p in paths)


FIXTURE_V1 = Path(__file__).parents[1] / "data" / "format-v1.lrlab"


def test_a_real_format_1_file_opens_migrates_and_replays_identical(tmp_path):
    """tests/data/format-v1.lrlab was written by lrlab before format 2 (a plateau schedule that
    reduced the LR eight times, and a mid-run "scale" edit at step 100)."""
    path = tmp_path / "old.lrlab"
    shutil.copyfile(FIXTURE_V1, path)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1
    assert con.execute("SELECT COUNT(*) FROM meta WHERE key IN ('kind', 'group')").fetchone()[0] == 0
    con.close()
    with Session.open(path) as s:
        assert s.meta["format_version"] == session_mod.FORMAT_VERSION == 4
        assert len(s.file_id) == 32 and s.snapshot_steps() == []  # format 4: an id; no snapshots in old runs
        assert s.effective_lr()["step"].size == 0  # format 3's effective-LR table, empty for old runs
        assert s.kind == "train" and s.group is None
        assert s.status == "finished" and s.n_steps() == 240
        assert [e.kind for e in s.events()].count("plateau") == 8
        assert s.edits() == [(100, {"kind": "scale", "factor": 0.5})]
        recorded = s.steps(("step", "train_loss", "lr"))
        runner = replay_runner(s)
    assert path.read_bytes() == FIXTURE_V1.read_bytes()  # read in memory: the file is as it was
    col = Collector()
    runner.listeners.append(col)
    assert runner.run() == "finished"
    result = compare_steps(recorded, {c: col.column(c) for c in ("step", "train_loss", "lr")})
    # Bit for bit is promised on the machine that recorded a run (the presets' replays check it).
    # This file came from another machine: same versions, seed and threads, but a processor whose
    # vector kernels may round differently (files now record them as cpu_kernels), so the last
    # bits may move while the run stays the same run.
    assert result.steps == 240 and (result.identical or result.max_abs_difference < 1e-5), result.describe()
    np.testing.assert_array_equal(recorded["lr"], col.column("lr"))  # the migrated schedule and edit: exact
    assert main(["replay", str(path), "--verify", "--quiet"]) == (0 if result.identical else 1)  # the CLI agrees


def test_sessions_record_their_kind_and_group(tmp_path):
    run = RecordedRun(RunSpec.from_json(dict(SPEC, epochs=1)), tmp_path / "g.lrlab", group="sweep-1")
    run.run()
    with Session.open(run.path) as s:
        assert s.kind == "train" and s.group == "sweep-1"
        assert s.meta["format_version"] == session_mod.FORMAT_VERSION


def test_a_replay_names_a_processor_with_other_vector_kernels_and_skips_what_old_files_lack(tmp_path):
    """The same versions, seed and threads round differently on a processor with wider vector
    kernels, so sessions record which kernels torch chose and a replay names the difference."""
    run = RecordedRun(RunSpec.from_json(dict(SPEC, epochs=1)), tmp_path / "k.lrlab")
    run.run()
    with Session.open(run.path) as s:
        env = s.environment
    assert env["cpu_kernels"] == torch.backends.cpu.get_cpu_capability()
    assert environment_differences(env, env) == ()
    elsewhere = dict(env, cpu_kernels="AVX2" if env["cpu_kernels"] != "AVX2" else "AVX512")
    assert environment_differences(elsewhere, env) == (
        f"cpu_kernels: recorded {elsewhere['cpu_kernels']!r}, now {env['cpu_kernels']!r}",)
    older = {k: v for k, v in env.items() if k != "cpu_kernels"}  # written before it was recorded
    assert environment_differences(older, env) == ()


def test_killed_sweeps_and_forks_open_everywhere_without_a_repair_step(tmp_path):
    """A sample of tests/crash_campaign.py (50 kills there, figures in benchmarks/README.md): a
    SIGKILL at a random moment of a sweep and of a fork leaves files that open read-only in
    Session.open, `lrlab info`, `export` and `compare` at once. The writer logs ahead (WAL), so
    there is never a journal to roll back first; `lrlab repair` only folds the log back in."""
    import random

    from crash_campaign import kill_one, parent_session

    rng = random.Random(7)
    parent = parent_session(tmp_path)
    for kind in ("sweep", "fork"):
        kill = kill_one(kind, tmp_path, rng, parent)
        assert kill.files and kill.problems == [], (kind, kill.problems)
    killed = kill.files[0]
    steps = Session.open(killed).n_steps()
    assert Path(f"{killed}-wal").exists()  # the unfinished run's log, read in place
    assert main(["repair", str(killed)]) == 0
    assert not Path(f"{killed}-wal").exists() and not Path(f"{killed}-shm").exists()
    with Session.open(killed) as s:
        assert s.n_steps() == steps and s.status == "interrupted"


def test_a_finished_session_is_one_file(tmp_path):
    run = RecordedRun(RunSpec.from_json(dict(SPEC, epochs=1)), tmp_path / "one.lrlab")
    run.run()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.lrlab"]
    con = sqlite3.connect(run.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()


def test_batches_half_a_second_apart_are_each_committed_even_a_hair_early(tmp_path, monkeypatch):
    """The window paces a live run's batches to its frames, at most every 0.5 s, the writer's
    commit interval: a batch that came a millisecond early must not push its commit to the next
    one (a second apart: that much more lost to a crash)."""
    from lrlab.core.decl.events import Status
    from lrlab.core.runs.base import Update

    clock = [100.0]
    monkeypatch.setattr(session_mod.time, "monotonic", lambda: clock[0])
    spec = RunSpec.from_json({"dataset": {"name": "iris"}, "steps": 10})
    writer = SessionWriter(tmp_path / "s.lrlab", spec, {}, commit_seconds=0.5)
    commits = []
    real = writer._commit
    monkeypatch.setattr(writer, "_commit", lambda: (commits.append(clock[0]), real()))

    def batch(at: float) -> None:
        clock[0] = 100.0 + at
        writer(Update({"step": np.array([], dtype=np.int64)}, [], [], 1, 10, Status.RUNNING))

    for at in (0.5, 0.999, 1.5, 1.998, 2.5):  # every half second, a few ms early or late
        batch(at)
    assert len(commits) == 5
    batch(2.7)  # sooner than that: left for the next batch
    assert len(commits) == 5
    batch(3.0)
    assert len(commits) == 6
    writer.close("finished")
