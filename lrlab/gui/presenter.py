"""Presenter mode (View > Presenter mode, F11; Esc leaves): the four plots fill the screen for a
lecture hall.

Full screen; the docks, toolbars, menu bar and status line hidden; fonts and lines of the plots
x1.5 (:meth:`lrlab.gui.plots.PlotPanel.set_presenter`); one thin bar on top keeps what a teacher
needs while talking: Start, Pause and Stop, the pace, the preset's title and the first sentence
of its explanation. Leaving restores the window as it was (geometry, docks, toolbars). The
window's actions stay reachable by their shortcuts (Ctrl+R, Space, Ctrl+.) with the menus hidden.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QSizePolicy, QToolBar, QToolButton, QWidget

from lrlab.gui.menus import PaceBox, make_action

#: how much larger fonts and lines are in presenter mode
SCALE = 1.5


def first_sentence(text: str) -> str:
    """The explanation's first sentence: one line fits the bar."""
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


class PresenterBar(QWidget):
    """The thin bar on top: Start / Pause / Stop, the pace, the preset's title and one line."""

    def __init__(self, window: Any) -> None:
        super().__init__()
        self.window_ = window
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * SCALE)
        self.setFont(font)
        self.buttons = []
        for act in (window.act_start, window.act_pause, window.act_stop):
            b = QToolButton(toolButtonStyle=Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setDefaultAction(act)
            lay.addWidget(b)
            self.buttons.append(b)
        lay.addWidget(QLabel(" pace "))
        self.pace = PaceBox(lambda pace: window.pace_combo.set_pace(pace))
        lay.addWidget(self.pace)
        window.pace_combo.currentIndexChanged.connect(lambda _: self.follow_pace())
        self.title = QLabel(textFormat=Qt.TextFormat.RichText)
        self.line = QLabel()
        self.line.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # elided, never wider
        lay.addSpacing(12)
        lay.addWidget(self.title)
        lay.addWidget(self.line, 1)
        self.hide()

    def follow_pace(self) -> None:
        """The toolbar's pace (a preset may have changed it): the bar shows the same."""
        self.pace.blockSignals(True)
        self.pace.set_pace(self.window_.pace_combo.currentData())
        self.pace.blockSignals(False)

    def refresh(self) -> None:
        """The preset on the form (or the run's settings) and its one-line explanation."""
        self.follow_pace()
        preset = self.window_.experiment.current_preset()
        spec = self.window_.experiment.spec
        if preset is not None:
            self.title.setText(f"<b>{preset.title}</b>")
            self.line.setText(first_sentence(preset.explanation))
            self.line.setToolTip(preset.explanation)
        else:
            self.title.setText("<b>lrlab</b>")
            self.line.setText(f"{spec.optimizer.kind}, LR {spec.lr:g}" if spec is not None else "")

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        text = self.line.toolTip() and first_sentence(self.line.toolTip())
        if text:
            self.line.setText(self.line.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight,
                                                                 max(self.line.width(), 20)))


class PresenterMode(QObject):
    """Enters and leaves presenter mode for the main window (see the module docstring)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.active = False
        self._saved: dict[str, Any] = {}
        self.bar = PresenterBar(window)
        window.centralWidget().layout().insertWidget(0, self.bar)
        self.action = make_action(window, "Presenter mode", self.toggle, "F11",
                                  "full screen with the four plots large, for a lecture hall (Esc leaves)")
        self.action.setCheckable(True)
        self.leave_action = QAction("Leave presenter mode", window, shortcut=QKeySequence(Qt.Key.Key_Escape),
                                    enabled=False)
        self.leave_action.triggered.connect(self.leave)
        # shortcuts keep working with the menu bar and toolbar hidden: the window holds the actions
        window.addActions([self.action, self.leave_action, window.act_start, window.act_pause, window.act_stop])

    def toggle(self) -> None:
        if self.active:
            self.leave()
        else:
            self.enter()

    def enter(self, full_screen: bool = True) -> None:
        """Presenter mode; ``full_screen`` False keeps the window's size (tests size it themselves)."""
        if self.active:
            return
        w = self.window
        self.active = True
        bars = [b for b in w.findChildren(QToolBar) if b.parent() is w]
        self._saved = {"state": w.saveState(), "geometry": w.saveGeometry(), "full": w.isFullScreen(),
                       "menu": w.menuBar().isVisible(), "status": w.statusBar().isVisible(),
                       "readout": w.plots.readout.isVisible(), "banner": w.banner.isVisible(), "bars": bars}
        for dock in w.findChildren(QDockWidget):
            dock.hide()
        for bar in bars:
            bar.hide()
        w.menuBar().hide()
        w.statusBar().hide()
        w.banner.hide()
        w.plots.readout.hide()  # the hover read-out is a desk tool; the room needs the plots
        w.plots.set_presenter(True)
        self.bar.refresh()
        self.bar.show()
        self.action.setChecked(True)
        self.leave_action.setEnabled(True)
        if full_screen:
            w.showFullScreen()

    def leave(self) -> None:
        """Back to the window as it was."""
        if not self.active:
            return
        w, saved = self.window, self._saved
        self.active = False
        self.bar.hide()
        self.leave_action.setEnabled(False)
        self.action.setChecked(False)
        w.plots.set_presenter(False)
        if not saved["full"]:
            w.showNormal()
        w.restoreGeometry(saved["geometry"])
        w.restoreState(saved["state"])  # the docks and toolbars as they were
        for bar in saved["bars"]:
            bar.show()
        w.menuBar().setVisible(saved["menu"])
        w.statusBar().setVisible(saved["status"])
        w.plots.readout.setVisible(saved["readout"])
        w.banner.setVisible(saved["banner"])
