"""Run > Auto-tune showdown…: inline checks with Run disabled, then a small showdown of the form's
experiment in the background: its table, best-so-far curves and LR curves, Compare."""

from __future__ import annotations

import numpy as np
import pytest
from guitools import QUICK, set_spec

pytest.importorskip("prodigyopt", reason="needs the extra autotune: pip install 'lrlab[autotune]'")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

from lrlab.gui.autotune import COLUMNS  # noqa: E402  (after the skip: it needs the extra)


def test_bad_inputs_show_the_core_message_and_disable_run(window):
    show = window.tools.show_autotune()
    assert show.run_button.isEnabled() and show.message.isHidden()
    assert show.plots.hint.isVisible() and "when the showdown ends" in show.plots.hint.textItem.toPlainText()
    header = show.table.horizontalHeader()
    for j, name in enumerate(COLUMNS):  # every heading whole before any row ("inal val (median" was cut)
        assert header.sectionSize(j) >= header.fontMetrics().horizontalAdvance(name)
    show.budget.setValue(80)
    assert not show.run_button.isEnabled()
    assert show.message.text().startswith("budget: 80 steps is not longer than the range test's 100 steps")
    for name in ("range-cosine", "range-onecycle"):
        show.method_boxes[name].setChecked(False)
    assert show.run_button.isEnabled()  # without the range test, 80 steps are enough
    show.target.setText("accuracy=1")
    assert not show.run_button.isEnabled() and show.message.text().startswith("target: must be NAME=VALUE")
    show.target.setText("val_metric=0.9")
    for box in show.method_boxes.values():
        box.setChecked(False)
    assert not show.run_button.isEnabled() and "names no method" in show.message.text()
    show.close()


def test_a_showdown_from_the_window_fills_the_table_and_the_plots(window, qtbot):
    set_spec(window, QUICK)
    show = window.tools.show_autotune()
    show.budget.setValue(60)
    show.seeds.setValue(1)
    show.target.setText("val_metric=0.5")
    for name, box in show.method_boxes.items():
        box.setChecked(name in ("given", "prodigy", "schedulefree"))
    assert show.start()
    assert not show.run_button.isEnabled() and show.stop_button.isEnabled()
    qtbot.waitUntil(lambda: show._thread is None, timeout=120_000)
    assert show.status.text().startswith("done: every run is a session in ")
    assert [show.table.item(i, 0).text() for i in range(show.table.rowCount())] == ["given", "prodigy",
                                                                                    "schedulefree"]
    assert all(float(show.table.item(i, 1).text()) > 0.5 for i in range(3))
    assert set(show.plots.best_curves) == set(show.plots.lr_curves) == {"given", "prodigy", "schedulefree"}
    # every row shown without scrolling, the legend beside the plots rather than over the curves
    last = show.table.visualItemRect(show.table.item(2, 0))
    assert show.table.viewport().rect().contains(last)
    assert show.plots.hint.scene() is None  # the hint goes when the curves come
    legend = show.plots.legend
    assert len(legend.items) == 3
    assert not legend.sceneBoundingRect().intersects(show.plots.p_best.vb.sceneBoundingRect())
    _, lrs = show.plots.lr_curves["prodigy"].getData()
    assert lrs[0] < 1e-3 < 1  # Prodigy's step size d x lr, not its nominal lr of 1 (log axis)
    _, best = show.plots.best_curves["given"].getData()
    assert np.all(np.diff(best) >= 0)  # best so far never falls
    compared = []
    show.sig_compare.disconnect()
    show.sig_compare.connect(compared.append)
    show.compare_button.click()
    assert len(compared[0]) == 3 and all(p.endswith("-seed0.lrlab") for p in compared[0])
    show.close()


def test_closing_the_window_stops_a_running_showdown(window, qtbot):
    set_spec(window, QUICK)
    show = window.tools.show_autotune()
    show.budget.setValue(100_000)
    show.seeds.setValue(1)
    for name, box in show.method_boxes.items():
        box.setChecked(name == "given")
    assert show.start()
    qtbot.waitUntil(lambda: show.showdown._current is not None, timeout=60_000)
    show.close()  # stops the run in progress and waits for the thread: no abort, no hang
    assert show._thread is None or not show._thread.isRunning()


def test_the_form_offers_them_and_the_lr_panels_show_the_step_they_take(window, qtbot):
    from guitools import wait_idle

    combo = window.experiment.optimizer.combo
    names = [combo.itemText(i) for i in range(combo.count())]
    assert {"prodigy", "schedulefree_adamw", "schedulefree_sgd"} <= set(names)
    set_spec(window, dict(QUICK, optimizer={"name": "prodigy"}, epochs=10, effective_lr_every=5))
    assert window.experiment.validate().optimizer.kind == "prodigy"
    window.set_pace(None)
    window.start()
    wait_idle(qtbot, window)
    plots = window.plots
    plots.lower_combo.setCurrentIndex(plots.lower_combo.findText("effective LR: all parameters"))
    plots.flush()
    _, median = plots.c_eff.getData()
    assert len(median) >= 2 and np.all(np.isfinite(median))
    from lrlab.core.storage.session import Session

    with Session.open(window.controller.session_path) as s:
        lrs, quantiles = s.steps()["lr"], s.effective_lr("all")
    assert lrs[0] == pytest.approx(1e-6) and lrs.max() < 1  # d x lr, not the nominal lr of 1
    np.testing.assert_allclose(median, np.log10(quantiles["p50"]), rtol=1e-5)  # the panel draws them (log y)
