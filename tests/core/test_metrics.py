"""Metrics are declared once (lrlab/core/decl/metrics.py): everything else is built from the
declarations, a file written before a nullable metric existed still reads, and no module
names a metric with a string literal."""

from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lrlab.cli import main
from lrlab.core.decl import metrics
from lrlab.core.features.compare import Run
from lrlab.core.storage.session import FORMAT_VERSION, Session, SessionError

PACKAGE = Path(__file__).resolve().parents[2] / "lrlab"

# --- no metric name written as a literal outside the declarations -----------------------------

#: the metric names looked for: every plottable metric (the columns of lrlab.core.decl.metrics.METRICS).
#: Not the positions (step, epoch, samples, wall_time) nor the effective-LR table's own columns
#: (layer, p5 ... p95): those are also x axes, schedule kinds and JSON keys everywhere. ``lr`` is
#: also the LR field of optimizer, schedule and edit specs (``spec["optimizer"]["lr"]``,
#: ``{"kind": "hold", "lr": 0.01}``), of a param group (``g["lr"]``) and of sweep rows, so it
#: counts as the metric only where the context says so (see :data:`METRIC_CONTEXT`).
CHECKED = frozenset(metrics.METRICS) - {metrics.LR.name}
#: the names lrlab gives the dicts of step columns, the variables holding a metric's name and the
#: tables of lrlab.core.decl.metrics (with any name ending in ``_COLUMNS``): ``"lr"`` is the metric as
#: the key of a subscript of one of these, or the argument of its ``.get`` or ``.index``
#: (``steps["lr"]``, ``update.steps["lr"]``, ``FLOAT_STEP_COLUMNS.index("lr")``), as an operand
#: compared with one (``metric != "lr"``, ``"lr" in METRICS``), and in a tuple, list or set display
#: beside another metric name (``("train_loss", "lr")``)
METRIC_CONTEXT = frozenset({"steps", "cols", "columns", "series", "metric", "recorded", "replayed", "METRICS"})

#: (file under lrlab/, literal) allowed for now, each with its reason; an entry no longer needed fails
EXEMPT: dict[tuple[str, str], str] = {}


def _terminal(node: ast.AST) -> str:
    """The last name of ``a.b.c`` (``c``), of ``c`` itself, or ''."""
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def _in_context(node: ast.AST) -> bool:
    name = _terminal(node)
    return name in METRIC_CONTEXT or name.endswith("_COLUMNS")


def metric_literals(source: str, checked: frozenset[str] = CHECKED,
                    contextual: str = metrics.LR.name) -> list[tuple[int, str]]:
    """(line, literal) of each string literal in ``source`` that names a metric (see CHECKED)."""
    tree = ast.parse(source)
    found = [(n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in checked]

    def is_lr(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and node.value == contextual

    for n in ast.walk(tree):
        hits: list[ast.AST] = []
        if isinstance(n, ast.Subscript) and _in_context(n.value):
            hits = [n.slice]
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("get", "index") \
                and _in_context(n.func.value):
            hits = n.args[:1]
        elif isinstance(n, ast.Compare) and any(_in_context(o) for o in (n.left, *n.comparators)):
            hits = [n.left, *n.comparators]
        elif isinstance(n, (ast.Tuple, ast.List, ast.Set)) \
                and any(isinstance(e, ast.Constant) and e.value in checked for e in n.elts):
            hits = n.elts
        found += [(h.lineno, contextual) for h in hits if is_lr(h)]
    return sorted(set(found))


def test_checker_finds_metric_names_and_the_lr_only_as_a_metric():
    bad = ('x = cols["train_loss"]\n'
           'if metric == "update_ratio": pass\n'
           'y = update.steps["lr"]\n'
           'z = metric != "lr"\n'
           'names = ("step", "val_metric", "lr")\n'
           'w = steps.get("lr")\n'
           'def f(metric="effective_lr_p50"): pass\n'
           'i = FLOAT_STEP_COLUMNS.index("lr")\n'
           'ok = "lr" in METRICS\n')
    assert metric_literals(bad) == [(1, "train_loss"), (2, "update_ratio"), (3, "lr"), (4, "lr"), (5, "lr"),
                                    (5, "val_metric"), (6, "lr"), (7, "effective_lr_p50"), (8, "lr"), (9, "lr")]
    fine = ('lr = spec["optimizer"]["lr"]\n'
            'edit = {"kind": "hold", "lr": 0.01}\n'
            'g["lr"] = 0.1\n'
            'x = ("step", "epoch", "samples", "wall_time", "p50", "lr")\n'
            'name = "final_train_loss"  # a summary key, not a metric name\n'
            'if k == "lr": pass\n'
            '"""train_loss is mentioned in prose"""\n'
            'steps[TRAIN_LOSS.name]\n')
    assert metric_literals(fine) == []


def test_no_metric_name_is_written_as_a_literal_outside_the_declarations():
    """Every module of lrlab/ but core/decl/metrics.py, parsed with ast: a string literal equal to a
    plottable metric's name (``train_loss``, ``grad_norm``, ``update_ratio``, ``val_loss``,
    ``val_metric``, ``effective_lr_p5`` ... ``effective_lr_p95``) fails, with its file and line;
    so does ``"lr"`` where it is the metric (METRIC_CONTEXT), never as a spec or param-group field.
    Positions (step, epoch, samples, wall_time) and the effective-LR table's columns are not
    looked for. Code names a metric through its declaration (``metrics.TRAIN_LOSS.name``) or
    iterates over the declarations. EXEMPT lists what other rewrites in flight will remove."""
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20
    found = set()
    for f in files:
        rel = f.relative_to(PACKAGE).as_posix()
        if rel == "core/decl/metrics.py":
            continue
        found |= {(rel, line, name) for line, name in metric_literals(f.read_text(encoding="utf-8"))}
    bad = sorted(hit for hit in found if hit[::2] not in EXEMPT)
    assert not bad, "metric names written as literals (use lrlab.core.decl.metrics):\n" + "\n".join(
        f"lrlab/{rel}:{line}: {name!r}" for rel, line, name in bad)
    stale = EXEMPT.keys() - {hit[::2] for hit in found}
    assert not stale, f"exemptions no longer needed, remove them from EXEMPT: {sorted(stale)}"


# --- the declarations agree with what is built from them ---------------------------------------


def test_what_is_special_about_a_metric_is_declared():
    """The update ratio is sampled every ``update_ratio_every`` steps: a RunSpec field; every
    declared curve is in a panel, a style and a colour role that exist."""
    from lrlab.core.decl.spec import RunSpec

    fields = set(RunSpec.__dataclass_fields__)
    sampled = {c.name: c.every for c in metrics.STEP if c.every}
    assert sampled == {metrics.UPDATE_RATIO.name: "update_ratio_every", metrics.NOISE_SCALE.name: "noise_scale_every"}
    assert all(every in fields for every in sampled.values())
    assert metrics.UPDATE_RATIO.sampling == "every update_ratio_every steps"
    assert metrics.VAL_LOSS.sampling == "at each evaluation" and metrics.LR.sampling == "every step"
    assert [c.name for c in metrics.CURVES] == ["train_loss", "lr", "grad_norm", "update_ratio", "noise_scale",
                                                "val_loss", "val_metric"]
    assert {c.name for c in metrics.CURVES if c.curve.reference} == {"train_loss", "lr", "val_metric"}
    assert metrics.MONITORED == ("val_loss", "val_metric")
    assert metrics.REQUIRED["steps"] == ("step", "epoch", "samples", "wall_time", "lr")


def test_the_schema_and_the_summary_are_built_from_the_declarations():
    from lrlab.core.storage import session

    for c in metrics.STEP:
        assert c.sql(key=c.name == "step") in session.SCHEMA
    con = sqlite3.connect(":memory:")
    con.executescript(session.SCHEMA)
    nan = float("nan")
    con.executemany("INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(0, 0, 8, 0.1, 2.0, 0.1, 1.0, nan, nan), (1, 0, 16, 0.2, 1.5, 0.05, 1.0, 0.01, nan)])
    con.executemany("INSERT INTO evals VALUES (?, ?, ?, ?)", [(0, 0, 1.0, 0.5), (1, 0, 1.2, 0.7)])
    assert session.summarize(con) == {
        "steps": 2, "wall_time": 0.2, "steps_per_second": 10.0, "final_train_loss": 1.5, "final_lr": 0.05,
        "final_val_loss": 1.2, "final_val_metric": 0.7, "best_val_loss": 1.0, "best_val_loss_step": 0,
        "best_val_metric": 0.7, "best_val_metric_step": 1}


# --- a file written before a nullable metric existed ------------------------------------------------

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
        "optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 2, "batch_size": 16, "device": "cpu"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedRun

    folder = tmp_path_factory.mktemp("recorded")
    paths = []
    for lr in (0.1, 0.05):
        run = RecordedRun(RunSpec.from_json({**SPEC, "optimizer": {"name": "sgd", "lr": lr}}),
                          folder / f"lr{lr}.lrlab")
        run.run()
        paths.append(run.path)
    return paths


def _without(path: Path, out: Path, table: str, column: str) -> Path:
    """A copy of the session ``path`` whose ``table`` lacks ``column`` (as a file written before it)."""
    shutil.copyfile(path, out)
    con = sqlite3.connect(out)
    with con:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.close()
    return out


def test_a_file_lacking_a_nullable_column_reads_it_as_null(recorded, tmp_path, capsys):
    ratio, metric = metrics.UPDATE_RATIO.name, metrics.VAL_METRIC.name
    old = _without(recorded[0], tmp_path / "a.lrlab", "steps", ratio)
    old = _without(old, tmp_path / "old.lrlab", "evals", metric)
    before = old.read_bytes()
    with Session.open(recorded[0]) as whole, Session.open(old) as s:
        assert s.meta["format_version"] == FORMAT_VERSION  # no format bump
        steps, full = s.steps(), whole.steps()
        assert np.isnan(steps[ratio]).all() and not np.isnan(full[ratio]).all()
        for c in metrics.STEP_COLUMNS:
            if c != ratio:
                np.testing.assert_array_equal(steps[c], full[c])
        assert np.isnan(s.evals()[metric]).all()
        assert s.summary == whole.summary  # the summary written at the end is kept
    assert old.read_bytes() == before  # reading never changes the file

    assert main(["info", str(old), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == len(full["step"])
    assert main(["export", str(old), "--csv", str(tmp_path / "old.csv")]) == 0
    with open(tmp_path / "old.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(metrics.CSV_COLUMNS) and len(rows) == len(full["step"])
    assert {r[ratio] for r in rows} == {""} and {r[metric] for r in rows} == {""}

    run = Run(old)
    try:
        assert len(run.series(ratio)[0]) == 0 and len(run.series(metrics.TRAIN_LOSS.name)[0]) == len(full["step"])
    finally:
        run.close()
    assert main(["replay", str(old), "--verify", "--quiet"]) == 0  # the columns a replay checks are there
    assert "identical" in capsys.readouterr().out
    assert main(["compare", str(old), str(recorded[1]), "--metric", ratio]) == 0
    assert main(["compare", str(old), str(recorded[1]), "--metric", metric, "--csv",
                 str(tmp_path / "long.csv")]) == 0


def test_a_file_lacking_a_required_column_is_a_clear_error(recorded, tmp_path):
    for table, column in (("steps", metrics.LR.name), ("steps", "epoch"), ("evals", "epoch")):
        path = _without(recorded[0], tmp_path / f"{table}-{column}.lrlab", table, column)
        with pytest.raises(SessionError, match=f"table {table} has no column {column}"):
            Session.open(path)


def test_an_older_format_lacking_a_nullable_column_reads_it_as_null(tmp_path):
    """A format-1 file, migrated in memory, and without the update ratio."""
    fixture = Path(__file__).parents[1] / "data" / "format-v1.lrlab"
    path = _without(fixture, tmp_path / "v1.lrlab", "steps", metrics.UPDATE_RATIO.name)
    with Session.open(path) as s:
        assert s.n_steps() == 240 and np.isnan(s.steps()[metrics.UPDATE_RATIO.name]).all()
        assert s.summary["steps"] == 240


# --- a new nullable step metric is one declaration ------------------------------------------------

#: the declaration added, in a copy of the package, to the step metrics
NEW_METRIC = ('    Column("weight_norm", "weight norm", "steps", smooth=True, log_default=True,\n'
              '           curve=Curve("grad", "weight norm", "extra", readout="weights", fmt=".3g")),\n')

#: run in a copy of lrlab whose metrics.py declares NEW_METRIC, and nothing else changed
CHILD = textwrap.dedent('''
    import csv, json, sys
    from pathlib import Path
    from types import SimpleNamespace

    import numpy as np

    import lrlab
    from lrlab.cli import main
    from lrlab.core.decl import metrics
    from lrlab.core.features.compare import Run
    from lrlab.core.storage.export import write_csv
    from lrlab.core.storage.session import SCHEMA, Session, SessionWriter
    from lrlab.core.decl.spec import RunSpec

    NEW = "weight_norm"
    new, old, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    assert Path(lrlab.__file__).parent == out / "lrlab", lrlab.__file__
    assert NEW in metrics.METRICS and NEW in metrics.CSV_COLUMNS and "weight_norm REAL" in SCHEMA

    # a run that measures it: written, read back, exported, compared
    n = 5
    steps = {**{c: np.arange(n) for c in metrics.INT_STEP_COLUMNS},
             **{c: np.linspace(0.1, 0.5, n) for c in metrics.FLOAT_STEP_COLUMNS}}
    writer = SessionWriter(new, RunSpec.from_json(json.loads(sys.argv[4])), {})
    writer(SimpleNamespace(steps=steps, evals=[{"step": 4, "epoch": 0, "val_loss": 1.0, "val_metric": 0.5}],
                           events=[], effective=[], snapshots=[], status="finished"))
    writer.close("finished")
    with Session.open(new) as s:
        np.testing.assert_array_equal(s.steps()[NEW], steps[NEW])
        write_csv(s, out / "new.csv")
    with open(out / "new.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(metrics.CSV_COLUMNS) and [float(r[NEW]) for r in rows] == steps[NEW].tolist()
    run = Run(new)
    assert run.series(NEW)[1].tolist() == steps[NEW].tolist()
    run.close()

    # a file written before the metric existed: NULL, no format bump
    with Session.open(old) as s:
        assert np.isnan(s.steps()[NEW]).all()
    assert main(["compare", str(new), str(old), "--metric", NEW]) == 0  # a CLI choice

    # the GUI: a compare choice, and a curve in its panel of the live plots
    from lrlab.gui.app import make_app
    from lrlab.gui.compare import CompareView
    from lrlab.gui.plots import PlotPanel

    make_app()
    view = CompareView()
    assert NEW in [view.metric_box.itemData(i) for i in range(view.metric_box.count())]
    panel = PlotPanel()
    panel.reset(total_steps=n)
    panel.add(steps)
    panel.flush()
    assert panel.curves[NEW] in panel._curves_in(panel.p_grad)
    drawn = panel.curves[NEW].getOriginalDataset()[1]  # not the log10 a log axis shows
    assert drawn is not None and drawn.tolist() == steps[NEW].tolist(), drawn
    assert "weights 0.3 " in panel.describe_step(2) + " ", panel.describe_step(2)
    print("one declaration: ok")
''')


def test_a_new_nullable_step_metric_is_one_declaration(recorded, tmp_path):
    """Declare a step metric in a copy of the package and nothing else: the session schema, the
    reader (also of a file written before it), the CSV export, the compare choices of the CLI and
    the GUI, and the live plots' curve and read-out all pick it up."""
    copy = tmp_path / "lrlab"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    declarations = copy / "core" / "decl" / "metrics.py"
    source = declarations.read_text(encoding="utf-8")
    anchor = "    NOISE_SCALE,\n)"
    assert source.count(anchor) == 1
    declarations.write_text(source.replace(anchor, "    NOISE_SCALE,\n" + NEW_METRIC + ")"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "new.lrlab"), str(recorded[0]), str(tmp_path),
                          json.dumps(SPEC)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0 and "one declaration: ok" in out.stdout, out.stderr[-3000:]
