"""The loss landscape playground: surfaces, real optimizer steps, the run kind, the CLI and the window.

Here: the window (they need Qt); the rest are in tests/core/test_landscape.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrlab.cli import main
from lrlab.core.features.landscape import (
    DEMOS,
    DIVERGED,
)
from lrlab.core.storage.session import Session

# --- surfaces ---------------------------------------------------------------------------------


@pytest.fixture
def landscape_window(qtbot):
    from lrlab.gui.app import make_app
    from lrlab.gui.landscape import LandscapeWindow

    make_app()
    w = LandscapeWindow()
    qtbot.addWidget(w)
    w.show()
    yield w
    w.pause()


def test_window_opens_ready_with_the_four_presets_and_2_over_l(landscape_window):
    w = landscape_window
    assert w.land.step == 0 and not w.playing and len(w.arts) == 4
    assert "2/L = 0.2" in w.header.text() and w.critical_line.value() == pytest.approx(0.2)
    assert w.traj_list.count() == 4 and "too low" in w.traj_list.item(0).text()
    assert w.image.image.shape == (400, 400) and len(w.isolines.xData) > 100


def test_divergent_preset_stops_at_the_box_with_a_cross(landscape_window):
    from lrlab.gui.landscape import clip_to_box

    w = landscape_window
    w.load_preset("divergent")
    w.advance(40)
    t = w.land.trajectories[0]
    assert t.status == DIVERGED and "diverged at step 9" in w.legend.text().replace("&nbsp;", " ")
    art = w.arts[0]
    (cx,), (cy,) = w.crosses.getData()
    assert len(w.heads.getData()[0]) == 0  # no head: it is gone
    x0, x1, y0, y1 = w.land.box
    assert x0 <= cx <= x1 and y0 <= cy <= y1 and (cy in (y0, y1) or cx in (x0, x1))  # on the edge, not beyond
    drawn_y = np.concatenate([i.yData for i in art.path.items if i.yData is not None])
    assert drawn_y.max() <= y1 + 1e-9 and drawn_y.min() >= y0 - 1e-9
    assert clip_to_box(0, 0, 4, 0, (-1, 1, -1, 1)) == (1, 0)
    assert clip_to_box(0, 0, math.nan, 0, (-1, 1, -1, 1)) == (0, 0)


def test_click_on_the_surface_moves_the_start(landscape_window, qtbot):
    w = landscape_window
    w.advance(5)
    vb = w.contour.getViewBox()
    scene = vb.mapViewToScene(__import__("PySide6.QtCore", fromlist=["QPointF"]).QPointF(1.0, -1.0))

    class Click:
        def scenePos(self):
            return scene

    w._clicked(Click())
    assert w.land.step == 0 and w.land.start == pytest.approx((1.0, -1.0), abs=0.02)
    assert w.spec.start == w.land.start and "start (1" in w.start_label.text()


def test_playing_animates_on_a_timer_with_bounded_frames(landscape_window, qtbot):
    from lrlab.gui.landscape import MAX_STEPS_PER_FRAME

    w = landscape_window
    w.set_speed(240)
    taken = []
    original = w.advance

    def spy(n):
        taken.append(n)
        return original(n)

    w.advance = spy
    w.play()
    qtbot.waitUntil(lambda: w.land.step >= 60, timeout=5000)
    w.pause()
    assert max(taken) <= MAX_STEPS_PER_FRAME and w.play_button.text() == "Play"
    assert w.step_label.text().startswith(f"step {w.land.step} / 200")


def test_paths_are_drawn_in_pieces_so_a_frame_resends_little(landscape_window):
    from lrlab.gui.landscape import CHUNK

    w = landscape_window
    w.set_spec({"surface": {"kind": "quadratic"}, "steps": 1200,
                "trajectories": [{"optimizer": {"name": "sgd", "lr": 0.005}}]})
    w.advance(1100)
    path = w.arts[0].path
    assert len(path.items) >= 2 * (1100 // CHUNK)  # halo + line per piece
    assert len(path.items[-1].xData) <= CHUNK + 1
    xs = np.concatenate([path.items[i].xData[:-1] for i in range(1, len(path.items) - 2, 2)]
                        + [path.items[-1].xData])
    assert np.array_equal(xs, w.land.trajectories[0].x.data)  # the pieces join into the whole path


def test_editing_a_trajectory_validates_inline_and_restarts(landscape_window):
    w = landscape_window
    w.advance(10)
    w.traj_list.setCurrentRow(1)
    lr_field = w.opt_editor.form.fields["lr"]
    lr_field.set(-3)
    assert "must be a finite number > 0" in w.opt_editor.form.errors["lr"].text()
    assert w.land.step == 10  # an invalid set-up changes nothing
    lr_field.set(0.05)
    assert w.spec.trajectories[1].optimizer["lr"] == 0.05 and w.land.step == 0
    assert "0.05" in w.traj_list.item(1).text() or "about right" in w.traj_list.item(1).text()
    w.surface_editor.set_value({"kind": "himmelblau"})
    assert w.spec.surface.kind == "himmelblau" and w.land.box == (-5.0, 5.0, -5.0, 5.0)


def test_add_remove_and_demos(landscape_window):
    w = landscape_window
    w.load_demo("rosenbrock")
    assert w.spec.surface.kind == "rosenbrock" and len(w.arts) == 4
    w.add_trajectory()
    w.add_trajectory()
    assert len(w.spec.trajectories) == 6 and not w.add_button.isEnabled()
    w.remove_trajectory()
    assert len(w.spec.trajectories) == 5 and w.add_button.isEnabled()


def test_a_preset_after_a_demo_explains_itself_not_the_demo(landscape_window):
    w = landscape_window
    said: list[str] = []
    w.sig_message.connect(said.append)
    w.load_demo("rosenbrock")
    assert w.hint.text() == DEMOS["rosenbrock"].explanation
    w.preset_buttons["too high"].click()
    assert w.hint.text() == DEMOS["quadratic-too-high"].explanation != DEMOS["rosenbrock"].explanation
    assert said[-1] == w.hint.text()


def test_window_saves_a_session_with_its_edits_that_replays_identical(landscape_window, tmp_path, capsys):
    from lrlab.core.runs.landscape import verify

    w = landscape_window
    w.advance(30)
    w.traj_list.setCurrentRow(2)
    w.edit_selected({"kind": "scale", "factor": 0.5})
    w.advance(30)
    out = tmp_path / "w.lrlab"
    assert w.save_session(str(out)) == "stopped"  # saved as far as it got: 60 of 200 steps
    with Session.open(out) as s:
        assert s.n_steps() == 60 and verify(s) == []
        saved = s.summary["landscape"]["trajectories"][2]
        assert saved["x"] == w.land.trajectories[2].x.data.tolist()
    assert main(["replay", str(out), "--verify", "--quiet"]) == 0
    w.export_csv(str(tmp_path / "w.csv"))
    w.export_png(str(tmp_path / "w.png"))
    assert (tmp_path / "w.png").stat().st_size > 20_000


def test_window_fits_a_laptop_screen_and_its_texts_fit(landscape_window):
    w = landscape_window
    w.resize(1366, 768)
    w.load_demo("quadratic-adam")
    w.advance(200)
    assert w.width() <= 1366 and w.height() <= 768
    for label in (w.header, w.legend, w.hint):
        assert label.heightForWidth(label.width()) <= 3 * label.fontMetrics().height() + 8


def test_switching_preset_clears_the_last_runs_crosses(qtbot):
    from lrlab.gui.app import make_app
    from lrlab.gui.landscape import LandscapeWindow

    make_app()
    w = LandscapeWindow()
    qtbot.addWidget(w)
    w.load_preset("divergent")
    for _ in range(200):
        w.step_once()
    assert len(w.crosses.data) >= 1  # the divergent trajectory left the box
    w.load_preset("too high")
    assert len(w.crosses.data) == 0  # the new set-up starts clean
