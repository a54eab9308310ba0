"""The run controller: one object that owns the running run and everything known about it.

Widgets never keep their own copy of a run's state. The controller owns the worker and
its thread, the run state, the run's events and its schedule timeline (rebuilt from the
events by the core, so plateau reductions and edits both show in the planned LR), the
queue of "run all and compare" and the progress with its ETA; the window and panels
bind to its signals. It is a QObject without widgets, so tests can drive it alone.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from lrlab.core.decl.events import Event, Status
from lrlab.core.decl.schedules import Timeline
from lrlab.core.decl.spec import RunSpec, planned_steps, preview_timeline
from lrlab.gui.worker import RunWorker, start_in_thread


class RunState(str, enum.Enum):
    """What the controller is doing; a ``str`` so that it reads as a word in messages."""

    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def busy(self) -> bool:
        """A run exists (so the form is locked and nothing else may start)."""
        return self is not RunState.IDLE


@dataclass(frozen=True)
class Progress:
    steps_done: int
    total_steps: int
    epoch: int
    steps_per_second: float
    eta_seconds: float  # inf when unknown (paused, nothing done yet)


#: steps/s is measured over the last few seconds, so that it follows a change of pace at once
RATE_WINDOW_S = 1.5


class RunController(QObject):
    sig_state = Signal(object)  # RunState
    sig_started = Signal(object)  # dict from the worker: path, total_steps, steps_per_epoch, task, spec
    sig_metrics = Signal(object)  # lrlab.core.runs.Update (a sweep's: with its members')
    sig_events = Signal(list)  # new lrlab.core.decl.events.Event objects
    sig_timeline = Signal()  # the planned LR changed (a run started, an edit, a plateau reduction)
    sig_progress = Signal(object)  # Progress, a few times a second while a run goes
    sig_finished = Signal(str, str)  # final status, session path
    sig_failed = Signal(str)  # a run could not start or crashed: one-line message
    sig_batch_done = Signal(list)  # session paths of a finished "run all and compare"

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.state = RunState.IDLE
        self.worker: RunWorker | None = None
        self.thread: QThread | None = None
        self.spec: RunSpec | None = None
        self.timeline: Timeline | None = None
        self.events: list[Event] = []
        self.session_path = ""
        self.total_steps = 0
        self.steps_per_epoch = 1
        self.steps_done = 0
        self.first_step = 0  # the first step the run records (a fork's step; 0 otherwise)
        self.epoch = 0
        self.problem = ""  # why the run diverged or failed
        self.file_problem = ""  # why the session file stopped taking steps (a full disk), while the run went on
        self.recorded: Any = None  # the current (or last) run with its session: what Save As saves
        self.pace: float | None = None  # steps per second for the next and the current run
        self.kind = "train"  # the kind of the current (or last) run
        self.label = ""  # its label: a preset's name when it runs a preset
        self.started_at = 0.0
        self._paused_for = 0.0  # seconds spent paused, left out of steps/s
        self._paused_at: float | None = None
        self._recent: deque[tuple[float, int]] = deque()  # (time, steps done) of the last metrics
        self._batch: list[tuple[RunSpec, str]] = []  # runs still to go in "run all and compare"
        self._batch_paths: list[str] = []
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(250)
        self._progress_timer.timeout.connect(lambda: self.sig_progress.emit(self.progress()))

    # --- state ------------------------------------------------------------------------------

    def _set_state(self, state: RunState) -> None:
        if state != self.state:
            self.state = state
            now = time.monotonic()
            self._recent.clear()  # a pause is no slow stretch: the rate starts again
            if state == RunState.PAUSED:
                self._paused_at = now
            elif self._paused_at is not None:
                self._paused_for += now - self._paused_at
                self._paused_at = None
            self.sig_state.emit(state)

    def progress(self) -> Progress:
        """Steps done, steps/s, and the time left at that rate. The rate is that of the last
        RATE_WINDOW_S seconds (the pace box changed to 50 reads 50 at once, not an average with
        the slower start), or over the time actually trained until that much has passed."""
        now = self._paused_at or time.monotonic()
        elapsed = now - self.started_at - self._paused_for if self.started_at else 0.0
        rate = (self.steps_done - self.first_step) / elapsed if elapsed > 0 else 0.0
        if len(self._recent) >= 2 and self._recent[-1][0] - self._recent[0][0] >= 0.5 * RATE_WINDOW_S:
            (t0, s0), (t1, s1) = self._recent[0], self._recent[-1]
            rate = (s1 - s0) / (t1 - t0)
        running = self.state == RunState.RUNNING and rate > 0
        eta = (self.total_steps - self.steps_done) / rate if running else float("inf")
        return Progress(self.steps_done, self.total_steps, self.epoch, rate, eta)

    # --- commands ----------------------------------------------------------------------------

    def start(self, spec: RunSpec, edits: Iterable[tuple[int, Mapping[str, Any]]] = (), label: str = "",
              kind: str = "train", **options: Any) -> bool:
        """Start a run of ``kind`` in a background thread; False when one is already going.
        ``options`` go to the runner (a sweep's ``lrs`` and ``seeds``)."""
        if self.state.busy:
            return False
        self.spec, self.kind, self.label = spec, kind, label
        self.events = []
        self.timeline = preview_timeline(spec)
        self.total_steps = planned_steps(spec)
        self.steps_done = self.epoch = self.first_step = 0
        self.problem = self.file_problem = ""
        self.recorded = None
        self.session_path = ""
        self.started_at, self._paused_for, self._paused_at = 0.0, 0.0, None
        self._recent.clear()
        # STARTING goes out first: what listens may still set up the run (a preset's pace)
        self._set_state(RunState.STARTING)
        self.worker = RunWorker(spec, kind=kind, label=label, edits=list(edits), pace=self.pace, **options)
        self.worker.sig_started.connect(self._started)
        self.worker.sig_metrics.connect(self._metrics)
        self.worker.sig_finished.connect(self._finished)
        self.worker.sig_failed.connect(self._failed)
        self.thread = start_in_thread(self.worker)
        return True

    def toggle_pause(self) -> None:
        if self.worker is None:
            return
        if self.state == RunState.RUNNING:
            self.worker.pause()
        elif self.state == RunState.PAUSED:
            self.worker.resume()
            self._set_state(RunState.RUNNING)  # the trainer records the resume at its next step

    def stop(self) -> None:
        if self.worker is not None and self.state in (RunState.STARTING, RunState.RUNNING, RunState.PAUSED):
            self._batch = []  # stopping one run of a batch stops the batch
            self.worker.stop()
            self._set_state(RunState.STOPPING)

    def set_pace(self, steps_per_second: float | None) -> None:
        """Watchable pace (None: full speed), for this run from its next step and for the next runs."""
        self.pace = steps_per_second
        if self.worker is not None and self.worker.runner is not None:
            self.worker.runner.set_pace(steps_per_second)

    def edit(self, edit: Mapping[str, Any]) -> None:
        """Send a schedule or optimizer edit; the run applies it at its next step boundary."""
        if self.worker is not None:
            self.worker.edit(edit)

    def stop_and_wait(self, timeout_ms: int = 2000) -> bool:
        """Stop a run and wait for its thread (closing the window); True if it ended in time."""
        if self.thread is None:
            return True
        self.stop()
        # quit() is thread-safe; the thread's event loop ends as soon as the run returns.
        # (Waiting for sig_finished would deadlock: it is delivered to this, blocked, thread.)
        self.thread.quit()
        done = self.thread.wait(timeout_ms)
        self.end_thread()
        return done

    def run_all(self, runs: list[tuple[RunSpec, str]]) -> bool:
        """Run each (spec, label) in turn, then emit ``sig_batch_done`` with their sessions."""
        if self.state.busy or not runs:
            return False
        self._batch, self._batch_paths = list(runs), []
        self._next_in_batch()
        return True

    def _next_in_batch(self) -> None:
        if self._batch:
            spec, label = self._batch.pop(0)
            self.start(spec, label=label)
        elif self._batch_paths:
            done, self._batch_paths = self._batch_paths, []
            self.sig_batch_done.emit(done)

    def end_thread(self) -> None:
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait(5000)
            self.thread.deleteLater()
        self.thread = None
        if self.worker is not None:
            self.worker.deleteLater()
        self.worker = None

    # --- from the worker -------------------------------------------------------------------

    @Slot(object)
    def _started(self, info: dict) -> None:
        self.session_path = info["path"]
        self.recorded = self.worker.recorded if self.worker is not None else None
        self.total_steps = info["total_steps"]
        self.steps_per_epoch = info["steps_per_epoch"]
        self.first_step = self.steps_done = info.get("first_step", 0)
        self.spec = info["spec"]  # as the run uses it (durations resolved against the run)
        self.timeline = Timeline.from_events(self.spec.schedule, self.spec.lr, self.events)
        self.started_at = time.monotonic()
        self.sig_started.emit(info)
        if self.state == RunState.STARTING:
            self._set_state(RunState.RUNNING)
        self.sig_timeline.emit()
        self._progress_timer.start()

    @Slot(object)
    def _metrics(self, update: Any) -> None:
        self.steps_done = update.step
        now = time.monotonic()
        self._recent.append((now, update.step))
        while len(self._recent) > 2 and now - self._recent[1][0] >= RATE_WINDOW_S:
            self._recent.popleft()
        epoch = update.epoch  # of one run, or of a sweep's first member
        if epoch is not None:
            self.epoch = epoch
        if update.status == Status.PAUSED:
            self._set_state(RunState.PAUSED)
        elif update.status == Status.RUNNING and self.state == RunState.PAUSED:
            self._set_state(RunState.RUNNING)
        self.sig_metrics.emit(update)
        if update.events:
            self.events.extend(update.events)
            for ev in update.events:
                if ev.kind in ("diverged", "out_of_memory"):
                    self.problem = ev.data["message"]
                elif ev.kind == "session_write_failed":
                    self.file_problem = ev.data["message"]
            if self.spec is not None and any(ev.kind in ("edit", "plateau") for ev in update.events):
                self.timeline = Timeline.from_events(self.spec.schedule, self.spec.lr, self.events)
                self.sig_timeline.emit()
            self.sig_events.emit(list(update.events))

    @Slot(str, str)
    def _finished(self, status: str, path: str) -> None:
        self.end_thread()
        self._progress_timer.stop()
        self._set_state(RunState.IDLE)
        self.sig_progress.emit(self.progress())
        self.sig_finished.emit(status, path)
        if self._batch or self._batch_paths:
            self._batch_paths.append(path)
            QTimer.singleShot(0, self._next_in_batch)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.end_thread()
        self._progress_timer.stop()
        self._batch = []
        self._set_state(RunState.IDLE)
        self.sig_failed.emit(message)
