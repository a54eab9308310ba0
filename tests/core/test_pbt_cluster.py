"""`lrlab pbt --ray`: Ray Tune's PopulationBasedTraining drives lrlab's trainer; each member's
session comes back and replays identical. One small population (Tune starts a trial process per
member and restarts it at each exploit, seconds each: this is the suite's only Tune run)."""

from __future__ import annotations

import pytest

from lrlab import api
from lrlab.core.storage.session import Session

SPEC = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "steps": 20, "batch_size": 32, "device": "cpu"}


def test_a_population_on_ray_tune_comes_back_as_sessions_that_replay_identical(ray_instance, tmp_path):
    result = api.pbt(SPEC, population=2, interval=10, seed=0, out=tmp_path / "p", ray="")
    assert not result.failures
    assert [m["member"] for m in result.members] == [0, 1]
    # one exploit round after step 10: the worse member copied the better one
    assert result.exploits == 1
    (loser,) = [m for m in result.members if m["lineage"]]
    step, source, lr = loser["lineage"][0]
    assert step == 10 and source != loser["member"] and lr > 0
    assert result.winner is not None and result.winner["member"] in (0, 1)
    with Session.open(loser["session"]) as s:
        assert s.kind == "train" and s.n_steps() == 20
        edits = [e for e in s.events() if e.kind == "edit"]
        assert [e.step for e in edits] == [10] and edits[0].data["exploit"]["source"] == source
        assert s.steps(["lr"])["lr"][10] == pytest.approx(lr)
    replay = api.open_session(loser["session"]).replay(verify=True)
    assert replay.identical, replay.describe()


def test_a_members_index_is_read_from_the_end_of_its_trial_id():
    """Tune's trial ids are "<5 hex digits>_<index>": the prefix is all digits about one time in
    ten, and reading the first number of the trial's name then lost that member (an IndexError that
    failed this file's Tune test about one run in ten)."""
    from lrlab.core.runs.cluster_pbt import lane_of

    assert lane_of("90207_00001") == 1  # the prefix that broke it
    assert lane_of("a1b2c_00000") == 0 and lane_of("3f9e1_00012") == 12
    assert lane_of("no-index") == 0
