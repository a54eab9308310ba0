"""What every kind of run shares: the one loop, its metric batches, the command queue.

A *runner* is one kind of run (:mod:`lrlab.core.runs.kinds` lists them: training, a fork, a
range test, a sweep...). Whatever it computes, it is driven and observed the same way, so the
CLI, the GUI's worker, the session writer and replays handle every kind alike:

- **commands in**: :meth:`RunnerBase.pause`, ``resume``, ``stop`` and ``edit`` may be called
  from any thread; the loop drains them between steps (:meth:`RunnerBase.drain`);
- **listeners out**: ``runner.listeners`` are called with an :class:`Update`, a batch of
  metrics, a few times a second (never once per step);
- **a final status**: :meth:`run` blocks until the run ends and returns a final
  :class:`~lrlab.core.decl.events.Status`.

Every kind that trains runs the same loop, :meth:`RunnerBase.run` (read it first): pace,
commands, the kind's own step, callbacks, metrics out in batches, out of memory, the summary.
A kind fills in a few hooks (:meth:`~RunnerBase.train_step` above all); snapshots, effective-LR
samples and evaluation are :class:`Callback` objects (:mod:`lrlab.core.runs.loop`).

This module does not import torch at import time (the GUI reads it while its window opens).
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from lrlab.core.decl.events import Event, Status
from lrlab.core.decl.metrics import INT_STEP_COLUMNS, LR, STEP_COLUMNS, TRAIN_LOSS
from lrlab.core.decl.params import Problems, SpecError
from lrlab.core.decl.schedules import parse_edit


@dataclass
class Update:
    """A batch of metrics from a run. ``steps`` maps the step columns (:mod:`lrlab.core.decl.metrics`)
    to equal-length arrays; ``evals`` holds one dict per validation.

    A run of several members (a sweep) sends each member's own Update in ``members``: exactly
    what a training run of that member would send, so a session writer takes it as it is. Its
    own ``steps`` and ``evals`` are then empty and its ``events`` are the whole run's (pause,
    edits, stop); a member that has ended sends empty updates with its final status."""

    steps: dict[str, np.ndarray]
    evals: list[dict[str, float]]
    events: list[Event]
    step: int  # steps done so far
    total_steps: int
    status: Status  # running, paused, or a final status when the run has ended
    #: effective-LR quantile rows (step, layer, p5 ... p95), when the run records them
    effective: list[dict[str, Any]] = field(default_factory=list)
    #: snapshots taken since the last Update (:mod:`lrlab.core.engine.snapshots`), when the run takes them
    snapshots: list[Any] = field(default_factory=list)
    #: each member's own Update, for a run of several members (see the class docstring)
    members: list[Update] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Steps in this batch (the most any member has, for several members)."""
        if self.members:
            return max(u.n for u in self.members)
        return len(self.steps.get("step", ()))

    @property
    def epoch(self) -> int | None:
        """The epoch of the batch's last step (the first member's), None if it has none."""
        steps = self.members[0].steps if self.members else self.steps
        epochs = steps.get("epoch")
        return int(epochs[-1]) if epochs is not None and len(epochs) else None


Listener = Callable[[Update], None]


def progress_words(update: Update) -> str:
    """A progress line's words for one run: epoch, loss and LR of the batch's last step."""
    s = update.steps
    return f"epoch {int(s['epoch'][-1])} loss {s[TRAIN_LOSS.name][-1]:.4g} lr {s[LR.name][-1]:.3g}"


class Runner(Protocol):
    """The interface every run kind offers (see the module docstring)."""

    kind: ClassVar[str]
    spec: Any
    listeners: list[Listener]
    events: list[Event]
    status: Status
    step: int
    total_steps: int
    environment: dict[str, Any]
    summary: dict[str, Any]

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...
    def edit(self, edit: Mapping[str, Any]) -> None: ...
    def set_pace(self, steps_per_second: float | None) -> None: ...
    def run(self) -> Status: ...

    def session_meta(self) -> dict[str, Any]:
        """What a session file records about this run beyond spec and environment."""
        ...

    def final_summary(self) -> dict[str, Any]:
        """Summary entries only the runner knows (a test-split score, an error message)."""
        ...

    @classmethod
    def replay_options(cls, session: Any) -> dict[str, Any]:
        """Keyword arguments that make a new runner re-run ``session`` exactly."""
        ...


class Columns:
    """The steps of a run since its last Update: one preallocated array per step column,
    filled by name (``append(step=..., lr=...)``) and handed out by :meth:`take`.

    A column a step does not give is NaN (not measured: the sampled update ratio) until
    :meth:`fill` sets it (values read from the device later). With ``members`` (a sweep) the
    measured columns are ``[steps, members]``; where the step is (step, epoch, samples, wall
    time) is one value for all members."""

    #: one value per step whatever the members: where the step is
    SHARED = (*INT_STEP_COLUMNS, "wall_time")

    def __init__(self, capacity: int, members: int | None = None):
        self.capacity, self.members, self.n = capacity, members, 0
        self.arrays: dict[str, np.ndarray] = {}
        for name in STEP_COLUMNS:
            if name in INT_STEP_COLUMNS:
                self.arrays[name] = np.zeros(capacity, dtype=np.int64)
            else:
                shape = capacity if members is None or name in self.SHARED else (capacity, members)
                self.arrays[name] = np.full(shape, math.nan)

    @property
    def full(self) -> bool:
        return self.n >= self.capacity

    def append(self, **values: Any) -> None:
        """One step's values by column name; an unknown name is a KeyError."""
        i, arrays = self.n, self.arrays
        for name, value in values.items():
            arrays[name][i] = value
        self.n = i + 1

    def fill(self, start: int, stop: int, **values: Any) -> None:
        """Set columns of the rows ``start:stop`` (values measured after the rows were appended)."""
        for name, value in values.items():
            self.arrays[name][start:stop] = value

    def __getitem__(self, name: str) -> np.ndarray:
        """The column ``name`` of the rows so far (a view)."""
        return self.arrays[name][:self.n]

    def take(self) -> dict[str, np.ndarray]:
        """The rows so far as column arrays (copies); the buffer starts over, unmeasured again."""
        n, self.n = self.n, 0
        out = {name: a[:n].copy() for name, a in self.arrays.items()}
        for name, a in self.arrays.items():
            if name not in INT_STEP_COLUMNS:
                a[:n] = math.nan
        return out


class Callback:
    """Work the loop does beside a kind's own step, at fixed points (fastai's callbacks):
    snapshots before a step, effective-LR samples and evaluation after it, a last evaluation
    after the run (:mod:`lrlab.core.runs.loop`). A hook that returns True ends the run there
    (an evaluation that found a divergence); the defaults do nothing."""

    def before_step(self, run: Any) -> bool:
        """Before the commands and planned edits of step ``run.step``."""
        return False

    def after_step(self, run: Any) -> bool:
        """After step ``run.step - 1`` (``run.step`` steps are done)."""
        return False

    def after_run(self, run: Any) -> None:
        """After the last step, with ``run.status`` final, before the summary and the last Update."""


def error_summary(events: Any) -> dict[str, str]:
    """A session summary's ``error`` entry: the message of the first out-of-memory event among
    ``events`` (what ended the run, or the member), or nothing."""
    message = next((e.data["message"] for e in events if e.kind == "out_of_memory"), None)
    return {} if message is None else {"error": message}


def recorded_threads(session: Any) -> int | None:
    """The thread count a session recorded, checked like a spec's ``threads``: a file from
    elsewhere may say 100,000 (torch then crashes the process) or "many"."""
    from lrlab.core.decl.spec import THREADS

    environment = session.environment
    value = environment.get("threads") if isinstance(environment, Mapping) else None
    problems = Problems()
    threads = THREADS.parse(value, "environment.threads", problems)
    problems.raise_if_any()
    return threads


class RunnerBase:
    """The one training loop (:meth:`run`) with the thread-safe command queue it drains
    between steps; a kind fills in the hooks below the loop.

    Pausing blocks inside :meth:`drain` until a resume or a stop. A kind whose loop is not a
    training loop (the landscape's) may override :meth:`run` and still use the queue.
    """

    #: seconds between two Updates (the GUI's worker sets its frame time)
    flush_seconds: float = 0.2

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self.callbacks: list[Callback] = []  # set by begin(): see Callback
        self.summary: dict[str, Any] = {}
        self._planned: dict[int, list[Any]] = {}  # step -> parsed edits applied before it
        self._last_flush = 0.0
        self.events: list[Event] = []
        self.status = Status.CREATED
        self.pace: float | None = None  # steps per second for watching a run; None: full speed
        self._next_step_at = 0.0
        self._commands: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.step = 0
        self._started = time.perf_counter()  # when the loop began: events' wall times count from it
        self._unsent: list[Event] = []  # events since the last Update

    # --- for the loop: events ------------------------------------------------------------------

    def start_clock(self) -> float:
        """Call as the loop begins: event times count from now (returned, for the step columns)."""
        self._started = time.perf_counter()
        self._unsent = []
        return self._started

    def record(self, kind: str, at: int | None = None, **data: Any) -> Event:
        """Record an event at step ``at`` (default: the current step); it goes out with the next Update."""
        ev = Event(self.step if at is None else at, kind, data, time.perf_counter() - self._started)
        self.events.append(ev)
        self._unsent.append(ev)
        return ev

    def take_events(self) -> list[Event]:
        """The events recorded since the last call, for an Update."""
        unsent, self._unsent = self._unsent, []
        return unsent

    # --- commands: safe to call from any thread ------------------------------------------

    def pause(self) -> None:
        self._commands.put(("pause", None))

    def resume(self) -> None:
        self._commands.put(("resume", None))

    def stop(self) -> None:
        self._commands.put(("stop", None))

    def edit(self, edit: Mapping[str, Any]) -> None:
        """Queue an edit (JSON, as in session files); it applies at the next step boundary."""
        self._commands.put(("edit", dict(edit)))

    def set_pace(self, steps_per_second: float | None) -> None:
        """Train at most this many steps a second (None: full speed), so a class can watch.

        Only the time between steps changes: the same steps run on the same data with the
        same LRs, so a paced run replays bit-identical to an unpaced one."""
        if steps_per_second is not None and not steps_per_second > 0:
            raise SpecError([("pace", f"must be a number of steps per second > 0, got {steps_per_second}")])
        self._commands.put(("pace", steps_per_second))

    # --- for the loop ----------------------------------------------------------------------

    def keep_pace(self) -> None:
        """Wait until the next step is due at the current pace; a queued command ends the wait
        early (so Stop or Pause answers at once, however slow the pace)."""
        if self.pace is None:
            return
        now = time.monotonic()
        due = max(self._next_step_at, now - 1.0)  # after a pause, no burst to catch up
        while now < due and self._commands.empty():
            time.sleep(min(due - now, 0.02))
            now = time.monotonic()
        self._next_step_at = max(due, now) + 1.0 / self.pace

    def drain(self, flush: Callable[[Status], None]) -> bool:
        """Handle queued commands; returns True when the run must stop. Blocks while paused.

        Each command is recorded as an event (:meth:`record`); ``flush(status)`` hands the
        metrics so far to the listeners (so a pause shows everything up to it).
        """
        record = self.record
        if self._commands.empty():
            return False
        paused = False
        while True:
            try:
                command, arg = self._commands.get(block=paused, timeout=None)
            except queue.Empty:
                return False
            if command == "stop":
                record("stop")
                return True
            if command == "pause" and not paused:
                paused = True
                self.status = Status.PAUSED
                record("pause")
                flush(Status.PAUSED)
            elif command == "resume" and paused:
                paused = False
                self.status = Status.RUNNING
                record("resume")
            elif command == "pace":
                self.pace = arg
            elif command == "edit":
                try:
                    self.apply_edit(parse_edit(arg))
                except SpecError as err:
                    record("rejected", edit=arg, message=str(err))
            if not paused and self._commands.empty():
                return False

    def apply_edit(self, edit: Any) -> None:
        """Apply a parsed edit from this step on and :meth:`record` it; SpecError if it does not fit."""
        raise NotImplementedError

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> Status:
        """Run until done, stopped or diverged (:meth:`loop`); returns the final status. torch's
        thread count and determinism flag are global: they are put back afterwards, so nothing
        else in the process (the GUI, the next run) inherits this run's."""
        import torch

        old_threads = torch.get_num_threads()
        old_det = torch.are_deterministic_algorithms_enabled()
        try:
            return self.loop()
        finally:
            torch.set_num_threads(old_threads)
            set_deterministic(old_det)

    def loop(self) -> Status:
        """The training loop of every kind. The kind's hooks (below) and its :class:`Callback`
        objects fill it in; nothing here depends on what a step computes."""
        import torch

        self.t0 = self._last_flush = self.start_clock()  # wall times count from here
        self.begin()  # seeds, buffers, callbacks, the state a fork continues from
        self.status = Status.RUNNING
        try:
            while self.step < self.total_steps:
                # 1. between steps: wait for a watchable pace (never changes what is computed);
                # read what is still on the device before any command acts (none acts past a
                # divergence); callbacks before the step (a snapshot); commands from other
                # threads (a pause blocks in drain); then the edits planned for this step
                self.keep_pace()
                if not self._commands.empty() and self.settle():
                    break
                if self._callbacks("before_step"):
                    break
                if self.drain(self.flush):
                    self.status = Status.STOPPED
                    break
                for edit in self._planned.pop(self.step, ()):
                    self.apply_planned(edit)

                # 2. the kind's step: LR, forward, backward, update, its values into
                # self.columns by name; True ends the run (a range test's stop rule)
                if self.train_step(self.step):
                    break

                # 3. callbacks after the step: effective-LR samples, evaluation (which reads the
                # losses first: a divergence ends the run before any evaluation follows it)
                if self._callbacks("after_step"):
                    break

                # 4. metrics out in batches, a few times a second (never once per step)
                if time.perf_counter() - self._last_flush >= self.flush_seconds or self.columns.full:
                    if self.settle():
                        break
                    self.flush(Status.RUNNING)
        except torch.OutOfMemoryError:
            # a GPU that runs out of memory ends the run; the session keeps every step so far
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            self.record("out_of_memory", message=f"{self.device} ran out of memory at step {self.step}"
                                                  f"{self.out_of_memory_advice()}")
            self.status = Status.FAILED

        if self.status == Status.RUNNING:  # the last step, or the kind's own end (a replayed member's)
            self.status = Status.FINISHED
        if self.status != Status.DIVERGED:
            self.settle()  # a divergence among the last steps still ends the run as diverged
        self._callbacks("after_run")  # a stopped run's last evaluation, the test split
        self.finish()
        wall = time.perf_counter() - self.t0
        self.summary.update(steps=self.step, wall_time=wall, steps_per_second=self.step / wall if wall > 0 else 0.0)
        self.flush(self.status)
        return self.status

    def _callbacks(self, hook: str) -> bool:
        """Call ``hook`` of every callback in order; True as soon as one ends the run."""
        return any(getattr(callback, hook)(self) for callback in self.callbacks)

    def flush(self, status: Status) -> None:
        """Hand the metrics since the last Update to the listeners (:meth:`collect` makes it)."""
        update = self.collect(status)
        self._last_flush = time.perf_counter()
        for listener in self.listeners:
            listener(update)

    # --- the hooks a kind fills in -----------------------------------------------------------

    #: the step buffer (made by begin); the loop flushes it when full
    columns: Columns
    device: Any  # a torch.device: where an out-of-memory error happens
    total_steps: int  # the loop ends after this many steps
    t0: float  # perf_counter() when the loop began: the steps' wall times count from it

    def begin(self) -> None:
        """Before the first step: seed the global generators, set threads, make ``columns``
        and ``callbacks``."""
        raise NotImplementedError

    def train_step(self, step: int) -> bool:
        """Step ``step``: set the LR, train, append the step's values to ``columns`` by name and
        set ``self.step = step + 1``; True ends the run here (its status set)."""
        raise NotImplementedError

    def settle(self) -> bool:
        """Read values the steps left on the device (one wait, not one per step) and end the run
        at a divergence among them (True). Kinds that read every step have nothing to do."""
        return False

    def apply_planned(self, edit: Any) -> None:
        """An edit planned for this step (a replay's, ``lrlab run --edit``)."""
        self.apply_edit(edit)

    def collect(self, status: Status) -> Update:
        """The Update of everything since the last one (the buffer's steps, evaluations, events)."""
        return Update(self.columns.take(), [], self.take_events(), self.step, self.total_steps, status)

    def finish(self) -> None:
        """After the run, before the summary's steps and times and the last Update."""

    def out_of_memory_advice(self) -> str:
        """What to try when the device runs out of memory (the end of the event's message)."""
        return ": try a smaller batch size or model"


def set_deterministic(mode: bool) -> None:
    """``torch.use_deterministic_algorithms(mode)``, skipped when it is already so: the call
    imports ``torch._inductor`` (about 2.5 s on a 2-core laptop, most of ``lrlab run``'s start-up)
    even when nothing changes."""
    import torch

    if torch.are_deterministic_algorithms_enabled() != mode:
        torch.use_deterministic_algorithms(mode)
