"""The desktop window, driven as a user would (pytest-qt, offscreen)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from guitools import LONG, QUICK, set_spec, wait_idle
from PySide6.QtWidgets import QMessageBox

from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs import Collector, RecordedRun, compare_steps, replay_runner
from lrlab.core.storage.session import Session

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_invalid_field_shows_its_message_and_disables_start(window, qtbot):
    set_spec(window, QUICK)
    assert window.act_start.isEnabled()
    window.experiment.lr.edit.setText("-1")
    qtbot.waitUntil(lambda: not window.act_start.isEnabled())
    label = window.experiment.optimizer.form.errors["lr"]
    assert label.isVisible() and label.text() == "must be a finite number > 0 and <= 1000, got -1"
    window.experiment.batch.setValue(0)
    qtbot.waitUntil(lambda: window.experiment.errors["batch_size"].isVisible())
    assert "must be an integer in [1, 1000000], got 0" in window.experiment.errors["batch_size"].text()
    window.experiment.lr.edit.setText("0.05")
    window.experiment.batch.setValue(16)
    qtbot.waitUntil(window.act_start.isEnabled)
    assert not label.isVisible()


def test_start_streams_batches_into_the_plots_and_saves_the_session(window, qtbot):
    set_spec(window, QUICK)
    counts = []
    window.start()
    window.controller.worker.sig_metrics.connect(counts.append)
    wait_idle(qtbot, window)
    assert len(window.plots.data) == 320  # 120 training samples / 16 = 8 steps x 40 epochs
    assert len(window.plots.data.eval_steps.data) > 10
    assert window.plots.frames > 0
    with Session.open(window.controller.session_path) as s:
        assert s.status == "finished" and s.n_steps() == 320
    assert "finished · 320 steps" in window.status_label.text()
    assert 0 < len(counts) < 320  # batched: never one signal per step


def test_a_start_before_the_warm_up_has_finished_says_what_it_waits_for(window, qtbot):
    set_spec(window, QUICK)
    assert not window.experiment.warmed  # its warm-up (begun once the window is painted) takes a second or more
    window.start()
    assert window.status_label.text().startswith("loading torch, then the data and the model")
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.experiment.warmed, timeout=60_000)
    window.start()
    assert window.status_label.text() == "loading data and building the model…"
    wait_idle(qtbot, window)


def test_pause_and_resume(window, qtbot):
    set_spec(window, LONG)
    window.start()
    qtbot.waitUntil(lambda: window.controller.steps_done > 50, timeout=30_000)
    window.controller.toggle_pause()
    qtbot.waitUntil(lambda: window.controller.state == "paused", timeout=5000)
    assert window.act_pause.text() == "Resume"
    held = window.controller.worker.runner.step
    qtbot.wait(300)
    assert window.controller.worker.runner.step == held
    window.controller.toggle_pause()
    qtbot.waitUntil(lambda: window.controller.worker.runner.step > held + 20, timeout=10_000)
    runner = window.controller.worker.runner
    window.controller.stop()
    asked_at = runner.step
    wait_idle(qtbot, window, 5000)
    assert runner.step <= asked_at + 1  # the loop stops at the next step boundary, not later
    with Session.open(window.controller.session_path) as s:
        assert s.status == "stopped"
        kinds = [e.kind for e in s.events()]
        assert kinds == ["pause", "resume", "stop"]


def test_mid_run_edit_lands_at_the_recorded_step_and_replays(window, qtbot):
    set_spec(window, LONG)
    window.start()
    qtbot.waitUntil(lambda: window.controller.state == "running" and window.controller.steps_done > 100, timeout=30_000)
    panel = window.edit_panel
    panel.editor.set_value({"kind": "scale", "factor": 0.25})
    assert panel.check() and panel.apply_button.isEnabled()
    assert len(window.plots.ghost[0]) > 0  # the proposal is previewed before it is applied
    panel.apply_button.click()
    qtbot.waitUntil(lambda: window.events.count() >= 1, timeout=10_000)
    qtbot.waitUntil(lambda: window.controller.steps_done > 400, timeout=30_000)
    window.controller.stop()
    wait_idle(qtbot, window, 5000)
    with Session.open(window.controller.session_path) as s:
        (step, edit), = s.edits()
        lr = s.steps()["lr"]
        assert edit == {"kind": "scale", "factor": 0.25}
        assert lr[step - 1] == pytest.approx(0.1) and lr[step] == pytest.approx(0.025)
        recorded = s.steps(("step", "train_loss", "lr"))
        trainer = replay_runner(s)
    assert [m.step for m in window.plots.data.markers if m.kind == "edit"] == [step]
    col = Collector()
    trainer.listeners.append(col)
    trainer.run()
    assert compare_steps(recorded, {c: col.column(c) for c in ("step", "train_loss", "lr")}).identical


def test_invalid_edit_is_marked_inline_and_cannot_be_applied(window, qtbot):
    set_spec(window, LONG)
    window.start()
    qtbot.waitUntil(lambda: window.controller.state == "running", timeout=30_000)
    panel = window.edit_panel
    panel.editor.set_value({"kind": "optimizer", "betas": [0.9, 0.99]})
    assert not panel.check() and not panel.apply_button.isEnabled()
    assert "this optimizer has no betas" in panel.message.text() + " ".join(
        lab.text() for lab in panel.editor.form.errors.values())
    window.controller.stop()
    wait_idle(qtbot, window, 5000)


def test_diverged_run_says_what_happened_and_what_to_try(window, qtbot):
    set_spec(window, dict(QUICK, optimizer={"name": "sgd", "lr": 40.0, "momentum": 0.9}))
    window.start()
    wait_idle(qtbot, window)
    text = window.status_label.text()
    assert text.startswith("diverged: loss ") and "try a lower LR or a warmup" in text
    assert any(m.kind == "diverged" for m in window.plots.data.markers)


def test_close_while_running_asks_stops_and_keeps_the_session(window, qtbot, monkeypatch, capfd):
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Yes)
    set_spec(window, LONG)
    window.start()
    qtbot.waitUntil(lambda: window.controller.steps_done > 20, timeout=30_000)
    path = window.controller.session_path
    window.close()
    assert asked and window.controller.thread is None  # close() returns with the run stopped and its thread gone
    with Session.open(path) as s:
        assert s.status == "stopped" and s.n_steps() > 20
    assert "QThread: Destroyed" not in capfd.readouterr().err


def test_open_session_shows_curves_events_and_spec(window, qtbot, tmp_path):
    run = RecordedRun(RunSpec.from_json(QUICK), tmp_path / "saved.lrlab", edits=[(100, {"kind": "hold", "lr": 0.01})])
    run.run()
    assert window.sessions.open_session(str(run.path))
    assert window.banner.isVisible() and "saved.lrlab" in window.banner.text.text()
    assert len(window.plots.data) == 320
    np.testing.assert_array_equal(window.plots.data.lr.y.data[100:], 0.01)
    assert window.events.count() == 1 and "hold LR 0.01" in window.events.item(0).text()
    window.sessions.use_session_settings()
    assert window.experiment.spec == RunSpec.from_json(QUICK)
    png = window.sessions.export_plots("png", str(tmp_path / "plots.png"))
    svg = window.sessions.export_plots("svg", str(tmp_path / "plots.svg"))
    assert (tmp_path / "plots.png").stat().st_size > 10_000 and png
    assert "<svg" in (tmp_path / "plots.svg").read_text()[:2000] and svg


def test_a_session_dropped_on_the_window_opens_and_several_are_compared(window, tmp_path, monkeypatch):
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    run = RecordedRun(RunSpec.from_json(dict(QUICK, epochs=2)), tmp_path / "dropped.lrlab")
    run.run()
    compared = []
    monkeypatch.setattr(window.sessions, "compare_sessions", lambda files: compared.append(files) or True)

    def drop(*paths) -> bool:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
        how = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        enter = QDragEnterEvent(QPoint(5, 5), *how)
        QApplication.sendEvent(window, enter)
        QApplication.sendEvent(window, QDropEvent(QPointF(5, 5), *how))
        return enter.isAccepted()

    assert not window.act_save.isEnabled()
    assert not drop(tmp_path / "notes.txt") and window.sessions.viewing is None  # only sessions are taken
    assert drop(run.path)
    assert window.sessions.viewing.path == str(run.path) and window.act_save.isEnabled()  # the actions follow
    assert drop(run.path, run.path) and compared == [[str(run.path)] * 2]


def test_damaged_file_gets_a_dialog_and_the_app_keeps_working(window, qtbot, monkeypatch, tmp_path):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append((title, text)))
    bad = tmp_path / "broken.lrlab"
    bad.write_text("not a session at all")
    assert not window.sessions.open_session(str(bad))
    assert shown == [("Cannot open session", f"{bad}: not an lrlab session (not an SQLite database)")]
    set_spec(window, QUICK)
    window.start()
    wait_idle(qtbot, window)
    assert window.status_label.text().startswith("finished")


def test_last_experiment_and_layout_are_restored(qtbot, lrlab_home):
    from lrlab.gui.app import make_app
    from lrlab.gui.window import MainWindow

    make_app()
    first = MainWindow()
    qtbot.addWidget(first)
    set_spec(first, dict(QUICK, seed=1234))
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.experiment.spec.seed == 1234 and second.experiment.spec.dataset.kind == "iris"


def test_preset_menu_fills_the_form(window):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Presets")
    groups = [a.text() for a in menu.actions()]
    # one submenu per group, in the order a lesson takes them
    assert groups == ["Learning rate: too high, too low, well chosen", "Schedules", "Optimizers: Adam and SGD",
                      "Adaptive optimizers: a step size per parameter", "Batch size and the LR",
                      "Batch size and LR: where the scaling rules hold",
                      "Models where the LR bites: warmup, one-cycle, grokking"]
    first = menu.actions()[0].menu()
    assert [a.text() for a in first.actions() if a.text()] == [
        "Learning rate too high: divergence", "Learning rate too low: crawling", "Learning rate well chosen",
        "Run all 3 and compare"]
    runs = [a.text() for g in menu.actions() for a in g.menu().actions() if a.text().startswith("Run all")]
    assert runs == ["Run all 3 and compare", "Run all 5 and compare", "Run all 2 and compare",
                    "Run all 4 and compare", "Run all 3 and compare", "Run all 2 and compare",
                    "Run all 7 and compare"]  # once per group
    act = first.actions()[0]
    act.trigger()
    spec = window.experiment.validate()
    assert spec.optimizer["lr"] == 1.5
    assert "explodes" in window.experiment.explanation.text()


def test_batch_size_scaling_helper(window, qtbot):
    set_spec(window, QUICK)
    exp = window.experiment
    exp.scaling.setCurrentText("linear")
    exp.batch.setValue(64)
    assert exp.lr.value() == pytest.approx(0.4)
    assert "0.1 x (64/16) = 0.4" in exp.scaling_note.text()
    exp.scaling.setCurrentText("square root")
    exp.batch.setValue(256)
    assert exp.lr.value() == pytest.approx(0.8)


def test_missing_x11_library_is_named_instead_of_a_qt_abort(monkeypatch, capsys):
    import ctypes
    import platform

    from lrlab.gui import app

    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)

    def no_icccm(path, *a, **k):
        raise OSError(f"{path}: libxcb-icccm.so.4: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(ctypes, "CDLL", no_icccm)
    assert app.missing_display_library() == "libxcb-icccm.so.4"
    assert app.run_gui() == 2
    err = capsys.readouterr().err
    assert "libxcb-icccm.so.4 is missing" in err and "sudo apt-get install libxcb-cursor0" in err


def test_no_display_gets_a_message_instead_of_a_qt_abort(monkeypatch, capsys):
    import platform

    from lrlab.gui import app

    monkeypatch.setattr(platform, "system", lambda: "Linux")
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert app.run_gui() == 2
    assert "no display found" in capsys.readouterr().err


def test_planned_lr_ghost_and_hold_prefill_follow_plateau_reductions(window, qtbot):
    """The window used to replay only edits into its own timeline, so after a plateau reduction
    it planned (and prefilled "hold" with) the old LR while the trainer used the reduced one."""
    plateau = {"kind": "plateau", "patience": 0, "factor": 0.5, "threshold": 0.5}
    set_spec(window, dict(LONG, schedule=plateau, eval_every=10))
    window.start()
    c = window.controller
    qtbot.waitUntil(lambda: sum(e.kind == "plateau" for e in c.events) >= 2, timeout=30_000)
    c.toggle_pause()
    qtbot.waitUntil(lambda: c.state == "paused", timeout=5000)
    trainer_lr = c.worker.runner.timeline(c.steps_done)  # what the trainer will use next
    assert trainer_lr <= 0.1 * 0.5 ** 2
    window.plots.flush()
    steps, planned = window.plots.planned
    assert steps[0] <= c.steps_done <= steps[-1]
    assert planned[np.searchsorted(steps, c.steps_done)] == pytest.approx(trainer_lr)
    assert window.plots.data.lr.y.data[-1] == pytest.approx(c.worker.runner.timeline(c.steps_done - 1))
    panel = window.edit_panel
    panel.editor.set_value({"kind": "scale", "factor": 2.0})
    assert panel.check()
    assert window.plots.ghost[1][0] == pytest.approx(2 * trainer_lr)  # the proposal starts from the real LR
    panel.editor.set_value({"kind": "hold"})
    panel._prefill()
    assert panel.editor.form.fields["lr"].get() == pytest.approx(float(f"{trainer_lr:.4g}"))
    c.stop()
    wait_idle(qtbot, window, 5000)


def _batch(start: int, n: int) -> dict[str, np.ndarray]:
    steps = np.arange(start, start + n)
    return {"step": steps, "epoch": steps // 10, "samples": (steps + 1) * 16, "wall_time": steps * 1e-3,
            "train_loss": 2.0 / (1 + steps * 0.01), "lr": np.full(n, 0.1), "grad_norm": np.ones(n),
            "update_ratio": np.where(steps % 10 == 0, 1e-3, np.nan)}


def test_batches_land_together_in_a_frame_and_a_users_change_is_drawn_at_once(qtbot):
    """Live batches are appended once a frame (the window's cost on training); whatever reads
    the plots (hover, fork, export) still sees every batch, and a proposed edit is drawn at
    the next turn of the event loop even when live frames have slowed to their slowest pace."""
    from lrlab.gui.plots import PlotPanel

    panel = PlotPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.reset("classification", 10, 1000)
    qtbot.wait(100)  # the new run's first frame
    panel.pacer.timer.stop()  # no paced frame will come: only a user's change can draw now
    for i in range(5):
        panel.add(_batch(20 * i, 20), evals=[{"step": 20 * i + 19, "val_loss": 1.0, "val_metric": 0.5}])
    assert len(panel._pending) == 5  # queued, not yet appended
    assert len(panel.data) == 100 and list(panel.data.eval_steps.data) == [19, 39, 59, 79, 99]
    assert panel.data.loss.y.data[99] == pytest.approx(2.0 / (1 + 0.99))
    assert "step 57" in panel.describe_step(57.0)
    frames = panel.frames
    panel.set_ghost(np.arange(100, 200, dtype=float), np.full(100, 0.05))
    qtbot.waitUntil(lambda: panel.frames > frames, timeout=2000)
    x, y = panel.c_ghost.getData()
    assert x is not None and len(x) == 100 and float(y[0]) == 0.05
    assert len(panel.c_loss.getData()[0]) == 100  # the queued batches came with that frame



def test_the_warm_up_begins_when_the_window_and_its_plots_are_painted_and_only_once(window, qtbot):
    """It shares the GIL with the window: begun before the first frame it made the window 2.1x
    slower to appear (bench_gui); begun 200 ms later it left a Start pressed 1 s after the window
    waiting ~0.15 s longer."""
    import threading

    seen = []
    window.plots.sig_painted.connect(lambda: seen.append(window.experiment._warm_up_messenger is not None))
    window.show()
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    assert seen == [True] and window.plots.built  # begun by the paint (the window's slot runs first)
    qtbot.wait(300)  # past the 200 ms fallback for a window never shown: no second warm-up
    assert sum(t.name == "lrlab-warm-up" for t in threading.enumerate()) <= 1
    qtbot.waitUntil(lambda: window.experiment.warmed, timeout=60_000)


def test_the_first_start_after_the_warm_up_imports_nothing(tmp_path):
    """Issue 14: the window warms the core up (torch, its first optimizer step, the form's
    dataset) in the background, so a Start after that pays no import. A fresh interpreter:
    this test session has imported everything long ago."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LRLAB_HOME=str(tmp_path))
    script = Path(__file__).parents[1] / "first_start.py"
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["warm_s"] is not None, "the warm-up did not finish within 120 s"
    assert out["imported"] == []  # nothing was left for the first Start to import
    assert out["first"] is not None and len(out["later"]) >= 2  # its metrics arrived; how fast: bench_gui


def test_marker_labels_read_level_beside_their_line_inside_the_panel_clear_of_the_legend(qtbot):
    """The LR panel labels an edit ("×0.3") in level text beside its line, at the panel's foot,
    on the side facing the middle of the panel (a divergence at the last step is labelled to
    the left of its line, not cut off): rotated along the line it was hard to read, and at the top it ran
    under the legend."""
    from lrlab.core.decl.events import Event
    from lrlab.gui.plots import PlotPanel

    panel = PlotPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    panel.reset("classification", 10, 1000)
    panel.add(_batch(0, 1000))
    events = ((350, "edit", {"edit": {"kind": "scale", "factor": 0.3}}), (590, "pause", {}),
              (999, "diverged", {"message": "loss 9e9 is more than 50x the first loss"}))
    for step, kind, data in events:
        panel.add_marker(Event(step, kind, data))
    panel.flush()
    qtbot.wait(50)
    labels = [line.label for line in panel._markers if getattr(line, "label", None) is not None]
    assert [lab.textItem.toPlainText() for lab in labels] == ["×0.3", "pause", "diverged"]
    vb = panel.p_lr.getViewBox()
    inside, legend = vb.sceneBoundingRect(), panel.p_lr.legend.sceneBoundingRect()
    assert legend.width() > 0
    for lab, (step, _, _) in zip(labels, events, strict=True):
        box = lab.sceneBoundingRect()
        assert box.width() > box.height()  # level text, not turned along the line
        line_x = vb.mapViewToScene(pg.Point(step, 0)).x()
        gap = box.left() - line_x if line_x < inside.center().x() else line_x - box.right()
        assert -2 <= gap < 10, (step, box, line_x)  # right beside its line, facing the middle
        assert inside.contains(box), (step, box, inside)
        assert not box.intersects(legend)


def test_the_window_shows_before_its_plots_are_built_and_builds_them_right_after(qtbot, lrlab_home):
    """Start-up (issue 14): the first frame goes without the four plots (~50 ms of the time to a
    visible window); they are built as soon as it has been painted, or when something needs them."""
    from lrlab.gui.app import make_app
    from lrlab.gui.plots import PlotPanel
    from lrlab.gui.window import MainWindow

    make_app()
    window = MainWindow()
    qtbot.addWidget(window)
    assert not window.plots.built  # constructing the window (and restoring its form) built none
    window.show()
    qtbot.waitUntil(lambda: window.plots.built, timeout=5000)
    assert [p.titleLabel.text for p in window.plots.plots] == [
        "training loss", "learning rate", "validation accuracy", "gradient norm, update ratio, noise scale"]
    assert window.plots.p_loss.getAxis("bottom").labelText == "step"
    panel = PlotPanel()  # never shown: whatever needs a plot builds them
    qtbot.addWidget(panel)
    assert not panel.built and panel.p_lr is panel.plots[1] and panel.built


def test_a_window_closed_before_the_warm_up_ends_leaves_no_error_behind(qtbot, monkeypatch):
    """The warm-up thread reports through a messenger of its own: a form deleted while torch was
    still importing (a window closed at once) raised "Signal source has been deleted" in the thread."""
    import threading

    import shiboken6

    from lrlab.core.runs import warm
    from lrlab.gui.experiment import ExperimentPanel

    release = threading.Event()
    monkeypatch.setattr(warm, "warm_up", lambda spec=None: ["cpu"] if release.wait(30) else [])
    errors = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    before = set(threading.enumerate())
    panel = ExperimentPanel()
    panel.warm_up()
    (thread,) = [t for t in threading.enumerate() if t not in before and t.name == "lrlab-warm-up"]
    shiboken6.delete(panel)  # the window closed, and its form with it
    release.set()
    thread.join(30)
    qtbot.wait(50)  # the queued result finds no form to tell
    assert not thread.is_alive() and errors == []

    alive = ExperimentPanel()  # and a form that lives is told
    qtbot.addWidget(alive)
    alive.warm_up()
    qtbot.waitUntil(lambda: alive.warmed, timeout=30_000)
    assert [alive.device.itemText(i) for i in range(alive.device.count())] == ["auto", "cpu"]


def test_one_validation_point_is_shown_on_a_readable_accuracy_axis(qtbot):
    """A single evaluation (0.636) got an axis of 0.63608-0.63614, six digits of noise: the metric
    axis spans at least 0.05 around it."""
    from lrlab.gui.plots import PlotPanel

    panel = PlotPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.reset("classification", 10, 100)
    panel.add(_batch(0, 20), evals=[{"step": 13, "val_loss": 1.0, "val_metric": 0.63611}])
    panel.flush()
    lo, hi = panel.p_metric.getViewBox().viewRange()[1]
    assert hi - lo >= 0.05 and lo < 0.63611 < hi
