"""Files lrlab writes for the user (CSV, PNG, SVG, JSON): whole or not at all.

A half-written export (a full disk) or one that silently never happened (a missing or read-only
folder: Qt's image writers fail without a word) must not look like a result.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


class ExportError(ValueError):
    """An export that cannot be written; the message is one line saying why and what to do."""


@contextlib.contextmanager
def written(out: str | Path) -> Iterator[Path]:
    """Write a file whole or not at all: yields a temporary path beside ``out`` to write, renamed
    onto ``out`` when the block ends and the file is there; on any failure (a missing or
    read-only folder, a full disk, a writer that fails without saying so) nothing is left and an
    ExportError says why in one line."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        if not out.parent.is_dir():
            raise ExportError(f"{out}: cannot write there: the folder {out.parent} does not exist")
        yield tmp
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise ExportError(f"{out}: cannot write there (nothing was written: is the folder writable, "
                              "the disk full?)")
        os.replace(tmp, out)
    except OSError as err:
        raise ExportError(f"{out}: cannot write there ({err.strerror or err})") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
