"""The Experiment form's "Your table…" and "Image folder…": pickers, the target chooser, and the
core's problems with the files shown inline with Start held back."""

from __future__ import annotations

import pandas as pd
from fakedata import write_image_folder
from PySide6.QtWidgets import QFileDialog

from lrlab.gui.experiment import ExperimentPanel
from lrlab.gui.owndata import PathPicker, TargetChooser


def choose(panel: ExperimentPanel, label: str) -> None:
    """Pick an entry of the dataset chooser as a user does (``activated`` fires only for users)."""
    combo = panel.dataset.combo
    index = combo.findText(label)
    assert index >= 0, [combo.itemText(i) for i in range(combo.count())]
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_your_table_opens_a_picker_and_offers_its_columns_as_targets(qtbot, tmp_path, monkeypatch):
    csv = tmp_path / "houses.csv"
    pd.DataFrame({"rooms": [1, 2, 3, 4] * 10, "area": [30.0, 55, 80, 120] * 10,
                  "kind": ["flat", "flat", "house", "house"] * 10}).to_csv(csv, index=False)
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *a, **k: (asked.append(a[1]) or str(csv), "Tables"))
    panel = ExperimentPanel()
    qtbot.addWidget(panel)
    choose(panel, "Your table…")
    assert asked == ["Your table"]
    form = panel.dataset.form
    picker, target = form.fields["path"].widget, form.fields["target"].widget
    assert isinstance(picker, PathPicker) and isinstance(target, TargetChooser)
    assert picker.value() == str(csv)
    assert [target.itemText(i) for i in range(target.count())] == ["rooms", "area", "kind"]
    assert target.currentText() == "kind"  # the last column, where labels usually are
    assert panel.validate() is not None and panel.validate().task == "classification"

    target.setCurrentText("price")  # no such column: said beside the field, Start held back
    assert panel.validate() is None
    assert "no column 'price' in houses.csv; its columns: rooms, area, kind" in form.errors["target"].text()
    target.setCurrentText("area")
    assert panel.validate().task == "regression"


def test_an_image_folder_without_class_folders_is_refused_inline(qtbot, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    picked = [str(empty)]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: picked[0])
    panel = ExperimentPanel()
    qtbot.addWidget(panel)
    choose(panel, "Image folder…")
    form = panel.dataset.form
    assert panel.validate() is None and "has no class folders" in form.errors["path"].text()
    picked[0] = str(write_image_folder(tmp_path / "photos", classes=2, per_class=3))
    form.fields["path"].widget.browse()
    assert panel.validate() is not None and form.errors["path"].text() == ""


def test_image_folder_after_your_table_opens_the_folder_picker(qtbot, tmp_path, monkeypatch):
    """The form keeps the table's file when the user switches to "Image folder…": the folder
    picker still opens, instead of a "is a file, not a folder" message and no picker."""
    csv = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0, 2.0] * 10, "y": [0, 1] * 10}).to_csv(csv, index=False)
    photos = write_image_folder(tmp_path / "photos", classes=2, per_class=3)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(csv), "Tables"))
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: asked.append(a[1]) or str(photos))
    panel = ExperimentPanel()
    qtbot.addWidget(panel)
    choose(panel, "Your table…")
    choose(panel, "Image folder…")
    assert asked == ["Image folder"]
    assert panel.dataset.form.fields["path"].widget.value() == str(photos)
    assert panel.dataset.form.errors["path"].text() == ""
