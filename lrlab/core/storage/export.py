"""Exports of a session into plain files: CSV, and a TensorBoard run (with the optional
``tensorboard`` package)."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrlab.core.decl.files import ExportError, new_folder, occupied, replaced, same_file, written
from lrlab.core.decl.metrics import (
    CSV_COLUMNS,
    EVAL_VALUES,
    FINAL,
    INT_STEP_COLUMNS,
    METRICS,
    QUANTILE_NAMES,
    STEP_COLUMNS,
)

if TYPE_CHECKING:  # the window imports this module at start-up; the session code it leaves for later
    from lrlab.core.storage.session import Session


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
    with written(out, inputs=[session.path]) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        cols = [steps[c].tolist() for c in STEP_COLUMNS]
        k = len(INT_STEP_COLUMNS)  # integer columns come first
        no_eval, no_eff = [""] * len(EVAL_VALUES), [""] * len(QUANTILE_NAMES)
        for row in zip(*cols, strict=True):
            ev, ef = by_step.get(row[0]), eff_by_step.get(row[0])
            w.writerow([*row[:k], *(_cell(x) for x in row[k:]), *([_cell(float(x)) for x in ev] if ev else no_eval),
                        *([_cell(float(x)) for x in ef] if ef else no_eff)])


# --- TensorBoard -------------------------------------------------------------------------------

TENSORBOARD_HINT = "pip install 'lrlab[tensorboard]'"


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package is installed, without importing it (the GUI asks
    while building its menus, and importing TensorBoard takes a second)."""
    try:
        return importlib.util.find_spec("tensorboard") is not None
    except (ImportError, ValueError):  # ValueError: a module blanked out in sys.modules
        return False


def _hparam(value: Any) -> Any:
    """A spec value as TensorBoard's HParams plugin takes it: a number, a word or a bool; lists
    as their JSON text."""
    return value if isinstance(value, (bool, int, float, str)) else json.dumps(value)


def write_tensorboard(session: Session, folder: str | Path) -> Path:
    """Write ``session`` as a TensorBoard run, ``folder/<session name>/``, with TensorBoard's own
    writer, so it sits beside a user's other runs under ``tensorboard --logdir folder``:

    - every metric declared in :mod:`lrlab.core.decl.metrics` as scalars under its lrlab name
      (``train_loss``, ``lr``, ``grad_norm``, ``update_ratio``, ``val_loss``, ``val_metric``,
      ``effective_lr_p50``...) at its step, with the wall time it was measured at (NaN, "not
      measured", is left out);
    - every event (edits, plateau reductions, divergence) as text under ``events`` at its step;
    - the run spec, flattened (``optimizer.lr``), with ``kind`` and ``status``, as hyperparameters
      in the HParams plugin's format; its metrics are the measured ones whose final value the
      summary keeps (``train_loss``, ``val_loss``, ``val_metric``), shown beside them.

    Never overwrites: a run folder that exists and is not empty is an ExportError. The run is
    written into a temporary folder and renamed into place, so a crash leaves no half run."""
    try:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams
    except ImportError:
        raise ExportError(f"TensorBoard export needs the tensorboard package: {TENSORBOARD_HINT}") from None
    from lrlab.core.decl.spec import flatten

    run_dir = Path(folder) / session.path.stem
    if same_file(run_dir, session.path) or same_file(folder, session.path):
        raise ExportError(f"{run_dir}: cannot write there: it is the input {session.path} (that would overwrite it); "
                          "choose another folder")
    new_folder(folder)  # at most its last level: TensorBoard's writer would make every missing one
    if occupied(run_dir):
        raise ExportError(f"{run_dir}: already exists and is not an empty folder; choose another folder "
                          "(nothing was overwritten)")
    created = session.meta.get("created")
    start = datetime.fromisoformat(created).timestamp() if created else time.time()
    steps = session.steps()
    wall_at = dict(zip(steps["step"].tolist(), steps["wall_time"].tolist(), strict=True))
    tables = {"steps": steps, "evals": session.evals(), "effective_lr": session.effective_lr("all")}
    with replaced(run_dir) as tmp:  # the run's folder appears whole (TensorBoard reads folders as they grow)
        writer = SummaryWriter(log_dir=str(tmp))
        try:
            for name, col in METRICS.items():
                table = tables[col.table]
                for step, value in zip(table["step"].tolist(), table[col.column].tolist(), strict=True):
                    if not math.isnan(value):
                        writer.add_scalar(name, value, step, walltime=start + wall_at.get(step, 0.0))
            for ev in session.events():
                writer.add_text("events", f"step {ev.step}: {ev.describe()}", ev.step,
                                walltime=start + ev.wall_time)
            summ = session.summary
            params = {k: _hparam(v) for k, v in flatten(session.spec_json).items() if v is not None}
            params.update(kind=session.kind, status=str(session.status))
            metrics = {c.name: summ[f"final_{c.name}"] for c in FINAL  # measurements, not the LR (a setting)
                       if c.smooth and summ.get(f"final_{c.name}") is not None}
            for summary in hparams(params, metrics):
                writer.file_writer.add_summary(summary)
        finally:
            writer.close()
    return run_dir
