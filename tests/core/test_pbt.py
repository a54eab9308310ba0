"""Population-based training (the ``pbt`` run kind): exploit copies a member exactly, the history
is seeded, members replay identical, the winner's lineage comes back as a schedule."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lrlab import api
from lrlab.core.decl.events import Event
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.schedules import SCHEDULES, Timeline
from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs import record
from lrlab.core.runs.pbt import PBT, check_pbt, discovered_schedule
from lrlab.core.storage.session import Session

SPEC = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [16]},
        "optimizer": {"name": "adam", "lr": 0.01}, "steps": 60, "batch_size": 32, "device": "cpu"}


def spec_of(**changes) -> RunSpec:
    return RunSpec.from_json({**SPEC, **changes})


def test_exploit_copies_weights_and_optimizer_state_exactly():
    """After the copy, the copied member's next step is the source's next step at the same LR:
    the same loss, and bit for bit the same weights and Adam moments afterwards."""
    pbt = PBT(spec_of(), population=4, interval=10, lrs=[0.001, 0.003, 0.01, 0.03])
    pbt.t0 = pbt.start_clock()  # what the loop does before its first step
    pbt.begin()
    for step in range(5):
        pbt.train_step(step)
    source, target = 2, 0
    pbt.copy_member(source, target)
    pbt.timelines[target] = pbt.timelines[source].copy()  # the same LR from here on
    pbt.train_step(5)
    losses = pbt.columns["train_loss"][5]
    assert losses[target] == losses[source]
    for p in pbt.params:
        assert torch.equal(p[target], p[source])
    for state in pbt.optimizer.state:
        for v in state.values():
            assert torch.equal(v[target], v[source])


def test_without_the_optimizer_state_the_next_step_differs():
    """The control for the test above: copying only the weights is not an exact copy under Adam."""
    pbt = PBT(spec_of(), population=4, interval=10, lrs=[0.001, 0.003, 0.01, 0.03])
    pbt.t0 = pbt.start_clock()  # what the loop does before its first step
    pbt.begin()
    for step in range(5):
        pbt.train_step(step)
    with torch.no_grad():
        for t in pbt.model.params.values():
            t[0] = t[2]
    pbt.timelines[0] = pbt.timelines[2].copy()
    pbt.train_step(5)
    assert not torch.equal(pbt.params[0][0], pbt.params[0][2])


def history(folder):
    summary = json.loads((folder / "summary.json").read_text())
    lrs = [Session.open(row["session"]).steps(["lr"])["lr"] for row in summary["members"]]
    return summary["lineage"], summary["discovered"], lrs


def test_the_same_spec_and_seed_give_the_same_history_and_members_replay_identical(tmp_path):
    runs = []
    for i in range(2):
        run = record("pbt", spec_of(), tmp_path / f"p{i}", population=4, interval=15, pbt_seed=3)
        run.run()
        runs.append(run)
    (lineage_a, disc_a, lrs_a), (lineage_b, disc_b, lrs_b) = history(tmp_path / "p0"), history(tmp_path / "p1")
    assert runs[0].runner.exploits == 3  # after steps 15, 30, 45: one of 4 members each time
    assert lineage_a == lineage_b and disc_a == disc_b
    for a, b in zip(lrs_a, lrs_b, strict=True):
        assert np.array_equal(a, b)
    exploited = next(k for k, lin in enumerate(lineage_a) if lin)
    session = api.open_session(runs[0].files[exploited])
    assert session.kind == "pbt_member"
    assert any(e.kind == "exploit" and e.describe().startswith("copied member") for e in session.events)
    replay = session.replay(verify=True)
    assert replay.identical, replay.describe()
    assert "population" in replay.replaying


def test_the_lr_after_an_exploit_is_the_sources_times_the_factor_and_the_session_draws_it(tmp_path):
    run = record("pbt", spec_of(schedule={"kind": "cosine", "T_max": "run"}), tmp_path / "p", population=4,
                 interval=20, pbt_seed=0, perturb=(0.5, 2.0))
    run.run()
    for k, path in enumerate(run.files):
        with Session.open(path) as s:
            lr = s.steps(["lr"])["lr"]
            events = s.events()
            # the LR column is the member's timeline, and its session alone rebuilds it
            timeline = Timeline.from_events(s.spec.schedule, s.spec.lr, events)
            assert np.allclose(timeline.values(0, len(lr)), lr, rtol=1e-12, atol=0)
            for e in (e for e in events if e.kind == "exploit"):
                with Session.open(run.files[e.data["source"]]) as src:
                    source_lr = src.steps(["lr"])["lr"][e.step]
                assert lr[e.step] == pytest.approx(source_lr * e.data["factor"], rel=1e-12)
                assert [e.step, e.data["source"], e.data["lr"]] in run.runner.lineage[k]


def test_the_discovered_schedule_is_the_lineage_lr_for_the_specs_lr():
    cosine = SCHEDULES.parse({"kind": "cosine", "T_max": 100})
    spec = discovered_schedule(cosine, [(0, 0.5), (30, 0.625), (70, 1.25)])
    parsed = SCHEDULES.parse(spec)  # an ordinary schedule spec
    lrs = Timeline(parsed, 0.1).values(0, 100)
    base = Timeline(cosine, 0.1).values(0, 100)
    multiplier = np.where(np.arange(100) < 30, 0.5, np.where(np.arange(100) < 70, 0.625, 1.25))
    assert np.allclose(lrs, multiplier * base, rtol=1e-12)
    constant = discovered_schedule(SCHEDULES.parse({"kind": "constant"}), [(0, 2.0), (40, 1.6)])
    assert constant == {"kind": "sequence", "schedules": [{"kind": "constant"}] * 2, "milestones": [40],
                        "factors": [2.0, 1.6]}


def test_api_result_and_transfer(tmp_path):
    result = api.pbt(SPEC, population=4, interval=20, seed=1, out=tmp_path / "p", transfer=True)
    assert set(result.winner) == {"member", "schedule", "final_val_metric"}
    assert [set(m) for m in result.members] == [{"member", "final_val_metric", "lineage", "session"}] * 4
    assert result.exploits == sum(len(m["lineage"]) for m in result.members) == 2
    best = max(m["final_val_metric"] for m in result.members)
    assert result.winner["final_val_metric"] == best
    # the winner's schedule trained from scratch: an ordinary run with that schedule
    with Session.open(result.transfer["session"]) as s:
        assert s.spec.to_json()["schedule"] == SCHEDULES.parse(result.winner["schedule"]).to_json()
        assert 0 < result.transfer["final_val_metric"] <= 1


@pytest.mark.parametrize(("options", "field"), [
    ({"population": 1}, "population"), ({"quantile": 0.0}, "quantile"), ({"quantile": 0.6}, "quantile"),
    ({"perturb": (0.8, 0)}, "perturb"), ({"perturb": (-1, 2)}, "perturb"), ({"interval": 0}, "interval"),
])
def test_bad_settings_name_their_field(options, field):
    settings = {"population": 4, "interval": 10, "quantile": 0.25, "perturb": (0.8, 1.25), **options}
    with pytest.raises(SpecError) as err:
        check_pbt(**settings)
    assert err.value.problems[0][0] == field


def test_an_interval_longer_than_the_run_is_refused_before_training(tmp_path):
    with pytest.raises(SpecError, match="interval: must be at most the run's 60 steps"):
        api.pbt(SPEC, population=4, interval=61, out=tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_exploit_event_words():
    e = Event(400, "exploit", {"source": 3, "factor": 1.25, "lr": 0.05, "edit": {}})
    assert e.describe() == "copied member 3 (weights and optimizer state), LR x1.25 = 0.05"
    assert e.label() == "←3"
