"""Progress on a terminal or in a notebook, and Ctrl-C that stops a run cleanly.

Shared by :mod:`lrlab.api` (``lrlab.run(..., progress=True)``) and the ``lrlab`` command,
which is a client of that API: the bar a script shows is the bar the command shows.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from lrlab.core.decl.events import Status
from lrlab.core.decl.fmt import clock


class Progress:
    """A one-line progress bar on stderr: the bar and step count, ``describe``'s words for the
    update (the run kind's: epoch, loss and LR for one run, :mod:`lrlab.core.runs.kinds`),
    steps/s and ETA; redrawn a few times a second on a terminal, every 5 s into a file, and
    always at the end."""

    def __init__(self, total: int, quiet: bool = False, stream: Any = None,
                 describe: Callable[[Any], str] | None = None):
        self.total, self.quiet = total, quiet
        if describe is None:
            from lrlab.core.runs.base import progress_words as describe
        self.describe = describe
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last_print = 0.0
        self.start = time.monotonic()

    def __call__(self, update: Any) -> None:
        if self.quiet or not update.n:
            return
        now = time.monotonic()
        final = Status(update.status).final
        if not final and now - self.last_print < (0.2 if self.tty else 5.0):
            return
        self.last_print = now
        done = update.step
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        width = 24
        filled = int(width * done / max(self.total, 1))
        line = (f"[{'#' * filled}{'.' * (width - filled)}] step {done}/{self.total} "
                f"{self.describe(update)} {rate:.0f} steps/s ETA {clock(eta)}")
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        if final and self.tty:
            self.stream.write("\n")
        self.stream.flush()


def run_with_ctrl_c(run: Any, trainer: Any) -> Status:
    """``run.run()``, where Ctrl-C (or a notebook's interrupt) asks ``trainer`` to stop at the
    next step boundary, so the session ends ``stopped`` with every step so far; a second one
    aborts. Signal handlers belong to the main thread: elsewhere the run just runs."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return run.run()

    def on_sigint(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, previous)
        print("\nlrlab: stopping after this step (Ctrl-C again to abort)", file=sys.stderr)
        trainer.stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        return run.run()
    finally:
        signal.signal(signal.SIGINT, previous)
