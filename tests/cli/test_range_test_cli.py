"""The LR range test: pure rules on constructed curves, the seeded run kind, sessions and `lrlab find-lr`.

Here: the commands that draw PNG or SVG files (they need Qt offscreen); the rest are in
tests/core/test_range_test.py.
"""

from __future__ import annotations

from lrlab.cli import main

# --- the ramp, the smoothing, the stop rule --------------------------------------------------------


def test_find_lr_prints_a_table_and_draws_a_png(tmp_path, capsys):
    png = tmp_path / "find.png"
    assert main(["find-lr", "adam", "--iters", "60", "--seeds", "1", "--mode", "exp", "--quiet",
                 "--set", "epochs=3", "--out", str(tmp_path / "a.lrlab"), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].endswith("a.lrlab") and lines[1].startswith("range test: ")
    assert [line.split()[0] for line in lines[3:6]] == ["steepest", "valley", "minimum"]
    assert png.stat().st_size > 5000 and lines[-1] == str(png)
