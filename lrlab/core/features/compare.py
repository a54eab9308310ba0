"""Comparing saved sessions: aligned curves, what differs, who reached a target first.

Everything here is headless; the GUI's compare view and ``lrlab compare`` both use it.
Columns are read from the session files only when a metric or x axis needs them, one
column per query, straight into numpy, so opening twenty long runs costs little more
than reading those columns with sqlite3 by hand (``benchmarks/bench_compare.py``).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lrlab.core.decl.files import written
from lrlab.core.decl.metrics import LR, METRICS
from lrlab.core.decl.palette import (  # noqa: F401 (compare's public colour API)
    DARK_BACKGROUNDS,
    DARK_PALETTE,
    LIGHT_BACKGROUNDS,
    LIGHT_PALETTE,
    PALETTE,
    contrast_ratio,
    lr_colour,
    palette,
    series_style,
)
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.schedules import describe_edit
from lrlab.core.decl.spec import flatten
from lrlab.core.features.series import debiased_ema
from lrlab.core.storage.session import Session, SessionError, columns_of, lineage

X_AXES = ("step", "epoch", "samples", "wall")
class Run:
    """One session opened for comparison; its columns are read on first use and cached."""

    #: rows read at a time, with a progress call after each chunk (a 3-million-step file reads in
    #: about 30 chunks, so a caller can draw a bar instead of going silent for 20 s)
    CHUNK = 100_000

    def __init__(self, path: str | Path, until: int | None = None,
                 progress: Callable[[int, int], None] | None = None):
        self.path = Path(path)
        #: called with (rows read, rows to read) while a column is read in chunks
        self.progress = progress
        self.session = Session.open(self.path)  # SessionError names the file and the problem
        s = self.session
        self.name = self.path.stem
        self.file_id = s.file_id
        self.parent = s.parent  # a fork's: its steps start at parent["step"], aligned with the parent's
        self.first_step = self.parent["step"] if self.parent else 0
        #: shared history (see :func:`shared_history`): only the steps before this one are drawn
        self.until = until
        self.wall_offset = 0.0  # a fork's wall clock starts where its parent's was at the fork step
        self.spec_json: dict[str, Any] = s.spec_json
        self.environment: dict[str, Any] = s.environment
        self.status = s.status
        self.summary = s.summary
        self.events = s.events()
        # creation time first: sorting by identity puts a comparison's runs in the order they were made
        self.identity = (f"{s.meta.get('created', '')}|{s.seed}|{json.dumps(s.spec_json, sort_keys=True)}"
                         f"|{self.path.resolve()}")
        self.colour_index = 0
        self.colour = LIGHT_PALETTE[0]  # assign_colours sets these for the runs compared together
        self.dash = "solid"  # past twelve runs, colours repeat dashed
        self._cols: dict[tuple[str, str, str], np.ndarray] = {}
        self._series: dict[tuple[str, str, float], tuple[np.ndarray, np.ndarray]] = {}
        self.steps_per_epoch = int(s.meta.get("steps_per_epoch") or 0) or self._guess_steps_per_epoch()

    def close(self) -> None:
        self.session.close()

    def column(self, table: str, name: str, where: str = "") -> np.ndarray:
        """One column of a table (rows matching ``where``, a declared SQL condition) by step."""
        key = (table, name, where)
        if key not in self._cols:
            con = self.session._con
            with self.session.reading(f"table {table}"):  # a damaged file: SessionError, one line
                if name == "step" and table == "steps" and self.until is None:
                    # steps are numbered 0..n-1 without gaps (the primary key, written in order): no need to read them
                    lo, hi, n = con.execute("SELECT MIN(step), MAX(step), COUNT(*) FROM steps").fetchone()
                    if n == 0 or (lo == 0 and hi == n - 1):
                        self._cols[key] = np.arange(n, dtype=np.int64)
                        return self._cols[key]
                conditions = [c for c in (where, f"step < {int(self.until)}" if self.until is not None else "") if c]
                clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
                total = self._check_rows(table)
                cursor = con.execute(f"SELECT {name} FROM {table}{clause} ORDER BY step")
                parts: list[np.ndarray] = []
                done = 0
                while rows := cursor.fetchmany(self.CHUNK):
                    parts.append(columns_of(rows, (name,))[name])  # checked: numbers, NULL -> NaN
                    done += len(rows)
                    if self.progress is not None:
                        self.progress(done, max(done, total))
                self._cols[key] = np.concatenate(parts) if parts else columns_of([], (name,))[name]
        return self._cols[key]

    def _check_rows(self, table: str) -> int:
        """The rows of ``table``; SessionError when the steps table holds more rows than the run had
        steps (``meta.total_steps``): a file padded with millions of rows is damaged, and is not
        read into memory for a comparison."""
        n = int(self.session._con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        limit = self.session.meta.get("total_steps")
        if table == "steps" and type(limit) is int and n > limit:
            raise SessionError(f"{self.path}: damaged session file (table steps holds {n:,} rows, more than "
                               f"the run's {limit:,} steps)")
        return n

    def raw(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of a metric as stored: NaN where not measured, nothing smoothed."""
        m = METRICS[metric]
        return self.column(m.table, "step", m.where), self.column(m.table, m.column, m.where)

    def wall_time_at(self, step: int) -> float | None:
        """Seconds into the run when ``step`` was done (one row, not the whole column)."""
        with self.session.reading("table steps"):
            row = self.session._con.execute("SELECT wall_time FROM steps WHERE step = ?", (step,)).fetchone()
            return None if row is None or row[0] is None else float(row[0])

    def _guess_steps_per_epoch(self) -> int:
        epochs = self.column("steps", "epoch")
        return max(1, int((epochs == 0).sum())) if len(epochs) else 1

    def x_of(self, steps: np.ndarray, x: str) -> np.ndarray:
        """Positions of ``steps`` on an x axis: step, epoch (fractional), samples seen, wall time (s),
        or the LR of the step (``lr``: the x axis of a range test, drawn on a log scale)."""
        if x == "step":
            return steps.astype(np.float64)
        if x == "epoch":
            return steps / self.steps_per_epoch
        table_col = {"samples": "samples", "wall": "wall_time", LR.name: LR.name}[x]
        values = self.column("steps", table_col).astype(np.float64)
        if len(values) == 0:
            return steps.astype(np.float64)
        at = values[np.clip(steps - self.first_step, 0, len(values) - 1)]  # row i holds step first_step + i
        return at + self.wall_offset if x == "wall" else at

    def series(self, metric: str, x: str = "step", smoothing: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of one metric, NaN-free where the metric is sampled, smoothed if asked.

        Cached per (metric, x, smoothing): hovering reads values at the cursor many times a
        second, and smoothing a million points costs about a tenth of a second."""
        key = (metric, x, smoothing)
        if key not in self._series:
            self._series[key] = self._compute_series(metric, x, smoothing)
        return self._series[key]

    def _compute_series(self, metric: str, x: str, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
        m = METRICS[metric]
        steps, y = self.raw(metric)
        if m.sparse:  # measured every k steps only
            keep = np.isfinite(y)
            steps, y = steps[keep], y[keep]
        if smoothing > 0 and m.smooth:  # never the LR: it is a setting, not a noisy measure
            y, _ = debiased_ema(y, smoothing)
        return self.x_of(steps, x), y


def shared_history(runs: Sequence[Run]) -> list[Run]:
    """The history forks share with ancestors that are not among ``runs``, each drawn once.

    A fork's file holds its steps from the fork step on; before that its run *is* its parent's
    (and a fork of a fork's, its grandparent's before that). For every ancestor found (by its path
    hint, checked by id) and not compared itself, one :class:`Run` of its steps up to the latest
    step a compared fork branched off it. Forks are also put on their parents' wall clock.
    """
    compared = {r.file_id for r in runs if r.file_id}
    until: dict[str, tuple[Path, int]] = {}  # ancestor id -> (its path, draw its steps before this one)
    for r in runs:
        if r.parent is None:
            continue
        for ancestor in lineage(r.path):  # nearest first; "step": where its child branched off it
            if ancestor["id"] in compared or not ancestor["found"]:
                break
            path, old = until.get(ancestor["id"], (Path(ancestor["path"]), -1))
            until[ancestor["id"]] = (path, max(old, ancestor["step"]))
    history = [Run(path, until=limit) for path, limit in until.values()]
    for h in history:
        h.name = f"{h.name} (shared history)"
    by_id = {r.file_id: r for r in [*runs, *history] if r.file_id}
    for r in sorted([*runs, *history], key=lambda r: r.first_step):  # parents before their forks
        parent = by_id.get(r.parent["id"]) if r.parent else None
        if parent is not None and r.first_step > 0:
            r.wall_offset = (parent.wall_time_at(r.first_step - 1) or 0.0) + parent.wall_offset
    return history


def open_runs(paths: Iterable[str | Path], progress: Callable[[int, int], None] | None = None) -> list[Run]:
    """Open sessions; the first bad one raises SessionError naming it (the rest are closed).
    ``progress`` (rows read, rows to read) is called as each run's columns are read."""
    runs: list[Run] = []
    try:
        for p in paths:
            runs.append(Run(p, progress=progress))
    except SessionError:
        for r in runs:
            r.close()
        raise
    assign_colours(runs)
    return runs


def one_family(runs: Sequence[Run]) -> bool:
    """Whether ``runs`` are members of one sweep, grid or population (one group, every one a
    ``*_member`` session): they are coloured by LR, as their own window colours them."""
    groups = {r.session.group for r in runs}
    return len(runs) > 1 and len(groups) == 1 and None not in groups and all(
        r.session.kind.endswith("_member") for r in runs)


def assign_colours(runs: Sequence[Run], dark: bool = False) -> None:
    """Members of one sweep, grid or population (:func:`one_family`) are coloured by LR on the
    log scale their window uses (:func:`~lrlab.core.decl.palette.lr_colour`). Other runs get
    distinct colours in order: sorted by identity (creation time first, then seed, spec and
    file) they take palette colours 0, 1, 2, ... (two runs are always blue and vermillion; the
    same set is coloured the same way whatever order it was opened in), twelve of them, then
    the same colours dashed (``dash``). ``colour_index`` picks the same hue from the other
    palette when the theme changes."""
    if one_family(runs):
        lrs = [float(r.spec_json["optimizer"]["lr"]) for r in runs]
        for run, lr in zip(runs, lrs, strict=True):
            run.colour_index, run.dash = 0, "solid"
            run.colour = lr_colour(lr, min(lrs), max(lrs))
        return
    for i, run in enumerate(sorted(runs, key=lambda r: r.identity)):
        run.colour_index = i % len(LIGHT_PALETTE)
        run.colour, run.dash = series_style(i, dark)


# --- what differs ----------------------------------------------------------------------------


@dataclass
class Difference:
    field: str
    values: list[Any]
    differs: bool


def edits_text(run: Run) -> str:
    """A run's mid-run edits, in order: "step 100: hold LR 0.5; step 300: LR x0.1", or "none"."""
    edits = [f"step {e.step}: {describe_edit(e.data['edit'])}" for e in run.events if e.kind == "edit"]
    return "; ".join(edits) or "none"


def plateau_text(run: Run) -> str:
    """The reductions a plateau schedule made: "step 120: LR 0.01 (val_loss)", or "none"."""
    cuts = [f"step {e.step}: LR {e.data['lr']:.3g} ({e.data.get('monitor', '?')})" for e in run.events
            if e.kind == "plateau"]
    return "; ".join(cuts) or "none"


def differences(runs: Sequence[Run], environment: bool = True) -> list[Difference]:
    """Every spec field, the mid-run edits and plateau reductions (when any run has some) and
    the environment entries that differ, across runs, marking those that differ. Two runs of
    one spec, one with a 'hold 0.5' edit, differ: the edit is part of how the run was made.

    A field a run does not have (a schedule parameter of another kind) shows as None.
    """
    rows: list[Difference] = []
    sources: list[tuple[str, Callable[[Run], dict[str, Any]]]] = [("", lambda r: r.spec_json)]
    if environment:
        sources.append(("environment.", lambda r: {k: v for k, v in r.environment.items()
                                                     if k not in ("platform",)}))
    for prefix, get in sources:
        flats = [flatten(get(r)) for r in runs]
        keys: list[str] = []
        for f in flats:
            keys += [k for k in f if k not in keys]
        for k in keys:
            values = [f.get(k) for f in flats]
            differs = any(json.dumps(v, sort_keys=True) != json.dumps(values[0], sort_keys=True)
                          for v in values[1:])
            if prefix and not differs:
                continue  # the environment is shown only where it differs
            rows.append(Difference(prefix + k, values, differs))
        if not prefix:
            for name, text in (("edits", edits_text), ("plateau reductions", plateau_text)):
                texts = [text(r) for r in runs]
                if any(t != "none" for t in texts):
                    rows.append(Difference(name, texts, len(set(texts)) > 1))
    return rows


# --- legends: what tells the runs apart -----------------------------------------------------

#: spec fields a reader looks at first, and the word a legend uses for them
_FIRST = {"optimizer.name": "optimizer", "optimizer.lr": "lr", "schedule.kind": "schedule",
          "batch_size": "batch", "dataset.name": "dataset", "model.kind": "model"}
_TAGS = ("name", "kind")


def short_labels(runs: Sequence[Run], max_items: int = 3) -> list[str]:
    """One short legend per run naming only what differs between the compared runs:
    ``["lr 3", "lr 0.0005"]``, ``["optimizer adam, lr 0.001", "optimizer sgd, lr 0.1"]``.

    Fields that only some of the differing kinds have (Adam's betas against SGD's momentum)
    are left out: the kind says it; shared ones such as the LR stay. Mid-run edits count
    too. When nothing tells the runs apart, or two legends would read the same, the session
    names are used instead.
    """
    flats = [flatten(r.spec_json) for r in runs]
    keys: list[str] = [k for k in _FIRST if any(k in f for f in flats)]
    for f in flats:
        keys += [k for k in f if k not in keys]
    words: list[list[str]] = [[] for _ in runs]
    for key in keys:
        values = [f.get(key) for f in flats]
        if all(json.dumps(v) == json.dumps(values[0]) for v in values[1:]):
            continue
        parent = key.rpartition(".")[0]
        tag = next((f"{parent}.{t}" for t in _TAGS if parent and any(f"{parent}.{t}" in f for f in flats)), None)
        if tag is not None and None in values and len({json.dumps(f.get(tag)) for f in flats}) > 1:
            continue  # a field only some of the differing kinds have: the kind is the difference
        word = _FIRST.get(key, key.rpartition(".")[2])
        for i, v in enumerate(values):
            if v is not None:
                words[i].append(f"{word} {_legend_value(v)}")
    edits = [edits_text(r) for r in runs]
    if len(set(edits)) > 1:
        for i, text in enumerate(edits):
            words[i].append("no edits" if text == "none" else f"edits {text}")
    labels = [", ".join(w[:max_items]) + (", …" if len(w) > max_items else "") for w in words]
    if not any(labels) or len(set(labels)) < len(labels):
        return [r.name for r in runs]
    return labels


def _legend_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ", ".join(_legend_value(x) for x in v) + "]"
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


# --- summary with a target -------------------------------------------------------------------


TARGET_RE = re.compile(r"^\s*(\w+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+%?)\s*$")


@dataclass(frozen=True)
class Target:
    """A goal such as ``val_metric >= 0.95`` (``95%`` works too) or ``train_loss <= 0.2``."""

    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Target:
        m = TARGET_RE.match(text) if isinstance(text, str) and len(text) <= 200 else None
        try:
            value = float(m.group(3).rstrip("%")) / (100 if m.group(3).endswith("%") else 1) if m else math.nan
        except ValueError:  # "val_metric>=e": the pattern lets through text that is not a number
            value = math.nan
        if not m or m.group(1) not in METRICS or not math.isfinite(value):
            shown = repr(text) if isinstance(text, str) and len(text) <= 60 else f"<{type(text).__name__}>"
            raise SpecError([("target", f"expected METRIC<=VALUE or METRIC>=VALUE with METRIC one of "
                                        f"{', '.join(METRICS)} and VALUE a finite number, got {shown}")])
        return cls(m.group(1), m.group(2), value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    #: values this close (relative) to the target count as equal to it: 342/360 is stored as
    #: 0.9499999999999999, shown as 0.95, and must reach ``>= 0.95``
    REL_TOL = 1e-9

    def reached(self, y: np.ndarray) -> np.ndarray:
        """Where ``y`` meets the target, equality judged to REL_TOL as the tables show it."""
        tol = self.REL_TOL * abs(self.value)
        lo, hi = self.value - tol, self.value + tol
        with np.errstate(invalid="ignore"):
            return {"<=": y <= hi, ">=": y >= lo, "<": y < lo, ">": y > hi}[self.op]


@dataclass
class SummaryRow:
    name: str
    colour: str
    status: str
    steps: int
    steps_per_second: float
    final_val_metric: float | None
    best_val_metric: float | None
    final_val_loss: float | None
    target_step: int | None = None
    target_wall: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # what tells this run apart from the others compared (short_labels)


def summary(runs: Sequence[Run], target: Target | None = None, smoothing: float = 0.0) -> list[SummaryRow]:
    rows = []
    labels = short_labels(runs)
    for r, label in zip(runs, labels, strict=True):
        s = r.summary
        status = r.status
        diverged = [e for e in r.events if e.kind == "diverged"]
        if diverged:
            status = f"diverged at step {diverged[0].step}"
        row = SummaryRow(r.name, r.colour, status, int(s.get("steps", 0)), float(s.get("steps_per_second", 0.0)),
                         s.get("final_val_metric"), s.get("best_val_metric"), s.get("final_val_loss"),
                         label=label)
        if target is not None:
            steps, raw = r.raw(target.metric)
            _, y = r.series(target.metric, "step", smoothing)
            if METRICS[target.metric].sparse:  # series() skipped the steps it was not sampled at
                steps = steps[np.isfinite(raw)]
            hit = np.flatnonzero(target.reached(y))
            if len(hit):
                row.target_step = int(steps[hit[0]])
                row.target_wall = r.wall_time_at(row.target_step)
        rows.append(row)
    return rows


def format_summary(rows: Sequence[SummaryRow], target: Target | None) -> str:
    def f(v: float | None, spec: str = ".4g") -> str:
        return "-" if v is None else format(v, spec)

    # the runs by what tells them apart; the file names last, when those are not the labels already
    labelled = any(r.label and r.label != r.name for r in rows)
    header = ["run" if labelled else "session", "status", "steps", "steps/s", "final val metric",
              "best val metric", "final val loss"]
    if target is not None:
        header += [f"first step {target}", "at wall time"]
    table = [header + (["session"] if labelled else [])]
    for r in rows:
        line = [r.label or r.name if labelled else r.name, r.status, str(r.steps), f(r.steps_per_second, ".0f"),
                f(r.final_val_metric), f(r.best_val_metric), f(r.final_val_loss)]
        if target is not None:
            line += ["never" if r.target_step is None else str(r.target_step),
                     "-" if r.target_wall is None else f"{r.target_wall:.2f} s"]
        table.append(line + ([r.name] if labelled else []))
    return _grid(table)


def format_differences(diffs: Sequence[Difference], names: Sequence[str]) -> str:
    rows = [d for d in diffs if d.differs]
    if not rows:
        return "no differences in the run specs, mid-run edits or environments"
    table = [["field", *names]]
    table += [[d.field, *(json.dumps(v) if not isinstance(v, str) else v for v in d.values)] for d in rows]
    return _grid(table)


def _grid(table: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- export ----------------------------------------------------------------------------------


def write_long_csv(runs: Sequence[Run], out: str | Path, metrics: Sequence[str] = tuple(METRICS)) -> int:
    """All selected sessions in long form: session, step, metric, value. Returns rows written."""
    n = 0
    with written(out, inputs=[r.path for r in runs]) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["session", "step", "metric", "value"])
        for r in runs:
            for m in metrics:
                steps, y = r.raw(m)
                keep = np.isfinite(y)
                w.writerows((r.name, s, m, repr(v)) for s, v in zip(steps[keep].tolist(), y[keep].tolist(),
                                                                     strict=True))
                n += int(keep.sum())
    return n
