"""Forking from the window: right-click a plot, "Fork here…", the change in the edit panel, "Fork
and run"; the parent stays drawn and the fork's curves start at the fork step."""

from __future__ import annotations

import numpy as np
import pytest
from guitools import QUICK, set_spec, wait_idle
from PySide6.QtCore import QPoint

from lrlab.core.storage.session import Session


def train(qtbot, window, spec=QUICK) -> str:
    set_spec(window, spec)
    window.start()
    wait_idle(qtbot, window)
    return window.controller.session_path


def test_fork_a_finished_run_with_a_change(qtbot, window):
    parent = train(qtbot, window)
    window.plots.flush()
    n = len(window.plots.data)
    assert n == 320  # iris: 40 epochs of 8 batches

    window.fork.plot_menu(150, QPoint(0, 0))  # what a right-click at step 150 offers
    actions = [a for a in window.fork.menu.actions() if a.isEnabled()]
    assert [a.text() for a in actions] == ["Fork here at step 150…"]
    actions[0].trigger()
    panel = window.edit_panel
    assert panel.fork_at == 150 and panel.isEnabled()
    assert panel.apply_button.text() == "Fork and run"
    panel.editor.set_value({"kind": "scale", "factor": 0.1})
    assert panel.check()
    ghost_steps, ghost_lrs = window.plots.ghost
    assert ghost_steps[0] == 150 and ghost_lrs[0] == pytest.approx(0.01)  # the ghost starts at the fork step
    window.plots.flush()
    drawn_x, drawn_y = window.plots.c_ghost.getData()  # and is drawn from there, inside the recorded steps
    assert drawn_x[0] == 150 and drawn_y[0] == pytest.approx(0.01)

    panel.apply_button.click()
    wait_idle(qtbot, window)
    fork_path = window.controller.session_path
    assert fork_path != parent and window.controller.kind == "fork"
    with Session.open(fork_path) as fork, Session.open(parent) as p:
        assert fork.parent["step"] == 150 and fork.parent["id"] == p.file_id
        steps = fork.steps()
        assert steps["step"][0] == 150 and steps["step"][-1] == n - 1
        assert steps["lr"][0] == pytest.approx(0.01)  # the change applies at the fork step
        parent_steps = p.steps()
    # the fork's curves start at the fork step; the parent stays drawn beside them, whole
    window.plots.flush()
    assert window.plots.data.first_step == 150 and len(window.plots.data) == n - 150
    assert window.plots.c_loss.getData()[0][0] == 150
    references = window.plots._references
    assert references and len(references[0][1]) == n
    assert references[0][0].name() == "parent run"  # in grey, so the fork's curves are the coloured ones
    assert panel.fork_at is None and panel.apply_button.text() == "Apply at the next step"
    # the hover read-out names real steps of the fork, not indices
    assert window.plots.describe_step(200).startswith("step 200 ")
    assert f"loss {steps['train_loss'][50]:.4g}" in window.plots.describe_step(200)
    assert not np.array_equal(steps["train_loss"][10:], parent_steps["train_loss"][160:])


def test_fork_unchanged_of_an_opened_session_continues_like_it(qtbot, window):
    parent = train(qtbot, window)
    window.sessions.close_session_view()
    assert window.sessions.open_session(parent)
    assert window.fork.propose_fork(230)
    window.edit_panel.plain_button.click()  # "Fork unchanged"
    wait_idle(qtbot, window)
    with Session.open(window.controller.session_path) as fork, Session.open(parent) as p:
        assert fork.parent["step"] == 230
        np.testing.assert_array_equal(fork.steps()["train_loss"], p.steps()["train_loss"][230:])
    # opened, the fork shows from its step, with where it came from in the banner
    assert window.sessions.open_session(window.controller.session_path)
    assert window.plots.data.first_step == 230
    assert "forked at step 230" in window.banner.text.text()


def test_cancel_and_nothing_to_fork(qtbot, window):
    window.fork.plot_menu(10, QPoint(0, 0))  # nothing shown yet
    assert not any(a.isEnabled() for a in window.fork.menu.actions())
    train(qtbot, window)
    assert window.fork.propose_fork(10_000)  # past the end: the last step it can go on from
    assert window.edit_panel.fork_at == len(window.plots.data) - 1
    window.edit_panel.cancel_button.click()
    assert window.edit_panel.fork_at is None and not window.edit_panel.isEnabled()
    assert len(window.plots.ghost[0]) == 0


def test_fork_a_paused_run_ends_it_first(qtbot, window):
    from guitools import LONG

    set_spec(window, LONG)
    window.controller.set_pace(200.0)
    window.start()
    qtbot.waitUntil(lambda: window.controller.steps_done >= 60, timeout=30_000)
    window.controller.toggle_pause()
    qtbot.waitUntil(lambda: window.controller.state == "paused", timeout=10_000)
    parent = window.controller.session_path
    window.plots.flush()
    window.fork.plot_menu(40, QPoint(0, 0))
    assert [a.text() for a in window.fork.menu.actions()] == ["Fork here at step 40… (ends the paused run)"]
    window.fork.menu.actions()[0].trigger()
    window.edit_panel.editor.set_value({"kind": "hold", "lr": 0.02})
    window.set_pace(None)
    window.controller.set_pace(None)
    window.edit_panel.apply_button.click()
    qtbot.waitUntil(lambda: window.controller.kind == "fork" and window.controller.steps_done > 50,
                    timeout=30_000)
    window.controller.stop()
    wait_idle(qtbot, window)
    with Session.open(parent) as p, Session.open(window.controller.session_path) as fork:
        assert p.status == "stopped"
        assert fork.parent["step"] == 40 and fork.steps()["lr"][0] == pytest.approx(0.02)


def test_the_components_need_no_main_window(qtbot, tmp_path):
    """Each component takes what it uses in its constructor: a bare host window will do."""
    from PySide6.QtWidgets import QDockWidget, QLabel, QListWidget, QMainWindow, QProgressBar

    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedRun
    from lrlab.gui.controller import RunController
    from lrlab.gui.edit_panel import EditPanel
    from lrlab.gui.experiment import ExperimentPanel
    from lrlab.gui.fork import ForkComponent
    from lrlab.gui.plots import PlotPanel
    from lrlab.gui.session_view import SessionsComponent

    run = RecordedRun(RunSpec.from_json(dict(QUICK, epochs=2)), tmp_path / "run.lrlab")
    run.run()
    host = QMainWindow()
    qtbot.addWidget(host)
    plots, panel, status = PlotPanel(host), EditPanel(host), QLabel(host)
    controller = RunController(host)
    sessions = SessionsComponent(host, controller, plots, QListWidget(host), ExperimentPanel(host), status,
                                 QProgressBar(host))
    fork = ForkComponent(host, controller, plots, panel, QDockWidget("edit", host), status, sessions)
    assert fork.fork_point() is None  # nothing shown yet
    assert sessions.open_session(str(run.path)) and sessions.viewing.path == str(run.path)
    point = fork.fork_point()
    assert point.path == str(run.path) and (point.first, point.end) == (0, 16) and not point.live
    assert fork.propose_fork(5) and panel.fork_at == 5
    assert panel.optimizer_fields == ("momentum", "weight_decay", "dampening")  # what SGD lets a fork change
    assert status.text().startswith("fork at step 5 of ")
    panel.cancel_button.click()
    assert panel.fork_at is None and len(plots.ghost[0]) == 0
    sessions.close_session_view()
    assert sessions.viewing is None and fork.fork_point() is None


@pytest.fixture
def family(tmp_path):
    """A run, two forks of it at step 100 and a fork of the first fork at 200 (iris, 320 steps)."""
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedRun, fork_session

    parent = RecordedRun(RunSpec.from_json(QUICK), tmp_path / "parent.lrlab", snapshot_every=50)
    parent.run()
    a = fork_session(parent.path, 100, [(100, {"kind": "scale", "factor": 0.1})], tmp_path / "decay.lrlab")
    a.run()
    b = fork_session(parent.path, 100, [(100, {"kind": "scale", "factor": 3.0})], tmp_path / "boost.lrlab")
    b.run()
    c = fork_session(a.path, 200, [(200, {"kind": "hold", "lr": 0.001})], tmp_path / "decay-hold.lrlab")
    c.run()
    return {"parent": parent.path, "decay": a.path, "boost": b.path, "decay-hold": c.path}


def test_sessions_view_shows_forks_under_their_parent(qtbot, family, tmp_path, lrlab_home):
    from lrlab.core.storage.library import Library
    from lrlab.gui.sessions import SessionsView

    view = SessionsView(Library([tmp_path], lrlab_home / "index.json"))
    qtbot.addWidget(view)
    tops = [view.table.topLevelItem(i) for i in range(view.table.topLevelItemCount())]
    assert [t.text(0) for t in tops] == ["parent"]
    children = sorted(tops[0].child(i).text(0) for i in range(tops[0].childCount()))
    assert children == ["boost", "decay"]
    decay = next(i for i in view.all_items() if i.text(0) == "decay")
    assert [decay.child(i).text(0) for i in range(decay.childCount())] == ["decay-hold"]
    assert decay.toolTip(0) == "forked at step 100"
    view.filter.setText("decay-hold")  # a fork that matches keeps the rows it hangs under
    assert [i.text(0) for i in view.all_items() if not i.isHidden()] == ["parent", "decay", "decay-hold"]


def test_compare_aligns_forks_and_draws_the_shared_history_once(qtbot, family):
    from lrlab.gui.app import make_app
    from lrlab.gui.compare import HISTORY_COLOUR, CompareView

    make_app()
    view = CompareView()
    qtbot.addWidget(view)
    view.open_paths([family["boost"], family["decay-hold"]])  # neither the parent nor "decay"
    assert set(view.curves) == {"boost", "decay-hold", "parent (shared history)", "decay (shared history)"}
    x = {name: view.curves[name].getData()[0] for name in view.curves}
    assert x["boost"][0] == 100 and x["decay-hold"][0] == 200  # each from its fork step, on the parent's steps
    assert x["parent (shared history)"][0] == 0 and x["parent (shared history)"][-1] == 99  # once, up to the later fork
    assert x["decay (shared history)"][0] == 100 and x["decay (shared history)"][-1] == 199
    assert view.history[0].colour == HISTORY_COLOUR
    assert view.summary_table.rowCount() == 2  # the tables compare the runs chosen, not their history
    # on the wall clock too, a fork goes on where its parent was at the fork step
    view.x_axis.setCurrentIndex(view.x_axis.findData("wall"))
    parent_x = view.curves["parent (shared history)"].getData()[0]
    assert view.curves["boost"].getData()[0][0] >= parent_x[-1]
