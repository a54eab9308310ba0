"""The metric columns of a run, declared once.

Each :class:`Column` says what a number is (label, unit), where it lives (the per-step
table or the evaluation table), how it is stored (integer or float, nullable) and how
it is best shown (log scale by default, smoothed or not). The trainer's buffers, the
session file's SQL schema, the CSV header, the compare view's metric list, the CLI's
``--metric`` choices and the plot panels are all built from these tuples, so a new
metric is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    table: str  # "steps" (one row per optimizer step) or "evals" (one row per validation)
    integer: bool = False
    nullable: bool = True  # NULL (NaN in numpy) where not measured, e.g. the sampled update ratio
    unit: str = ""
    log_default: bool = False  # a log y axis shows it best
    smooth: bool = False  # a noisy measurement that an EMA may smooth (never a setting like the LR)
    plotted: bool = True  # a metric one can plot (not a position such as step or wall time)

    def sql(self) -> str:
        kind = "INTEGER" if self.integer else "REAL"
        if self.name == "step":
            return "step INTEGER PRIMARY KEY"
        return f"{self.name} {kind}" + ("" if self.nullable else " NOT NULL")


#: one row per optimizer step; integer columns first (the trainer's buffer relies on it)
STEP = (
    Column("step", "step", "steps", integer=True, nullable=False, plotted=False),
    Column("epoch", "epoch", "steps", integer=True, nullable=False, plotted=False),
    Column("samples", "samples seen", "steps", integer=True, nullable=False, plotted=False),
    Column("wall_time", "wall time", "steps", nullable=False, unit="s", plotted=False),
    Column("train_loss", "training loss", "steps", smooth=True),
    Column("lr", "learning rate", "steps", nullable=False),
    Column("grad_norm", "gradient norm", "steps", smooth=True, log_default=True),
    Column("update_ratio", "update ratio ||Δw||/||w||", "steps", smooth=True, log_default=True),
)

#: one row per validation
EVAL = (
    Column("step", "step", "evals", integer=True, nullable=False, plotted=False),
    Column("epoch", "epoch", "evals", integer=True, nullable=False, plotted=False),
    Column("val_loss", "validation loss", "evals", smooth=True),
    Column("val_metric", "validation accuracy / R²", "evals", smooth=True),
)

STEP_COLUMNS = tuple(c.name for c in STEP)
EVAL_COLUMNS = tuple(c.name for c in EVAL)
INT_STEP_COLUMNS = tuple(c.name for c in STEP if c.integer)
FLOAT_STEP_COLUMNS = tuple(c.name for c in STEP if not c.integer)
assert STEP_COLUMNS == INT_STEP_COLUMNS + FLOAT_STEP_COLUMNS, "integer step columns come first"

#: every plottable metric by name, steps first, in the order menus list them
METRICS: dict[str, Column] = {c.name: c for c in (*STEP, *EVAL) if c.plotted}
#: the evaluation values a CSV row of a step carries after the step columns
EVAL_VALUES = tuple(c.name for c in EVAL if c.plotted)
CSV_COLUMNS = (*STEP_COLUMNS, *EVAL_VALUES)
INTEGER_COLUMNS = frozenset(c.name for c in (*STEP, *EVAL) if c.integer)


def table_sql(table: str) -> str:
    """``CREATE TABLE`` for the steps or evals table, from the declarations."""
    cols = STEP if table == "steps" else EVAL
    return f"CREATE TABLE {table} ({', '.join(c.sql() for c in cols)});"


def metric_label(name: str, task: str = "classification") -> str:
    """The label of a metric, specific to the task where it differs (accuracy or R²)."""
    if name == "val_metric":
        return "validation accuracy" if task == "classification" else "validation R²"
    return METRICS[name].label
