"""Actions, menus and the pace choice of the main window, built from plain declarations.

The Presets menu lists the bundled presets by group, each group with a "run all and
compare" entry; every action carries its shortcut in its tooltip and status tip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QComboBox, QMenu, QWidget

from lrlab.core.decl.resources import GROUPS, Preset, icon_path, list_presets


def make_action(parent: QWidget, text: str, slot: Callable[..., Any], shortcut: Any = None, tip: str = "",
                icon: str = "") -> QAction:
    act = QAction(text, parent)
    if icon:
        act.setIcon(QIcon(str(icon_path(icon))))
    if shortcut is not None:
        act.setShortcut(QKeySequence(shortcut))
    act.setToolTip(tip or text)
    act.setStatusTip(tip or text)
    act.triggered.connect(slot)
    return act


MenuItem = Any  # a QAction, a QMenu, None (a separator) or (title, [items]) for a submenu


def fill_menu(menu: QMenu, items: list[MenuItem]) -> None:
    """Add actions, submenus and separators (None) to ``menu`` in order."""
    for item in items:
        if item is None:
            menu.addSeparator()
        elif isinstance(item, QMenu):
            menu.addMenu(item)
        elif isinstance(item, tuple):
            fill_menu(menu.addMenu(item[0]), item[1])
        else:
            menu.addAction(item)


def fill_presets_menu(menu: QMenu, load: Callable[[Preset], None],
                      run_all: Callable[[list[Preset]], None]) -> None:
    """One submenu per group in teaching order: its presets (explanations as tooltips), then
    "Run all N and compare"."""
    presets = list_presets()
    for group in dict.fromkeys(p.group for p in presets):
        members = [p for p in presets if p.group == group]
        sub = menu.addMenu(GROUPS.get(group, group or "Other"))
        sub.setToolTipsVisible(True)
        for preset in members:
            act = sub.addAction(preset.title)
            act.setToolTip(preset.explanation)
            act.setStatusTip(preset.explanation)
            act.triggered.connect(lambda _=False, p=preset: load(p))
        if len(members) > 1:
            sub.addSeparator()
            entry = sub.addAction(f"Run all {len(members)} and compare")
            entry.setStatusTip("train each of these presets in turn, then open them side by side")
            entry.triggered.connect(lambda _=False, ms=members: run_all(ms))


#: the paces the toolbar offers (steps per second; None: full speed), fastest first
PACES = (("full speed", None), ("200 steps/s", 200.0), ("50 steps/s", 50.0), ("10 steps/s", 10.0),
         ("2 steps/s", 2.0))


class PaceBox(QComboBox):
    """The toolbar's pace: slow enough to watch and to edit mid-run, or full speed. Each choice
    goes to ``on_change`` (the run controller's ``set_pace``); a preset may suggest a pace the
    list lacks, which then takes its place in it."""

    def __init__(self, on_change: Callable[[float | None], Any]) -> None:
        super().__init__(toolTip="how fast to train: slow enough to watch and to edit mid-run, "
                                 "or full speed; results are the same at any pace")
        for text, pace in PACES:
            self.addItem(text, pace)
        self.currentIndexChanged.connect(lambda _: on_change(self.currentData()))

    def set_pace(self, steps_per_second: float | None) -> None:
        """Choose a pace (steps per second, None: full speed), adding it to the list if new."""
        i = self.findData(steps_per_second)
        if i < 0:  # a new pace goes in its place: full speed, then fastest to slowest
            i = next((j for j in range(1, self.count()) if self.itemData(j) < steps_per_second), self.count())
            self.insertItem(i, f"{steps_per_second:g} steps/s", steps_per_second)
        self.setCurrentIndex(i)


def about(parent: object) -> None:
    """The About box: versions of lrlab and of what it runs on (torch's without importing it)."""
    from importlib.metadata import PackageNotFoundError, version

    import pyqtgraph
    import PySide6
    from PySide6.QtCore import qVersion
    from PySide6.QtWidgets import QMessageBox

    from lrlab import __version__

    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = "not installed"
    QMessageBox.about(parent, "About lrlab",  # type: ignore[arg-type]
                      f"<b>lrlab {__version__}</b><br>A desktop learning-rate lab.<br>License: MIT<br><br>"
                      f"Qt {qVersion()} · PySide6 {PySide6.__version__} · torch {torch_version} · "
                      f"pyqtgraph {pyqtgraph.__version__}")
