"""Writing what the window shows to files: plots as PNG or SVG, a session's steps as CSV or as a
TensorBoard run, its run spec as JSON, a copy of the session. The file formats themselves live in
the core (:mod:`lrlab.core.storage.export`); here are only the file dialogs and the rendering of plots."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QImage, QPixmap
from PySide6.QtWidgets import QApplication, QFileDialog, QLayout, QMessageBox, QWidget

from lrlab.core.decl.files import ExportError, written
from lrlab.core.decl.spec import RunSpec
from lrlab.core.storage.export import TENSORBOARD_HINT, tensorboard_available
from lrlab.gui.menus import make_action

SESSION_FILTER = "lrlab sessions (*.lrlab)"
#: whether the optional tensorboard package is installed (looked up once, without importing it)
TENSORBOARD = tensorboard_available()


def export_svg(view: QWidget, out: str, inputs: Iterable[str | Path] = ()) -> None:
    """SVG through Qt's own QSvgGenerator: pyqtgraph 0.14's SVGExporter fails on the path data
    current Qt writes (pyqtgraph issue #3485), so the scene is rendered straight to SVG. Written
    whole or not at all (ExportError says why), never onto one of ``inputs``."""
    with written(out, inputs) as tmp:
        _render_svg(view, str(tmp))


def _render_svg(view: QWidget, out: str) -> None:
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    gen = QSvgGenerator()
    gen.setFileName(out)
    gen.setSize(QSize(view.width(), view.height()))
    gen.setViewBox(QRectF(0, 0, view.width(), view.height()))
    gen.setTitle("lrlab plots")
    painter = QPainter(gen)
    try:
        view.render(painter)
    finally:
        painter.end()


def export_png(item: Any, out: str, width: int, inputs: Iterable[str | Path] = ()) -> None:
    """A PNG of a pyqtgraph item (a plot, a whole layout) through pyqtgraph's ImageExporter,
    never onto one of ``inputs`` (the sessions it draws)."""
    import pyqtgraph.exporters as pgx

    exporter = pgx.ImageExporter(item)
    exporter.parameters()["width"] = int(width)
    save_image(exporter.export(toBytes=True), out, inputs)


def save_image(image: QImage | QPixmap, out: str | Path, inputs: Iterable[str | Path] = ()) -> None:
    """``image`` as a PNG at ``out``, whole or not at all: Qt's image writer says only False when
    it fails (a full disk leaves half a PNG, "libpng error" on stderr), so that is an ExportError,
    and :func:`~lrlab.core.decl.files.written` refuses a folder, a device or an input as ``out``."""
    with written(out, inputs) as tmp:
        if not image.save(str(tmp), "PNG"):
            raise ExportError(f"{out}: cannot write the PNG there (is the disk full?)")


@contextmanager
def shown_for_export(widget: QWidget, width: int, height: int) -> Iterator[QWidget]:
    """Show a new top-level ``widget`` at ``width`` x ``height`` (at least its minimum size) only
    to draw it into a file without a display (``lrlab compare --png``, ``landscape --png``), and
    close it afterwards.

    Its layout is told not to constrain the window: by default a top-level layout hands its
    minimum size to the window, Qt passes that on to the platform window as a size hint, and the
    offscreen platform, which cannot take one, prints "This plugin does not support
    propagateSizeHints()" on stderr every time. The size is set here instead, never below the
    minimum, so the drawing is the one a constrained window would give, and a headless command
    prints nothing but its output."""
    from PySide6.QtCore import QSize

    layout = widget.layout()
    if layout is not None:
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
    widget.resize(QSize(width, height).expandedTo(widget.minimumSizeHint()))
    widget.show()
    try:
        yield widget
    finally:
        widget.close()
        widget.deleteLater()


def ask_save_path(parent: QWidget, title: str, suggestion: str, file_filter: str) -> str:
    """A save dialog, in the user's home folder unless ``suggestion`` names a folder; '' when
    cancelled (a bare file name would open wherever the app was started from)."""
    if not Path(suggestion).is_absolute():
        suggestion = str(Path.home() / suggestion)
    out, _ = QFileDialog.getSaveFileName(parent, title, suggestion, file_filter)
    return out


def reported(parent: QWidget, title: str, write: Callable[[], Any]) -> Any:
    """Run a file write; a file that cannot be read or written gets a message box, not a
    traceback, and None comes back."""
    from lrlab.core.storage.export import ExportError
    from lrlab.core.storage.session import SessionError

    try:
        return write()
    except (ExportError, SessionError) as err:
        QMessageBox.warning(parent, title, str(err))
        return None


def export_plots(parent: QWidget, view: QWidget, fmt: str, out: str | None = None) -> str | None:
    """PNG or SVG of a plot layout; asks for the file unless ``out`` is given."""
    out = out or ask_save_path(parent, f"Export plots as {fmt.upper()}", f"lrlab-plots.{fmt}",
                               f"{fmt.upper()} (*.{fmt})")
    if not out:
        return None
    def write() -> bool:
        if fmt == "png":
            export_png(view.ci, out, max(1600, view.width()))  # type: ignore[attr-defined]
        else:
            export_svg(view, out)
        return True

    return out if reported(parent, "Cannot export", write) else None


def export_csv(parent: QWidget, session_path: str) -> str | None:
    from lrlab.core.storage.export import write_csv
    from lrlab.core.storage.session import Session

    out = ask_save_path(parent, "Export steps", str(Path(session_path).with_suffix(".csv")), "CSV (*.csv)")
    def write() -> bool:
        with Session.open(session_path) as s:
            write_csv(s, out)
        return True

    return out if out and reported(parent, "Cannot export", write) else None


def tensorboard_action(parent: QWidget, session: Callable[[], str | None],
                       done: Callable[[str | None], object]) -> QAction:
    """File > Export > TensorBoard…; without the tensorboard package it stays greyed and its
    tooltip says what to install (the window enables it only where :data:`TENSORBOARD`)."""
    tip = ("a TensorBoard run of this session: metrics, LR, events and the spec as hyperparameters, "
           "beside your other runs under 'tensorboard --logdir FOLDER'" if TENSORBOARD
           else f"needs the tensorboard package: {TENSORBOARD_HINT}")
    act = make_action(parent, "Export to TensorBoard…", lambda: done(export_tensorboard(parent, session())), tip=tip)
    act.setEnabled(TENSORBOARD)
    return act


def export_tensorboard(parent: QWidget, session_path: str | None, folder: str | None = None) -> str | None:
    """Write the session as ``FOLDER/<session name>/`` for TensorBoard; asks for the folder unless
    ``folder`` is given. A folder that would be overwritten gets a message, not a file."""
    from lrlab.core.storage.export import ExportError, write_tensorboard
    from lrlab.core.storage.session import Session

    if not session_path:
        return None
    folder = folder or QFileDialog.getExistingDirectory(parent, "Export to TensorBoard: the log folder",
                                                        str(Path.home()))
    if not folder:
        return None
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # TensorBoard's import takes a second or two
    try:
        with Session.open(session_path) as s:
            return str(write_tensorboard(s, folder))
    except ExportError as err:
        QMessageBox.warning(parent, "Export to TensorBoard", str(err))
        return None
    finally:
        QApplication.restoreOverrideCursor()


def export_spec(parent: QWidget, spec: RunSpec) -> str | None:
    out = ask_save_path(parent, "Export run spec", "spec.json", "JSON (*.json)")
    if out:
        Path(out).write_text(json.dumps(spec.to_json(), indent=2) + "\n", encoding="utf-8")
    return out or None


def save_session_copy(parent: QWidget, session_path: str, out: str | None = None) -> str | None:
    out = out or ask_save_path(parent, "Save session as", session_path, SESSION_FILTER)
    if out:
        shutil.copyfile(session_path, out)
    return out or None
