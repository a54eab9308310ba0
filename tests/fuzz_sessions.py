"""Damaged session files, as someone who opens sessions sent by others meets them.

``variants(source, folder, n, seed)`` writes ``n`` seeded variants of a real session into
``folder``, across every kind of damage: truncations, flipped bytes in the header and in body
pages, zeroed pages, dropped or renamed tables, text and huge integers in numeric columns,
hostile or deeply nested JSON, meta values of the wrong type or size, views (one recursing
forever) in place of tables, a newer format, journals left beside the file (its own and another
database's), empty files, directories, symlink loops, invalid UTF-8 and lone surrogates, events
that are not what their kind says. ``check(path)`` feeds one file to ``lrlab info``, ``info
--json``, ``replay --verify``, ``export --csv`` and ``compare --png`` in this process and returns
what was not clean: a traceback, more than one line on stderr for an error, or a call over 10 s.

The CI test (``tests/core/test_fuzz_sessions.py``) runs a sample; the whole corpus is

    QT_QPA_PLATFORM=offscreen python tests/fuzz_sessions.py --n 1000 --seed 0
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import sqlite3
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

SLOW_SECONDS = 10.0
COMMANDS = (("info",), ("info", "--json"), ("replay", "--verify", "--quiet"), ("export", "--csv", "{out}.csv"),
            ("compare", "{path}", "--png", "{out}.png"))


def source_session(folder: Path) -> Path:
    """A small real session to damage: iris, 3 epochs, with an edit and evaluations."""
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedRun

    spec = RunSpec.from_json({"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
                              "optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 3, "batch_size": 16,
                              "device": "cpu", "threads": 1})
    run = RecordedRun(spec, folder / "source.lrlab", edits=[(5, {"kind": "scale", "factor": 0.5})],
                      snapshot_every=10)
    run.run()
    return run.path


def _sql(*statements: str) -> Callable[[Path, random.Random], None]:
    def damage(path: Path, rng: random.Random) -> None:
        con = sqlite3.connect(path)
        # as a hostile author would: tables lose STRICT, so any value fits any column
        con.execute("PRAGMA writable_schema = ON")
        con.execute("UPDATE sqlite_master SET sql = replace(sql, ') STRICT', ')') WHERE type = 'table'")
        con.commit()
        con.close()
        con = sqlite3.connect(path)
        for st in statements:
            with contextlib.suppress(sqlite3.IntegrityError):  # a rowid column takes integers only
                con.execute(st.format(n=rng.randrange(1, 30)))
        con.commit()
        con.close()
    return damage


def _meta(key: str, value: str | bytes) -> Callable[[Path, random.Random], None]:
    def damage(path: Path, rng: random.Random) -> None:
        con = sqlite3.connect(path)
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        con.commit()
        con.close()
    return damage


def _bytes(where: str) -> Callable[[Path, random.Random], None]:
    def damage(path: Path, rng: random.Random) -> None:
        data = bytearray(path.read_bytes())
        page = int.from_bytes(data[16:18], "big") or 4096
        if where == "truncate":
            del data[rng.randrange(0, len(data)):]
        elif where == "header":
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(0, 100)] ^= 1 << rng.randrange(8)
        elif where == "body":
            for _ in range(rng.randrange(1, 9)):
                data[rng.randrange(100, len(data))] ^= 1 << rng.randrange(8)
        elif where == "zero-page":
            start = page * rng.randrange(1, max(2, len(data) // page))
            data[start:start + page] = bytes(len(data[start:start + page]))
        path.write_bytes(bytes(data))
    return damage


def _journal(foreign: bool) -> Callable[[Path, random.Random], None]:
    """A hot journal beside the file: this file's own, or one from another database."""
    def damage(path: Path, rng: random.Random) -> None:
        target = path.with_name("other.db") if foreign else path
        if foreign:
            shutil.copyfile(path, target)
        code = ("import sqlite3, os, sys\ncon = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                "con.execute('PRAGMA cache_size=1')\ncon.execute('BEGIN')\n"
                "con.execute('DELETE FROM steps WHERE step > 3')\n"
                "con.execute('INSERT INTO meta VALUES (\"x\", \"1\")')\nos._exit(0)\n")
        import subprocess

        subprocess.run([sys.executable, "-c", code, str(target)], check=True)
        journal = target.with_name(target.name + "-journal")
        if foreign:
            shutil.move(journal, path.with_name(path.name + "-journal"))
            target.unlink()
    return damage


def _replace_file(kind: str) -> Callable[[Path, random.Random], None]:
    def damage(path: Path, rng: random.Random) -> None:
        path.unlink()
        if kind == "empty":
            path.write_bytes(b"")
        elif kind == "directory":
            path.mkdir()
        elif kind == "symlink-loop":
            os.symlink(path.name, path)
        elif kind == "dangling":
            os.symlink("nowhere.lrlab", path)
        elif kind == "not-sqlite":
            path.write_bytes(b"SQLite format 3\x00" + bytes(rng.randrange(0, 256) for _ in range(200)))
    return damage


DEEP = "[" * 100_000 + "]" * 100_000
STEP_COLS = "step, epoch, samples, wall_time, train_loss, lr, grad_norm, update_ratio"
DAMAGES: dict[str, Callable[[Path, random.Random], None]] = {
    "truncated": _bytes("truncate"),
    "header byte flips": _bytes("header"),
    "body byte flips": _bytes("body"),
    "zeroed page": _bytes("zero-page"),
    "steps dropped": _sql("DROP TABLE steps"),
    "evals dropped": _sql("DROP TABLE evals"),
    "events dropped": _sql("DROP TABLE events"),
    "meta dropped": _sql("DROP TABLE meta"),
    "steps renamed": _sql("ALTER TABLE steps RENAME TO steps_old"),
    "column renamed": _sql("ALTER TABLE steps RENAME COLUMN train_loss TO loss"),
    "text in a numeric column": _sql("UPDATE steps SET train_loss = 'abc' WHERE step = {n}"),
    "text in the step column": _sql("UPDATE steps SET epoch = 'x' WHERE step = {n}"),
    "blob in a column": _sql("UPDATE steps SET lr = x'00ff' WHERE step = {n}"),
    "huge integer in a step column": _sql("UPDATE steps SET samples = 9223372036854775807 WHERE step = {n}",
                                          "UPDATE evals SET val_loss = 99999999999999999999 WHERE rowid = 1"),
    "negative steps": _sql("UPDATE steps SET step = -step - 1"),
    "view in place of steps": _sql("ALTER TABLE steps RENAME TO s2",
                                   f"CREATE VIEW steps AS SELECT {STEP_COLS} FROM s2"),
    "recursive view": _sql("DROP TABLE steps",
                           "CREATE VIEW steps AS WITH RECURSIVE r(step, epoch, samples, wall_time, train_loss, lr, "
                           "grad_norm, update_ratio) AS (SELECT 0,0,0,0,0,0,0,0 UNION ALL SELECT step+1,0,0,0,0,0,0,0 "
                           "FROM r) SELECT * FROM r"),
    "trigger": _sql("CREATE TRIGGER t AFTER INSERT ON steps BEGIN DELETE FROM steps; END"),
    "newer format": _sql("PRAGMA user_version = 99"),
    "format 0": _sql("PRAGMA user_version = 0"),
    "another application": _sql("PRAGMA application_id = 7"),
    "spec not an object": _meta("spec", "5"),
    "spec empty": _meta("spec", "{}"),
    "spec deeply nested": _meta("spec", DEEP),
    "spec with a damaged field name": _meta("spec", json.dumps({"datasett": {"name": "iris"}})),
    "spec asking for a huge model": _meta("spec", json.dumps({"dataset": {"name": "iris"}, "model": {
        "kind": "mlp", "hidden": [65536, 65536, 65536]}, "optimizer": {"name": "sgd", "lr": 0.1}, "steps": 5})),
    "spec asking to download": _meta("spec", json.dumps({"dataset": {"name": "mnist", "root": "/tmp/lrlab-fuzz-dl",
                                                                     "download": True}, "steps": 5})),
    "spec not JSON": _meta("spec", "{'a': 1"),
    "environment not an object": _meta("environment", "3"),
    "environment threads huge": _meta("environment", json.dumps({"threads": 100000})),
    "environment threads text": _meta("environment", json.dumps({"threads": "many"})),
    "summary not an object": _meta("summary", "7"),
    "status a number": _meta("status", "5"),
    "status unknown": _meta("status", '"exploded"'),
    "seed text": _meta("seed", '"x"'),
    "seed huge": _meta("seed", "1" + "0" * 4000),
    "writer pid of 20 digits": _meta("writer", json.dumps({"host": "h", "pid": 10**20})),
    "status running, writer odd": _meta("status", '"running"'),
    "meta value not text": _meta("kind", b"\xff\xfe"),
    "meta invalid UTF-8": _meta("group", b'"\xff\xfe"'),
    "meta lone surrogate": _meta("label", '"\\ud800"'),
    "parent damaged": _meta("parent", json.dumps({"id": 3, "path": [], "step": "x"})),
    "total steps huge": _meta("total_steps", "1" + "0" * 30),
    "event data not JSON": _sql("UPDATE events SET data = '{{' WHERE rowid = 1"),
    "event data not an object": _sql("UPDATE events SET data = '5'"),
    "edit event without an edit": _sql("UPDATE events SET data = '{{}}' WHERE kind = 'edit'"),
    "event step text": _sql("UPDATE events SET step = 'x'"),
    "event deeply nested": _sql(f"UPDATE events SET data = '{DEEP}' WHERE rowid = 1"),
    "snapshot header hostile": _sql("UPDATE snapshots SET header = '{{\"tensors\": [{{\"dtype\": \"object\"}}]}}'"),
    "snapshot data cut": _sql("UPDATE snapshots SET data = substr(data, 1, 10)"),
    "own journal left": _journal(False),
    "another database's journal": _journal(True),
    "empty file": _replace_file("empty"),
    "directory": _replace_file("directory"),
    "symlink loop": _replace_file("symlink-loop"),
    "dangling symlink": _replace_file("dangling"),
    "random bytes": _replace_file("not-sqlite"),
}


def variants(source: Path, folder: Path, n: int, seed: int = 0) -> list[tuple[str, Path]]:
    """``n`` damaged copies of ``source`` in ``folder``, each kind of damage in turn, seeded."""
    rng = random.Random(seed)
    kinds = list(DAMAGES)
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        sub = folder / f"{i:04d}"
        sub.mkdir(parents=True)
        path = sub / "s.lrlab"
        shutil.copyfile(source, path)
        DAMAGES[kind](path, random.Random(rng.random()))
        out.append((kind, path))
    return out


def run_cli(argv: list[str]) -> tuple[int | str, str, float]:
    """``lrlab ARGV`` in this process: (exit code or 'traceback', stderr, seconds)."""
    from lrlab.cli import main

    err = io.StringIO()
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc: int | str = main(argv)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        rc = "traceback"
        err.write(traceback.format_exc())
    return rc, err.getvalue(), time.perf_counter() - t0


def check(path: Path) -> list[str]:
    """What was not clean for ``path`` across the commands (empty: all clean)."""
    problems = []
    for command in COMMANDS:
        argv = [a.format(path=path, out=path.with_name("out")) for a in command]
        argv.insert(1, str(path))
        rc, err, seconds = run_cli(argv)
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith("lrlab: warning:")]
        if rc == "traceback":
            problems.append(f"{' '.join(command[:2])}: traceback: {lines[-1] if lines else ''}")
        elif rc not in (0, 1) and not (len(lines) == 1 and lines[0].startswith("lrlab: error:")):
            problems.append(f"{' '.join(command[:2])}: exit {rc} with {len(lines)} lines: {err[:200]!r}")
        if seconds > SLOW_SECONDS:
            problems.append(f"{' '.join(command[:2])}: took {seconds:.1f} s")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folder", default="/tmp/lrlab-fuzz")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    folder = Path(args.folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    source = source_session(folder)
    t0 = time.perf_counter()
    outcomes: Counter[str] = Counter()
    bad = []
    for kind, path in variants(source, folder / "v", args.n, args.seed):
        problems = check(path)
        outcomes["clean" if not problems else "not clean"] += 1
        bad += [f"{kind}: {p}" for p in problems]
    print(f"{args.n} variants x {len(COMMANDS)} commands in {time.perf_counter() - t0:.0f} s: "
          f"{outcomes['clean']} files clean, {outcomes['not clean']} not")
    for line in bad:
        print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
