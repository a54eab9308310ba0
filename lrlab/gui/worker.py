"""Runs any kind of recorded run in a QThread and turns its metric batches into Qt signals.

Runners already hand out metrics in batches; the worker asks for one batch per tenth
of a second, so at most about 10 signals a second cross to the GUI thread however fast
training goes (measured, each batch costs the training thread a GIL hand-off), and fewer when
the window draws less often (:meth:`RunWorker.set_batch_seconds`,
:func:`lrlab.gui.pacing.batch_seconds`). Commands (pause, resume, stop, edit) go straight into the runner's thread-safe
queue. Nothing here touches a widget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

FRAME_SECONDS = 0.1  # 10 metric batches a second at first: enough for smooth curves, little GIL traffic


class RunWorker(QObject):
    """Builds a recorded run of ``kind`` in its thread (:func:`lrlab.core.runs.record`, the one
    factory: a RecordedRun, or a RecordedSweep for a kind recorded per member) and runs it.
    ``options`` go to the factory as they are (a sweep's ``lrs``, a fork's ``parent`` and ``at``)."""

    sig_started = Signal(object)  # dict: path, total_steps, steps_per_epoch, task, spec, threads, first_step
    sig_metrics = Signal(object)  # lrlab.core.runs.Update
    sig_finished = Signal(str, str)  # final status, session path
    sig_failed = Signal(str)  # one-line message (bad spec, missing files, crash)

    def __init__(self, spec: Any, *, kind: str = "train", label: str = "", **options: Any):
        super().__init__()
        self.spec, self.kind, self.label, self.options = spec, kind, label, options
        self.runner: Any = None
        self.recorded: Any = None  # the RecordedRun (or RecordedSweep): Save As writes the whole run from it
        self.path = ""
        self._stop_early = False

    @Slot()
    def run(self) -> None:
        # torch is imported here, in the worker thread, not while the window opens
        from lrlab.core.decl.params import SpecError
        from lrlab.core.runs import record
        from lrlab.core.storage.session import SessionError

        try:
            run = record(self.kind, self.spec, label=self.label, **self.options)
        except (SpecError, SessionError) as err:
            self.sig_failed.emit(err.first_line() if isinstance(err, SpecError) else str(err))
            return
        except Exception as err:
            self.sig_failed.emit(f"could not start: {type(err).__name__}: {err}")
            return
        self.runner = run.runner
        self.recorded = run
        self.path = str(run.path)
        self.runner.flush_seconds = FRAME_SECONDS
        self.runner.listeners.append(self.sig_metrics.emit)
        if self._stop_early:
            self.runner.stop()
        meta = self.runner.session_meta()
        self.sig_started.emit({"path": self.path, "total_steps": self.runner.total_steps,
                               "steps_per_epoch": meta.get("steps_per_epoch", 1),
                               "task": self.runner.spec.task, "spec": self.runner.spec,
                               "threads": self.runner.environment.get("threads"),
                               "first_step": getattr(self.runner, "record_from", 0)})
        try:
            status = run.run()
        except Exception as err:
            self.sig_failed.emit(f"training failed: {type(err).__name__}: {err}")
            status = "failed"
        self.sig_finished.emit(str(status), self.path)

    # --- commands from the GUI thread (the runner's queue is thread-safe) ------------------

    def set_batch_seconds(self, seconds: float) -> None:
        """Hand over metrics every ``seconds`` from now on (the window's frame pace; a float the
        runner reads between steps)."""
        if self.runner is not None:
            self.runner.flush_seconds = seconds

    def pause(self) -> None:
        if self.runner is not None:
            self.runner.pause()

    def resume(self) -> None:
        if self.runner is not None:
            self.runner.resume()

    def stop(self) -> None:
        self._stop_early = True
        if self.runner is not None:
            self.runner.stop()

    def edit(self, edit: Mapping[str, Any]) -> None:
        if self.runner is not None:
            self.runner.edit(edit)


class ClusterSweepWorker(QObject):
    """Runs a sweep on a Ray cluster (:func:`lrlab.core.runs.cluster.ray_sweep`) in its thread: the
    members train on the cluster, and each chunk's summary rows come back as they arrive."""

    sig_rows = Signal(list)  # every member's summary row that has arrived so far
    sig_failures = Signal(list)  # the chunks that failed on the cluster, with their messages (before finished)
    sig_finished = Signal(str, str)  # status, the sweep's folder
    sig_failed = Signal(str)

    def __init__(self, spec: Any, lrs: list[float], seeds: int, address: str | None, folder: str, label: str = ""):
        super().__init__()
        self.spec, self.lrs, self.seeds, self.address = spec, lrs, seeds, address
        self.folder, self.label = folder, label
        self._stop = False

    @Slot()
    def run(self) -> None:
        from lrlab.core.decl.params import SpecError
        from lrlab.core.runs.cluster import ClusterError, ray_sweep

        try:
            result = ray_sweep(self.spec, self.lrs, self.folder, seeds=self.seeds, address=self.address,
                               label=self.label, on_chunk=lambda r: self.sig_rows.emit(list(r.rows)),
                               should_stop=lambda: self._stop)
        except (ClusterError, SpecError) as err:
            self.sig_failed.emit(err.first_line() if isinstance(err, SpecError) else str(err))
            return
        except Exception as err:
            self.sig_failed.emit(f"the sweep on Ray failed: {type(err).__name__}: {err}")
            return
        self.sig_failures.emit(list(result.failures))
        self.sig_finished.emit(result.status, str(result.folder))

    def stop(self) -> None:
        self._stop = True


def start_in_thread(worker: QObject, name: str = "lrlab-training") -> QThread:
    """Move ``worker`` (its ``run`` slot, ``sig_finished`` and ``sig_failed`` signals) to a new
    QThread named ``name`` and start it; the thread quits when the run ends."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.sig_finished.connect(thread.quit)
    worker.sig_failed.connect(thread.quit)
    thread.start()
    return thread
