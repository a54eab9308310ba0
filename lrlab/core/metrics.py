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
    text: bool = False  # a TEXT column (the layer name of the effective-LR table)
    #: where a plottable metric lives when its name is not its column: (SQL column, row filter),
    #: e.g. effective_lr_p50 is column p50 of the rows for all parameters
    source: tuple[str, str] | None = None

    def sql(self, key: bool = False) -> str:
        kind = "TEXT" if self.text else "INTEGER" if self.integer else "REAL"
        if key:
            return f"{self.name} INTEGER PRIMARY KEY"
        return f"{self.name} {kind}" + ("" if self.nullable else " NOT NULL")

    @property
    def column(self) -> str:
        """The SQL column holding this metric."""
        return self.source[0] if self.source else self.name

    @property
    def where(self) -> str:
        """The SQL condition selecting its rows ('' for every row)."""
        return self.source[1] if self.source else ""


#: one row per optimizer step; integer columns first (the trainer's buffer relies on it)
STEP = (
    Column("step", "step", "steps", integer=True, nullable=False, plotted=False),
    Column("epoch", "epoch", "steps", integer=True, nullable=False, plotted=False),
    Column("samples", "samples seen", "steps", integer=True, nullable=False, plotted=False),
    Column("wall_time", "wall time", "steps", nullable=False, unit="s", plotted=False),
    Column("train_loss", "training loss", "steps", smooth=True, log_default=True),
    Column("lr", "learning rate", "steps", nullable=False),
    Column("grad_norm", "gradient norm", "steps", smooth=True, log_default=True),
    Column("update_ratio", "update ratio ||Δw||/||w||", "steps", smooth=True, log_default=True),
)

#: one row per validation
EVAL = (
    Column("step", "step", "evals", integer=True, nullable=False, plotted=False),
    Column("epoch", "epoch", "evals", integer=True, nullable=False, plotted=False),
    Column("val_loss", "validation loss", "evals", smooth=True, log_default=True),
    Column("val_metric", "validation accuracy / R²", "evals", smooth=True),
)

#: the quantiles of the per-parameter effective LR (lrlab.core.effective_lr), every
#: effective_lr_every steps, over all parameters (layer "all") and per parameter tensor
QUANTILE_NAMES = ("p5", "p25", "p50", "p75", "p95")
EFFECTIVE = (
    Column("step", "step", "effective_lr", integer=True, nullable=False, plotted=False),
    Column("layer", "layer", "effective_lr", nullable=False, plotted=False, text=True),
    *(Column(q, f"effective LR {q}", "effective_lr", log_default=True, plotted=False) for q in QUANTILE_NAMES),
)
#: the effective-LR quantiles over all parameters as plottable metrics (compare, CSV)
EFFECTIVE_METRICS = tuple(
    Column(f"effective_lr_{q}", f"effective LR ({'median' if q == 'p50' else q})", "effective_lr",
           log_default=True, source=(q, "layer = 'all'")) for q in QUANTILE_NAMES)

STEP_COLUMNS = tuple(c.name for c in STEP)
EFFECTIVE_COLUMNS = tuple(c.name for c in EFFECTIVE)
EVAL_COLUMNS = tuple(c.name for c in EVAL)
INT_STEP_COLUMNS = tuple(c.name for c in STEP if c.integer)
FLOAT_STEP_COLUMNS = tuple(c.name for c in STEP if not c.integer)
assert STEP_COLUMNS == INT_STEP_COLUMNS + FLOAT_STEP_COLUMNS, "integer step columns come first"

#: every plottable metric by name, steps first, in the order menus list them
METRICS: dict[str, Column] = {c.name: c for c in (*STEP, *EVAL, *EFFECTIVE_METRICS) if c.plotted}
#: the evaluation values a CSV row of a step carries after the step columns
EVAL_VALUES = tuple(c.name for c in EVAL if c.plotted)
EFFECTIVE_VALUES = tuple(c.name for c in EFFECTIVE_METRICS)
CSV_COLUMNS = (*STEP_COLUMNS, *EVAL_VALUES, *EFFECTIVE_VALUES)
INTEGER_COLUMNS = frozenset(c.name for c in (*STEP, *EVAL) if c.integer)
TABLES = {"steps": STEP, "evals": EVAL, "effective_lr": EFFECTIVE}


def table_sql(table: str) -> str:
    """``CREATE TABLE`` for a metric table, from the declarations: ``step`` is the row id of
    the steps and evals tables; the effective-LR table has a row per (step, layer)."""
    cols = TABLES[table]
    if table == "effective_lr":
        return (f"CREATE TABLE {table} ({', '.join(c.sql() for c in cols)}, PRIMARY KEY (step, layer)) "
                "WITHOUT ROWID;")
    return f"CREATE TABLE {table} ({', '.join(c.sql(key=c.name == 'step') for c in cols)});"
