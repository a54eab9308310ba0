"""The core stays headless: no module under lrlab/core imports Qt or pyqtgraph."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "lrlab" / "core"
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph", "lrlab.gui")


def imported_modules(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", ""))
              in ("import_module", "__import__") and node.args
              and isinstance(node.args[0], ast.Constant)):
            names.add(str(node.args[0].value))
    return names


def offending(source: str) -> set[str]:
    return {m for m in imported_modules(source) if m.split(".")[0] in FORBIDDEN or m.startswith("lrlab.gui")}


def test_checker_catches_each_form_of_import():
    assert offending("import PySide6.QtCore") == {"PySide6.QtCore"}
    assert offending("from pyqtgraph import PlotWidget") == {"pyqtgraph"}
    assert offending("def f():\n    from lrlab.gui import app") == {"lrlab.gui"}
    assert offending("importlib.import_module('PySide6')") == {"PySide6"}
    assert offending("import torch\nfrom lrlab.core import spec") == set()


def test_no_qt_import_anywhere_in_core():
    files = sorted(CORE.rglob("*.py"))
    assert len(files) >= 5
    bad = {str(f.relative_to(CORE)): offending(f.read_text()) for f in files}
    assert {k: v for k, v in bad.items() if v} == {}


def test_importing_all_of_core_loads_no_qt():
    code = ("import sys, pkgutil, importlib, lrlab.core as c\n"
            "for m in pkgutil.walk_packages(c.__path__, 'lrlab.core.'): importlib.import_module(m.name)\n"
            "print(sorted(k for k in sys.modules if k.split('.')[0] in ('PySide6', 'pyqtgraph')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_validating_a_spec_loads_no_torch_sklearn_or_torchvision():
    """The GUI validates on every keystroke; torch alone takes a second or more to import."""
    code = ("import sys, lrlab.core.spec as s\n"
            "s.RunSpec.from_json({'dataset': {'name': 'mnist'}, 'model': {'kind': 'cnn'}})\n"
            "print(sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'sklearn', 'torchvision')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def core_imports(source: str) -> set[str]:
    """The lrlab.core modules a file imports, at the top or inside functions."""
    names = {m for m in imported_modules(source) if m.startswith("lrlab.core.")}
    for node in ast.walk(ast.parse(source)):  # from lrlab.core import vision
        if isinstance(node, ast.ImportFrom) and node.module == "lrlab.core":
            names.update(f"lrlab.core.{alias.name}" for alias in node.names)
    return names


def test_core_modules_import_each_other_without_cycles():
    """A cycle forces function-level imports to break it and makes the modules one unit."""
    graph = {f"lrlab.core.{f.stem}": core_imports(f.read_text()) for f in CORE.glob("*.py")}
    assert "lrlab.core.vision" in graph["lrlab.core.datasets"]  # lazy imports count too
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        raise AssertionError(f"import cycle: {' -> '.join(err.args[1])}") from None
