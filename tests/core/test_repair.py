"""Repair never loses a backup and never runs a file's code; hostile companions and writer meta
get messages (issue 30, items 8 and 11)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from lrlab.cli import main
from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs import RecordedRun
from lrlab.core.storage.session import Session, SessionError, repair

SPEC = {"dataset": {"name": "iris"}, "epochs": 2, "optimizer": {"name": "sgd", "lr": 0.05}}


@pytest.fixture
def session(tmp_path) -> Path:
    run = RecordedRun(RunSpec.from_json(SPEC), tmp_path / "s.lrlab")
    run.run()
    return run.path


def _set_meta(path: Path, **items) -> None:
    con = sqlite3.connect(path)
    with con:
        con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in items.items()])
    con.close()


@pytest.mark.parametrize("writer, heartbeat", [({"pid": "abc", "host": os.uname().nodename}, time.time()),
                                               ({"pid": 2**70, "host": os.uname().nodename}, time.time()),
                                               ({"pid": None, "host": os.uname().nodename}, None),
                                               ({"pid": -1, "host": os.uname().nodename}, None),
                                               ({"host": "elsewhere"}, None)])
def test_a_running_session_with_impossible_writer_meta_reads_as_interrupted(session, writer, heartbeat, capsys):
    _set_meta(session, status="running", writer=writer, heartbeat=heartbeat)
    with Session.open(session) as s:
        assert s.status == "interrupted"
    for argv in (["info", str(session)], ["export", str(session), "--csv", str(session.with_suffix(".csv"))]):
        assert main(argv) == 0, capsys.readouterr().err


def test_backups_are_numbered_and_never_replaced(tmp_path):
    fixture = Path(__file__).parents[1] / "data" / "format-v1.lrlab"
    path = tmp_path / "old.lrlab"
    shutil.copyfile(fixture, path)
    assert repair(path) == ["migrated from format 1 to 4 (backup: old.lrlab.v1.bak)"]
    shutil.copyfile(fixture, path)  # the same file again, say from a colleague
    (tmp_path / "old.lrlab.v1.bak").write_bytes(b"my own notes")  # an earlier backup, changed since
    assert repair(path) == ["migrated from format 1 to 4 (backup: old.lrlab.v1.bak-2)"]
    assert (tmp_path / "old.lrlab.v1.bak").read_bytes() == b"my own notes"  # never replaced
    assert (tmp_path / "old.lrlab.v1.bak-2").read_bytes() == fixture.read_bytes()


def test_a_trigger_or_view_in_a_session_is_refused_and_never_fires(session, capsys):
    steps = Session.open(session).n_steps()
    con = sqlite3.connect(session)
    con.execute("CREATE TRIGGER wipe AFTER UPDATE ON meta BEGIN DELETE FROM steps; END")
    con.execute("PRAGMA user_version = 3")  # a migration would write meta and fire it
    con.close()
    for argv in (["info", str(session)], ["repair", str(session)]):
        assert main(argv) == 2
        assert 'it holds a trigger ("wipe")' in capsys.readouterr().err
    con = sqlite3.connect(session)
    con.execute("DROP TRIGGER wipe")
    assert con.execute("SELECT COUNT(*) FROM steps").fetchone()[0] == steps  # nothing fired
    con.execute("CREATE VIEW extra AS SELECT * FROM steps")
    con.close()
    with pytest.raises(SessionError, match='it holds a view \\("extra"\\)'):
        Session.open(session)


@pytest.mark.parametrize("make", ["folder", "fifo"])
@pytest.mark.parametrize("suffix", ["-journal", "-wal"])
def test_a_journal_or_log_that_is_no_file_is_named_never_opened(session, make, suffix, capsys):
    beside = session.with_name(session.name + suffix)
    beside.mkdir() if make == "folder" else os.mkfifo(beside)
    kind = "a folder" if make == "folder" else "a FIFO"
    for argv in (["info", str(session)], ["repair", str(session)]):
        assert main(argv) == 2  # a FIFO would have blocked SQLite's open for ever
        assert f"s.lrlab{suffix} beside it is {kind}" in capsys.readouterr().err


def test_a_journal_with_nothing_to_apply_is_moved_aside_not_reported_applied(session, tmp_path):
    journal = session.with_name("s.lrlab-journal")
    journal.write_bytes(b"\0" * 4096)  # a zeroed header: SQLite has nothing to roll back
    done = repair(session)
    assert len(done) == 1 and "held no interrupted write to apply" in done[0] and "applied" not in done[0][:10]
    assert not journal.exists() and (tmp_path / "s.lrlab-journal.bak").read_bytes() == b"\0" * 4096
    assert (tmp_path / "s.lrlab.bak").exists()
    journal.write_bytes(b"\0" * 4096)
    repair(session)  # a second time: a new backup, the first kept
    assert (tmp_path / "s.lrlab-journal.bak-2").exists() and (tmp_path / "s.lrlab.bak-2").exists()
    with Session.open(session) as s:
        assert s.status == "finished"
    shutil.rmtree(tmp_path / "unused", ignore_errors=True)


@pytest.mark.parametrize("damage", [
    lambda d: d["entries"][next(iter(d["entries"]))].update(extra=1),  # an extra key
    lambda d: d.update(entries=[1, 2]),  # a list
    lambda d: d["entries"][next(iter(d["entries"]))].update(created=None),  # a wrong type
    lambda d: d["entries"][next(iter(d["entries"]))].update(mtime="yesterday"),
    lambda d: d.update(entries={"x": json.loads("[" * 50 + "]" * 50)}),
])
def test_a_damaged_library_index_is_rebuilt_not_raised(session, tmp_path, damage):
    from lrlab.core.storage import library as library_mod

    assert library_mod._FIELD_TYPES.keys() == library_mod._FIELDS  # every field of an entry is checked
    index = tmp_path / "index.json"
    lib = library_mod.Library([session.parent], index=index)
    assert [e.name for e in lib.refresh()] == ["s"]
    data = json.loads(index.read_text())
    damage(data)
    index.write_text(json.dumps(data))
    again = library_mod.Library([session.parent], index=index)
    assert [e.name for e in again.refresh()] == ["s"] and again.reads == 1  # read afresh from the file


def test_a_session_without_a_creation_time_is_listed(session, tmp_path):
    import lrlab

    _set_meta(session, created=None)
    assert lrlab.library(session.parent).to_frame()["name"].tolist() == ["s"]
