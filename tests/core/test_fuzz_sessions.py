"""Damaged sessions from others: every command ends with a result or one line (exit 2), nothing
hangs, a read never changes a file, and the window shows a message, never a traceback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fuzz_sessions import DAMAGES, source_session, variants


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("fuzz")
    return variants(source_session(folder), folder / "v", 2 * len(DAMAGES), seed=11)


def _fingerprint(path: Path) -> tuple:
    files = sorted(path.parent.glob(path.name + "*"))
    return tuple((f.name, f.read_bytes(), f.stat().st_mtime_ns) for f in files if f.is_file() and not f.is_symlink())


def test_reads_never_change_a_file(corpus):
    from fuzz_sessions import run_cli

    for kind in ("own journal left", "another database's journal", "body byte flips", "text in a numeric column"):
        path = next(p for k, p in corpus if k == kind)
        before = _fingerprint(path)
        for argv in (["info", str(path)], ["info", str(path), "--json"], ["export", str(path), "--csv",
                     str(path.with_name("x.csv"))], ["compare", str(path), str(path), "--png",
                     str(path.with_name("x.png"))]):
            run_cli(argv)
        assert _fingerprint(path) == before, kind


def test_a_journal_beside_a_session_is_reported_and_repair_applies_it(corpus, tmp_path):
    from fuzz_sessions import run_cli

    original = next(p for k, p in corpus if k == "own journal left")
    path = tmp_path / "s.lrlab"
    for f in original.parent.glob("s.lrlab*"):
        shutil.copy(f, tmp_path / f.name)
    rc, err, _ = run_cli(["info", str(path)])
    assert rc == 2 and "an interrupted write left s.lrlab-journal beside it; reading never applies it" in err
    rc, err, _ = run_cli(["repair", str(path)])
    assert rc == 0 and (tmp_path / "s.lrlab.bak").exists() and (tmp_path / "s.lrlab-journal.bak").exists()
    assert not (tmp_path / "s.lrlab-journal").exists()
    from lrlab.core.storage.session import Session

    with Session.open(path) as s:  # rolled back: every step the interrupted write was deleting is there
        assert s.n_steps() == 24 and "x" not in s.meta


def test_sessions_list_marks_damaged_files_and_lists_the_rest(corpus, tmp_path, lrlab_home):
    from lrlab.core.storage.library import Library

    folder = tmp_path / "lib"
    folder.mkdir()
    for i, (_kind, path) in enumerate(corpus[: len(DAMAGES)]):
        if path.is_symlink():
            os.symlink(os.readlink(path), folder / f"{i:03d}.lrlab")
        elif path.is_dir():
            (folder / f"{i:03d}.lrlab").mkdir()
        else:
            shutil.copy(path, folder / f"{i:03d}.lrlab")
    shutil.copy(corpus[0][1].parents[2] / "source.lrlab", folder / "good.lrlab")
    entries = {Path(e.path).stem: e for e in Library([folder], lrlab_home / "index.json").refresh()}
    assert len(entries) == len(DAMAGES) + 1
    assert entries["good"].status == "finished" and entries["good"].steps == 24
    unreadable = [e for e in entries.values() if e.status.startswith("unreadable")]
    assert len(unreadable) >= len(DAMAGES) // 2


def test_no_query_on_a_session_runs_for_ever(corpus, monkeypatch):
    from lrlab.core.storage import session as session_mod

    monkeypatch.setattr(session_mod, "QUERY_SECONDS", 0.2)
    path = corpus[0][1].parents[2] / "source.lrlab"  # an intact session
    with session_mod.Session.open(path) as s, pytest.raises(session_mod.SessionError) as err, \
            s.reading("table steps"):
        s._con.execute("WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r) SELECT COUNT(*) FROM r")
    assert "a query ran longer than 0.2 s and was stopped" in str(err.value)


def test_a_write_that_leaves_nothing_is_an_error_and_no_file(tmp_path):
    from lrlab.core.storage.export import ExportError, written

    out = tmp_path / "plot.png"
    with pytest.raises(ExportError, match="nothing was written"), written(out) as tmp:
        tmp.write_bytes(b"")  # what a full disk or a silent writer leaves
    with pytest.raises(ExportError, match="No space left"), written(out) as tmp:
        raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []
    with written(out) as tmp:
        tmp.write_bytes(b"ok")
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"] and out.read_bytes() == b"ok"


def test_runs_racing_for_one_name_and_a_full_disk_leave_one_good_file_or_none(tmp_path, monkeypatch):
    import sqlite3
    import threading

    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.storage.session import Session, SessionError, SessionWriter

    spec = RunSpec.from_json({"dataset": {"name": "iris"}, "steps": 3})
    out, results = tmp_path / "same.lrlab", []

    def start() -> None:
        try:
            SessionWriter(out, spec, {"threads": 1}).close("finished")
            results.append("won")
        except SessionError as err:
            results.append(str(err))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("won") == 1
    assert all(r == "won" or "already exists; choose another name (nothing was overwritten)" in r for r in results)
    with Session.open(out) as s:
        assert s.status == "finished"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.lrlab"]

    real = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: (_ for _ in ()).throw(
        sqlite3.OperationalError("database or disk is full")) if str(a[0]).endswith(".part") else real(*a, **k))
    with pytest.raises(SessionError, match="cannot create the session file there \\(database or disk is full\\)"):
        SessionWriter(tmp_path / "full.lrlab", spec, {"threads": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.lrlab"]  # no .part, no empty claim
