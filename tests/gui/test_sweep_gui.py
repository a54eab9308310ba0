"""The Sweep window: K learning rates at once from the experiment form, the U-curve, "Use this LR"."""

from __future__ import annotations

import numpy as np
import pytest
from guitools import QUICK, set_spec, wait_idle

from lrlab.core.decl.params import SpecError
from lrlab.core.storage.session import Session
from lrlab.gui.sweep import parse_lrs

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_lr_text_is_a_log_range_or_a_list_and_bad_text_names_the_field():
    assert parse_lrs("1e-3:1e-1:3") == pytest.approx([1e-3, 1e-2, 1e-1])
    assert parse_lrs("0.1, 0.01") == [0.1, 0.01]
    with pytest.raises(SpecError, match="lrs: expected LO:HI:K"):
        parse_lrs("fast")
    with pytest.raises(SpecError, match="lrs: every LR must be a finite number > 0"):
        parse_lrs("0.1, -1")


def test_a_sweep_from_the_window_trains_every_lr_and_draws_the_u_curve(window, qtbot):
    set_spec(window, dict(QUICK, epochs=10))
    window.set_pace(None)
    window.tools.show_sweep()
    sweep = window.tools.sweep
    sweep.lr_text.setText("1e-3:10:5")
    sweep.run_button.click()
    assert window.controller.kind == "sweep" and window.controller.state.busy
    wait_idle(qtbot, window, 120_000)
    assert len(sweep.files) == 5 and sweep.compare_button.isEnabled()
    assert "path bmm (hand-batched matrix products)" in sweep.status.text()  # how the members ran
    with Session.open(sweep.files[0]) as s:
        assert s.kind == "sweep_member" and s.group == sweep.files[0].split("/")[-2]
    sweep._frame()
    _, ys = sweep.u_curve.getData()
    assert len(ys) >= 3 and np.all(np.isfinite(ys))  # the U-curve of the members that did not diverge
    assert "diverged" in sweep.status_of  # LR 10 is far too high for this model
    assert len(sweep.crosses.data) == sweep.status_of.count("diverged")  # a cross where each one ended
    best = sweep.selected
    assert best is not None and sweep.use_button.isEnabled()
    alive = [i for i, st in enumerate(sweep.status_of) if st != "diverged"]
    assert best == max(alive, key=lambda i: sweep.latest_metric[i])  # chosen for the user by validation
    sweep.use_button.click()
    assert window.experiment.spec.lr == pytest.approx(sweep.member_lr[best])
    opened = []
    window.sessions.compare_sessions = lambda files: opened.append(files) or True
    sweep.sig_compare.disconnect()
    sweep.sig_compare.connect(window.sessions.compare_sessions)
    sweep.compare_button.click()
    assert opened and len(opened[0]) == 5
    sweep.close()


def test_a_sweep_pauses_and_takes_a_schedule_edit_like_a_single_run(window, qtbot):
    set_spec(window, dict(QUICK, epochs=20_000))
    window.set_pace(None)
    assert window.tools.run_sweep([0.01, 0.1], 1)
    c = window.controller
    qtbot.waitUntil(lambda: c.state == "running" and c.steps_done > 50, timeout=60_000)
    c.edit({"kind": "scale", "factor": 0.5})
    qtbot.waitUntil(lambda: any(e.kind == "edit" for e in c.events), timeout=10_000)
    c.toggle_pause()
    qtbot.waitUntil(lambda: c.state == "paused", timeout=10_000)
    held = c.worker.runner.step
    qtbot.wait(300)
    assert c.worker.runner.step == held
    c.toggle_pause()
    qtbot.waitUntil(lambda: c.worker.runner.step > held + 10, timeout=10_000)
    c.stop()
    wait_idle(qtbot, window, 20_000)
    step = next(e.step for e in c.events if e.kind == "edit")
    for path, lr in zip(window.tools.sweep.files, (0.01, 0.1), strict=True):
        with Session.open(path) as s:  # each member's LR halves from the edit's step, as a multiple of its own
            used = s.steps()["lr"]
            assert used[step - 1] == pytest.approx(lr) and used[step] == pytest.approx(lr / 2)
    window.tools.sweep.close()
