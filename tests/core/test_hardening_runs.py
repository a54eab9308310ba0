"""Issue 30, third campaign: damaged snapshot states, kind meta and specs that disagree with their
recording give one line and exit 2, and a failed fork leaves no file (items 1, 2, 10, 15)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from lrlab.cli import main
from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs import RecordedRun

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
        "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 3, "batch_size": 16, "device": "cpu"}


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    """A run with snapshots, its fork, a sweep, a range test and a landscape: one of each kind."""
    d = tmp_path_factory.mktemp("sources")
    RecordedRun(RunSpec.from_json(SPEC), d / "p.lrlab", snapshot_every=10).run()
    (d / "spec.json").write_text(json.dumps(SPEC))
    assert main(["fork", str(d / "p.lrlab"), "--at", "15", "-o", str(d / "f.lrlab"), "-q"]) == 0
    assert main(["sweep", str(d / "spec.json"), "--lrs", "0.01,0.1", "-o", str(d / "sw"), "-q"]) == 0
    assert main(["find-lr", str(d / "spec.json"), "-s", "epochs=1", "-o", str(d / "rt.lrlab"), "-q"]) == 0
    assert main(["landscape", "quadratic", "--opt", "sgd:lr=0.1", "--steps", "20", "-o", str(d / "ls.lrlab")]) == 0
    return {"train": d / "p.lrlab", "fork": d / "f.lrlab", "member": d / "sw" / "0-lr0.01-seed0.lrlab",
            "range_test": d / "rt.lrlab", "landscape": d / "ls.lrlab", "spec": d / "spec.json"}


def one_line_exit_2(argv: list[str], capsys) -> str:
    """Run the CLI; it must end with exit 2 and exactly one line on stderr (no traceback)."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrlab: error: ") and err.count("\n") == 1, err
    return err


def damaged_copy(src: Path, folder: Path, key: str, change) -> Path:
    """A copy of ``src`` whose meta ``key`` is ``change(value)`` (``...``: deleted)."""
    p = folder / f"damaged-{key}-{src.name}"
    shutil.copy(src, p)
    con = sqlite3.connect(p)
    row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    value = change(json.loads(row[0]) if row else None)
    if value is ...:
        con.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
    con.commit()
    con.close()
    return p


# --- item 1: fork with a damaged snapshot state ----------------------------------------------------

def _set(key, value):
    def change(header):
        header["state"][key] = value
        return json.dumps(header)
    return change


def _huge_step(header):
    return json.dumps(header).replace(f'"step": {header["step"]}', '"step": ' + "9" * 5001)


@pytest.mark.parametrize(("name", "change", "message"), [
    ("numpy-null", _set("numpy", None), "numpy state"),
    ("optimizer-values-5", _set("optimizer_values", 5), "optimizer_values"),
    ("python-text", _set("python", "x"), "python state"),
    ("param-groups-of-numbers", _set("param_groups", [5]), "param_groups"),
    ("5001-digit-step", _huge_step, "4,300 digits"),
])
def test_a_fork_from_a_damaged_snapshot_state_is_one_line_and_leaves_no_file(sources, tmp_path, capsys,
                                                                            name, change, message):
    p = tmp_path / "p.lrlab"
    shutil.copy(sources["train"], p)
    con = sqlite3.connect(p)
    con.execute("UPDATE snapshots SET header = ? WHERE step = 10",
                (change(json.loads(con.execute("SELECT header FROM snapshots WHERE step = 10").fetchone()[0])),))
    con.commit()
    con.close()
    out = tmp_path / "out.lrlab"
    err = one_line_exit_2(["fork", str(p), "--at", "12", "-o", str(out), "-q"], capsys)
    assert "damaged snapshot" in err and message in err
    assert not out.exists()


def test_a_state_that_fails_only_while_restoring_leaves_no_fork_file(sources, tmp_path, capsys, monkeypatch):
    """Checks aside, whatever fails in restoring the state is one line and removes the new file."""
    from lrlab.core.engine.snapshots import SnapshotError
    from lrlab.core.runs import train

    def broken(self, start):
        raise SnapshotError("snapshot at step 10 cannot be restored: broken on purpose")

    monkeypatch.setattr(train.Trainer, "_restore", broken)
    out = tmp_path / "out.lrlab"
    err = one_line_exit_2(["fork", str(sources["train"]), "--at", "12", "-o", str(out), "-q"], capsys)
    assert "broken on purpose" in err and not out.exists()


def test_a_fork_that_fails_before_its_first_step_leaves_no_file(sources, tmp_path, monkeypatch):
    import lrlab
    from lrlab.core.runs import train

    def broken(self, start):
        raise RuntimeError("out of something")

    monkeypatch.setattr(train.Trainer, "_restore", broken)
    out = tmp_path / "out.lrlab"
    with pytest.raises(RuntimeError, match="out of something"):
        lrlab.fork(sources["train"], 12, out=out)
    assert not out.exists()


# --- items 2 and 10: each kind's meta, checked on reading ------------------------------------------

@pytest.mark.parametrize(("source", "key", "change", "argv", "message"), [
    ("member", "sweep", lambda v: ..., ("replay", "--verify", "-q"), "without its meta 'sweep'"),
    ("member", "sweep", lambda v: {**v, "member": 9}, ("replay", "--verify", "-q"), "from 0 to 1, got 9"),
    ("member", "sweep", lambda v: {**v, "member": -1}, ("replay", "--verify", "-q"), "got -1"),
    ("member", "sweep", lambda v: {**v, "path": "x"}, ("replay", "--verify", "-q"), "sweep.path"),
    ("member", "sweep", lambda v: {**v, "lrs": []}, ("replay", "--verify", "-q"), "lists of LRs"),
    ("member", "sweep", lambda v: {**v, "seeds": "abc"}, ("info",), "lists of LRs"),
    ("fork", "parent", lambda v: ..., ("replay", "--verify", "-q"), "without its meta 'parent'"),
    ("landscape", "summary", lambda v: {**v, "landscape": [1]}, ("info",), "summary 'landscape'"),
    ("landscape", "landscape", lambda v: ..., ("info",), "meta 'landscape'"),
    ("range_test", "summary", lambda v: {**v, "range_test": [1]}, ("info",), "summary 'range_test'"),
    ("range_test", "summary", lambda v: {**v, "range_test": {"lrs": 5}}, ("info",), "range test summary"),
    ("range_test", "summary", lambda v: {**v, "range_test": {"lrs": 5}}, ("info", "--json"), "range test summary"),
    ("train", "summary", lambda v: [1], ("info",), "meta 'summary'"),
])
def test_each_kinds_meta_is_checked_when_reading(sources, tmp_path, capsys, source, key, change, argv, message):
    p = damaged_copy(sources[source], tmp_path, key, change)
    err = one_line_exit_2([argv[0], str(p), *argv[1:]], capsys)
    assert message in err


def test_a_landscape_trajectory_of_odd_types_still_prints(sources, tmp_path, capsys):
    p = damaged_copy(sources["landscape"], tmp_path, "summary",
                     lambda v: {**v, "landscape": {"trajectories": [{"status": 5, "step": "x"}]}})
    assert main(["info", str(p)]) == 0
    assert "trajectory 1" in capsys.readouterr().out


# --- item 15: a spec that disagrees with its recording ------------------------------------------------

def _epochs(n):
    return lambda spec: {**spec, "epochs": n}


@pytest.mark.parametrize(("source", "key", "change", "argv"), [
    ("train", "spec", _epochs(100_000), ("replay", "--verify", "-q")),
    ("train", "spec", _epochs(100_000), ("fork", "--at", "5", "-q")),
    ("fork", "spec", _epochs(100_000), ("replay", "-q")),
    ("member", "spec", _epochs(100_000), ("replay", "--verify", "-q")),
    ("train", "total_steps", lambda v: 800_000, ("fork", "--at", "5", "-q")),  # a finished run of 24 steps
    ("train", "total_steps", lambda v: 10, ("replay", "-q")),  # more steps than the run had
])
def test_a_spec_that_disagrees_with_its_recording_is_refused_before_training(sources, tmp_path, capsys,
                                                                             source, key, change, argv):
    p = damaged_copy(sources[source], tmp_path, key, change)
    before = sorted(tmp_path.iterdir())
    err = one_line_exit_2([argv[0], str(p), *argv[1:]], capsys)
    assert "the spec and the recorded steps disagree" in err
    assert sorted(tmp_path.iterdir()) == before  # no fork file


# --- found by the campaign: repair of something that is not a file ------------------------------------

@pytest.mark.parametrize("make", ["symlink loop", "FIFO", "folder"])
def test_repair_of_something_that_is_not_a_file_is_one_line(tmp_path, capsys, make):
    import os

    p = tmp_path / "s.lrlab"
    {"symlink loop": lambda: os.symlink(p.name, p), "FIFO": lambda: os.mkfifo(p), "folder": p.mkdir}[make]()
    one_line_exit_2(["repair", str(p)], capsys)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
