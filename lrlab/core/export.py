"""Exports of a session into plain files."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from lrlab.core.metrics import CSV_COLUMNS, EVAL_VALUES, INT_STEP_COLUMNS, QUANTILE_NAMES, STEP_COLUMNS
from lrlab.core.session import Session


def _cell(x: float) -> str:
    """A float as the shortest text that reads back exactly; empty for "not measured".
    ``float()`` first: numpy 2 scalars repr as ``np.float64(0.83)``, which spreadsheets read as text."""
    x = float(x)
    return "" if math.isnan(x) else repr(x)


def write_csv(session: Session, out: str | Path) -> None:
    """One row per step (numbered from 0); evaluation columns are empty where none ran."""
    steps = session.steps()
    evals = session.evals()
    by_step = {int(s): vals for s, *vals in zip(evals["step"], *(evals[c] for c in EVAL_VALUES), strict=True)}
    eff = session.effective_lr("all")
    eff_by_step = {int(s): vals for s, *vals in zip(eff["step"], *(eff[q] for q in QUANTILE_NAMES), strict=True)}
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        cols = [steps[c].tolist() for c in STEP_COLUMNS]
        k = len(INT_STEP_COLUMNS)  # integer columns come first
        no_eval, no_eff = [""] * len(EVAL_VALUES), [""] * len(QUANTILE_NAMES)
        for row in zip(*cols, strict=True):
            ev, ef = by_step.get(row[0]), eff_by_step.get(row[0])
            w.writerow([*row[:k], *(_cell(x) for x in row[k:]), *([_cell(float(x)) for x in ev] if ev else no_eval),
                        *([_cell(float(x)) for x in ef] if ef else no_eff)])
