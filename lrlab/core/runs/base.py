"""What every kind of run shares: metric batches, the command queue and the registry of kinds.

A *runner* is one kind of run (training today; a range test, a sweep, a fork are more
kinds). Whatever it computes, it is driven and observed the same way, so the CLI, the
GUI's worker, the session writer and replays handle every kind alike:

- **commands in**: :meth:`RunnerBase.pause`, ``resume``, ``stop`` and ``edit`` may be called
  from any thread; the runner's loop drains them between steps (:meth:`RunnerBase.drain`);
- **listeners out**: ``runner.listeners`` are called with an :class:`Update`, a batch of
  metrics, a few times a second (never once per step);
- **a final status**: :meth:`run` blocks until the run ends and returns a final
  :class:`~lrlab.core.events.Status`.

A new kind is one module with a class decorated ``@register("kind")`` that implements
:class:`Runner`, imported by :mod:`lrlab.core.runs`.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from lrlab.core.events import Event, Status
from lrlab.core.params import Problems, SpecError
from lrlab.core.schedules import parse_edit


@dataclass
class Update:
    """A batch of metrics from a run. ``steps`` maps the step columns (:mod:`lrlab.core.metrics`)
    to equal-length arrays; ``evals`` holds one dict per validation."""

    steps: dict[str, np.ndarray]
    evals: list[dict[str, float]]
    events: list[Event]
    step: int  # steps done so far
    total_steps: int
    status: Status  # running, paused, or a final status when the run has ended
    #: effective-LR quantile rows (step, layer, p5 ... p95), when the run records them
    effective: list[dict[str, Any]] = field(default_factory=list)
    #: snapshots taken since the last Update (:mod:`lrlab.core.snapshots`), when the run takes them
    snapshots: list[Any] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.steps["step"])


Listener = Callable[[Update], None]


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


#: kind -> runner class
RUN_KINDS: dict[str, type[Runner]] = {}


def register(kind: str) -> Callable[[type], type]:
    """Class decorator: make a runner class the run kind ``kind``."""

    def deco(cls: type) -> type:
        cls.kind = kind
        RUN_KINDS[kind] = cls
        return cls

    return deco


def recorded_threads(session: Any) -> int | None:
    """The thread count a session recorded, checked like a spec's ``threads``: a file from
    elsewhere may say 100,000 (torch then crashes the process) or "many"."""
    from lrlab.core.spec import THREADS

    environment = session.environment
    value = environment.get("threads") if isinstance(environment, Mapping) else None
    problems = Problems()
    threads = THREADS.parse(value, "environment.threads", problems)
    problems.raise_if_any()
    return threads


def runner_class(kind: str) -> type[Runner]:
    try:
        return RUN_KINDS[kind]
    except KeyError:
        raise SpecError([("kind", f"unknown run kind {kind!r} (this lrlab knows: "
                                  f"{', '.join(RUN_KINDS)})")]) from None


class RunnerBase:
    """The thread-safe command queue every runner drains between its steps.

    Subclasses call :meth:`drain` at each step boundary and implement
    :meth:`apply_edit`; pausing blocks inside :meth:`drain` until a resume or a stop.
    """

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
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

    def run(self) -> Status:
        """Run until done, stopped or diverged (``_run``); returns the final status. torch's
        thread count and determinism flag are global: they are put back afterwards, so nothing
        else in the process (the GUI, the next run) inherits this run's."""
        import torch

        old_threads = torch.get_num_threads()
        old_det = torch.are_deterministic_algorithms_enabled()
        try:
            return self._run()
        finally:
            torch.set_num_threads(old_threads)
            set_deterministic(old_det)

    def _run(self) -> Status:
        raise NotImplementedError


def set_deterministic(mode: bool) -> None:
    """``torch.use_deterministic_algorithms(mode)``, skipped when it is already so: the call
    imports ``torch._inductor`` (about 2.5 s on a 2-core laptop, most of ``lrlab run``'s start-up)
    even when nothing changes."""
    import torch

    if torch.are_deterministic_algorithms_enabled() != mode:
        torch.use_deterministic_algorithms(mode)
