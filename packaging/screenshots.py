"""Render the main states of the window to PNG files, offscreen, to look at them.

    python packaging/screenshots.py OUTDIR [--dark]

States: empty, mid-run with an edit marker and a proposed edit, diverged, a session
opened. Runs in a private LRLAB_HOME so nothing of the user's is touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _wait(app: object, cond: Callable[[], bool], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        app.processEvents()  # type: ignore[attr-defined]
        if time.monotonic() > end:
            raise TimeoutError("the window did not reach the expected state")
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--dark", action="store_true", help="use a dark palette")
    ap.add_argument("--size", default="1440x900")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["LRLAB_HOME"] = tempfile.mkdtemp(prefix="lrlab-shots-")
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    if args.dark:  # what a dark desktop theme hands the app
        from PySide6.QtGui import QColor, QPalette

        app.setStyle("Fusion")
        pal = QPalette()
        for role, colour in ((QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.WindowText, "#e6e6e6"),
                             (QPalette.ColorRole.Base, "#1e1e1e"), (QPalette.ColorRole.AlternateBase, "#2b2b2b"),
                             (QPalette.ColorRole.Text, "#e6e6e6"), (QPalette.ColorRole.Button, "#353535"),
                             (QPalette.ColorRole.ButtonText, "#e6e6e6"), (QPalette.ColorRole.Highlight, "#3d8ee0"),
                             (QPalette.ColorRole.HighlightedText, "#ffffff"), (QPalette.ColorRole.Mid, "#555555")):
            pal.setColor(role, QColor(colour))
        for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
            pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))
        app.setPalette(pal)
    from lrlab.core.decl.resources import list_presets
    from lrlab.gui.app import make_app
    from lrlab.gui.window import MainWindow

    make_app()
    w, h = (int(v) for v in args.size.split("x"))
    suffix = "-dark" if args.dark else ""
    presets = {p.name: p for p in list_presets()}

    def shot(window: MainWindow, name: str) -> None:
        window.plots.flush()
        app.processEvents()
        path = out / f"{name}{suffix}.png"
        window.grab().save(str(path))
        print(path)

    win = MainWindow()
    win.resize(w, h)
    win.show()
    _wait(app, lambda: win.experiment.device.count() > 1 or True, 1)
    shot(win, "1-empty")

    # mid-run: cosine with warmup, an edit applied, another proposed (the ghost curve)
    win.experiment.load_preset(presets["cosine-warmup"])
    win.experiment.epochs.setValue(60)
    win.experiment.validate()
    win.start()
    _wait(app, lambda: win.controller.state == "running" and win.controller.steps_done > 350)
    win.controller.worker.edit({"kind": "scale", "factor": 0.3})
    _wait(app, lambda: win.events.count() >= 1 and win.controller.steps_done > 600)
    win.controller.toggle_pause()
    _wait(app, lambda: win.controller.state == "paused")
    win.edit_panel.editor.set_value({"kind": "schedule", "schedule": {"kind": "constant"}, "lr": 0.05})
    win.edit_panel.check()
    shot(win, "2-mid-run-edit")
    win.controller.stop_and_wait(5000)
    _wait(app, lambda: win.controller.state == "idle" and win.controller.thread is None, 10)

    # diverged
    win.experiment.load_preset(presets["lr-too-high"])
    win.start()
    _wait(app, lambda: win.controller.state == "idle" and win.controller.thread is None)
    shot(win, "3-diverged")

    # a saved session opened
    win.experiment.load_preset(presets["step-decay"])
    win.start()
    _wait(app, lambda: win.controller.state == "idle" and win.controller.thread is None)
    win.sessions.open_session(win.controller.session_path)
    win.plots.x_combo.setCurrentIndex(win.plots.x_combo.findData("epoch"))
    shot(win, "4-session-opened")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
