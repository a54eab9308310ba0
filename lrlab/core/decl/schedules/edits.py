"""Mid-run edits of the LR and the optimizer, as JSON specs a session records.

An edit applies from one step on and never changes the past: ``scale`` multiplies the LR,
``hold`` holds a constant LR, ``schedule`` switches to a new schedule, ``params`` changes fields of
the current one, ``optimizer`` changes optimizer hyperparameters. :class:`~.timeline.Timeline`
turns the LR edits into segments.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lrlab.core.decl.params import AnyObject, Choice, Kinded, ListOf, Num, Optional, Param, Registry
from lrlab.core.decl.schedules.base import LR, NONNEG, POS, SCHEDULES

EDITS = Registry("edit", "kind")
EDITS.register("scale", [Param("factor", POS, help="multiply the LR from here on")],
               "Multiply the LR from this step on (the schedule keeps its shape).")
EDITS.register("hold", [Param("lr", LR, help="the constant LR from here on", role="lr")],
               "Hold a constant LR from this step on.")
EDITS.register("schedule", [
    Param("schedule", SCHEDULES, help="the new schedule"),
    Param("time", Choice(("local", "global")), "local",
          "local: the new schedule's step 0 is this step; global: it sees the run's step"),
    Param("lr", Optional(LR), None, "base LR for the new schedule; null: the run's LR", role="lr"),
], "Switch to a new schedule from this step on.")
EDITS.register("params", [Param("params", AnyObject(), help="fields of the current schedule")],
               "Change parameters of the current schedule, keeping its clock and any scaling.")
EDITS.register("optimizer", [
    Param("momentum", Optional(NONNEG), None, "SGD/RMSprop momentum"),
    Param("weight_decay", Optional(NONNEG), None, "L2 penalty / decoupled decay"),
    Param("betas", Optional(ListOf(Num(ge=0, lt=1), 2, 2)), None, "Adam's (beta1, beta2)"),
    Param("dampening", Optional(NONNEG), None, "SGD dampening"),
    Param("alpha", Optional(Num(ge=0, lt=1)), None, "RMSprop smoothing constant"),
    Param("eps", Optional(POS), None, "term added for numerical stability"),
], "Change optimizer hyperparameters from this step on.")


def parse_edit(data: Any, path: str = "edit") -> Kinded:
    """Validate a mid-run edit; raises SpecError naming every bad field."""
    return EDITS.parse(data, path)


def describe_edit(edit: Mapping[str, Any]) -> str:
    """An edit (JSON, as sessions store it) in a few words: "hold LR 0.5", "LR x0.1",
    "new schedule cosine (T_max 40)": for event lists and "what differs" tables."""
    def fields(items: Mapping[str, Any]) -> str:
        return ", ".join(f"{k} {_short(v)}" for k, v in items.items() if v is not None)

    kind = edit.get("kind")
    if kind == "scale":
        return f"LR x{_short(edit['factor'])}"
    if kind == "hold":
        return f"hold LR {_short(edit['lr'])}"
    if kind == "schedule":
        new = dict(edit["schedule"])
        text = f"new schedule {new.pop('kind', '?')}" + (f" ({fields(new)})" if new else "")
        extra = {"time": "global"} if edit.get("time") == "global" else {}
        if edit.get("lr") is not None:
            extra["base LR"] = edit["lr"]
        return text + (f", {fields(extra)}" if extra else "")
    if kind == "params":
        return f"schedule {fields(edit['params'])}"
    if kind == "optimizer":
        return f"optimizer {fields({k: v for k, v in edit.items() if k != 'kind'})}"
    return str(kind)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, dict) else str(value)
