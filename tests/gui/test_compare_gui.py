"""Comparing sessions: alignment, smoothing, colours, differences, targets, CSV, CLI and GUI.

Here: the window (they need Qt); the rest are in tests/core/test_compare.py.
"""

from __future__ import annotations

import pytest

from lrlab.core.storage.library import Library


def test_compare_view_selects_and_toggles(qtbot, sessions, lrlab_home, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from lrlab.gui.app import make_app

    monkeypatch.setattr(QMessageBox, "information", lambda *a: pytest.fail(f"unexpected dialog: {a[1:]}"))
    from lrlab.gui.sessions import SessionsView

    make_app()
    lib = Library([next(iter(sessions.values())).parent], lrlab_home / "index.json")
    view = SessionsView(lib)
    qtbot.addWidget(view)
    picked = []
    view.sig_compare.connect(picked.append)
    rows = {item.text(0): item for item in view.all_items()}
    for name in ("good", "slow"):  # as Ctrl+click does
        rows[name].setSelected(True)
    view._compare()
    assert picked and sorted(p.rsplit("/", 1)[-1] for p in picked[0]) == ["good.lrlab", "slow.lrlab"]
    view.filter.setText("0.001")
    visible = [item.text(0) for item in view.all_items() if not item.isHidden()]
    assert visible == ["slow"]

    from lrlab.gui.compare import CompareView

    cmp = CompareView()
    qtbot.addWidget(cmp)
    cmp.open_paths(picked[0])
    assert set(cmp.curves) == {"good", "slow"}
    x, _y = cmp.curves["good"].getData()
    assert len(x) == 240
    cmp.set_visible("slow", False)
    assert not cmp.curves["slow"].isVisible() and cmp.curves["good"].isVisible()
    assert "slow" not in cmp.values_at(10) and "good: " in cmp.values_at(10)
    assert cmp.summary_table.rowCount() == 2 and cmp.diff_table.rowCount() >= 1
    assert cmp.diff_table.item(0, 0).text() == "optimizer.lr"
    cmp.x_axis.setCurrentIndex(cmp.x_axis.findData("epoch"))
    assert cmp.curves["good"].getData()[0][-1] == pytest.approx(239 / 8)


def test_sessions_view_deletes_to_the_trash_after_asking(qtbot, sessions, tmp_path, monkeypatch):
    import shutil

    from PySide6.QtWidgets import QMessageBox

    from lrlab.gui.app import make_app
    from lrlab.gui.sessions import SessionsView

    make_app()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the trash lives here
    folder = tmp_path / "lib"
    folder.mkdir()
    for name in ("good", "slow"):
        shutil.copy(sessions[name], folder / f"{name}.lrlab")
    view = SessionsView(Library([folder], tmp_path / "index.json"))
    qtbot.addWidget(view)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    next(item for item in view.all_items() if item.text(0) == "slow").setSelected(True)
    view._delete()
    assert asked and "slow.lrlab" in asked[0]
    assert not (folder / "slow.lrlab").exists() and (folder / "good.lrlab").exists()
    assert [item.text(0) for item in view.all_items()] == ["good"]
