"""What happens during a run, in one vocabulary: run statuses and events.

A run is in one :class:`Status` at a time; the final ones end it. An :class:`Event` is
something that happened at a step (an edit, a pause, a plateau reduction, divergence).
The trainer records events, session files store them, and the CLI, the Events list and
the plot markers all describe them with the same two methods, so a new kind of event is
described in one place.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from lrlab.core.decl.schedules import describe_edit


class Status(str, enum.Enum):
    """The state of a run. A ``str`` so that files, JSON and comparisons see plain words."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # a session whose writer died mid-run (read back only)

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:  # f"{status}" is the word on every Python version
        return format(self.value, spec)

    @property
    def final(self) -> bool:
        """True once the run has ended (nothing more will be trained or written)."""
        return self not in (Status.CREATED, Status.RUNNING, Status.PAUSED)

    @property
    def problem(self) -> bool:
        """Ended by something the user should read about (divergence, a failure)."""
        return self in (Status.DIVERGED, Status.FAILED)


def _num(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, (int, float)) else str(x)


@dataclass
class Event:
    """Something that happened at ``step`` (the step it applies from, or the step it concerns)."""

    step: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    wall_time: float = 0.0

    def describe(self) -> str:
        """A sentence for the Events list, `lrlab info` and hover text; it never repeats the step."""
        d = self.data
        if self.kind == "edit":
            return describe_edit(d["edit"])
        if self.kind in ("diverged", "out_of_memory", "early_stop"):  # messages name the step for the status line
            return str(d.get("message", self.kind)).replace(f" at step {self.step}", "", 1)
        if self.kind == "plateau":
            return f"plateau: LR reduced to {_num(d['lr'])}"
        if self.kind == "rejected":
            return f"edit rejected: {d.get('message', '')}"
        if self.kind == "session_write_failed":
            return str(d.get("message", "the session file stopped"))
        if self.kind == "exploit":
            return (f"copied member {d['source']} (weights and optimizer state), "
                    f"LR x{_num(d['factor'])} = {_num(d['lr'])}")
        if self.kind == "test":
            return f"test split: loss {_num(d['loss'])}, metric {_num(d['metric'])}"
        return self.kind

    def label(self) -> str:
        """A few characters for a plot marker: '×0.3', 'hold 0.01', 'pause', 'NaN'."""
        d = self.data
        if self.kind == "edit":
            e = d["edit"]
            kind = e.get("kind")
            if kind == "scale":
                return f"×{e['factor']:g}"
            if kind == "hold":
                return f"hold {e['lr']:g}"
            if kind == "schedule":
                return e["schedule"].get("kind", "schedule")
            return kind or "edit"
        if self.kind == "plateau":
            return f"↓{_num(d['lr'])}"
        if self.kind == "diverged":
            return "diverged"
        if self.kind == "out_of_memory":
            return "out of memory"
        if self.kind == "exploit":
            return f"←{d['source']}"
        if self.kind == "early_stop":  # a range test ends where the LR is clearly too high
            return "too high"
        return self.kind

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "kind": self.kind, **self.data}
