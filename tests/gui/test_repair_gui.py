"""Repair never loses a backup and never runs a file's code; hostile companions and writer meta
get messages (issue 30, items 8 and 11).

Here: the window (they need Qt); the rest are in tests/core/test_repair.py.
"""

from __future__ import annotations

import shutil


def test_settings_that_do_not_parse_are_kept_and_a_settings_file_in_the_way_is_named(lrlab_home):
    from lrlab.gui import settings

    path = settings.settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ my hand edit, broken")
    assert settings.recent_sessions() == []
    problems = settings.take_problems()
    assert any("kept it as settings.json.bad-1" in p for p in problems), problems
    assert (path.parent / "settings.json.bad-1").read_text() == "{ my hand edit, broken"
    path.write_text("[1, 2]")  # another broken one later: a new name, the first kept
    settings.recent_sessions()
    assert (path.parent / "settings.json.bad-2").read_text() == "[1, 2]"
    settings.remember_recent("/tmp/x.lrlab")  # the next save starts afresh
    assert settings.recent_sessions() == ["/tmp/x.lrlab"]

    shutil.rmtree(path.parent)
    path.parent.write_text("not a folder")  # $LRLAB_HOME/settings is a file
    assert settings.recent_sessions() == [] and settings.legacy_warning() is None
    settings.remember_recent("/tmp/y.lrlab")  # cannot save: said, not raised
    assert any("cannot save settings" in p for p in settings.take_problems())
