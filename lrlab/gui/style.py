"""Colours and plot settings that follow the system's light or dark palette."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from lrlab.core.decl.palette import palette

EVENT_COLOUR = "#7f7f7f"
DIVERGED_COLOUR = "#d62728"
#: what each colour of the core's palette is used for in the live plots
ROLES = ("loss", "validation", "lr", "grad", "ratio", "extra")


def is_dark() -> bool:
    app = QApplication.instance()
    if app is None:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def colours() -> dict[str, str]:
    """Series colours of the live plots for the current light or dark palette: the core's
    colour-blind-safe palette, every colour at least 3:1 against the plot background (no
    yellow on white), plus grey for events and red for divergence."""
    pal = palette(is_dark())
    out = dict(zip(ROLES, pal, strict=False))
    out.update(event=EVENT_COLOUR, edit=pal[6], diverged=DIVERGED_COLOUR)
    return out


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


#: room left for a window manager's title bar and borders, which resize() does not count
FRAME_ALLOWANCE = (16, 48)


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Resize to ``width`` x ``height``, or less on a smaller screen (a 1366x768 laptop, a
    1280x720 projector), leaving room for the title bar and borders a window manager adds, so
    that they never push the status bar or the bottom buttons off the screen."""
    screen = window.screen().availableGeometry()
    fw, fh = FRAME_ALLOWANCE
    window.resize(min(width, screen.width() - fw), min(height, screen.height() - fh))
