"""The Population (PBT) window: a population from the experiment form, live curves, the lineage
tree, the winner's schedule into the form, and trained from scratch then compared."""

from __future__ import annotations

import os

import numpy as np
import pytest
from guitools import QUICK, set_spec, wait_idle

from lrlab.core.storage.session import Session
from lrlab.gui.pbt import lineage_path

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_lineage_path_walks_back_through_the_exploits():
    # member 2 copied 0 at step 10, member 0 had copied 1 at step 5
    lineage = [[(5, 1, 0.1)], [], [(10, 0, 0.2)]]
    assert lineage_path(lineage, 2, 20) == ([0.0, 5, 5, 10, 10, 20.0], [1.0, 1, 0, 0, 2, 2.0])
    assert lineage_path(lineage, 1, 20) == ([0.0, 20.0], [1.0, 1.0])


def test_bad_settings_are_said_inline_and_disable_run(window):
    window.tools.show_pbt()
    pbt = window.tools.pbt
    pbt.perturb.setText("0.8, 0")
    assert not pbt.run_button.isEnabled() and "perturb" in pbt.error.text()
    pbt.perturb.setText("0.8, 1.25")
    assert pbt.run_button.isEnabled() and pbt.error.isHidden()
    set_spec(window, dict(QUICK, epochs=2))  # 16 steps
    pbt.interval.setValue(100)
    assert not window.tools.run_pbt(pbt.settings())
    assert "interval: must be at most the run's 16 steps" in pbt.error.text() and not pbt.run_button.isEnabled()
    pbt.close()


def test_a_population_from_the_window_draws_members_lineage_and_the_winner(window, qtbot, tmp_path):
    set_spec(window, dict(QUICK, epochs=10))  # 80 steps
    window.set_pace(None)
    pbt = window.tools.show_pbt()
    pbt.population.setValue(6)
    pbt.interval.setValue(20)
    pbt.run_button.click()
    assert window.controller.kind == "pbt" and window.controller.state.busy
    wait_idle(qtbot, window, 120_000)
    assert len(pbt.files) == 6
    with Session.open(pbt.files[0]) as s:
        assert s.kind == "pbt_member"
    result = pbt.result
    assert result["exploits"] == 3 == sum(len(x) for x in pbt.lineage)  # 1 of 6 members, after 20, 40, 60
    pbt._frame()
    xs, _ = pbt.arrows.getData()
    assert len(xs) == 2 * result["exploits"]  # one segment per exploit
    for lane in pbt.lanes:
        assert lane.getData()[0][-1] == 80  # every lane reaches the last step
    won = result["winner"]["member"]
    assert pbt.selected == won and pbt.use_button.isEnabled() and pbt.transfer_button.isEnabled()
    px, py = pbt.winner_path.getData()
    assert px[0] == 0 and px[-1] == 80 and py[-1] == won
    _, lr = pbt.lrs.curves[won].getData()
    assert np.all(np.isfinite(lr)) and len(lr) > 0
    if os.environ.get("LRLAB_PNG"):  # look at it: LRLAB_PNG=pbt.png pytest tests/gui/test_pbt_gui.py
        pbt.resize(1300, 800)
        pbt.grab().save(os.environ["LRLAB_PNG"])
    # "Use this schedule" fills the form with the winner's schedule
    pbt.use_button.click()
    assert window.experiment.spec.schedule.to_json()["kind"] == result["winner"]["schedule"]["kind"]
    # "Train it from scratch": one run with that schedule, then the compare view with the winner
    opened = []
    window.tools.compare = lambda files: opened.append(files)
    pbt.transfer_button.click()
    assert window.controller.kind == "train"
    wait_idle(qtbot, window, 120_000)
    qtbot.waitUntil(lambda: bool(opened), timeout=10_000)
    assert opened[0][0] == result["members"][won]["session"]
    with Session.open(opened[0][1]) as s:
        assert s.kind == "train" and s.spec.schedule.to_json()["kind"] == result["winner"]["schedule"]["kind"]
    pbt.close()
