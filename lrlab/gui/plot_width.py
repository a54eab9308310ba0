"""The main window's plots keep the width their titles and axes need; the docks give way.

Under Xvfb at 1280x720 the Experiment and Change-the-schedule docks left the four plots less
than their first layout needed, and pyqtgraph kept that layout: the right column (learning
rate, gradients) was cut off at the dock's edge. The plots' panel now asks for the width of its
widest plot per column, once the window is shown, when the lower-right panel changes (its
title) and when a run starts (the panel it picks)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QComboBox, QToolBar

#: pixels beyond the plots' least width: wider tick labels once data arrive
SLACK = 12


def plots_width(panel: Any) -> int:
    """The least width of the plot panel ``panel`` (:class:`~lrlab.gui.plots.PlotPanel`): the plots
    sit two by two, (loss, LR) over (metric, gradients), so each column needs its wider plot's
    least width (asked of each plot: the layout's own hint is stale until painted)."""
    least = [p.effectiveSizeHint(Qt.SizeHint.MinimumSize).width() for p in panel.plots]
    grid = panel.view.ci.layout
    left, _, right, _ = grid.getContentsMargins()
    need = max(least[0::2]) + max(least[1::2]) + grid.horizontalSpacing() + left + right
    return int(need) + max(panel.width() - panel.view.width(), 0) + SLACK


def fit_plots(window: Any) -> None:
    window.plots.setMinimumWidth(plots_width(window.plots))


class _OnShow(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show:
            QTimer.singleShot(0, lambda: fit_plots(watched))  # once shown: the plots' hints are computed
        return False


def keep_plots_whole(window: Any) -> None:
    """Refit the main ``window``'s plots when it is shown, when a toolbar choice changes (the
    lower-right panel's title) and when a run starts."""
    window._plots_on_show = _OnShow(window)
    window.installEventFilter(window._plots_on_show)
    for bar in window.findChildren(QToolBar):
        for combo in bar.findChildren(QComboBox):
            combo.currentIndexChanged.connect(lambda _: QTimer.singleShot(0, lambda: fit_plots(window)))
    window.controller.sig_started.connect(lambda _: QTimer.singleShot(0, lambda: fit_plots(window)))
