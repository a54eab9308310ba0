"""Every file lrlab writes appears whole or not at all (lrlab.core.decl.files.replaced).

Here: the window (they need Qt); the rest are in tests/core/test_files.py.
"""

from __future__ import annotations

import os


def test_a_spec_or_settings_file_that_is_a_fifo_or_device_gets_a_message_not_a_hang(tmp_path, monkeypatch, capsys):
    from lrlab.cli import main

    fifo = tmp_path / "spec.json"
    os.mkfifo(fifo)
    assert main(["run", str(fifo)]) == 2
    assert "not a regular file (a FIFO)" in capsys.readouterr().err
    assert main(["run", "/dev/zero"]) == 2
    assert "not a regular file (a device)" in capsys.readouterr().err

    from lrlab.gui import settings

    home = tmp_path / "home"
    monkeypatch.setenv("LRLAB_HOME", str(home))
    settings.settings_file().parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(settings.settings_file())
    os.mkfifo(settings.settings_file().with_name("lrlab.ini"))
    assert settings.legacy_warning() is None
    assert settings.recent_sessions() == []  # the app starts with defaults
    assert any("not a regular file (a FIFO)" in p for p in settings.take_problems())
