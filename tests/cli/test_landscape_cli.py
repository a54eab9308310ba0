"""The loss landscape playground: surfaces, real optimizer steps, the run kind, the CLI and the window.

Here: the commands that draw PNG or SVG files (they need Qt offscreen); the rest are in
tests/core/test_landscape.py.
"""

from __future__ import annotations

import csv

from lrlab.cli import main
from lrlab.core.features.landscape import (
    CSV_COLUMNS,
)

# --- surfaces ---------------------------------------------------------------------------------


def test_cli_prints_final_points_and_writes_csv_and_png(tmp_path, capsys):
    png, table = tmp_path / "l.png", tmp_path / "l.csv"
    assert main(["landscape", "quadratic", "--opt", "sgd:lr=0.1", "--opt", "adam:lr=0.05,betas=0.9:0.999",
                 "--opt", "sgd:lr=0.25", "--start=-2,0.5", "--steps", "150",
                 "--png", str(png), "--csv", str(table)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("quadratic: f(x, y) = (x^2 + 10 y^2) / 2; start (-2, 0.5)")
    assert "2/L = 0.2" in lines[1]
    assert lines[2].startswith("1  sgd lr=0.1") and "final (" in lines[2] and "converged at step" in lines[2]
    assert lines[3].startswith("2  adam lr=0.05")
    assert lines[4].startswith("3  sgd lr=0.25") and "diverged at step" in lines[4]
    assert next(csv.reader(table.open())) == list(CSV_COLUMNS)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
