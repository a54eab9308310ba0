"""Run kinds are declared once (lrlab.core.runs.kinds): every client reads the kind's record
and builds runs through one factory; no code outside the runs package compares a kind's name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from testkit import loaded_by

from lrlab.core.decl.params import SpecError
from lrlab.core.runs.kinds import RUN_KINDS, RunKind, kind_record, run_kind

PACKAGE = Path(__file__).resolve().parents[2] / "lrlab"
#: where a kind may be named in a comparison: the kinds' own modules
ALLOWED = (PACKAGE / "core" / "runs",)
COMPARISONS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


def _names_kind(node: ast.AST) -> bool:
    """``kind``, ``x.kind`` or ``x["kind"]``: something that holds a kind's name."""
    if isinstance(node, ast.Name):
        return node.id == "kind"
    if isinstance(node, ast.Attribute):
        return node.attr == "kind"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "kind"
    return False


def _run_kind_literals(node: ast.AST, kinds: set[str]) -> set[str]:
    """The registered run-kind names among the string literals ``node`` is or holds (a tuple,
    list or set of them); other strings (an event's ``"diverged"``, a schedule's ``"cosine"``)
    are not run kinds."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} & kinds
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {n.value for n in node.elts if isinstance(n, ast.Constant) and isinstance(n.value, str)} & kinds
    return set()


def kind_comparisons(source: str, kinds: set[str] | None = None) -> list[tuple[int, str]]:
    """(line, run kind) of every comparison (==, !=, in, not in) between something named
    ``kind`` and a string literal that is a registered run kind's name."""
    kinds = set(RUN_KINDS) if kinds is None else kinds
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
            if not isinstance(op, COMPARISONS):
                continue
            for a, b in ((left, right), (right, left)):
                if _names_kind(a):
                    found += [(node.lineno, name) for name in _run_kind_literals(b, kinds)]
    return sorted(found)


def test_the_checker_finds_each_form_of_comparison_and_nothing_else():
    bad = ('if c.kind == "sweep":\n    pass\n'
           'ok = v.kind not in ("train", "fork")\n'
           'if info["kind"] == "landscape" or "range_test" != kind:\n    pass\n'
           'x = self.controller.kind in ["sweep_member"]\n')
    assert kind_comparisons(bad) == [(1, "sweep"), (3, "fork"), (3, "train"), (4, "landscape"),
                                     (4, "range_test"), (6, "sweep_member")]
    good = ('if ev.kind == "diverged" or edit.kind in ("scale", "optimizer"):\n    pass\n'
            'if schedule.kind == "cosine" or model.kind == "mlp" or name == "sweep":\n    pass\n'
            'run = record("sweep", spec)\n'
            'kinds = {"kind": "train"}\n'
            'if kind is None or kind.forkable:\n    pass\n')
    assert kind_comparisons(good) == []


def test_no_code_outside_the_runs_package_compares_a_run_kinds_name():
    files = [f for f in sorted(PACKAGE.rglob("*.py")) if not any(f.is_relative_to(a) for a in ALLOWED)]
    assert len(files) > 40
    bad = [f"{f.relative_to(PACKAGE.parent)}:{line}: compares a kind with {name!r}"
           for f in files for line, name in kind_comparisons(f.read_text())]
    assert bad == [], "read the kind's record instead (lrlab.core.runs.kinds):\n" + "\n".join(bad)


def test_every_kind_is_one_record_whose_runner_is_that_kind():
    for name, kind in RUN_KINDS.items():
        assert kind.name == name and kind.recorded in ("session", "members") and kind.doc
        assert kind.runner.kind == name  # imports the runner
        assert callable(kind.runner.replay_options)
        kind.describe_summary({})  # loads its summary function, if any
    assert [k for k, v in RUN_KINDS.items() if v.forkable] == ["train", "fork"]
    assert [k for k, v in RUN_KINDS.items() if v.per_member] == ["sweep", "grid", "pbt"]
    with pytest.raises(SpecError, match="unknown run kind 'hyperband'"):
        run_kind("hyperband")
    assert kind_record("hyperband").trains_spec and kind_record("hyperband").describe_summary({"x": 1}) == []
    assert run_kind(RUN_KINDS["train"]) is RUN_KINDS["train"]


def test_the_records_load_no_torch():
    """The GUI reads the records while its window opens, before torch is loaded."""
    code = ("import sys\nfrom lrlab.core.runs.kinds import RUN_KINDS\nfrom lrlab.core.runs import run_kind\n"
            "run_kind('sweep').per_member")
    assert loaded_by(code, ('torch', 'sklearn', 'PySide6')) == []


def test_a_registered_kind_is_known_to_the_factory(monkeypatch):
    from lrlab.core.runs import kinds

    monkeypatch.setattr(kinds, "RUN_KINDS", dict(RUN_KINDS))
    added = kinds.register(RunKind("again", "lrlab.core.runs.train:Trainer", "a training run by another name"))
    assert kinds.run_kind("again") is added and added.runner.kind == "train"
    with pytest.raises(ValueError, match="already registered"):
        kinds.register(added)
