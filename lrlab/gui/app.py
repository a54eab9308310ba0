"""Starts the desktop app. torch is not imported here: the window appears first."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def make_app(argv: Sequence[str] = ()) -> object:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication([sys.argv[0], *argv])
        app.setApplicationName("lrlab")
        app.setOrganizationName("lrlab")
        app.setDesktopFileName("lrlab")
    from PySide6.QtGui import QIcon

    from lrlab.core.resources import icon_path
    from lrlab.gui.style import apply_plot_theme

    icon = QIcon(str(icon_path("lrlab.svg")))
    for size in (16, 24, 32, 48, 64, 128, 256):
        icon.addFile(str(icon_path(f"lrlab-{size}.png")))
    app.setWindowIcon(icon)  # window, taskbar and dialogs
    apply_plot_theme()
    return app


def run_gui(run: str | None = None, open_files: Sequence[str] = (), compare: Sequence[str] = ()) -> int:
    """Open the main window; ``run`` starts a spec or preset, ``open_files`` shows a session,
    ``compare`` opens the compare view on those sessions."""
    app = make_app()
    from lrlab.gui.window import MainWindow

    window = MainWindow()
    window.show()
    if open_files:
        window.open_session(str(open_files[0]))
    if compare:
        window.compare_sessions([str(c) for c in compare])
    if run:
        from lrlab.core.spec import load_spec

        window.experiment.set_json(load_spec(run).to_json())
        window.start()
    return app.exec()  # type: ignore[attr-defined]
