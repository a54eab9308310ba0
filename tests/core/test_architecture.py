"""The core stays headless: no module under lrlab/core imports Qt or pyqtgraph."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from testkit import loaded_by

CORE = Path(__file__).resolve().parents[2] / "lrlab" / "core"
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
            "for m in pkgutil.walk_packages(c.__path__, 'lrlab.core.'): importlib.import_module(m.name)")
    assert loaded_by(code, ('PySide6', 'pyqtgraph')) == []


def test_validating_a_spec_loads_no_torch_sklearn_or_torchvision():
    """The GUI validates on every keystroke; torch alone takes a second or more to import."""
    code = ("import sys, lrlab.core.decl.spec as s\n"
            "s.RunSpec.from_json({'dataset': {'name': 'mnist'}, 'model': {'kind': 'cnn'}})")
    assert loaded_by(code, ('torch', 'sklearn', 'torchvision')) == []


PACKAGE = CORE.parent


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """lrlab module -> the lrlab modules it imports, at the top or inside functions."""
    modules = {module_name(f): f for f in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, f in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                # "from lrlab.gui import exports" imports the module lrlab.gui.exports
                candidates = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                              for a in node.names]
            else:
                continue
            targets.update(c for c in candidates if c in modules and c != name)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_lrlab_modules():
    graph = import_graph()
    assert "lrlab.gui.window" in graph and "lrlab.core.runs.train" in graph["lrlab.core.runs.recorded"]
    assert cycles(graph) == []


# --- the main window: composed of components, not mixed in (issue 26) ----------------------

GUI = PACKAGE / "gui"
#: the window and the components it wires (each owns its state; none reads another's privates)
COMPONENTS = ("window.py", "session_view.py", "tools.py", "fork.py")
#: the window lays out, builds actions and menus and wires components; past this it is doing their work
WINDOW_LINES = 400


def private_reaches(source: str) -> set[str]:
    """Reads of another object's private attributes (``a.b._c``, ``window._x``); one's own
    ``self._x`` and dunders are fine."""
    return {ast.unparse(node) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))}


def test_private_reach_checker_catches_each_form():
    assert private_reaches("self.sessions._sessions.close()") == {"self.sessions._sessions"}
    assert private_reaches("w = window._sweep") == {"window._sweep"}
    assert private_reaches("self._timer.start()\nsuper().__init__()\nx.public") == set()


def test_the_window_is_composed_of_components_not_mixed_in():
    source = (GUI / "window.py").read_text()
    lines = len(source.splitlines())
    assert lines <= WINDOW_LINES, f"window.py has {lines} lines (at most {WINDOW_LINES}): move work to a component"
    window = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "MainWindow")
    assert [ast.unparse(b) for b in window.bases] == ["QMainWindow"]
    mixins = [f"{f.name}:{n.name}" for f in sorted(GUI.glob("*.py")) for n in ast.walk(ast.parse(f.read_text()))
              if isinstance(n, ast.ClassDef) and n.name.endswith("Mixin")]
    assert mixins == []
    reaches = {name: private_reaches((GUI / name).read_text()) for name in COMPONENTS}
    assert {name: found for name, found in reaches.items() if found} == {}


def restated_field_lists(source: str, fields: tuple[str, ...]) -> list[str]:
    """Tuple, list or set literals naming three or more of ``fields``: a restated field list."""
    return [ast.unparse(node) for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.Tuple, ast.List, ast.Set))
            and sum(isinstance(e, ast.Constant) and e.value in fields for e in node.elts) >= 3]


def test_the_optimizer_field_list_is_built_once():
    """Which hyperparameters an edit or a fork may change comes from the optimizer edit's
    declaration (``spec.OPTIMIZER_FIELDS``); no module writes the list out again."""
    from lrlab.core.decl.spec import OPTIMIZER_FIELDS

    assert restated_field_lists('k in ("momentum", "weight_decay", "eps")', OPTIMIZER_FIELDS) != []
    assert restated_field_lists('("momentum", "lr")', OPTIMIZER_FIELDS) == []
    found = {str(f.relative_to(PACKAGE)): restated_field_lists(f.read_text(), OPTIMIZER_FIELDS)
             for f in sorted(PACKAGE.rglob("*.py"))}
    assert {name: lists for name, lists in found.items() if lists} == {}


def replacing_calls(source: str) -> list[int]:
    """Lines that give a file its name by renaming a temporary one (``os.replace``, ``os.rename``,
    a path's ``.replace(target)``) or build a temporary ``.part`` name: what only
    lrlab.core.decl.files may do. ``text.replace(a, b)`` and ``spec.replace(**changes)`` are not renames."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner, name = node.func.value, node.func.attr
            by_os = isinstance(owner, ast.Name) and owner.id == "os" and name in ("replace", "rename")
            path_replace = (name == "replace" and len(node.args) == 1 and not node.keywords
                            and not isinstance(node.args[0], ast.Constant))
            if by_os or path_replace:
                lines.append(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".part"):
            lines.append(node.lineno)
    return lines


def test_the_replacing_checker_finds_each_form():
    assert replacing_calls("import os\nos.replace(a, b)") == [2]
    assert replacing_calls("tmp.replace(out)") == [1]
    assert replacing_calls("name = f'.{out.name}.part'") == [1]
    assert replacing_calls("text.replace('a', 'b')\nspec.replace(**changes)") == []


def test_every_atomic_write_goes_through_one_function():
    """core/files.replaced is the one place a file is built under a temporary name and renamed
    onto its own (sessions, settings, the library index, group summaries, exports): a second
    copy of that dance is where a half-made file slips through."""
    found = {str(f.relative_to(PACKAGE)): replacing_calls(f.read_text()) for f in sorted(PACKAGE.rglob("*.py"))
             if f.relative_to(PACKAGE).as_posix() != "core/decl/files.py"}
    assert {k: v for k, v in found.items() if v} == {}


#: the core's layers, lowest first: a module may import its own layer and those below it, never one
#: above (every import counts, also inside functions)
LAYERS = ("decl", "engine", "storage", "features", "runs")


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["lrlab", "core"] and parts[2] in LAYERS else None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in graph.items():
        mine = layer_of(module)
        if mine is None:
            continue
        for target in targets:
            theirs = layer_of(target)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(mine):
                bad.append(f"{module} ({mine}) imports {target} ({theirs})")
    return sorted(bad)


def test_the_layer_checker_catches_an_upward_import():
    graph = {"lrlab.core.decl.spec": {"lrlab.core.engine.optim"}, "lrlab.core.runs.train": {"lrlab.core.decl.spec"},
             "lrlab.gui.window": {"lrlab.core.runs.train"}}
    assert layer_violations(graph) == ["lrlab.core.decl.spec (decl) imports lrlab.core.engine.optim (engine)"]


def test_core_is_in_layers_that_import_only_downwards():
    """Declarations (specs, schedules, datasets, metrics), the engine (torch), storage (session
    files), features (range-test analysis, compare, series, the landscape) and run kinds, each
    importing only the layers below it."""
    loose = sorted(p.name for p in CORE.glob("*.py") if p.name != "__init__.py")
    assert loose == [], f"modules outside the layers: {loose}"
    assert {p.name for p in CORE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} >= set(LAYERS)
    assert layer_violations(import_graph()) == []


def test_declarations_never_import_torch():
    """The GUI validates its form on every keystroke with the declarations alone."""
    code = ("import sys, pkgutil, importlib, lrlab.core.decl as d\n"
            "for m in pkgutil.walk_packages(d.__path__, 'lrlab.core.decl.'): importlib.import_module(m.name)")
    assert loaded_by(code, ('torch', 'torchvision')) == []


TESTS = CORE.parents[1] / "tests"
QT = ("PySide6", "shiboken6", "pyqtgraph", "pytestqt", "lrlab.gui", "guitools")


def test_tests_are_in_folders_by_layer_and_the_core_tests_need_no_qt():
    """tests/core runs without PySide6 installed (napari's headless job): none of its files, nor
    the shared conftest, imports Qt or asks for a Qt fixture; Qt fixtures live in tests/gui."""
    assert sorted(p.name for p in TESTS.glob("test_*.py")) == []  # every test file is in a layer's folder
    assert {p.name for p in TESTS.iterdir() if p.is_dir() and any(p.glob("test_*.py"))} == {"core", "cli", "gui"}
    for f in [TESTS / "conftest.py", *sorted((TESTS / "core").glob("*.py"))]:
        tree = ast.parse(f.read_text())
        qt = sorted(m for m in imported_modules(f.read_text()) if m.split(".")[0] in QT or m.startswith("lrlab.gui"))
        fixtures = {a.arg for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) for a in n.args.args}
        assert not qt and not fixtures & {"qtbot", "qapp", "window"}, (f.name, qt)


def test_core_tests_run_with_qt_missing():
    """A sample of tests/core in a fresh interpreter where PySide6 and pyqtgraph cannot be imported."""
    code = ("import sys\n"
            "for name in ('PySide6', 'shiboken6', 'pyqtgraph'): sys.modules[name] = None\n"
            "import pytest\n"
            "sys.exit(pytest.main(['-p', 'no:pytest-qt', '-p', 'no:cacheprovider', '-q', '-x',\n"
            "                      'tests/core/test_spec.py', 'tests/core/test_series.py']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=TESTS.parent, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
