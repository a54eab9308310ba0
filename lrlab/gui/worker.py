"""Runs a RecordedRun in a QThread and turns its metric batches into Qt signals.

The trainer already hands out metrics in batches; the worker asks for one batch per
tenth of a second, so at most about 10 signals a second cross to the GUI thread however
fast training goes (we use 10 a second: measured, each batch costs the training
thread a GIL hand-off). Commands (pause, resume, stop, edit) go straight into the
trainer's thread-safe queue. Nothing here touches a widget.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

FRAME_SECONDS = 0.1  # 10 metric batches a second: enough for smooth curves, little GIL traffic


class TrainingWorker(QObject):
    sig_started = Signal(object)  # dict: path, total_steps, steps_per_epoch, task, spec, events
    sig_metrics = Signal(object)  # lrlab.core.trainer.Update
    sig_finished = Signal(str, str)  # final status, session path
    sig_failed = Signal(str)  # one-line message (bad spec, missing files, crash)

    def __init__(self, spec: Any, out: str | None = None,
                 edits: Iterable[tuple[int, Mapping[str, Any]]] = (), label: str = ""):
        super().__init__()
        self.spec, self.out, self.edits, self.label = spec, out, list(edits), label
        self.trainer: Any = None
        self.path = ""
        self._stop_early = False

    @Slot()
    def run(self) -> None:
        # torch is imported here, in the worker thread, not while the window opens
        from lrlab.core.params import SpecError
        from lrlab.core.runs import RecordedRun
        from lrlab.core.session import SessionError

        try:
            run = RecordedRun(self.spec, self.out, edits=self.edits, label=self.label)
        except (SpecError, SessionError) as err:
            self.sig_failed.emit(err.first_line() if isinstance(err, SpecError) else str(err))
            return
        except Exception as err:
            self.sig_failed.emit(f"could not start: {type(err).__name__}: {err}")
            return
        self.trainer = run.trainer
        self.path = str(run.path)
        self.trainer.flush_seconds = FRAME_SECONDS
        self.trainer.listeners.append(self.sig_metrics.emit)
        if self._stop_early:
            self.trainer.stop()
        self.sig_started.emit({"path": self.path, "total_steps": self.trainer.total_steps,
                               "steps_per_epoch": self.trainer.order.steps_per_epoch,
                               "task": self.trainer.data.task, "spec": self.spec,
                               "threads": self.trainer.threads})
        try:
            status = run.run()
        except Exception as err:
            self.sig_failed.emit(f"training failed: {type(err).__name__}: {err}")
            status = "failed"
        self.sig_finished.emit(status, self.path)

    # --- commands from the GUI thread (the trainer's queue is thread-safe) ------------------

    def pause(self) -> None:
        if self.trainer is not None:
            self.trainer.pause()

    def resume(self) -> None:
        if self.trainer is not None:
            self.trainer.resume()

    def stop(self) -> None:
        self._stop_early = True
        if self.trainer is not None:
            self.trainer.stop()

    def edit(self, edit: Mapping[str, Any]) -> None:
        if self.trainer is not None:
            self.trainer.edit(edit)


def start_in_thread(worker: TrainingWorker) -> QThread:
    """Move ``worker`` to a new QThread and start it; the thread quits when the run ends."""
    thread = QThread()
    thread.setObjectName("lrlab-training")
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.sig_finished.connect(thread.quit)
    worker.sig_failed.connect(thread.quit)
    thread.start()
    return thread
