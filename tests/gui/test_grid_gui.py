"""The Batch size x LR window: the heatmap fills one batch size after another, diverged cells are
crossed, the best LR per row and the rules are drawn, a click on a cell selects it and opens its
curves, "Use these settings" fills the form, "Compare row / column" the compare view."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from guitools import QUICK, set_spec, wait_idle
from PySide6.QtCore import QPointF, Qt

from lrlab.core.decl.params import SpecError
from lrlab.gui.grid import batch_ticks, edges, parse_batch_sizes
from lrlab.gui.style import FRAME_ALLOWANCE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_batch_sizes_and_cell_edges():
    assert parse_batch_sizes("16, 64;256") == [16, 64, 256]
    with pytest.raises(SpecError, match="batch_sizes: expected whole numbers"):
        parse_batch_sizes("16, big")
    assert edges(np.array([1.0, 2.0, 4.0])).tolist() == [0.5, 1.5, 3.0, 5.0]
    assert batch_ticks(3.5, 8.5) == [(4.0, "16"), (5.0, "32"), (6.0, "64"), (7.0, "128"), (8.0, "256")]


def test_the_heatmap_fills_and_a_click_opens_a_cell(window, qtbot, tmp_path):
    set_spec(window, dict(QUICK, epochs=3))
    window.set_pace(None)
    grid = window.tools.show_grid()
    grid.lr_text.setText("0.01, 0.1, 30")
    grid.batch_text.setText("8, 32")
    grid.run_button.click()
    assert window.controller.kind == "grid" and window.controller.state.busy
    wait_idle(qtbot, window, 120_000)
    grid._frame()
    values = grid.cell_values()
    assert values.shape == (2, 3) and np.isfinite(values[:, :2]).all() and np.isnan(values[:, 2]).all()
    assert len(grid.cells.opts["x0"]) == 6  # a coloured cell for each, grey where it diverged
    assert grid.diverged() == [(0, 2), (1, 2)] and len(grid.crosses.data) == 2  # LR 30 crossed in both rows
    xs, ys = grid.best_line.getData()
    assert ys.tolist() == [3.0, 5.0]  # a best-LR dot per batch size (log2 8 and 32)
    best8 = grid.found["best"]["8"]["lr"]
    assert xs[0] == pytest.approx(math.log10(best8))
    lx, ly = grid.linear_line.getData()
    sx, _ = grid.sqrt_line.getData()
    assert lx[-1] == pytest.approx(math.log10(4 * best8)) and sx[-1] == pytest.approx(math.log10(2 * best8))
    assert ly.tolist() == [3.0, 5.0]
    assert len(grid.files) == 6 and all(os.path.exists(f) for f in grid.files)

    # a click on the cell (batch 32, LR 0.1) selects it; Open curves shows its session
    shown = grid.plot.vb.mapViewToScene(QPointF(math.log10(0.1), math.log2(32)))
    point = grid.view.mapFromScene(shown)
    qtbot.mouseClick(grid.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert grid.selected == 4 and grid.open_button.isEnabled()
    grid.open_button.click()
    assert window.sessions.shown_session() is not None
    assert os.path.samefile(str(window.sessions.shown_session()), grid.files[4])
    data = grid._use()
    assert window.experiment.spec.lr == pytest.approx(0.1) and window.experiment.spec.batch_size == 32
    assert data["batch_size"] == 32
    compared = []
    grid.sig_compare.disconnect()
    grid.sig_compare.connect(compared.append)
    assert grid._compare("batch_size") == grid.files[3:6] and compared == [grid.files[3:6]]
    assert grid._compare("lr") == [grid.files[1], grid.files[4]]
    grid._frame()
    if os.environ.get("LRLAB_GRID_PNG"):
        grid.grab().save(os.environ["LRLAB_GRID_PNG"])
    grid.close()


def test_the_knee_plot_shows_steps_to_target_and_the_noise_scale(window, qtbot):
    """With a target, the plot beside the heatmap gets each batch size's fewest steps to it and
    the gradient noise scale B_simple as a vertical line, read back from the grid's summary."""
    set_spec(window, dict(QUICK, epochs=6, noise_scale_every=2))
    window.set_pace(None)
    grid = window.tools.show_grid()
    assert grid.knee_hint.isVisible() and "give a target" in grid.knee_hint.textItem.toPlainText()
    assert grid.heat_hint.isVisible() and "Run grid" in grid.heat_hint.textItem.toPlainText()
    # fits a 1280x720 projector (the controls once made it 1320 wide), legends beside the data, not on it
    assert grid.minimumSizeHint().width() <= 1280 - FRAME_ALLOWANCE[0]
    for legend, plot in ((grid.legend, grid.plot), (grid.knee_legend, grid.knee_plot)):
        assert not legend.sceneBoundingRect().intersects(plot.vb.sceneBoundingRect())
    grid.lr_text.setText("0.03, 0.1")
    grid.batch_text.setText("8, 16, 32")
    grid.target_text.setText("val_metric=0.8")
    grid.run_button.click()
    assert window.controller.kind == "grid" and grid.target == "val_metric>=0.8"
    assert "drawn when the grid ends" in grid.knee_hint.textItem.toPlainText()
    wait_idle(qtbot, window, 120_000)
    steps = grid.knee_found["knee"]["steps_to_target"]
    noise = grid.knee_found["noise_scale"]
    assert set(noise) == {"8", "16", "32"} and all(v > 0 for v in noise.values())
    xs, ys = grid.knee_points.getData()
    assert sorted(xs.tolist()) == sorted(math.log2(int(b)) for b in steps) and len(xs) >= 2
    assert sorted(ys.tolist()) == sorted(steps.values())
    assert grid.noise_line.isVisible() and not grid.heat_hint.isVisible()
    # iris reaches the target at about the same step at every batch size: a knee, or the hint that none fits
    assert grid.knee_line.isVisible() != ("no knee" in grid.knee_hint.textItem.toPlainText())
    assert grid.noise_line.value() == pytest.approx(math.log2(float(np.median(list(noise.values())))))
    assert "B_simple" in grid.noise_line.label.toPlainText() and "B_simple" in grid.status.text()
    if os.environ.get("LRLAB_GRID_PNG"):
        grid.grab().save(os.environ["LRLAB_GRID_PNG"].replace(".png", "_knee.png"))
    grid.close()


def test_a_bad_target_is_named_inline(window):
    grid = window.tools.show_grid()
    grid.target_text.setText("val_metric=high")
    grid.run_button.click()
    assert not window.controller.state.busy
    assert grid.error.isVisible() and "target" in grid.error.text()
    grid.close()
