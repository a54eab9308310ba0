"""The metric columns of a run, declared once.

Each :class:`Column` says what a number is (label, unit), where it lives (the per-step
table or the evaluation table), how it is stored (integer or float, nullable), how it is
sampled (every step, every N steps, at evaluations), how it is best shown (log scale by
default, smoothed or not) and how the live plot panel draws it (:class:`Curve`: panel,
style, colour, legend, read-out). The session file's SQL schema and the reader's column
checks, the summary, the CSV header, the TensorBoard scalars, the compare view's metric
list, the CLI's ``--metric`` choices and the plot panels' curves are all built from these
tuples, so a new metric is one declaration here (plus its test). A nullable column may be
added without a format bump: reading a file written before it gives NULL (NaN) for it.

Code that needs one metric by its role (the training loss of a progress line, the LR of a
replay check) names it through the constants below (``TRAIN_LOSS.name``), never as a string:
``tests/core/test_metrics.py`` fails on a metric name written as a literal anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the live plot panel's plots a metric may be drawn in (lrlab.gui.plots.PlotPanel.p_<panel>)
PANELS = ("loss", "lr", "metric", "grad")
#: how a curve is drawn: "envelope", a noisy series as its min and max per pixel, 1 px wide
#: (faint when its EMA is drawn over it); "line", a smooth series sampled, 2 px; "markers", a
#: dot per value; "markers+line", dots joined by a 1 px line
STYLES = ("envelope", "line", "markers", "markers+line")


@dataclass(frozen=True)
class Curve:
    """How the live plot panel draws a metric: which panel, in what style and colour, under
    which legend, and how the hover read-out names it."""

    panel: str  # one of PANELS
    legend: str  # the curve's name in its panel's legend
    colour: str  # a colour role of lrlab.gui.style.ROLES
    style: str = "envelope"  # one of STYLES
    #: legend of a debiased EMA drawn over it, 2 px, with the panel's smoothing ("" for none);
    #: saved runs drawn under a live one are smoothed the same way
    ema: str = ""
    #: its name in the hover read-out, "{task}" standing for the task's metric word ("" leaves it out)
    readout: str = ""
    fmt: str = ".4g"  # the read-out's number format
    reference: bool = False  # drawn, faintly, for saved runs shown under the live one


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    table: str  # "steps" (one row per optimizer step) or "evals" (one row per validation)
    integer: bool = False
    #: NULL (NaN in numpy) where not measured, e.g. the sampled update ratio. A reader of a file
    #: written before a nullable column existed gets NULL for it; a non-nullable one must be there.
    nullable: bool = True
    unit: str = ""
    log_default: bool = False  # a log y axis shows it best
    smooth: bool = False  # a noisy measurement that an EMA may smooth (never a setting like the LR)
    plotted: bool = True  # a metric one can plot (not a position such as step or wall time)
    text: bool = False  # a TEXT column (the layer name of the effective-LR table)
    #: where a plottable metric lives when its name is not its column: (SQL column, row filter),
    #: e.g. effective_lr_p50 is column p50 of the rows for all parameters
    source: tuple[str, str] | None = None
    #: a step metric measured only every N steps, N being the RunSpec field named here; its other
    #: rows are NULL, and curves, targets and series skip them ("" for every step)
    every: str = ""
    curve: Curve | None = None  # how the live plot panel draws it (None: not drawn there)
    final: bool = False  # the run's summary keeps its last value (final_<name>; None if not finite)
    #: the summary keeps its best value and the step of it (best_<name>, best_<name>_step):
    #: "min" or "max" is which is best, "" keeps none
    best: str = ""

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

    @property
    def sparse(self) -> bool:
        """Whether its rows hold NULL where it was not sampled (skipped when drawn or searched),
        rather than where a measurement failed (a diverged loss, which a curve must show)."""
        return bool(self.every)

    @property
    def sampling(self) -> str:
        """How often it is measured, in words (documentation, ``lrlab`` help)."""
        if self.table == "evals":
            return "at each evaluation"
        if self.table == "effective_lr":
            return "every effective_lr_every steps"
        return f"every {self.every} steps" if self.every else "every step"


#: the metrics code refers to by their role (a progress line's loss and LR, a plateau's default
#: monitor); everything else reaches them through the tables below
TRAIN_LOSS = Column("train_loss", "training loss", "steps", smooth=True, log_default=True, final=True,
                    curve=Curve("loss", "train (raw)", "loss", ema="train (smoothed)", readout="loss",
                                reference=True))
LR = Column("lr", "learning rate", "steps", nullable=False, final=True,
            curve=Curve("lr", "LR used", "lr", style="line", readout="LR", reference=True))
GRAD_NORM = Column("grad_norm", "gradient norm", "steps", smooth=True, log_default=True,
                   curve=Curve("grad", "gradient norm", "grad", readout="grad norm", fmt=".3g"))
UPDATE_RATIO = Column("update_ratio", "update ratio ||Δw||/||w||", "steps", smooth=True, log_default=True,
                      every="update_ratio_every", curve=Curve("grad", "||Δw|| / ||w||", "ratio"))
#: the gradient noise scale B_simple = tr(Σ)/|G|² in samples (lrlab.core.engine.noise_scale), already
#: an EMA of its estimates, so not smoothed again
NOISE_SCALE = Column("noise_scale", "gradient noise scale B_simple", "steps", unit="samples", log_default=True,
                     every="noise_scale_every",
                     curve=Curve("grad", "noise scale B_simple (samples)", "validation", style="line",
                                 readout="B_simple", fmt=".3g"))
VAL_LOSS = Column("val_loss", "validation loss", "evals", smooth=True, log_default=True, final=True, best="min",
                  curve=Curve("loss", "validation", "validation", style="markers", readout="val loss"))
VAL_METRIC = Column("val_metric", "validation accuracy / R²", "evals", smooth=True, final=True, best="max",
                    curve=Curve("metric", "validation", "validation", style="markers+line", readout="val {task}",
                                reference=True))

#: one row per optimizer step; integer columns first (the trainer's buffer relies on it)
STEP = (
    Column("step", "step", "steps", integer=True, nullable=False, plotted=False),
    Column("epoch", "epoch", "steps", integer=True, nullable=False, plotted=False),
    Column("samples", "samples seen", "steps", integer=True, nullable=False, plotted=False),
    Column("wall_time", "wall time", "steps", nullable=False, unit="s", plotted=False),
    TRAIN_LOSS,
    LR,
    GRAD_NORM,
    UPDATE_RATIO,
    NOISE_SCALE,
)

#: one row per validation
EVAL = (
    Column("step", "step", "evals", integer=True, nullable=False, plotted=False),
    Column("epoch", "epoch", "evals", integer=True, nullable=False, plotted=False),
    VAL_LOSS,
    VAL_METRIC,
)

#: the quantiles of the per-parameter effective LR (lrlab.core.engine.effective_lr), every
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
#: the columns a session file must have, by table (a missing nullable one reads as NULL)
REQUIRED = {table: tuple(c.name for c in cols if not c.nullable) for table, cols in TABLES.items()}
#: the metrics the live plot panel draws, in drawing order (steps, then evaluations)
CURVES = tuple(c for c in METRICS.values() if c.curve is not None)
#: the evaluation values a plateau schedule may watch
MONITORED = EVAL_VALUES
#: the metrics whose last value a run's summary keeps (``final_<name>``)
FINAL = tuple(c for c in (*STEP, *EVAL) if c.final)
#: the metrics whose best value and its step the summary keeps (``best_<name>``, ``best_<name>_step``)
BEST = tuple(c for c in (*STEP, *EVAL) if c.best)


def _check() -> None:
    """The declarations agree with themselves (at import: a wrong one fails at once, everywhere)."""
    for c in (*STEP, *EVAL, *EFFECTIVE, *EFFECTIVE_METRICS):
        assert c.table in TABLES, f"{c.name}: unknown table {c.table!r}"
        assert not c.every or c.table == "steps", f"{c.name}: only a step metric is sampled every N steps"
        assert c.best in ("", "min", "max"), f"{c.name}: best is 'min', 'max' or ''"
        if c.curve is not None:
            assert c.curve.panel in PANELS, f"{c.name}: unknown panel {c.curve.panel!r}"
            assert c.curve.style in STYLES, f"{c.name}: unknown curve style {c.curve.style!r}"
            assert c.table in ("steps", "evals"), f"{c.name}: the live panel draws step and evaluation metrics"


_check()


def table_sql(table: str) -> str:
    """``CREATE TABLE`` for a metric table, from the declarations: ``step`` is the row id of
    the steps and evals tables; the effective-LR table has a row per (step, layer)."""
    cols = TABLES[table]
    if table == "effective_lr":
        return (f"CREATE TABLE {table} ({', '.join(c.sql() for c in cols)}, PRIMARY KEY (step, layer)) "
                "WITHOUT ROWID;")
    return f"CREATE TABLE {table} ({', '.join(c.sql(key=c.name == 'step') for c in cols)});"
