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
import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

#: the largest spec, settings or other small JSON file lrlab reads (a spec is a few KB)
SMALL_FILE_LIMIT = 1_000_000


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


def set_aside(path: str | Path, tag: str) -> Path:
    """Move ``path`` (a file, a link, a FIFO) to the first free name ``NAME{tag}-N``, N from 1,
    so what a user had is kept and never replaces anything; returns where it went."""
    path = Path(path)
    for n in range(1, 10_000):
        target = path.with_name(f"{path.name}{tag}-{n}")
        if not target.exists() and not target.is_symlink():
            os.rename(path, target)
            return target
    raise OSError(f"{path}: no free name to set it aside")


def write_text(out: str | Path, text: str) -> None:
    """``out`` holds ``text`` (UTF-8), whole: the old content or the new one, never half of it."""
    with replaced(out) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(out: str | Path, data: bytes, *, overwrite: bool = True) -> None:
    """``out`` holds ``data``, whole (see :func:`replaced` for ``overwrite``)."""
    with replaced(out, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)


def read_text(path: str | Path, limit: int = SMALL_FILE_LIMIT) -> str:
    """The text of a small regular file, read whole: never a device, a FIFO or a folder (reading
    ``/dev/zero`` would never end, a FIFO would block until someone writes), and never more than
    ``limit`` bytes. Raises OSError (FileNotFoundError for a missing file) or ValueError, each
    with a message that says what the file is."""
    p = Path(path)
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO opens without waiting
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > limit:
            raise ValueError(f"too large ({info.st_size:,} bytes; at most {limit:,})")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:  # grew while we read
        raise ValueError(f"too large (more than {limit:,} bytes)")
    return data.decode("utf-8")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a plain file"


def check_output(out: str | Path, inputs: Iterable[str | Path] = ()) -> None:
    """Refuse an output path that would destroy something: an existing target that is not a
    regular file (as root, writing ``/dev/null`` or ``/dev/full`` by rename would replace the
    device with a file), or the same file as one of ``inputs`` (``lrlab export run.lrlab --csv
    run.lrlab`` would replace the session with its own CSV). Same file means same inode, so a
    link or another spelling of the path is caught too. Raises ExportError."""
    out = Path(out)
    try:
        info = out.stat()
    except OSError:
        return  # a new name: nothing to destroy
    if not stat.S_ISREG(info.st_mode):
        raise ExportError(f"{out}: cannot write there: it exists and is {_kind(info.st_mode)}")
    for source in inputs:
        if same_file(out, source):
            raise ExportError(f"{out}: cannot write there: it is the input {source} "
                              "(that would overwrite it); choose another name")


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` are one file (or folder) on disk: same device and inode, so a link
    or another spelling of the path counts too. False when either does not exist."""
    try:
        x, y = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        return False
    return (x.st_dev, x.st_ino) == (y.st_dev, y.st_ino)


def occupied(path: str | Path) -> bool:
    """Whether ``path`` exists and is not an empty folder: a run's output folder must be new or
    empty (lrlab never writes into, or over, what is there)."""
    p = Path(path)
    return p.exists() and (not p.is_dir() or any(p.iterdir()))


def new_folder(path: str | Path) -> Path:
    """Create the output folder ``path`` (or keep it, if it is a folder already), creating at most
    its last level: ``--out /nonexistent/x`` must not make ``/nonexistent`` at the file system's
    root, and ``--out afile/x`` is a message, not a NotADirectoryError. Raises ExportError."""
    p = Path(path)
    parent = p.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise ExportError(f"{p}: cannot create this folder: {parent} {what} (lrlab creates only the last "
                          "level of an output folder)")
    try:
        p.mkdir(exist_ok=True)
    except FileExistsError:
        raise ExportError(f"{p}: cannot create this folder: it exists and is not a folder") from None
    except OSError as err:
        raise ExportError(f"{p}: cannot create this folder ({err.strerror or err})") from None
    return p


def check_file_output(out: str | Path, inputs: Iterable[str | Path] = ()) -> None:
    """:func:`check_output` for a file to create, plus its folder: it must exist (lrlab never
    creates the folders above a file it writes). Raises ExportError."""
    parent = Path(out).parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise ExportError(f"{out}: cannot write there: the folder {parent} {what}")
    check_output(out, inputs)


@contextlib.contextmanager
def written(out: str | Path, inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """An export the user asked for, whole or not at all: yields a temporary path beside ``out``
    to write, renamed onto ``out`` when the block ends and the file is there; on any failure (a
    missing or read-only folder, a full disk, a writer that fails without saying so) nothing is
    left and an ExportError says why in one line. ``out`` must not be a special file or one of
    ``inputs`` (:func:`check_file_output`)."""
    out = Path(out)
    try:
        check_file_output(out, inputs)
        with replaced(out) as tmp:
            yield tmp
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise ExportError(f"{out}: cannot write there (nothing was written: is the folder writable, "
                                  "the disk full?)")
    except OSError as err:
        raise ExportError(f"{out}: cannot write there ({err.strerror or err})") from None


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, read a megabyte at a time: what a session records of the
    user's own files (a table, a text, code it ran) so a replay can tell when they changed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
