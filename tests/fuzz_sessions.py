"""Damaged session files, as someone who opens sessions sent by others meets them.

``variants(source, folder, n, seed)`` writes ``n`` seeded variants of a real session into
``folder``, across every kind of damage: truncations, flipped bytes in the header and in body
pages, zeroed pages, dropped or renamed tables, text and huge integers in numeric columns,
hostile or deeply nested JSON, meta values of the wrong type or size, views (one recursing
forever) in place of tables, a newer format, journals left beside the file (its own and another
database's), empty files, directories, symlink loops, invalid UTF-8 and lone surrogates, events
that are not what their kind says; and (issue 30) snapshot states, each kind's meta (sweep
members, forks, landscapes, range tests), writer meta, specs that disagree with their recording,
a FIFO in place of the file and what repair meets beside it. ``check(path)`` feeds one file to
``lrlab info``, ``info --json``, ``replay --verify``, ``export --csv``, ``compare --png`` and
``fork`` in this process, then asks for outputs that must be refused (the input itself, a FIFO,
a folder, a folder under a missing one), then ``repair``, and returns what was not clean: a
traceback, more than one line on stderr for an error, a call over 10 s, a failed fork's file
left behind, an input changed by a refused output, an earlier backup overwritten.

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
            ("compare", "{path}", "--png", "{out}.png"), ("fork", "--at", "12", "-o", "{out}.lrlab", "-q"))
#: outputs that must be refused without touching the input: the input itself (by another name
#: too), a FIFO, a folder, a file inside a file, a folder under a missing one
OUTPUT_COMMANDS = (("export", "--csv", "{path}"), ("export", "--spec", "{link}"), ("export", "--csv", "{fifo}"),
                   ("compare", "{path}", "--png", "{folder}"), ("replay", "-q", "-o", "{link}"),
                   ("fork", "--at", "12", "-o", "{path}", "-q"), ("export", "--tensorboard", "{missing}/tb"),
                   ("export", "--csv", "{path}/x.csv"))
#: run last: it may write backups and fold logs in (never lose one: see tests/test_repair.py)
REPAIR = ("repair",)


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


def _snapshot_state(change: Callable[[dict], object]) -> Callable[[Path, random.Random], None]:
    """A snapshot whose header is fine but whose state is not (``change(header)`` edits it)."""
    def damage(path: Path, rng: random.Random) -> None:
        con = sqlite3.connect(path)
        for step, text in con.execute("SELECT step, header FROM snapshots").fetchall():
            header = json.loads(text)
            result = change(header)
            con.execute("UPDATE snapshots SET header = ? WHERE step = ?",
                        (result if isinstance(result, str) else json.dumps(header), step))
        con.commit()
        con.close()
    return damage


def _set_state(key: str, value: object) -> Callable[[dict], None]:
    def change(header: dict) -> None:
        header["state"][key] = value
    return change


def _kind_meta(kind: str, **meta: object) -> Callable[[Path, random.Random], None]:
    """The session relabelled as another kind of run with that kind's meta as given (``...``: none)."""
    def damage(path: Path, rng: random.Random) -> None:
        con = sqlite3.connect(path)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('kind', ?)", (json.dumps(kind),))
        for key, value in meta.items():
            if value is ...:
                con.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
        con.commit()
        con.close()
    return damage


def _running(writer: object, heartbeat: object = 0) -> Callable[[Path, random.Random], None]:
    """A session that says it is being written, by a writer whose meta is damaged."""
    def damage(path: Path, rng: random.Random) -> None:
        con = sqlite3.connect(path)
        con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                        [("status", '"running"'), ("writer", json.dumps(writer)), ("heartbeat", json.dumps(heartbeat))])
        con.commit()
        con.close()
    return damage


def _spec_field(**changes: object) -> Callable[[Path, random.Random], None]:
    """The spec with fields changed: one that disagrees with the recording (100,000 epochs)."""
    def damage(path: Path, rng: random.Random) -> None:
        con = sqlite3.connect(path)
        spec = json.loads(con.execute("SELECT value FROM meta WHERE key = 'spec'").fetchone()[0])
        con.execute("UPDATE meta SET value = ? WHERE key = 'spec'", (json.dumps({**spec, **changes}),))
        con.commit()
        con.close()
    return damage


def _companion(kind: str) -> Callable[[Path, random.Random], None]:
    """What repair meets beside a file: a journal that is a folder, a FIFO or all zeros, a backup."""
    def damage(path: Path, rng: random.Random) -> None:
        journal = path.with_name(path.name + "-journal")
        if kind == "journal folder":
            journal.mkdir()
        elif kind == "journal FIFO":
            os.mkfifo(journal)
        elif kind == "zero journal":
            journal.write_bytes(bytes(512))
        elif kind == "wal FIFO":
            os.mkfifo(path.with_name(path.name + "-wal"))
        elif kind == "backup there":
            path.with_name(path.name + ".bak").write_bytes(b"an earlier backup")
    return damage


def _fifo(path: Path, rng: random.Random) -> None:
    path.unlink()
    os.mkfifo(path)


SWEEP = {"member": 0, "lrs": [0.1], "seeds": [0], "reference_lr": 0.1, "path": None,
         "spec": {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
                  "optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 3, "batch_size": 16, "device": "cpu",
                  "threads": 1}}
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
    # snapshot states: the header checks out, the state does not (issue 30, item 1)
    "snapshot numpy state null": _snapshot_state(_set_state("numpy", None)),
    "snapshot optimizer values a number": _snapshot_state(_set_state("optimizer_values", 5)),
    "snapshot python state text": _snapshot_state(_set_state("python", "x")),
    "snapshot param groups of numbers": _snapshot_state(_set_state("param_groups", [5])),
    "snapshot state empty": _snapshot_state(lambda h: h["state"].clear()),
    "snapshot first loss text": _snapshot_state(_set_state("first_loss", "x")),
    "snapshot step of 5,001 digits": _snapshot_state(
        lambda h: json.dumps(h).replace(f'"step": {h["step"]}', '"step": ' + "9" * 5001)),
    # each kind's own meta (items 2 and 10)
    "sweep member without sweep meta": _kind_meta("sweep_member", sweep=...),
    "sweep member index out of range": _kind_meta("sweep_member", sweep={**SWEEP, "member": 7}),
    "sweep member index negative": _kind_meta("sweep_member", sweep={**SWEEP, "member": -1}),
    "sweep member path unknown": _kind_meta("sweep_member", sweep={**SWEEP, "path": "x"}),
    "sweep member lrs not a list": _kind_meta("sweep_member", sweep={**SWEEP, "lrs": "abc"}),
    "sweep member spec not an object": _kind_meta("sweep_member", sweep={**SWEEP, "spec": 5}),
    "fork without parent meta": _kind_meta("fork", parent=...),
    "fork parent step huge": _kind_meta("fork", parent={"id": "x", "path": "/nowhere", "step": 10**30}),
    "landscape summary a list": _kind_meta("landscape", landscape={"surface": "quadratic"},
                                           summary={"landscape": [1]}),
    "landscape without its spec": _kind_meta("landscape", landscape=...),
    "landscape trajectories odd": _kind_meta("landscape", landscape={"surface": "quadratic"},
                                             summary={"landscape": {"trajectories": [{"status": 5}]}}),
    "range test summary a list": _kind_meta("range_test", summary={"range_test": [1]}),
    "range test summary inside damaged": _kind_meta("range_test", summary={"range_test": {"lrs": 5}}),
    "unknown kind": _kind_meta("teleport"),
    # writer meta of a running session (item 8)
    "writer pid text": _running({"host": "h", "pid": "abc"}),
    "writer pid 2**70": _running({"host": "h", "pid": 2**70}),
    "writer null": _running(None),
    "heartbeat null": _running({"host": "h", "pid": 1}, None),
    # a spec that disagrees with its recording (item 15)
    "spec of 100,000 epochs": _spec_field(epochs=100_000),
    "spec of 100 million steps": _spec_field(steps=100_000_000),
    "total steps fewer than recorded": _meta("total_steps", "3"),
    "steps padded past the run's length": _sql("INSERT INTO steps SELECT step + 1000, epoch, samples, wall_time, "
                                               "train_loss, lr, grad_norm, update_ratio, noise_scale FROM steps"),
    # what repair meets (item 11)
    "journal that is a folder": _companion("journal folder"),
    "journal that is a FIFO": _companion("journal FIFO"),
    "zero-header journal": _companion("zero journal"),
    "wal that is a FIFO": _companion("wal FIFO"),
    "earlier backup there": _companion("backup there"),
}


#: damage that leaves no regular file to copy (kept apart: the corpus' older users copy every file)
SPECIAL: dict[str, Callable[[Path, random.Random], None]] = {
    "FIFO in place of the file": _fifo,
}


def variants(source: Path, folder: Path, n: int, seed: int = 0, special: bool = False) -> list[tuple[str, Path]]:
    """``n`` damaged copies of ``source`` in ``folder``, each kind of damage in turn, seeded
    (with ``special``, the kinds of :data:`SPECIAL` too)."""
    rng = random.Random(seed)
    damages = {**DAMAGES, **SPECIAL} if special else DAMAGES
    kinds = list(damages)
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        sub = folder / f"{i:04d}"
        sub.mkdir(parents=True)
        path = sub / "s.lrlab"
        shutil.copyfile(source, path)
        damages[kind](path, random.Random(rng.random()))
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


def _fingerprint(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() and not path.is_symlink() else None


def _judge(command: tuple[str, ...], rc: int | str, err: str, seconds: float) -> list[str]:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("lrlab: warning:")]
    problems = []
    if rc == "traceback":
        problems.append(f"{' '.join(command[:2])}: traceback: {lines[-1] if lines else ''}")
    elif rc not in (0, 1) and not (len(lines) == 1 and lines[0].startswith("lrlab: error:")):
        problems.append(f"{' '.join(command[:2])}: exit {rc} with {len(lines)} lines: {err[:200]!r}")
    if seconds > SLOW_SECONDS:
        problems.append(f"{' '.join(command[:2])}: took {seconds:.1f} s")
    return problems


def check(path: Path, outputs: bool = False, repair: bool = False) -> list[str]:
    """What was not clean for ``path`` across the commands (empty: all clean): a traceback, more
    than one line for an error, a call over 10 s, a failed fork that left its file, a refused
    output that changed the input, or (``repair``) a repair that lost the file's earlier backup."""
    problems = []
    out = path.with_name("out")
    for command in COMMANDS:
        argv = [a.format(path=path, out=out) for a in command]
        argv.insert(1, str(path))
        rc, err, seconds = run_cli(argv)
        problems += _judge(command, rc, err, seconds)
        if command[0] == "fork" and rc != 0 and Path(f"{out}.lrlab").exists():
            problems.append(f"fork: failed (exit {rc}) and left {out}.lrlab behind")
    if outputs and path.is_file() and not path.is_symlink():
        names = {"path": path, "link": path.with_name("link.lrlab"), "fifo": path.with_name("fifo"),
                 "folder": path.parent, "missing": path.with_name("missing")}
        with contextlib.suppress(OSError):
            os.link(path, names["link"])
            os.mkfifo(names["fifo"])
        before = _fingerprint(path)
        for command in OUTPUT_COMMANDS:
            argv = [a.format(**names) for a in command]
            argv.insert(1, str(path))
            rc, err, seconds = run_cli(argv)
            problems += _judge(command, rc, err, seconds)
            if rc == 0:
                problems.append(f"{' '.join(argv[:1] + argv[2:])}: wrote onto an input or a special file")
        if _fingerprint(path) != before:
            problems.append("a refused output changed the input")
        if names["missing"].exists():
            problems.append("an output created a folder above its last level")
    if repair:
        backup = path.with_name(path.name + ".bak")
        earlier = _fingerprint(backup)
        rc, err, seconds = run_cli([REPAIR[0], str(path)])
        problems += _judge(REPAIR, rc, err, seconds)
        if earlier is not None and _fingerprint(backup) != earlier:
            problems.append("repair: overwrote an earlier backup")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folder", default="/tmp/lrlab-fuzz")
    ap.add_argument("--no-outputs", action="store_true", help="skip the refused-output checks (faster)")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    folder = Path(args.folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    source = source_session(folder)
    t0 = time.perf_counter()
    outcomes: Counter[str] = Counter()
    bad = []
    for kind, path in variants(source, folder / "v", args.n, args.seed, special=True):
        problems = check(path, outputs=not args.no_outputs, repair=True)
        outcomes["clean" if not problems else "not clean"] += 1
        bad += [f"{kind}: {p}" for p in problems]
    calls = len(COMMANDS) + 1 + (0 if args.no_outputs else len(OUTPUT_COMMANDS))
    print(f"{args.n} variants ({len(DAMAGES) + len(SPECIAL)} kinds of damage) x {calls} commands in "
          f"{time.perf_counter() - t0:.0f} s: {outcomes['clean']} files clean, {outcomes['not clean']} not")
    by_kind = Counter(b.split(": ", 1)[0] for b in bad)
    for kind, count in sorted(by_kind.items()):
        print(f"  {kind}: {count} problem(s)")
    for line in bad:
        print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
