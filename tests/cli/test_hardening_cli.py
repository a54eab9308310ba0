"""Issue 30, third campaign: outputs that are an input (by inode), ``--out`` folders created at
most one level deep, and ``compare`` on a text metric or a very large file (items 6, 7, 16)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lrlab.cli import main
from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs import RecordedRun

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
        "optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 1, "batch_size": 16, "device": "cpu"}


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("session") / "run.lrlab"
    RecordedRun(RunSpec.from_json(SPEC), path).run()
    return path


def one_line_exit_2(argv: list[str], capsys) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrlab: error: ") and err.count("\n") == 1, err
    return err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- item 6: an output that is the same file as an input, by inode ------------------------------------

@pytest.mark.parametrize("argv", [
    ["find-lr", "{spec}", "--png", "{spec}", "-q"],
    ["find-lr", "{spec}", "--png", "{link}", "-q"],
    ["find-lr", "{spec}", "-o", "{spec}", "-q"],
    ["run", "{spec}", "-o", "{link}", "-q"],
    ["replay", "{copy}", "-o", "{copy_link}", "-q"],
    ["fork", "{copy}", "--at", "3", "-o", "{copy_link}", "-q"],
    ["export", "{copy}", "--spec", "{copy_link}"],
    ["export", "{copy}", "--csv", "{copy}"],
])
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(session, tmp_path, capsys, argv):
    spec, copy = tmp_path / "spec.json", tmp_path / "copy.lrlab"
    spec.write_text(json.dumps(SPEC))
    copy.write_bytes(session.read_bytes())
    os.link(spec, tmp_path / "link.json")  # another name for the same file
    os.link(copy, tmp_path / "copy-link.lrlab")
    names = {"spec": spec, "link": tmp_path / "link.json", "copy": copy, "copy_link": tmp_path / "copy-link.lrlab"}
    before = snapshot(tmp_path)
    err = one_line_exit_2([a.format(**names) for a in argv], capsys)
    assert "it is the input" in err or "already exists" in err
    assert snapshot(tmp_path) == before


def test_two_outputs_of_one_command_may_not_be_one_file(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    err = one_line_exit_2(["find-lr", str(spec), "-o", str(tmp_path / "r.lrlab"), "--png",
                           str(tmp_path / "." / "r.lrlab"), "-q"], capsys)
    assert "name the same file" in err and not (tmp_path / "r.lrlab").exists()


def test_tensorboard_onto_the_session_is_refused(session, tmp_path):
    from lrlab.core.storage.export import ExportError, write_tensorboard
    from lrlab.core.storage.session import Session

    odd = tmp_path / "run"  # a session without a suffix: DIR/<stem> is the session itself
    odd.write_bytes(session.read_bytes())
    with Session.open(odd) as s, pytest.raises(ExportError, match="it is the input"):
        write_tensorboard(s, tmp_path)
    assert odd.read_bytes() == session.read_bytes()


# --- item 7: --out paths --------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["sweep", "{spec}", "--lrs", "0.1", "--out", "{afile}/s", "-q"],
    ["sweep", "{spec}", "--lrs", "0.1", "--out", "{missing}/x", "-q"],
    ["run", "{spec}", "--out", "{missing}/x.lrlab", "-q"],
    ["find-lr", "{spec}", "--out", "{missing}/x.lrlab", "-q"],
    ["landscape", "quadratic", "--opt", "sgd:lr=0.1", "-o", "{missing}/x.lrlab"],
    ["landscape", "quadratic", "--opt", "sgd:lr=0.1", "--csv", "{afile}/x.csv"],
    ["export", "{session}", "--tensorboard", "{missing}/tb"],
])
def test_out_creates_no_folder_above_the_last_level(session, tmp_path, capsys, argv):
    spec, afile, missing = tmp_path / "spec.json", tmp_path / "afile", tmp_path / "missing"
    spec.write_text(json.dumps(SPEC))
    afile.write_text("x")
    one_line_exit_2([a.format(spec=spec, afile=afile, missing=missing, session=session) for a in argv], capsys)
    assert not missing.exists() and afile.read_text() == "x"


def test_a_folder_output_is_created_one_level_deep(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    assert main(["sweep", str(spec), "--lrs", "0.1", "--out", str(tmp_path / "new"), "-q"]) == 0
    assert (tmp_path / "new" / "summary.json").is_file()


def test_the_api_makes_no_folder_above_an_output_either(tmp_path):
    from lrlab.core.runs import RecordedSweep
    from lrlab.core.storage.session import SessionError

    spec = RunSpec.from_json(SPEC)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SessionError, match="is not a folder"):
        RecordedSweep(spec, [0.1], tmp_path / "afile" / "s")
    with pytest.raises(SessionError, match="does not exist"):
        RecordedSweep(spec, [0.1], tmp_path / "missing" / "s")
    with pytest.raises(SessionError, match="does not exist"):
        RecordedRun(spec, tmp_path / "missing" / "x.lrlab")
    assert not (tmp_path / "missing").exists()


# --- item 16: compare's arguments, progress and row limits ----------------------------------------

@pytest.mark.parametrize(("kwargs", "field"), [
    ({"metric": "hello"}, "metric"), ({"metric": 5}, "metric"), ({"x": "z"}, "x"),
    ({"target": "val_metric>=e"}, "target"), ({"target": "val_metric>=."}, "target"), ({"target": 5}, "target"),
    ({"smooth": "x"}, "smooth"), ({"smooth": 5.0}, "smooth"),
])
def test_compare_names_a_bad_argument_in_one_line(session, kwargs, field):
    import lrlab
    from lrlab.core.decl.params import SpecError

    with pytest.raises(SpecError) as err:
        lrlab.compare([session, session], **kwargs)
    assert str(err.value).startswith(field) and "\n" not in str(err.value)


def test_cli_compare_with_a_target_that_is_not_a_number_is_one_line(session, capsys):
    err = one_line_exit_2(["compare", str(session), str(session), "--target", "val_metric>=e"], capsys)
    assert "target" in err


def _padded(session: Path, out: Path, rows: int, total: int) -> Path:
    """A copy of ``session`` with ``rows`` steps and meta total_steps ``total``."""
    import sqlite3

    out.write_bytes(session.read_bytes())
    con = sqlite3.connect(out)
    n = con.execute("SELECT COUNT(*) FROM steps").fetchone()[0]
    cols = [r[1] for r in con.execute("PRAGMA table_info(steps)")]
    last = con.execute(f"SELECT {', '.join(cols)} FROM steps WHERE step = ?", (n - 1,)).fetchone()
    con.executemany(f"INSERT INTO steps VALUES ({', '.join('?' * len(cols))})",
                    ((step, *last[1:]) for step in range(n, rows)))
    con.execute("UPDATE meta SET value = ? WHERE key = 'total_steps'", (json.dumps(total),))
    con.commit()
    con.close()
    return out


def test_compare_of_a_long_file_reports_progress_in_chunks(session, tmp_path):
    import lrlab
    from lrlab.core.features.compare import Run

    long = _padded(session, tmp_path / "long.lrlab", 2 * Run.CHUNK + 5, 2 * Run.CHUNK + 5)
    calls: list[tuple[int, int]] = []
    lrlab.compare([long, session], target=None, progress=lambda done, total: calls.append((done, total)))
    assert (Run.CHUNK, 2 * Run.CHUNK + 5) in calls and (2 * Run.CHUNK + 5, 2 * Run.CHUNK + 5) in calls
    assert all(done <= total for done, total in calls)


def test_compare_refuses_a_file_with_more_rows_than_its_run_had_steps(session, tmp_path, capsys):
    padded = _padded(session, tmp_path / "padded.lrlab", 5000, 10)
    err = one_line_exit_2(["compare", str(padded), str(session)], capsys)
    assert "more than the run's 10 steps" in err
