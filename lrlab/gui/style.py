"""Colours and plot settings that follow the system's light or dark palette."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

# colour-blind-safe (Okabe-Ito) series colours
BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY, YELLOW = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
EVENT_COLOUR = "#7f7f7f"
DIVERGED_COLOUR = "#d62728"


def is_dark() -> bool:
    app = QApplication.instance()
    if app is None:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def apply_plot_theme() -> None:
    """Plots use the window's background and text colours (call before creating plots)."""
    app = QApplication.instance()
    if app is None:
        return
    pal = app.palette()
    pg.setConfigOptions(background=pal.color(QPalette.ColorRole.Base),
                        foreground=pal.color(QPalette.ColorRole.Text), antialias=False)


def faint(colour: str, alpha: int = 90) -> QColor:
    c = QColor(colour)
    c.setAlpha(alpha)
    return c
