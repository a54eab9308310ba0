"""Session files: one SQLite database per run (``.lrlab``), used as an application file format.

SQLite gives transactions (a crash never leaves half a batch), readability with
any SQLite tool or pandas, and no code execution on open: a session holds only
data. The schema is documented in ``resources/docs/session-format.md``. The file is created
under a temporary name and renamed into place, then appended to while the run
goes, committing at the first batch ``commit_seconds`` after the last commit; a run killed with SIGKILL leaves
a file that opens, reads as ``interrupted``, and holds every committed step.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import socket
import sqlite3
import stat
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from lrlab._version import __version__
from lrlab.core.decl.events import Event, Status
from lrlab.core.decl.files import NameTaken, replaced
from lrlab.core.decl.metrics import (
    BEST,
    EFFECTIVE_COLUMNS,
    EVAL_COLUMNS,
    FINAL,
    INTEGER_COLUMNS,
    QUANTILE_NAMES,
    REQUIRED,
    STEP_COLUMNS,
    TABLES,
    table_sql,
)
from lrlab.core.decl.names import session_stem
from lrlab.core.decl.params import SpecError, show
from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.snapshots import DiskPolicy, Snapshot, SnapshotError, rerun_bound, thin

SUFFIX = ".lrlab"
FORMAT_VERSION = 4
APPLICATION_ID = 0x4C524C42  # "LRLB" in the SQLite header marks an lrlab session
SQLITE_MAGIC = b"SQLite format 3\x00"

#: the kind of run a session records when its meta says none (format 1 knew only training runs)
DEFAULT_KIND = "train"

#: format 4: the exact state before a step (lrlab/core/engine/snapshots.py): a JSON header and raw tensor bytes
_SNAPSHOTS_SQL = "CREATE TABLE snapshots (step INTEGER PRIMARY KEY, header TEXT NOT NULL, data BLOB NOT NULL);"

SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
{table_sql("steps")}
{table_sql("evals")}
{table_sql("effective_lr")}
CREATE TABLE events (id INTEGER PRIMARY KEY, step INTEGER NOT NULL, kind TEXT NOT NULL,
                     data TEXT NOT NULL, wall_time REAL NOT NULL);
{_SNAPSHOTS_SQL}
"""


def _v1_to_v2(con: sqlite3.Connection) -> None:
    """Format 2 names the kind of run (``kind``) and its family (``group``: a sweep, a fork
    family) in ``meta``; every format-1 file is a single training run of no group."""
    con.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)",
                    [("kind", json.dumps(DEFAULT_KIND)), ("group", json.dumps(None))])


def _v2_to_v3(con: sqlite3.Connection) -> None:
    """Format 3 adds the ``effective_lr`` table (quantiles of the per-parameter effective LR);
    older runs recorded none, so it starts empty."""
    con.execute(table_sql("effective_lr"))


def _v3_to_v4(con: sqlite3.Connection) -> None:
    """Format 4 adds the ``snapshots`` table (older runs kept none: a fork of one re-runs from step
    0) and a stable file ``id`` in ``meta``, which a fork names as its parent's."""
    con.execute(_SNAPSHOTS_SQL)
    # older files are migrated in memory on every read (reading never changes a file), so the id
    # they get must be the same each time: derived from what the file holds about its run
    known = "|".join(v for _, v in con.execute("SELECT key, value FROM meta WHERE key IN "
                                               "('created', 'seed', 'spec', 'environment') ORDER BY key"))
    con.execute("INSERT OR IGNORE INTO meta VALUES ('id', ?)",
                (json.dumps(hashlib.sha256(known.encode("utf-8", "replace")).hexdigest()[:32]),))


#: from-version -> function migrating a connection to from-version + 1 (inside a transaction)
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


def new_file_id() -> str:
    """A session's identity, kept when the file is renamed or moved (a fork finds its parent by it)."""
    return uuid.uuid4().hex


class SessionError(ValueError):
    """A file that cannot be used as a session; the message is one line naming the file."""


#: the types of the meta values a reader uses (None allowed where the value may be absent or null)
META_TYPES: dict[str, tuple[type, ...]] = {
    "spec": (dict,), "status": (str,), "seed": (int,), "environment": (dict,), "summary": (dict, type(None)),
    "writer": (dict, type(None)), "heartbeat": (int, float, type(None)), "kind": (str, type(None)),
    "group": (str, type(None)), "created": (str, type(None)), "total_steps": (int, type(None)),
    "steps_per_epoch": (int, type(None)), "id": (str, type(None)), "parent": (dict, type(None)),
    "label": (str, type(None)), "format_version": (int, type(None)), "app_version": (str, type(None)),
    "snapshot_policy": (dict, type(None)),
}
#: deepest nesting of a JSON value in a session (specs need far fewer levels); checked on the text
#: before decoding, so a hostile file cannot exhaust Python's recursion
MAX_JSON_DEPTH = 64
#: longest any single statement reading a session may run: a damaged or hostile file (a view that
#: recurses forever, a huge table) gets a message instead of hanging the window
QUERY_SECONDS = 8.0
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


def json_depth(text: str) -> int:
    """How deeply a JSON text nests arrays and objects (strings skipped), without decoding it."""
    bare = _STRINGS.sub("", text)
    depth = deepest = 0
    for ch in bare:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads(text: Any, what: str) -> Any:
    """Decode a JSON value read from a session; ValueError says what is wrong in a few words."""
    if not isinstance(text, str):
        raise ValueError(f"{what} is not JSON text")
    if ("[" in text or "{" in text) and json_depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"{what} nests more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ValueError(f"{what} is not valid JSON ({str(err)[:80]})") from None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_name(spec: RunSpec, label: str = "") -> str:
    """A new session's file name: the preset label, or the run's main settings (core.names)."""
    return session_stem(spec, label) + SUFFIX


# --- writing ---------------------------------------------------------------------------------


class SessionWriter:
    """A trainer listener that appends every update to a new session file."""

    def __init__(self, path: str | Path, spec: RunSpec, environment: Mapping[str, Any], *,
                 kind: str = DEFAULT_KIND, group: str | None = None,
                 extra_meta: Mapping[str, Any] | None = None, commit_seconds: float = 0.5,
                 overwrite: bool = False, snapshot_policy: DiskPolicy | None = None):
        self.path = Path(path)
        self.spec = spec
        self.commit_seconds = commit_seconds
        #: which snapshots the file keeps (engine.snapshots.thin): the rest are deleted in the
        #: transaction that adds a new one, so every commit holds a whole kept set
        self.snapshot_policy = snapshot_policy or DiskPolicy()
        self._snapshot_steps: set[int] = set()
        self._snapshot_bytes = 0
        meta = {"snapshot_policy": self.snapshot_policy.to_json(),
                "format_version": FORMAT_VERSION, "id": new_file_id(), "app_version": __version__,
                "created": _now(), "kind": kind, "group": group,
                "seed": spec.seed, "spec": spec.to_json(), "environment": dict(environment),
                "status": Status.RUNNING.value, "summary": {}, "writer": _writer_id(),
                "heartbeat": time.time(), **(extra_meta or {})}
        _create(self.path, meta, overwrite)
        self.con = sqlite3.connect(self.path, check_same_thread=False)
        # Write-ahead log while the run goes on: a commit appends to FILE-wal and never rewrites
        # the main file, so a run killed at any instant leaves committed steps that every reader
        # (read-only: `lrlab info`, the GUI, compare) sees at once, with nothing to roll back and
        # no repair step (a rollback journal left "hot" made every read-only open refuse the file).
        # close() folds the log back in, so a finished session is one portable file.
        self.con.execute("PRAGMA journal_mode = WAL")
        self.con.execute("PRAGMA synchronous = NORMAL")
        self._last_commit = time.monotonic()
        self.closed = False
        #: steps committed to the file so far (those since are in the open transaction)
        self.saved_steps = 0
        self._unsaved = 0
        #: why the file stopped taking steps (disk full, folder made read-only), or None
        self.failure: str | None = None
        #: called once with :attr:`failure` when writing fails; the run itself goes on
        self.on_failure: Callable[[str], None] | None = None

    def __call__(self, update: Any) -> None:
        """Append one trainer Update; commit when due, and always at events or the end.

        A write that fails (a full disk, a folder made read-only, the file removed) does not
        stop the run: the file keeps every step committed before, :attr:`failure` says where
        it stopped and why, and later updates are dropped here (whoever keeps the run in memory
        can still save it whole elsewhere)."""
        if self.failure is not None:
            return
        try:
            self._append(update)
        except (sqlite3.Error, OSError) as err:
            self._fail(err)

    def _append(self, update: Any) -> None:
        con = self.con
        cols = update.steps
        if len(cols["step"]):
            names = tuple(c for c in STEP_COLUMNS if c in cols)  # a nullable metric not measured: NULL
            con.executemany(_insert("steps", names), zip(*(cols[c].tolist() for c in names), strict=True))
            self._unsaved += len(cols["step"])
        if update.evals:
            names = tuple(c for c in EVAL_COLUMNS if c in update.evals[0])
            con.executemany(_insert("evals", names, "OR REPLACE"), [tuple(e[c] for c in names) for e in update.evals])
        effective = update.effective
        if effective:
            con.executemany(_INSERT_EFFECTIVE, [tuple(e[c] for c in EFFECTIVE_COLUMNS) for e in effective])
        for ev in update.events:
            con.execute("INSERT INTO events (step, kind, data, wall_time) VALUES (?, ?, ?, ?)",
                        (ev.step, ev.kind, json.dumps(ev.data), ev.wall_time))
        if update.snapshots:
            self._store_snapshots(update.snapshots)
        status = Status(update.status)
        now = time.monotonic()
        # 10% slack: batches every commit_seconds (the window paces them so) arrive a hair early or
        # late, and a strict >= skipped every other commit then (1 s apart instead of 0.5)
        if status.final or update.events or now - self._last_commit >= 0.9 * self.commit_seconds:
            self._set_meta(status=(Status.RUNNING if status == Status.PAUSED else status).value,
                           heartbeat=time.time())
            self._commit()
            self._last_commit = now

    def _store_snapshots(self, snapshots: Sequence[Snapshot]) -> None:
        """Add ``snapshots`` and delete those the policy no longer keeps, in the open transaction
        (never a commit between the two: a crash leaves the old set or the new one). Deleting
        first lets SQLite reuse the freed pages for the new blob, so the file does not grow past
        the budget plus one snapshot."""
        encoded = [(s.step, *s.encode()) for s in snapshots]  # to bytes here, not in the training loop's step
        self._snapshot_bytes = max(self._snapshot_bytes, *(len(blob) for _, _, blob in encoded))
        policy = self.snapshot_policy
        keep, _ = thin(self._snapshot_steps | {step for step, _, _ in encoded},
                       policy.slots(self._snapshot_bytes), policy.every)
        self.con.executemany("DELETE FROM snapshots WHERE step = ?",
                             [(t,) for t in sorted(self._snapshot_steps - keep)])
        self.con.executemany("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)",
                             [row for row in encoded if row[0] in keep])
        self._snapshot_steps = keep

    def _commit(self) -> None:
        self.con.commit()
        self.saved_steps += self._unsaved
        self._unsaved = 0

    def _fail(self, err: Exception) -> None:
        """Stop writing after ``err``; the file keeps what was committed (it opens as interrupted)."""
        self.failure = f"the session file stopped at step {self.saved_steps}: {err}"
        try:
            self.con.rollback()
            self.con.close()
        except sqlite3.Error:
            pass  # the connection is unusable anyway; what was committed is safe in the file
        self.closed = True
        if self.on_failure is not None:
            self.on_failure(self.failure)

    def close(self, status: str, extra: Mapping[str, Any] | None = None) -> None:
        """Write the final status and summary, commit, and close the file (nothing, if writing failed)."""
        if self.closed:
            return
        try:
            self._set_meta(status=Status(status).value, summary={**summarize(self.con), **(extra or {})},
                           finished=_now())
            self._commit()
            _single_file(self.con)
            self.con.close()
        except (sqlite3.Error, OSError) as err:
            self._fail(err)
            return
        self.closed = True

    def _set_meta(self, **items: Any) -> None:
        self.con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                             [(k, json.dumps(v)) for k, v in items.items()])


@functools.cache
def _insert(table: str, names: tuple[str, ...], verb: str = "") -> str:
    """``INSERT`` of the named columns of a metric table (the declared columns an update holds;
    the others, nullable ones not measured, stay NULL and a missing required one is an error)."""
    return f"INSERT {verb} INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


_INSERT_EFFECTIVE = f"INSERT OR REPLACE INTO effective_lr VALUES ({', '.join('?' * len(EFFECTIVE_COLUMNS))})"


def _single_file(con: sqlite3.Connection) -> None:
    """Fold the write-ahead log into the main file and leave WAL mode, so the session is one file
    again (FILE-wal and FILE-shm go). A reader holding the file open at that instant keeps the
    log from being removed: then the file stays in WAL mode, every step already in the main
    file, and the next writer or `lrlab repair` finishes the job. Never an error."""
    with contextlib.suppress(sqlite3.Error):
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("PRAGMA journal_mode = DELETE")


def _create(path: Path, meta: Mapping[str, Any], overwrite: bool) -> None:
    """Create a session file with ``meta``, whole or not at all (:func:`lrlab.core.decl.files.replaced`):
    the database is built under a temporary name and given its name in one step, so a reader
    never finds the name on a file that is not yet a session, and of two runs started at the
    same instant with the same name one gets it and the other a message. A full disk or a
    read-only folder is a SessionError and leaves nothing behind."""
    if not path.parent.is_dir():  # a file output's folder must exist: lrlab creates no folders above it
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise SessionError(f"{path}: cannot create the session file there (the folder {path.parent} {what})")
    try:
        with replaced(path, overwrite=overwrite) as tmp:
            con = sqlite3.connect(tmp)
            try:
                with con:
                    con.executescript(SCHEMA)
                    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    con.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
                    con.executemany("INSERT INTO meta VALUES (?, ?)",
                                    [(k, json.dumps(v)) for k, v in meta.items()])
            finally:
                con.close()
    except NameTaken:
        raise SessionError(f"{path}: already exists; choose another name (nothing was overwritten)") from None
    except (sqlite3.Error, OSError) as err:
        raise SessionError(f"{path}: cannot create the session file there ({_why(err)})") from None


def _writer_id() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def summarize(con: sqlite3.Connection) -> dict[str, Any]:
    """Final and best values, straight from the tables (also what `lrlab info` shows)."""
    out: dict[str, Any] = {}
    n, wall = con.execute("SELECT COUNT(*), MAX(wall_time) FROM steps").fetchone()
    out["steps"] = n
    out["wall_time"] = wall or 0.0
    out["steps_per_second"] = n / wall if wall else 0.0
    for table in ("steps", "evals"):  # the declared final values: the last row's (None where not finite)
        final = [c for c in FINAL if c.table == table]
        row = con.execute(f"SELECT {', '.join(c.name for c in final)} FROM {table} ORDER BY step DESC LIMIT 1"
                          ).fetchone() if final else None
        if row:
            out.update((f"final_{c.name}", _finite(v) if c.nullable else v) for c, v in zip(final, row, strict=True))
    for c in BEST:  # the best value (the earliest of equals) and its step
        best = con.execute(f"SELECT step, {c.name} FROM {c.table} WHERE {c.name} IS NOT NULL "
                           f"ORDER BY {c.name} {'ASC' if c.best == 'min' else 'DESC'}, step ASC LIMIT 1").fetchone()
        if best:
            out[f"best_{c.name}"], out[f"best_{c.name}_step"] = best[1], best[0]
    return out


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


# --- reading -----------------------------------------------------------------------------------


class Session:
    """A session file opened for reading. Use :meth:`open`; it never executes file content."""

    def __init__(self, path: Path, con: sqlite3.Connection, meta: dict[str, Any]):
        self.path = path
        self._con = con
        self.meta = meta

    @classmethod
    def open(cls, path: str | Path) -> Session:
        """Open a session to read it, checked: the file is never changed (an older format is
        migrated in memory), and whatever is wrong with it, SQLite, JSON, types, sizes or
        text, comes out as a one-line SessionError naming the file."""
        p = Path(path)
        con = _connect_checked(p)
        try:
            meta = _read_meta(p, con)
        except BaseException:
            con.close()
            raise
        return cls(p, con, meta)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def status(self) -> Status:
        """finished, stopped, diverged, failed, running, or interrupted (writer gone mid-run)."""
        try:
            status = Status(self.meta["status"])
        except ValueError:
            raise SessionError(f"{self.path}: damaged session file (unknown status "
                               f"{self.meta['status']!r})") from None
        if status == Status.RUNNING and not _writer_alive(self.meta.get("writer") or {},
                                                          self.meta.get("heartbeat", 0)):
            return Status.INTERRUPTED
        return status

    @property
    def kind(self) -> str:
        """The kind of run recorded (``train``; see :mod:`lrlab.core.runs`)."""
        return str(self.meta.get("kind") or DEFAULT_KIND)

    @property
    def group(self) -> str | None:
        """The family this session belongs to (a sweep, a fork family), or None."""
        group = self.meta.get("group")
        return None if group is None else str(group)

    @property
    def spec_json(self) -> dict[str, Any]:
        return self.meta["spec"]

    @property
    def spec(self) -> RunSpec:
        try:
            return RunSpec.from_json(self.meta["spec"])
        except SpecError as err:
            raise SessionError(f"{self.path}: its run spec is not valid here: {err.first_line()}") \
                from None

    @property
    def seed(self) -> int:
        return int(self.meta["seed"])

    @property
    def environment(self) -> dict[str, Any]:
        return self.meta["environment"]

    @property
    def summary(self) -> dict[str, Any]:
        if self.meta.get("summary"):
            return self.meta["summary"]
        with self.reading("the steps and evaluations"):
            return summarize(self._con)

    @property
    def file_id(self) -> str:
        """The stable id of this session (format 4; migration gives older files one)."""
        return str(self.meta.get("id", ""))

    @property
    def parent(self) -> dict[str, Any] | None:
        """A fork's parent: ``{"id": file id, "path": where it was, "step": the fork step}``; None
        for a session that is not a fork."""
        parent = self.meta.get("parent")
        if parent is None:
            return None
        if (not isinstance(parent, dict) or not isinstance(parent.get("id"), str)
                or not isinstance(parent.get("path"), str) or type(parent.get("step")) is not int
                or parent["step"] < 0):
            raise SessionError(f"{self.path}: damaged session file (meta 'parent' is not "
                               '{"id": text, "path": text, "step": whole number >= 0})')
        return parent

    def snapshot_steps(self) -> list[int]:
        """The steps whose exact state the file keeps (see :meth:`snapshot`)."""
        with self.reading("table snapshots"):
            return [int(r[0]) for r in self._con.execute("SELECT step FROM snapshots ORDER BY step")]

    def snapshot_summary(self) -> dict[str, Any]:
        """What the file keeps for forks: how many snapshots, their bytes, and the most steps a fork
        of this run re-runs from the nearest one (from the fork step of a fork's own steps on)."""
        with self.reading("table snapshots"):
            rows = self._con.execute("SELECT step, length(data) FROM snapshots ORDER BY step").fetchall()
        steps = [int(r[0]) for r in rows]
        parent = self.parent
        start = parent["step"] if parent else 0
        end = max(start, self.n_steps() + (start if parent else 0))
        return {"kept": len(rows), "bytes": sum(int(r[1] or 0) for r in rows), "steps": steps,
                "rerun_at_most": rerun_bound(steps, start, end)}

    def snapshot(self, step: int) -> Snapshot:
        """The state before ``step``, read from its header and bytes without executing anything;
        SessionError when there is none or its header does not check out."""
        with self.reading("table snapshots"):
            row = self._con.execute("SELECT header, data FROM snapshots WHERE step = ?", (step,)).fetchone()
        if row is None:
            raise SessionError(f"{self.path}: no snapshot at step {step}")
        try:
            snapshot = Snapshot.decode(row[0], row[1])
        except SnapshotError as err:
            raise SessionError(f"{self.path}: damaged snapshot at step {step} ({err})") from None
        if snapshot.step != step:
            raise SessionError(f"{self.path}: damaged snapshot at step {step} (its header says step {snapshot.step})")
        return snapshot

    def n_steps(self) -> int:
        with self.reading("table steps"):
            return int(self._con.execute("SELECT COUNT(*) FROM steps").fetchone()[0])

    def steps(self, columns: Sequence[str] = STEP_COLUMNS) -> dict[str, np.ndarray]:
        """Per-step columns as numpy arrays (NULL, e.g. an unsampled update ratio, is NaN)."""
        return self._table("steps", columns, STEP_COLUMNS)

    def evals(self, columns: Sequence[str] = EVAL_COLUMNS) -> dict[str, np.ndarray]:
        return self._table("evals", columns, EVAL_COLUMNS)

    def effective_lr(self, layer: str = "all") -> dict[str, np.ndarray]:
        """Quantiles of the effective LR for ``layer`` ("all" parameters, or a parameter name
        such as "0.weight"): ``step`` and p5, p25, p50, p75, p95 arrays (empty when none)."""
        with self.reading("table effective_lr"):
            rows = self._con.execute(f"SELECT step, {', '.join(QUANTILE_NAMES)} FROM effective_lr WHERE layer = ? "
                                     "ORDER BY step", (layer,)).fetchall()
            return columns_of(rows, ("step", *QUANTILE_NAMES))

    def effective_lr_layers(self) -> list[str]:
        """The parameter tensors with recorded effective LRs ("all" first)."""
        with self.reading("table effective_lr"):
            names = [str(r[0]) for r in self._con.execute("SELECT DISTINCT layer FROM effective_lr")]
        return sorted(names, key=lambda n: (n != "all", n))

    def events(self) -> list[Event]:
        events = []
        with self.reading("events"):
            for s, k, d, w in self._con.execute("SELECT step, kind, data, wall_time FROM events ORDER BY id"):
                data = loads(d, "an event's data")
                if type(s) is not int or not isinstance(k, str) or not isinstance(data, dict) \
                        or not isinstance(w, (int, float)):
                    raise ValueError(f"an event at step {s!r} is not (whole step, kind, JSON object, time)")
                _check_event(s, k, data)
                events.append(Event(s, k, data, float(w)))
        return events

    @contextlib.contextmanager
    def reading(self, what: str) -> Iterator[None]:
        """Turn any problem met while reading ``what`` into a one-line SessionError."""
        try:
            yield
        except SessionError:
            raise
        except (sqlite3.Error, ValueError, TypeError, OverflowError, KeyError, UnicodeError, RecursionError,
                MemoryError) as err:
            raise SessionError(_damaged(self.path, self._con, f"{what}: {_why(err)}")) from None

    def edits(self) -> list[tuple[int, dict[str, Any]]]:
        """The mid-run edits, in order, as (step, edit JSON): what a replay re-applies."""
        return edits_of(self.events())

    def _table(self, table: str, columns: Sequence[str], allowed: Sequence[str]) -> dict[str, np.ndarray]:
        bad = [c for c in columns if c not in allowed]
        if bad:
            raise ValueError(f"unknown column(s) {bad}; allowed: {list(allowed)}")
        with self.reading(f"table {table}"):
            rows = self._con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY step").fetchall()
            return columns_of(rows, columns)


#: largest step number a session may hold (the longest run lrlab plans is 100 million steps)
MAX_STEP = 2**40


def columns_of(rows: list[tuple], columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Rows of a numeric table as numpy columns, checked against the metric declarations: numbers
    (NULL, not measured, is NaN), whole steps from 0 to MAX_STEP; ValueError says what is not."""
    ints = INTEGER_COLUMNS
    if not rows:
        return {c: np.empty(0, dtype=np.int64 if c in ints or c == "step" else np.float64) for c in columns}
    try:  # SQLite keeps any value in any column: text, blobs, integers too large for any float
        data = np.array(rows, dtype=np.float64)  # NULL -> NaN
    except (ValueError, TypeError, OverflowError) as err:
        raise ValueError(f"{'/'.join(columns)} holds values that are not numbers ({str(err)[:60]})") from None
    out = {}
    for i, c in enumerate(columns):
        col = data[:, i]
        if c in ints or c == "step":
            if not np.all(np.isfinite(col)) or np.any(col < 0) or np.any(col > MAX_STEP) \
                    or np.any(col != np.floor(col)):
                raise ValueError(f"column {c} holds values that are not whole numbers from 0 to {MAX_STEP}")
            out[c] = col.astype(np.int64)
        else:
            out[c] = col
    return out


def _check_event(step: int, kind: str, data: dict[str, Any]) -> None:
    """An event holds what its kind says (what replays and descriptions read from it)."""
    if kind == "edit":
        from lrlab.core.decl.schedules import parse_edit

        try:
            parse_edit(data.get("edit"))
        except SpecError as err:
            raise ValueError(f"the edit at step {step} is not valid: {err.first_line()}") from None
    for key in {"plateau": ("lr",), "test": ("loss", "metric")}.get(kind, ()):
        if not isinstance(data.get(key), (int, float)) or isinstance(data.get(key), bool):
            raise ValueError(f"the {kind} event at step {step} has no number {key!r}")


def _why(err: BaseException) -> str:
    """The short reason inside an exception from SQLite, JSON, numpy or the checks."""
    if isinstance(err, RecursionError):
        return "nested too deeply"
    if isinstance(err, MemoryError):
        return "too large to read"
    if isinstance(err, sqlite3.OperationalError) and "interrupted" in str(err):
        return f"a query ran longer than {QUERY_SECONDS:g} s and was stopped (a damaged or hostile file)"
    text = str(err).replace("\n", " ")
    return text if len(text) <= 160 else text[:157] + "..."


def _damaged(p: Path, con: sqlite3.Connection | None, why: str) -> str:
    """The one-line message for a file that failed to read; PRAGMA quick_check tells a damaged
    file (say so) from one that is intact but holds what lrlab cannot use."""
    if con is not None:
        with contextlib.suppress(sqlite3.Error):
            result = con.execute("PRAGMA quick_check(1)").fetchone()
            if result and result[0] != "ok":
                return f"{p}: damaged session file (SQLite found it corrupt; {why})"
    return f"{p}: damaged session file ({why})"


def _read_meta(p: Path, con: sqlite3.Connection) -> dict[str, Any]:
    """The meta table, each value decoded and checked against META_TYPES."""
    try:
        rows = con.execute("SELECT key, value FROM meta").fetchall()
        meta: dict[str, Any] = {}
        for key, value in rows:
            if not isinstance(key, str):
                raise ValueError("meta has a key that is not text")
            meta[key] = loads(value, f"meta {key!r}")
    except SessionError:
        raise
    except (sqlite3.Error, ValueError, TypeError, UnicodeError, RecursionError, MemoryError) as err:
        raise SessionError(_damaged(p, con, _why(err))) from None
    missing = [k for k in ("spec", "status", "seed", "environment") if k not in meta]
    if missing:
        raise SessionError(f"{p}: damaged session file (missing {', '.join(missing)})")
    for key, types in META_TYPES.items():
        value = meta.get(key)
        if key in meta and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
            allowed = " or ".join("null" if t is type(None) else {"dict": "an object", "str": "text", "int":
                                  "a whole number", "float": "a number"}[t.__name__] for t in types)
            raise SessionError(f"{p}: damaged session file (meta {key!r} is {type(value).__name__}, "
                               f"expected {allowed})")
    if not -2**63 <= meta["seed"] < 2**63:
        raise SessionError(f"{p}: damaged session file (meta 'seed' is out of range)")
    for key in ("total_steps", "steps_per_epoch"):
        if meta.get(key) is not None and not 0 <= meta[key] <= MAX_STEP:
            raise SessionError(f"{p}: damaged session file (meta {key!r} is out of range)")
    problem = kind_meta_problem(str(meta.get("kind") or DEFAULT_KIND), meta)
    if problem:
        raise SessionError(f"{p}: damaged session file ({problem})")
    return meta


def _is_list_of(value: Any, types: type | tuple[type, ...]) -> bool:
    return isinstance(value, list) and all(isinstance(v, types) and not isinstance(v, bool) for v in value)


def _fork_problem(meta: Mapping[str, Any], summary: Mapping[str, Any]) -> str | None:
    return "a fork without its meta 'parent'" if meta.get("parent") is None else None


def _sweep_member_problem(meta: Mapping[str, Any], summary: Mapping[str, Any]) -> str | None:
    sweep = meta.get("sweep")
    if not isinstance(sweep, dict):
        return "a sweep member without its meta 'sweep'"
    lrs, seeds, member = sweep.get("lrs"), sweep.get("seeds"), sweep.get("member")
    if not _is_list_of(lrs, (int, float)) or not lrs or not _is_list_of(seeds, int) or not seeds:
        return "meta 'sweep' lacks its lists of LRs and seeds"
    if type(member) is not int or not 0 <= member < len(lrs) * len(seeds):
        return (f"meta 'sweep.member' must be a member index from 0 to {len(lrs) * len(seeds) - 1}, "
                f"got {show(member)}")
    if sweep.get("path") not in (None, "bmm", "vmap", "loop"):
        return f"meta 'sweep.path' must be bmm, vmap, loop or null, got {show(sweep.get('path'))}"
    if not isinstance(sweep.get("spec"), dict):
        return "meta 'sweep.spec' is not an object"
    return None


def _landscape_problem(meta: Mapping[str, Any], summary: Mapping[str, Any]) -> str | None:
    if not isinstance(meta.get("landscape"), dict):
        return "a landscape without its meta 'landscape' object"
    data = summary.get("landscape")
    if data is not None and (not isinstance(data, dict) or not _is_list_of(data.get("trajectories", []), dict)):
        return "summary 'landscape' is not an object with a list of trajectories"
    return None


def _range_test_problem(meta: Mapping[str, Any], summary: Mapping[str, Any]) -> str | None:
    data = summary.get("range_test")
    return "summary 'range_test' is not an object" if data is not None and not isinstance(data, dict) else None


#: the meta only one kind of run has, checked on opening (the run kinds' names, as in
#: lrlab.core.runs.kinds; a kind not here has only the common meta)
KIND_META_CHECKS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], str | None]] = {
    "fork": _fork_problem, "sweep_member": _sweep_member_problem, "landscape": _landscape_problem,
    "range_test": _range_test_problem}


def kind_meta_problem(kind: str, meta: Mapping[str, Any]) -> str | None:
    """What is wrong with the meta only a kind of run has (a fork's ``parent``, a sweep member's
    ``sweep``, a landscape's spec and summary, a range test's summary), or None. Checked on
    opening, as the common meta is: a damaged file is one line, never a KeyError, an IndexError
    or an AttributeError in whichever command reads the entry later."""
    summary = meta.get("summary")
    if summary is not None and not isinstance(summary, dict):
        return "meta 'summary' is not an object"
    check = KIND_META_CHECKS.get(kind)
    return check(meta, summary or {}) if check else None


def edits_of(events: Sequence[Event]) -> list[tuple[int, dict[str, Any]]]:
    """The mid-run edits among ``events``, in order, as (step, edit JSON)."""
    return [(e.step, e.data["edit"]) for e in events if e.kind == "edit"]


#: the tables a reader uses, with the columns it needs (of the metric tables, the declared non-nullable
#: ones: a nullable column a file lacks reads as NULL, see _fill_missing), and the format that added each
_TABLES: dict[str, tuple[int, tuple[str, ...]]] = {
    "meta": (1, ("key", "value")),
    "steps": (1, REQUIRED["steps"]),
    "evals": (1, REQUIRED["evals"]),
    "events": (1, ("id", "step", "kind", "data", "wall_time")),
    "effective_lr": (3, REQUIRED["effective_lr"]),
    "snapshots": (4, ("step", "header", "data")),
}


def _harden(con: sqlite3.Connection) -> None:
    """A connection that a hostile file cannot turn against the reader: no code from the schema
    (trusted_schema off), no extensions, a wait instead of an error while a run commits, and no
    statement running longer than QUERY_SECONDS (the progress handler stops it)."""
    con.execute("PRAGMA trusted_schema = OFF")
    with contextlib.suppress(AttributeError, sqlite3.Error):  # Pythons built without extension support
        con.enable_load_extension(False)
    started = [time.monotonic()]
    con.set_trace_callback(lambda _sql: started.__setitem__(0, time.monotonic()))  # each statement's start
    con.set_progress_handler(lambda: int(time.monotonic() - started[0] > QUERY_SECONDS), 20_000)


def _connect_checked(p: Path, write: bool = False) -> sqlite3.Connection:
    """Open ``p`` checked: read-only unless ``write`` (a read never changes the file: an older
    format is migrated in memory, and a journal an interrupted write left beside it is reported,
    not applied), an lrlab session of a format this version reads, its tables real tables with
    the columns lrlab reads."""
    try:
        if not p.is_file():
            raise SessionError(f"{p}: {'no such file' if not p.exists() else 'not a file'}")
        _check_companions(p)
        with p.open("rb") as f:
            head = f.read(100)
    except OSError as err:
        raise SessionError(f"{p}: cannot read ({err.strerror or err})") from None
    if not head.startswith(SQLITE_MAGIC):
        raise SessionError(f"{p}: not an lrlab session (not an SQLite database)")
    if len(head) < 100:
        raise SessionError(f"{p}: damaged session file (truncated header)")
    con: sqlite3.Connection | None = None
    try:
        uri = f"{p.resolve().as_uri()}?mode={'rw' if write else 'ro'}"
        con = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=5.0)
        _harden(con)
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        version = con.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as err:
        if con is not None:
            con.close()
        if getattr(err, "sqlite_errorname", "") == "SQLITE_READONLY_ROLLBACK":
            raise SessionError(f"{p}: an interrupted write left {p.name}-journal beside it; reading never applies "
                               f"it (it may belong to another file): `lrlab repair {p}` applies it after a "
                               "backup") from None
        raise SessionError(f"{p}: damaged session file ({_why(err)})") from None
    try:
        if app_id != APPLICATION_ID:
            raise SessionError(f"{p}: not an lrlab session (an SQLite database of another application)")
        if version > FORMAT_VERSION:
            raise SessionError(f"{p}: written by a newer lrlab (session format {version}; this lrlab "
                               f"{__version__} reads up to {FORMAT_VERSION}): upgrade lrlab to open it")
        if version < 1:
            raise SessionError(f"{p}: damaged session file (format version {version})")
        page_size, pages = int.from_bytes(head[16:18], "big"), int.from_bytes(head[28:32], "big")
        page_size = 65536 if page_size == 1 else page_size
        if p.stat().st_size < page_size * pages:
            raise SessionError(f"{p}: damaged session file (truncated: {p.stat().st_size} of "
                               f"{page_size * pages} bytes)")
        _refuse_code(p, con)
        _check_tables(p, con, version)
        if version < FORMAT_VERSION:
            con = _migrated(p, con, version, write)
        if not write:
            _fill_missing(con)
        return con
    except SessionError:
        con.close()
        raise
    except (sqlite3.Error, OSError) as err:
        message = _damaged(p, con, _why(err))
        con.close()
        raise SessionError(message) from None


def repair(path: str | Path) -> list[str]:
    """Open a session for repair, the one time lrlab writes to an existing session: a journal an
    interrupted write left beside it is applied (rolled back), a killed run's write-ahead log is
    folded in, and an older format is migrated in the file, each after a backup that never
    replaces an earlier one. Returns what was done, in words; SessionError if it cannot."""
    p = Path(path)
    try:  # a symlink loop, a FIFO or a folder: a message, never a RuntimeError from resolve()
        info = p.stat()
    except OSError as err:
        raise SessionError(f"{p}: cannot repair ({err.strerror or err})") from None
    if not stat.S_ISREG(info.st_mode):
        raise SessionError(f"{p}: cannot repair: it is {_file_kind(p)}, not a session file")
    _check_companions(p)
    done = []
    journal = p.with_name(p.name + "-journal")
    hot = journal.is_file() and journal.stat().st_size > 0
    if hot:
        backups = [_backup(f).name for f in (p, journal)]
    wal = p.with_name(p.name + "-wal")
    had_wal = wal.is_file() and wal.stat().st_size > 0
    try:
        con = sqlite3.connect(p.resolve().as_uri() + "?mode=rw", uri=True, timeout=5.0)
        _refuse_code(p, con)
        version = con.execute("PRAGMA user_version").fetchone()[0]
        _single_file(con)  # a killed run's write-ahead log, folded in: one portable file again
        con.close()
    except sqlite3.Error as err:
        raise SessionError(f"{p}: cannot repair ({_why(err)})") from None
    if hot and not journal.exists():
        done.append(f"applied {journal.name} (an interrupted write; backups: {', '.join(backups)})")
    elif hot:  # SQLite found nothing to roll back in it (a zeroed header): not applied, moved aside
        aside = _backup(journal, move=True)
        done.append(f"{journal.name} held no interrupted write to apply (SQLite ignores it); moved it to "
                    f"{aside.name}, with backups {', '.join(backups)}")
    if had_wal and not wal.exists():
        done.append(f"folded {wal.name} into {p.name} (the log of a run that did not finish; every "
                    "committed step kept): the session is one file again")
    if 0 < version < FORMAT_VERSION:
        backup = _backup(p, f".v{version}")
        done.append(f"migrated from format {version} to {FORMAT_VERSION} (backup: {backup.name})")
    con = _connect_checked(p, write=True)
    try:
        _read_meta(p, con)
    finally:
        con.close()
    return done


def _backup(f: Path, tag: str = "", *, move: bool = False) -> Path:
    """A copy of ``f`` beside it (or ``f`` itself, moved, with ``move``) named ``NAME{tag}.bak``,
    or ``.bak-2``, ``-3``... when that exists: a backup never replaces an earlier one, and it
    appears whole (a full disk leaves no half copy)."""
    for n in itertools.count(1):
        target = f.with_name(f"{f.name}{tag}.bak" + ("" if n == 1 else f"-{n}"))
        try:
            if move:
                os.link(f, target)  # fails if the name is taken, like the copy below
                f.unlink()
            else:
                with replaced(target, overwrite=False) as tmp:
                    shutil.copy2(f, tmp)
            return target
        except (FileExistsError, NameTaken):
            continue
    raise AssertionError("unreachable")


#: the files SQLite keeps beside a database; each must be a plain file if it is there at all
COMPANIONS = ("-journal", "-wal", "-shm")


def _check_companions(p: Path) -> None:
    """A journal, log or index beside the session that is not a plain file (a FIFO would block
    SQLite's open forever; a folder makes it fail) is named in a message, never opened."""
    for suffix in COMPANIONS:
        q = p.with_name(p.name + suffix)
        if (q.exists() or q.is_symlink()) and not q.is_file():
            raise SessionError(f"{p}: {q.name} beside it is {_file_kind(q)}, not a file SQLite can use; "
                               "move it away to read the session")


def _file_kind(q: Path) -> str:
    try:
        mode = q.stat().st_mode
    except OSError:
        return "a broken link"
    return ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file")


def _refuse_code(p: Path, con: sqlite3.Connection) -> None:
    """lrlab writes no triggers and no views, and runs none: a trigger fires when its table is
    written (a migration or a repair), so a file that holds one is refused whole."""
    found = con.execute("SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view') LIMIT 1").fetchone()
    if found:
        raise SessionError(f"{p}: not a session as lrlab writes them: it holds a {found[0]} "
                           f"({show(found[1])}), code that could run when the file is opened or changed")


def _check_tables(p: Path, con: sqlite3.Connection, version: int) -> None:
    """The tables lrlab reads must be tables (not views: a view can run any query, and forever)
    with the columns lrlab reads."""
    kinds = dict(con.execute("SELECT name, type FROM sqlite_master WHERE name IN "
                             f"({', '.join('?' * len(_TABLES))})", tuple(_TABLES)).fetchall())
    for table, (since, columns) in _TABLES.items():
        if version < since:
            continue
        if kinds.get(table) != "table":
            what = "missing" if table not in kinds else f"a {kinds[table]}, not a table"
            raise SessionError(f"{p}: damaged session file (table {table} is {what})")
        have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
        lacking = [c for c in columns if c not in have]
        if lacking:
            raise SessionError(f"{p}: damaged session file (table {table} has no column {lacking[0]})")


def _fill_missing(con: sqlite3.Connection) -> None:
    """Give a reader every declared column of the metric tables: where a file lacks a nullable
    one (a metric declared after the file was written), a temporary view of the same name, which
    SQLite finds before the file's table, adds it as NULL. Every query then reads the file as if
    written today, with no format bump and without changing the file (the view lives in the
    connection's temp schema)."""
    for table, cols in TABLES.items():
        # column names as SQLite matches them: without regard to case
        have = {str(r[1]).lower() for r in con.execute(f"PRAGMA main.table_info({table})")}
        if have and any(c.name.lower() not in have for c in cols):
            select = ", ".join(c.name if c.name.lower() in have else f"NULL AS {c.name}" for c in cols)
            con.execute(f"CREATE TEMP VIEW {table} AS SELECT {select} FROM main.{table}")


def _migrated(p: Path, con: sqlite3.Connection, version: int, write: bool) -> sqlite3.Connection:
    """An older format brought to FORMAT_VERSION: in memory for a read (the file stays as it is),
    in the file (after a backup, in one transaction) when opened to write."""
    if write:
        _migrate(p, con, version)
        return con
    memory = sqlite3.connect(":memory:", check_same_thread=False)
    con.backup(memory)
    con.close()
    _harden(memory)
    try:
        with memory:
            for v in range(version, FORMAT_VERSION):
                MIGRATIONS[v](memory)
            memory.execute("INSERT OR REPLACE INTO meta VALUES ('format_version', ?)", (json.dumps(FORMAT_VERSION),))
    except (sqlite3.Error, KeyError, ValueError) as err:
        memory.close()
        raise SessionError(f"{p}: could not read format {version} ({_why(err)})") from None
    return memory


def _migrate(p: Path, con: sqlite3.Connection, version: int) -> None:
    """Bring an older file to FORMAT_VERSION in one transaction (repair has backed it up)."""
    try:
        with con:
            for v in range(version, FORMAT_VERSION):
                MIGRATIONS[v](con)
            con.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            con.execute("INSERT OR REPLACE INTO meta VALUES ('format_version', ?)",
                        (json.dumps(FORMAT_VERSION),))
    except (sqlite3.DatabaseError, KeyError) as err:
        con.close()
        raise SessionError(f"{p}: could not migrate from format {version} ({err}); "
                           "the file is unchanged (and repair kept a backup)") from None


def _writer_alive(writer: Mapping[str, Any], heartbeat: Any) -> bool:
    """Is the process that writes a 'running' session still there? Meta from a file may say
    anything (a pid of "abc", 2**70 or null; no heartbeat): what cannot be a live writer is not."""
    pid = writer.get("pid")
    if writer.get("host") == socket.gethostname() and "pid" in writer:
        if type(pid) is not int or not 0 < pid < 2**31:
            return False  # no process of this machine has that id
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if type(heartbeat) not in (int, float) or not math.isfinite(heartbeat):
        return False
    return time.time() - heartbeat < 120  # another machine: trust a recent heartbeat


def lineage(path: str | Path) -> list[dict[str, Any]]:
    """A session's ancestors, nearest first: ``{"id", "path", "step", "found"}`` per parent, where
    ``found`` says whether the file at the path hint is that parent. What the Sessions tree and the
    compare view's alignment need."""
    out: list[dict[str, Any]] = []
    current: Path | None = Path(path)
    while current is not None and len(out) < 1000:
        try:
            with Session.open(current) as s:
                parent = s.parent
        except SessionError:
            break
        if parent is None:
            break
        hint = Path(parent["path"])
        found = False
        if hint.is_file():
            try:
                with Session.open(hint) as p:
                    found = p.file_id == parent["id"]
            except SessionError:
                found = False
        out.append({**parent, "found": found})
        current = hint if found else None
    return out
