"""Session files: one SQLite database per run (``.lrlab``), used as an application file format.

SQLite gives transactions (a crash never leaves half a batch), readability with
any SQLite tool or pandas, and no code execution on open: a session holds only
data. The schema is documented in ``resources/docs/session-format.md``. The file is created
under a temporary name and renamed into place, then appended to while the run
goes, committing at least every ``commit_seconds``; a run killed with SIGKILL leaves
a file that opens, reads as ``interrupted``, and holds every committed step.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from lrlab._version import __version__
from lrlab.core.events import Event, Status
from lrlab.core.metrics import (
    EFFECTIVE_COLUMNS,
    EVAL_COLUMNS,
    INTEGER_COLUMNS,
    QUANTILE_NAMES,
    STEP_COLUMNS,
    table_sql,
)
from lrlab.core.names import session_stem
from lrlab.core.params import SpecError
from lrlab.core.snapshots import Snapshot, SnapshotError
from lrlab.core.spec import RunSpec

SUFFIX = ".lrlab"
FORMAT_VERSION = 4
APPLICATION_ID = 0x4C524C42  # "LRLB" in the SQLite header marks an lrlab session
SQLITE_MAGIC = b"SQLite format 3\x00"

#: the kind of run a session records when its meta says none (format 1 knew only training runs)
DEFAULT_KIND = "train"

#: format 4: the exact state before a step (lrlab/core/snapshots.py): a JSON header and raw tensor bytes
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
    con.execute("INSERT OR IGNORE INTO meta VALUES ('id', ?)", (json.dumps(new_file_id()),))


#: from-version -> function migrating a connection to from-version + 1 (inside a transaction)
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


def new_file_id() -> str:
    """A session's identity, kept when the file is renamed or moved (a fork finds its parent by it)."""
    return uuid.uuid4().hex


class SessionError(ValueError):
    """A file that cannot be used as a session; the message is one line naming the file."""


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
                 overwrite: bool = False):
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise SessionError(f"{self.path}: already exists; choose another name (nothing was "
                               "overwritten)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.spec = spec
        self.commit_seconds = commit_seconds
        tmp = self.path.with_name(f".{self.path.name}.part")
        tmp.unlink(missing_ok=True)
        con = sqlite3.connect(tmp)
        with con:
            con.executescript(SCHEMA)
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            meta = {"format_version": FORMAT_VERSION, "id": new_file_id(), "app_version": __version__,
                    "created": _now(),
                    "kind": kind, "group": group,
                    "seed": spec.seed, "spec": spec.to_json(), "environment": dict(environment),
                    "status": Status.RUNNING.value, "summary": {}, "writer": _writer_id(),
                    "heartbeat": time.time(), **(extra_meta or {})}
            con.executemany("INSERT INTO meta VALUES (?, ?)",
                            [(k, json.dumps(v)) for k, v in meta.items()])
        con.close()
        os.replace(tmp, self.path)
        self.con = sqlite3.connect(self.path, check_same_thread=False)
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
            con.executemany(_INSERT_STEPS, zip(*(cols[c].tolist() for c in STEP_COLUMNS), strict=True))
            self._unsaved += len(cols["step"])
        if update.evals:
            con.executemany(_INSERT_EVALS, [tuple(e[c] for c in EVAL_COLUMNS) for e in update.evals])
        effective = getattr(update, "effective", None)
        if effective:
            con.executemany(_INSERT_EFFECTIVE, [tuple(e[c] for c in EFFECTIVE_COLUMNS) for e in effective])
        for ev in update.events:
            con.execute("INSERT INTO events (step, kind, data, wall_time) VALUES (?, ?, ?, ?)",
                        (ev.step, ev.kind, json.dumps(ev.data), ev.wall_time))
        for snapshot in getattr(update, "snapshots", ()):  # to bytes here, not in the training loop's step
            con.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)", (snapshot.step, *snapshot.encode()))
        status = Status(update.status)
        now = time.monotonic()
        if status.final or update.events or now - self._last_commit >= self.commit_seconds:
            self._set_meta(status=(Status.RUNNING if status == Status.PAUSED else status).value,
                           heartbeat=time.time())
            self._commit()
            self._last_commit = now

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
            self.con.close()
        except (sqlite3.Error, OSError) as err:
            self._fail(err)
            return
        self.closed = True

    def _set_meta(self, **items: Any) -> None:
        self.con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                             [(k, json.dumps(v)) for k, v in items.items()])


_INSERT_STEPS = f"INSERT INTO steps VALUES ({', '.join('?' * len(STEP_COLUMNS))})"
_INSERT_EVALS = f"INSERT OR REPLACE INTO evals VALUES ({', '.join('?' * len(EVAL_COLUMNS))})"
_INSERT_EFFECTIVE = f"INSERT OR REPLACE INTO effective_lr VALUES ({', '.join('?' * len(EFFECTIVE_COLUMNS))})"


def _writer_id() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def summarize(con: sqlite3.Connection) -> dict[str, Any]:
    """Final and best values, straight from the tables (also what `lrlab info` shows)."""
    out: dict[str, Any] = {}
    n, wall = con.execute("SELECT COUNT(*), MAX(wall_time) FROM steps").fetchone()
    out["steps"] = n
    out["wall_time"] = wall or 0.0
    out["steps_per_second"] = n / wall if wall else 0.0
    row = con.execute("SELECT train_loss, lr FROM steps ORDER BY step DESC LIMIT 1").fetchone()
    if row:
        out["final_train_loss"], out["final_lr"] = _finite(row[0]), row[1]
    row = con.execute("SELECT step, val_loss, val_metric FROM evals ORDER BY step DESC LIMIT 1").fetchone()
    if row:
        out["final_val_loss"], out["final_val_metric"] = _finite(row[1]), _finite(row[2])
        best = con.execute("SELECT step, val_loss FROM evals WHERE val_loss IS NOT NULL "
                           "ORDER BY val_loss ASC, step ASC LIMIT 1").fetchone()
        if best:
            out["best_val_loss"], out["best_val_loss_step"] = best[1], best[0]
        best = con.execute("SELECT step, val_metric FROM evals WHERE val_metric IS NOT NULL "
                           "ORDER BY val_metric DESC, step ASC LIMIT 1").fetchone()
        if best:
            out["best_val_metric"], out["best_val_metric_step"] = best[1], best[0]
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
        """Open, check and (for older formats) migrate a session; SessionError says what is wrong."""
        p = Path(path)
        con = _connect_checked(p)
        try:
            meta = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}
        except (sqlite3.DatabaseError, json.JSONDecodeError) as err:
            con.close()
            raise SessionError(f"{p}: damaged session file ({err})") from None
        missing = [k for k in ("spec", "status", "seed", "environment") if k not in meta]
        if missing:
            con.close()
            raise SessionError(f"{p}: damaged session file (missing {', '.join(missing)})")
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
        return self.meta.get("summary") or summarize(self._con)

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
        return [r[0] for r in self._con.execute("SELECT step FROM snapshots ORDER BY step")]

    def snapshot(self, step: int) -> Snapshot:
        """The state before ``step``, read from its header and bytes without executing anything;
        SessionError when there is none or its header does not check out."""
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
        return self._con.execute("SELECT COUNT(*) FROM steps").fetchone()[0]

    def steps(self, columns: Sequence[str] = STEP_COLUMNS) -> dict[str, np.ndarray]:
        """Per-step columns as numpy arrays (NULL, e.g. an unsampled update ratio, is NaN)."""
        return self._table("steps", columns, STEP_COLUMNS)

    def evals(self, columns: Sequence[str] = EVAL_COLUMNS) -> dict[str, np.ndarray]:
        return self._table("evals", columns, EVAL_COLUMNS)

    def effective_lr(self, layer: str = "all") -> dict[str, np.ndarray]:
        """Quantiles of the effective LR for ``layer`` ("all" parameters, or a parameter name
        such as "0.weight"): ``step`` and p5, p25, p50, p75, p95 arrays (empty when none)."""
        rows = self._con.execute(f"SELECT step, {', '.join(QUANTILE_NAMES)} FROM effective_lr WHERE layer = ? "
                                 "ORDER BY step", (layer,)).fetchall()
        data = np.array(rows, dtype=np.float64).reshape(-1, 1 + len(QUANTILE_NAMES))
        return {"step": data[:, 0].astype(np.int64), **{q: data[:, i + 1] for i, q in enumerate(QUANTILE_NAMES)}}

    def effective_lr_layers(self) -> list[str]:
        """The parameter tensors with recorded effective LRs ("all" first)."""
        names = [r[0] for r in self._con.execute("SELECT DISTINCT layer FROM effective_lr")]
        return sorted(names, key=lambda n: (n != "all", n))

    def events(self) -> list[Event]:
        return [Event(s, k, json.loads(d), w) for s, k, d, w in
                self._con.execute("SELECT step, kind, data, wall_time FROM events ORDER BY id")]

    def edits(self) -> list[tuple[int, dict[str, Any]]]:
        """The mid-run edits, in order, as (step, edit JSON): what a replay re-applies."""
        return edits_of(self.events())

    def _table(self, table: str, columns: Sequence[str], allowed: Sequence[str]) -> dict[str, np.ndarray]:
        bad = [c for c in columns if c not in allowed]
        if bad:
            raise ValueError(f"unknown column(s) {bad}; allowed: {list(allowed)}")
        rows = self._con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY step").fetchall()
        ints = INTEGER_COLUMNS
        if not rows:
            return {c: np.empty(0, dtype=np.int64 if c in ints else np.float64) for c in columns}
        data = np.array(rows, dtype=np.float64)  # NULL -> NaN
        return {c: (data[:, i].astype(np.int64) if c in ints else data[:, i])
                for i, c in enumerate(columns)}


def edits_of(events: Sequence[Event]) -> list[tuple[int, dict[str, Any]]]:
    """The mid-run edits among ``events``, in order, as (step, edit JSON)."""
    return [(e.step, e.data["edit"]) for e in events if e.kind == "edit"]


def _connect_checked(p: Path) -> sqlite3.Connection:
    if not p.is_file():
        raise SessionError(f"{p}: no such file")
    try:
        with p.open("rb") as f:
            head = f.read(100)
    except OSError as err:
        raise SessionError(f"{p}: cannot read ({err.strerror})") from None
    if not head.startswith(SQLITE_MAGIC):
        raise SessionError(f"{p}: not an lrlab session (not an SQLite database)")
    if len(head) < 100:
        raise SessionError(f"{p}: damaged session file (truncated header)")
    try:
        con = sqlite3.connect(f"file:{p}?mode=rw", uri=True, check_same_thread=False)
        app_id = con.execute("PRAGMA application_id").fetchone()[0]  # also rolls back a hot journal
        version = con.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as err:
        raise SessionError(f"{p}: damaged session file ({err})") from None
    if app_id != APPLICATION_ID:
        con.close()
        raise SessionError(f"{p}: not an lrlab session (an SQLite database of another application)")
    if version > FORMAT_VERSION:
        con.close()
        raise SessionError(f"{p}: written by a newer lrlab (session format {version}; this lrlab "
                           f"{__version__} reads up to {FORMAT_VERSION}): upgrade lrlab to open it")
    with p.open("rb") as f:  # the header again: opening may have rolled back a hot journal
        head = f.read(100)
    page_size, pages = int.from_bytes(head[16:18], "big"), int.from_bytes(head[28:32], "big")
    page_size = 65536 if page_size == 1 else page_size
    if p.stat().st_size < page_size * pages:
        con.close()
        raise SessionError(f"{p}: damaged session file (truncated: {p.stat().st_size} of "
                           f"{page_size * pages} bytes)")
    if version < FORMAT_VERSION:
        _migrate(p, con, version)
    return con


def _migrate(p: Path, con: sqlite3.Connection, version: int) -> None:
    """Bring an older file to FORMAT_VERSION: back it up first, then migrate in one transaction."""
    backup = p.with_name(f"{p.name}.v{version}.bak")
    shutil.copy2(p, backup)
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
                           f"the file is unchanged, a backup is at {backup.name}") from None


def _writer_alive(writer: Mapping[str, Any], heartbeat: float) -> bool:
    """Is the process that writes a 'running' session still there?"""
    if writer.get("host") == socket.gethostname() and "pid" in writer:
        try:
            os.kill(int(writer["pid"]), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return time.time() - float(heartbeat) < 120  # another machine: trust a recent heartbeat


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
