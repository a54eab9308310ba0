"""Exports of a session into plain files."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from lrlab.core.session import STEP_COLUMNS, Session

CSV_COLUMNS = (*STEP_COLUMNS, "val_loss", "val_metric")


def _cell(x: float) -> str:
    """A float as the shortest text that reads back exactly; empty for "not measured".
    ``float()`` first: numpy 2 scalars repr as ``np.float64(0.83)``, which spreadsheets read as text."""
    x = float(x)
    return "" if math.isnan(x) else repr(x)


def write_csv(session: Session, out: str | Path) -> None:
    """One row per step (numbered from 0); evaluation columns are empty where none ran."""
    steps = session.steps()
    evals = session.evals()
    by_step = {int(s): (vl, vm) for s, vl, vm in zip(evals["step"].tolist(), evals["val_loss"].tolist(),
                                                      evals["val_metric"].tolist(), strict=True)}
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        cols = [steps[c].tolist() for c in STEP_COLUMNS]
        for row in zip(*cols, strict=True):
            ev = by_step.get(row[0])
            ints, floats = row[:3], row[3:]
            w.writerow([*ints, *(_cell(x) for x in floats),
                        *((_cell(ev[0]), _cell(ev[1])) if ev else ("", ""))])
