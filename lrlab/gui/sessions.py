"""The Sessions window: the session library as a table (forks under the run they branched off),
and the compare view beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QFile, QFileSystemWatcher, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lrlab.core.storage.library import Entry, Library
from lrlab.core.storage.session import SessionError
from lrlab.gui.compare import CompareView
from lrlab.gui.style import fit_to_screen

COLUMNS = (("name", "name"), ("created", "date"), ("dataset", "dataset"), ("model", "model"),
           ("optimizer", "optimizer"), ("lr", "base LR"), ("schedule", "schedule"), ("batch_size", "batch"),
           ("seed", "seed"), ("steps", "steps"), ("status", "status"), ("final_val_metric", "final val metric"),
           ("best_val_metric", "best val metric"))


class SessionItem(QTreeWidgetItem):
    """A row; numbers sort as numbers, and "-" (not measured) first."""

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        col = self.treeWidget().sortColumn() if self.treeWidget() else 0
        a, b = self.data(col, Qt.ItemDataRole.UserRole + 1), other.data(col, Qt.ItemDataRole.UserRole + 1)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return str(self.text(col)) < str(other.text(col))


def _cell(value: Any) -> tuple[str, Any]:
    """(text shown, value sorted by) of a cell; None shows as '-'."""
    if value is None:
        return "-", float("-inf")
    if isinstance(value, float):
        return f"{value:.4g}", value
    return str(value), value


class SessionsView(QWidget):
    """A sortable, filterable table of every session, forks under their parent; select rows to
    open or compare them."""

    sig_open = Signal(str)
    sig_compare = Signal(list)

    def __init__(self, library: Library | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.library = library or Library()
        self.entries: list[Entry] = []
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter: any text in a row, e.g. adam, cosine, diverged")
        self.filter.setClearButtonEnabled(True)
        self.table = QTreeWidget()
        self.table.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.table.setRootIsDecorated(True)
        self.table.setUniformRowHeights(True)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # newest first, as the library lists them
        self.table.itemDoubleClicked.connect(lambda *_: self._open())
        bar = QHBoxLayout()
        for text, slot, tip in (("Open", self._open, "show the session's curves in the main window"),
                                ("Compare selected", self._compare, "overlay two or more sessions"),
                                ("Rename…", self._rename, ""), ("Delete…", self._delete, "move to the trash"),
                                ("Reveal", self._reveal, "show in the file manager"),
                                ("Add folder…", self._add_folder, "also list sessions from another folder"),
                                ("Refresh", self.refresh, "")):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            bar.addWidget(b)
        bar.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.filter)
        lay.addWidget(self.table, 1)
        lay.addLayout(bar)
        self.filter.textChanged.connect(self._apply_filter)
        # refresh when files appear, change or go, at most twice a second
        self.watcher = QFileSystemWatcher(self)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(500)
        self._debounce.timeout.connect(self.refresh)
        self.watcher.directoryChanged.connect(lambda _: self._debounce.start())
        self.refresh()

    def refresh(self) -> None:
        self.entries = self.library.refresh()
        for folder in self.library.folders:
            if folder.is_dir() and str(folder) not in self.watcher.directories():
                self.watcher.addPath(str(folder))
        t = self.table
        t.setSortingEnabled(False)
        t.clear()
        t.setColumnCount(len(COLUMNS))
        t.setHeaderLabels([label for _, label in COLUMNS])
        items: dict[str, SessionItem] = {}
        rows = []
        for e in self.entries:
            item = SessionItem()
            for j, (key, _) in enumerate(COLUMNS):
                value = getattr(e, key)
                text, sort = _cell(value[:19].replace("T", " ") if key == "created" and value else value)
                item.setText(j, text)
                item.setData(j, Qt.ItemDataRole.UserRole + 1, sort)
            item.setData(0, Qt.ItemDataRole.UserRole, e.path)
            if e.parent_id:
                item.setToolTip(0, f"forked at step {e.fork_step}")
            items.setdefault(e.id or e.path, item)
            rows.append((e, item))
        for e, item in rows:  # a fork goes under its parent when the parent is listed too
            parent = items.get(e.parent_id) if e.parent_id else None
            (parent.addChild if parent is not None and parent is not item else t.addTopLevelItem)(item)
        t.setSortingEnabled(True)
        t.expandAll()
        for j in range(len(COLUMNS)):
            t.resizeColumnToContents(j)
        self._apply_filter()

    def all_items(self) -> list[QTreeWidgetItem]:
        """Every row, parents before their forks."""
        out: list[QTreeWidgetItem] = []
        stack = [self.table.topLevelItem(i) for i in reversed(range(self.table.topLevelItemCount()))]
        while stack:
            item = stack.pop()
            out.append(item)
            stack += [item.child(i) for i in reversed(range(item.childCount()))]
        return out

    def _apply_filter(self) -> None:
        """Rows matching every word; a fork that matches keeps its parent row visible."""
        words = self.filter.text().lower().split()
        for item in reversed(self.all_items()):  # forks first, so a parent knows if one shows
            text = " ".join(item.text(j).lower() for j in range(self.table.columnCount()))
            shown = all(w in text for w in words) or any(not item.child(i).isHidden()
                                                          for i in range(item.childCount()))
            item.setHidden(not shown)

    def selected_paths(self) -> list[str]:
        return [i.data(0, Qt.ItemDataRole.UserRole) for i in self.all_items() if i.isSelected()]

    def _open(self) -> None:
        paths = self.selected_paths()
        if paths:
            self.sig_open.emit(paths[0])

    def _compare(self) -> None:
        paths = self.selected_paths()
        if len(paths) < 2:
            QMessageBox.information(self, "Compare", "Select two or more sessions (Ctrl+click) to compare.")
            return
        self.sig_compare.emit(paths)

    def _rename(self) -> None:
        paths = self.selected_paths()
        if len(paths) != 1:
            return
        name, ok = QInputDialog.getText(self, "Rename session", "New name:", text=Path(paths[0]).stem)
        if ok:
            try:
                self.library.rename(paths[0], name)
            except (ValueError, OSError) as err:
                QMessageBox.warning(self, "Rename", str(err))
            self.refresh()

    def _delete(self) -> None:
        paths = self.selected_paths()
        if not paths:
            return
        answer = QMessageBox.question(self, "Delete sessions",
                                      f"Move {len(paths)} session(s) to the trash?\n" +
                                      "\n".join(Path(p).name for p in paths[:10]))
        if answer != QMessageBox.StandardButton.Yes:
            return
        for p in paths:
            if not QFile.moveToTrash(p):  # no trash here (a server, a portable drive): ask again
                again = QMessageBox.question(self, "No trash", f"{Path(p).name} cannot go to a trash "
                                             "on this system. Delete it for good?")
                if again == QMessageBox.StandardButton.Yes:
                    self.library.delete(p)
        self.refresh()

    def _reveal(self) -> None:
        paths = self.selected_paths()
        if paths:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(paths[0]).parent)))

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of sessions")
        if folder:
            self.library.add_folder(folder)
            self.refresh()


class SessionsWindow(QMainWindow):
    """Sessions | Compare, in one window next to the lab."""

    def __init__(self, open_in_lab: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("lrlab — sessions")
        fit_to_screen(self, 1300, 820)
        self.sessions = SessionsView()
        self.compare = CompareView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.sessions, "Sessions")
        self.tabs.addTab(self.compare, "Compare")
        self.setCentralWidget(self.tabs)
        self.sessions.sig_open.connect(open_in_lab)
        self.sessions.sig_compare.connect(self.compare_paths)
        self.compare.sig_message.connect(self.statusBar().showMessage)
        close = self.menuBar().addMenu("&Window").addAction("Close")
        close.setShortcut(QKeySequence.StandardKey.Close)
        close.triggered.connect(self.close)

    def compare_paths(self, paths: list[str]) -> bool:
        try:
            self.compare.open_paths(paths)
        except SessionError as err:
            QMessageBox.warning(self, "Cannot compare", str(err))
            return False
        self.tabs.setCurrentWidget(self.compare)
        self.show()
        self.raise_()
        return True
