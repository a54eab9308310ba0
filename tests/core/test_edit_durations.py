"""Mid-run edits take the durations the main form takes, resolved against what is left of the run."""

from __future__ import annotations

import pytest

from lrlab.core.decl.params import SpecError
from lrlab.core.decl.schedules import SCHEDULES, Timeline


def test_resolve_edit_against_the_steps_that_remain():
    t = Timeline(SCHEDULES.parse({"kind": "cosine", "T_max": 1000}), 0.2)
    new = {"kind": "schedule", "schedule": {"kind": "cosine", "T_max": "run"}, "time": "local"}
    assert t.resolve_edit(600, new, 1000, 10)["schedule"]["T_max"] == 400
    assert t.resolve_edit(600, {**new, "schedule": {"kind": "cosine", "T_max": "25%"}}, 1000, 10)["schedule"][
        "T_max"] == 100
    assert t.resolve_edit(600, {**new, "schedule": {"kind": "cosine", "T_max": "3ep"}}, 1000, 10)["schedule"][
        "T_max"] == 30
    # the current schedule's parameters: its clock runs from its origin, so "run" still ends with the run
    assert t.resolve_edit(600, {"kind": "params", "params": {"T_max": "run"}}, 1200, 10)["params"] == {"T_max": 1200}
    assert t.resolve_edit(600, {"kind": "scale", "factor": 0.5}, 1000, 10) == {"kind": "scale", "factor": 0.5}
    with pytest.raises(SpecError):
        t.resolve_edit(600, {**new, "schedule": {"kind": "cosine", "T_max": "soon"}}, 1000, 10)
