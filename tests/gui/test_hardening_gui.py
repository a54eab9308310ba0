"""Run specs from anywhere (a file, a session someone sent, --set) are checked like the user's own:
every bad value is exit 2 with one line naming the field, sizes that would not fit the machine are
refused before anything is allocated, and a replay never downloads or writes outside its folders.

Here: the window (they need Qt); the rest are in tests/core/test_hardening.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from lrlab.core.decl.spec import RunSpec

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
        "optimizer": {"name": "sgd", "lr": 0.1}, "steps": 12, "batch_size": 16, "device": "cpu"}


# --- values a float or an int cannot hold, nesting, splits -------------------------------------------


PAYLOAD = """
import sys
from PySide6.QtCore import QSettings

class Creates:
    def __reduce__(self):
        return (open, (sys.argv[2], "w"))

s = QSettings(sys.argv[1], QSettings.Format.IniFormat)
s.setValue("last_experiment", Creates())
s.sync()
"""


def test_a_settings_file_carrying_a_pickled_object_is_never_loaded(lrlab_home, tmp_path, qtbot, capfd):
    import subprocess
    import sys

    from PySide6.QtCore import QSettings

    from lrlab.core.decl import paths
    from lrlab.gui.app import make_app
    from lrlab.gui.window import MainWindow

    ini, target = paths.settings_dir() / "lrlab.ini", tmp_path / "created-by-the-settings-file"
    subprocess.run([sys.executable, "-c", PAYLOAD, str(ini), str(target)], check=True, timeout=120)
    assert "@Variant(" in ini.read_text(errors="replace") and not target.exists()
    QSettings(str(ini), QSettings.Format.IniFormat).value("last_experiment")  # what older versions did
    assert target.exists(), "the payload must be live for this test to mean anything"
    target.unlink()

    make_app()
    w = MainWindow()
    qtbot.addWidget(w)
    assert not target.exists()
    assert w.experiment.json() == RunSpec.from_json({}).to_json()
    warnings = [line for line in capfd.readouterr().err.splitlines() if line.startswith("lrlab: warning:")]
    assert warnings == [f"lrlab: warning: ignored {ini}: it holds a Python object (@Variant), which could run "
                        "code if loaded; lrlab starts with default settings"]
    assert w.status_label.text() == warnings[0].removeprefix("lrlab: warning: ")
    w.save_settings()
    assert not target.exists() and "@Variant" not in (paths.settings_dir() / "settings.json").read_text()


@pytest.mark.parametrize("saved,restored", [
    ({**SPEC, "optimizer": {"name": "sgd", "lr": 0.1}, "steps": 3000, "schedule": {"kind": "exponential", "gamma": 2}},
     "exponential"),
    ({**SPEC, "optimizer": {"name": "sgd", "lr": -1}}, None),
    ({**SPEC, "schedule": {"kind": "warmup", "warmup_steps": 1, "then": {"kind": "constant"}} | {"extra": 1}}, None),
    ("not an object", None),
])
def test_a_restored_experiment_that_cannot_run_falls_back_to_the_defaults(lrlab_home, qtbot, capfd, saved,
                                                                          restored):
    from lrlab.gui import settings
    from lrlab.gui.app import make_app
    from lrlab.gui.window import MainWindow

    settings.save_experiment(saved)  # as the last session of the GUI left it
    make_app()
    w = MainWindow()
    qtbot.addWidget(w)
    form = w.experiment.json()
    err = capfd.readouterr().err
    if restored:  # valid: shown as saved, and its LR preview is finite (it is held at MAX_LR)
        assert form["schedule"]["kind"] == restored and "warning" not in err
        from lrlab.core.decl.spec import preview_timeline

        lrs = preview_timeline(RunSpec.from_json(form)).sample(0, 3000)[1]
        assert np.isfinite(lrs).all()
    else:
        assert form == RunSpec.from_json({}).to_json()
        if isinstance(saved, dict):
            assert "lrlab: warning: the last experiment could not be restored (" in err
            assert "showing the defaults" in w.status_label.text()


def test_the_window_says_where_the_file_stopped_and_save_as_keeps_the_whole_run(full_disk, window, qtbot, tmp_path):
    from lrlab.core.storage.session import Session

    full_disk[0] = 0
    window.experiment.set_json(RunSpec.from_json({**SPEC, "steps": 300}).to_json())
    with qtbot.waitSignal(window.controller.sig_finished, timeout=60_000):
        window.start(out=str(tmp_path / "full.lrlab"))  # Start, with the file on the full disk
    text = window.status_label.text()
    assert text.startswith("finished · 300 steps · the session file stopped at step 0: database or disk is full")
    assert text.endswith("File > Save session as… writes the whole run elsewhere")
    events = [window.events.item(i).text() for i in range(window.events.count())]
    assert [e.split(": ", 1)[1] for e in events] == ["the session file stopped at step 0: database or disk is full"]
    out = window.sessions.save_session_as(str(tmp_path / "whole.lrlab"))
    with Session.open(out) as s:
        assert s.n_steps() == 300 and s.status == "finished"
