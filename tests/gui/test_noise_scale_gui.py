"""The gradient noise scale B_simple in the gradient panel of a single run (log y, in samples)."""

from __future__ import annotations

import numpy as np


def test_the_noise_scale_is_drawn_in_the_gradient_panel_after_a_short_run(window, qtbot):
    from guitools import wait_idle

    from lrlab.core.decl.metrics import NOISE_SCALE
    from lrlab.core.decl.resources import list_presets

    window.experiment.load_preset(next(p for p in list_presets() if p.name == "lr-well-chosen"))
    window.set_pace(None)
    window.experiment.epochs.setValue(5)  # 115 steps: measured at 0, 20, ..., 100
    window.start()
    wait_idle(qtbot, window)
    plots = window.plots
    plots.flush()
    assert plots.p_grad.titleLabel.text == "gradient norm, update ratio, noise scale"
    steps, values = plots.curves[NOISE_SCALE.name].getOriginalDataset()  # not the log10 the axis shows
    assert steps is not None and len(steps) >= 5 and set(steps.tolist()) <= set(range(0, 115, 20))
    assert np.all(np.isfinite(values)) and np.all(values > 1)  # samples
    names = {label.text for _, label in plots.p_grad.legend.items}
    assert "noise scale B_simple (samples)" in names and "gradient norm" in names
    assert " B_simple " in plots.describe_step(110)  # the hover read-out: its latest measurement
