"""The effective LR formulas predict torch's own parameter updates (one step, 1e-6 relative).

Here: the window (they need Qt); the rest are in tests/core/test_effective_lr.py.
"""

from __future__ import annotations

import numpy as np


def test_the_effective_lr_panel_draws_bands_per_layer_and_the_lr(window, qtbot, tmp_path):
    from guitools import wait_idle

    from lrlab.core.decl.resources import list_presets

    window.experiment.load_preset(next(p for p in list_presets() if p.name == "adaptive-adam"))
    window.set_pace(None)
    window.experiment.epochs.setValue(3)
    window.start()
    wait_idle(qtbot, window)
    plots = window.plots
    assert plots.lower_combo.findText("effective LR: 0.weight") >= 0  # one entry per parameter tensor
    plots.lower_combo.setCurrentIndex(plots.lower_combo.findText("effective LR: all parameters"))
    plots.flush()
    assert plots.p_grad.titleLabel.text.startswith("effective LR per parameter")
    _, p5 = plots.c_eff_edges["p5"].getData()
    _, p95 = plots.c_eff_edges["p95"].getData()
    _, median = plots.c_eff.getData()
    assert len(median) >= 2 and np.all(p95 >= median) and np.all(median >= p5)
    assert np.all(p95[1:] - p5[1:] > np.log10(3))  # (log y) Adam spreads its step sizes
    names = {label.text for _, label in plots.p_grad.legend.items}
    assert {"effective LR (median)", "scheduled LR"} <= names and "gradient norm" not in names
    plots.lower_combo.setCurrentIndex(plots.lower_combo.findText("effective LR: 2.bias"))
    plots.flush()
    assert plots.p_grad.titleLabel.text.endswith("(2.bias)")
    # a saved session shows the same
    assert window.sessions.open_session(window.controller.session_path)
    plots.lower_combo.setCurrentIndex(plots.lower_combo.findText("effective LR: all parameters"))
    plots.flush()
    np.testing.assert_allclose(plots.c_eff.getData()[1], median)
