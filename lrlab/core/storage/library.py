"""The session library: every session in the session folder (and any added folder), at a glance.

Opening hundreds of SQLite files on every refresh would be slow, so one row per file is
kept in an index (``index.json`` in the lrlab folder) keyed by path, size and modification
time; a refresh re-reads only the files that changed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lrlab.core.decl import paths
from lrlab.core.decl.files import read_text, write_text
from lrlab.core.storage.session import SUFFIX, Session, SessionError

INDEX_VERSION = 1


@dataclass
class Entry:
    """One row of the library table."""

    path: str
    name: str
    created: str
    dataset: str
    model: str
    optimizer: str
    lr: float | None
    schedule: str
    batch_size: int | None
    seed: int | None
    steps: int
    status: str
    final_val_metric: float | None
    best_val_metric: float | None
    mtime: float
    size: int
    kind: str = ""
    group: str | None = None
    #: the run spec as stored and the summary: what a notebook filters hundreds of runs by
    spec: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    id: str = ""  # the file's id (a fork names its parent by it)
    parent_id: str = ""  # a fork's parent's id ("" for a run that is not a fork)
    fork_step: int | None = None  # a fork's step

    @classmethod
    def read(cls, path: Path) -> Entry:
        st = _stat(path)
        try:
            with Session.open(path) as s:
                spec, summ = s.spec_json, s.summary
                created = s.meta.get("created")
                return cls(str(path), path.stem, created if isinstance(created, str) else "", spec["dataset"]["name"],
                           spec["model"]["kind"], spec["optimizer"]["name"], spec["optimizer"].get("lr"),
                           spec["schedule"]["kind"], spec.get("batch_size"), s.seed, s.n_steps(), s.status,
                           summ.get("final_val_metric"), summ.get("best_val_metric"), st.st_mtime, st.st_size,
                           s.kind, s.group, spec, _scalars(summ), s.file_id,
                           *((s.parent["id"], s.parent["step"]) if s.parent else ("", None)))
        except (SessionError, KeyError, TypeError, AttributeError) as err:
            why = str(err).split(": ", 1)[-1]
            return cls(str(path), path.stem, "", "", "", "", None, "", None, None, 0, f"unreadable: {why}",
                       None, None, st.st_mtime, st.st_size)


#: the largest index read back (a few KB per session)
INDEX_LIMIT = 256 * 2**20
_FIELDS = {f.name for f in fields(Entry)}
#: what each field of a cached entry must be to be used as it is
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "path": (str,), "name": (str,), "created": (str,), "dataset": (str,), "model": (str,), "optimizer": (str,),
    "schedule": (str,), "status": (str,), "kind": (str,), "id": (str,), "parent_id": (str,),
    "lr": (int, float, type(None)), "batch_size": (int, type(None)), "seed": (int, type(None)),
    "steps": (int,), "final_val_metric": (int, float, type(None)), "best_val_metric": (int, float, type(None)),
    "mtime": (int, float), "size": (int,), "group": (str, type(None)), "spec": (dict,), "summary": (dict,),
    "fork_step": (int, type(None)),
}


def _cached_entry_ok(cached: Any) -> bool:
    return (isinstance(cached, dict) and cached.keys() == _FIELDS
            and all(isinstance(cached[k], t) and not isinstance(cached[k], bool) for k, t in _FIELD_TYPES.items()))


def _stat(path: Path) -> os.stat_result:
    """The file's stat, or the link's own for a dangling or looping symlink (listed as unreadable)."""
    try:
        return path.stat()
    except OSError:
        return path.lstat()


def _scalars(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary's numbers and words; a range test's curves stay in the session, not the index."""
    return {k: v for k, v in summary.items() if v is None or isinstance(v, (int, float, str, bool))}


class Library:
    def __init__(self, folders: Iterable[str | Path] | None = None, index: str | Path | None = None):
        self.folders = [Path(f) for f in (folders if folders is not None else [paths.sessions_dir()])]
        self.index_path = Path(index) if index else paths.home() / "index.json"
        self._cache: dict[str, dict[str, Any]] = self._load_index()
        self.reads = 0  # files opened by the last refresh (tests and benchmarks look)

    def _load_index(self) -> dict[str, dict[str, Any]]:
        """The index of the last refresh; a cache only, so anything unexpected in it (an extra
        key, a list, deep nesting, a wrong type) means starting afresh, never an error."""
        try:
            data = json.loads(read_text(self.index_path, limit=INDEX_LIMIT))
        except (OSError, ValueError, RecursionError):
            return {}  # no index yet, or an unreadable one
        entries = data.get("entries") if isinstance(data, dict) and data.get("version") == INDEX_VERSION else None
        if not isinstance(entries, dict) or not all(isinstance(k, str) and _cached_entry_ok(v)
                                                    for k, v in entries.items()):
            return {}
        return entries

    def _save_index(self) -> None:
        self.index_path.parent.mkdir(parents=True, exist_ok=True)
        write_text(self.index_path, json.dumps({"version": INDEX_VERSION, "entries": self._cache}))

    def add_folder(self, folder: str | Path) -> None:
        if Path(folder) not in self.folders:
            self.folders.append(Path(folder))

    def refresh(self) -> list[Entry]:
        """All sessions in the folders, newest first; only changed files are opened."""
        self.reads = 0
        entries, seen = [], set()
        for folder in self.folders:
            if not folder.is_dir():
                continue
            for path in folder.glob(f"*{SUFFIX}"):
                key = str(path)
                seen.add(key)
                st = _stat(path)
                cached = self._cache.get(key)
                # an entry indexed before entries kept the spec and the id is read again, once
                if cached and cached["mtime"] == st.st_mtime and cached["size"] == st.st_size \
                        and cached["status"] not in ("running",) and "id" in cached:
                    entries.append(Entry(**cached))
                    continue
                entry = Entry.read(path)
                self.reads += 1
                self._cache[key] = asdict(entry)
                entries.append(entry)
        for key in [k for k in self._cache if k not in seen]:
            del self._cache[key]
        self._save_index()
        return sorted(entries, key=lambda e: (e.created, e.name), reverse=True)

    def rename(self, path: str | Path, new_name: str) -> Path:
        """Rename a session file within its folder; refuses to overwrite or to leave the folder."""
        old = Path(path)
        name = new_name.strip()
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"name: must be a plain file name, got {new_name!r}")
        new = old.with_name(name if name.endswith(SUFFIX) else name + SUFFIX)
        if new.exists():
            raise ValueError(f"name: {new.name} already exists in {old.parent}")
        old.rename(new)
        return new

    @staticmethod
    def delete(path: str | Path) -> None:
        """Delete a session file for good (the GUI moves to the trash instead where it can)."""
        Path(path).unlink()
