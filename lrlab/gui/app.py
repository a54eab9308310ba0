"""Starts the desktop app. torch is not imported here: the window appears first."""

from __future__ import annotations

import sys
from collections.abc import Sequence

XCB_PACKAGES = ("libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 "
                "libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0")


def missing_display_library() -> str | None:
    """On X11, the library Qt's xcb plugin cannot load, if any.

    Qt aborts the process when no platform plugin loads; finding out first lets lrlab say
    which system package to install instead of dying with Qt's generic message.
    """
    import os
    import platform

    if platform.system() != "Linux" or os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb":
        return None
    if not os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    import ctypes
    import ctypes.util
    from pathlib import Path

    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        return None
    try:
        ctypes.CDLL(str(plugin))
    except OSError as err:  # "...libqxcb.so: libxcb-icccm.so.4: cannot open shared object file: ..."
        import re

        found = re.search(r"(lib[\w.+-]+\.so[.\d]*): cannot open", str(err))
        return found.group(1) if found else str(err)
    if ctypes.util.find_library("xcb-cursor") is None:
        return "libxcb-cursor.so.0"
    return None


def make_app(argv: Sequence[str] = ()) -> object:
    """The QApplication (made once), with lrlab's icon and plot theme. Qt and pyqtgraph load without
    the costs :mod:`lrlab.gui.qtload` describes. torch is not imported here: the window's warm-up
    imports it in a background thread once the window is up. (Importing it in a thread before the
    window was built delayed the window 2.2x a bare one, against 0.82x without: both imports need
    the GIL, so they took turns; measured with bench_gui's start-up, issue 31.)"""
    from lrlab.gui import qtload

    qtload.load()
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

    from lrlab.core.decl.resources import icon_path
    from lrlab.gui.style import apply_plot_theme

    icon = QIcon(str(icon_path("lrlab.svg")))
    for size in (16, 24, 32, 48, 64, 128, 256):
        icon.addFile(str(icon_path(f"lrlab-{size}.png")))
    app.setWindowIcon(icon)  # window, taskbar and dialogs
    apply_plot_theme()
    return app


def run_gui(run: str | None = None, open_files: Sequence[str] = (), compare: Sequence[str] = (),
            pace: float | None = None, exit_fast: bool = False) -> int:
    """Open the main window; ``run`` starts a spec or preset, ``open_files`` shows a session,
    ``compare`` opens the compare view on those sessions, ``pace`` sets steps per second."""
    import os
    import platform
    from pathlib import Path

    if platform.system() == "Linux" and not any(os.environ.get(v) for v in
                                                ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        print("lrlab: error: no display found (DISPLAY and WAYLAND_DISPLAY are not set); run it in a desktop "
              "session, or set QT_QPA_PLATFORM=offscreen to run without one", file=sys.stderr)
        return 2
    missing = missing_display_library()
    if missing:
        print(f"lrlab: error: Qt cannot open the X11 display: {missing} is missing; on Debian or Ubuntu: "
              f"sudo apt-get install {XCB_PACKAGES}", file=sys.stderr)
        return 2
    app = make_app()
    from lrlab.gui.window import MainWindow

    window = MainWindow()
    window.show()
    if pace is not None:
        window.set_pace(pace)
    if open_files:
        window.sessions.open_session(str(open_files[0]))
    if compare:
        window.sessions.compare_sessions([str(c) for c in compare])
    if run:
        from lrlab.core.decl.spec import load_spec

        preset = next((p for p in window.experiment.presets if p.path.resolve() == Path(run).resolve()), None)
        if preset is not None:  # a preset shows its words in the form and names its session
            window.experiment.load_preset(preset)
            if pace is not None:  # an explicit --pace wins over the preset's suggestion
                window.set_pace(pace)
        else:
            window.experiment.set_json(load_spec(run).to_json())
        window.start()
    rc = app.exec()  # type: ignore[attr-defined]
    # The window has stopped any run, closed its session and saved the settings: nothing is
    # left to write. Skip the interpreter's teardown of torch and Qt, which kept the process
    # around for a second or more after the last window closed (measured 1.1 s after a run).
    del window
    sys.stdout.flush()
    sys.stderr.flush()
    if exit_fast:
        os._exit(rc)
    return rc

