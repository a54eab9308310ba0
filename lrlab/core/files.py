"""Every file lrlab writes appears whole or not at all, through one function: :func:`replaced`.

A reader (the Sessions list, `lrlab info`, a test polling for a run's file, the next start of
the app reading its settings) sees a name the moment it exists, so no file may ever be visible
half made. :func:`replaced` builds the file (or folder) under a temporary name of this process's
beside its target and gives it the target's name in one atomic step: a rename, or, where an
existing file must never be replaced, a hard link that fails if the name is taken. Everything
else here is a thin layer over it: :func:`write_text` and :func:`write_bytes` for the app's own
files (settings, caches, group summaries), and :func:`written` for the exports a user asks for,
which adds the checks and the one-line :class:`ExportError` a user needs (a missing folder, a
writer that failed without a word, a full disk).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path


class ExportError(ValueError):
    """An export that cannot be written; the message is one line saying why and what to do."""


class NameTaken(FileExistsError):
    """:func:`replaced` with ``overwrite=False`` found its target's name taken; nothing was changed."""


@contextlib.contextmanager
def replaced(out: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``out``; when the block ends, whatever was made there (a
    file or a folder) takes the name ``out`` atomically. On an exception nothing is left behind
    and ``out`` is as it was.

    ``overwrite=False`` never replaces an existing ``out``: the name is given with a hard link,
    which fails if it exists, so of two writers racing for one name exactly one wins and the
    other gets :class:`NameTaken`. Where the file system has no hard links (FAT, some network
    shares) the name is claimed empty with ``O_EXCL`` and the file renamed onto it, so a reader
    may find it empty for an instant there."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    try:
        yield tmp
        if overwrite or tmp.is_dir():  # a folder replaces at most an empty folder
            os.replace(tmp, out)
        else:
            _claim(tmp, out)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _claim(tmp: Path, out: Path) -> None:
    """Give the finished file ``tmp`` the name ``out`` unless that name exists, in one step."""
    try:
        os.link(tmp, out)
        return
    except FileExistsError:
        raise NameTaken(f"{out}: already exists") from None
    except OSError:
        pass  # no hard links here: claim the name empty, then rename the file onto it
    try:
        os.close(os.open(out, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        raise NameTaken(f"{out}: already exists") from None
    try:
        os.replace(tmp, out)
    except OSError:
        with contextlib.suppress(OSError):  # our empty claim, never filled: give the name back
            out.unlink()
        raise


def write_text(out: str | Path, text: str) -> None:
    """``out`` holds ``text`` (UTF-8), whole: the old content or the new one, never half of it."""
    with replaced(out) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(out: str | Path, data: bytes, *, overwrite: bool = True) -> None:
    """``out`` holds ``data``, whole (see :func:`replaced` for ``overwrite``)."""
    with replaced(out, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def written(out: str | Path) -> Iterator[Path]:
    """An export the user asked for, whole or not at all: yields a temporary path beside ``out``
    to write, renamed onto ``out`` when the block ends and the file is there; on any failure (a
    missing or read-only folder, a full disk, a writer that fails without saying so) nothing is
    left and an ExportError says why in one line."""
    out = Path(out)
    try:
        if not out.parent.is_dir():
            raise ExportError(f"{out}: cannot write there: the folder {out.parent} does not exist")
        with replaced(out) as tmp:
            yield tmp
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise ExportError(f"{out}: cannot write there (nothing was written: is the folder writable, "
                                  "the disk full?)")
    except OSError as err:
        raise ExportError(f"{out}: cannot write there ({err.strerror or err})") from None
