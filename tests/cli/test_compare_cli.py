"""Comparing sessions: alignment, smoothing, colours, differences, targets, CSV, CLI and GUI.

Here: the commands that draw PNG or SVG files (they need Qt offscreen); the rest are in
tests/core/test_compare.py.
"""

from __future__ import annotations

from lrlab.cli import main


def test_cli_compare_prints_tables_and_writes_files(sessions, tmp_path, capsys):
    png, svg, csv_path = tmp_path / "c.png", tmp_path / "c.svg", tmp_path / "c.csv"
    assert main(["compare", str(sessions["good"]), str(sessions["slow"]), "--metric", "val_loss", "--x", "epoch",
                 "--png", str(png), "--svg", str(svg), "--csv", str(csv_path)]) == 0
    out = capsys.readouterr().out
    assert "first step val_metric >= 0.95" in out and "optimizer.lr  0.1   0.001" in out
    assert png.stat().st_size > 5000 and "<svg" in svg.read_text()[:3000] and csv_path.stat().st_size > 1000
