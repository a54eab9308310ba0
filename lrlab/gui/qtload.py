"""Loading Qt and pyqtgraph without two costs every launch paid for nothing (issue 31).

- **PySide6 reads the source of every module imported after it.** Its ``__feature__`` support
  (``shibokensupport.feature.feature_imported``) asks, for each new module, whether it uses PySide6
  by reading its source with ``inspect.getsource``: 323 modules and 48 ms of pyqtgraph's import
  alone (243 ms on a busy machine), then torch's and everything else's. The answer only matters to
  modules that select a feature (``from __feature__ import snake_case``); lrlab and pyqtgraph select
  none, so while no module has selected one the answer is "no" without reading anything.
- **pyqtgraph imports NVIDIA's ``cuda.bindings``** (53 ms idle, 190 ms busy) for its
  ``RawImageGLWidget``, whenever the package is installed, and torch's CUDA wheels install it. lrlab
  never draws with that widget: the import is refused while pyqtgraph loads (its own code expects
  it may be missing), and torch imports the package normally afterwards.

:func:`load` is called by :func:`lrlab.gui.app.make_app` before anything imports pyqtgraph; code
that imports pyqtgraph earlier (a test) gets the same widgets, only slower to import.
"""

from __future__ import annotations

import importlib.abc
import sys
from types import ModuleType


class _RefuseCudaBindings(importlib.abc.MetaPathFinder):
    """Makes ``import cuda.bindings...`` raise ImportError while installed."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "cuda.bindings" or name.startswith("cuda.bindings."):
            raise ImportError(f"{name} is not loaded while pyqtgraph imports (lrlab.gui.qtload)")


def _skip_feature_scans() -> bool:
    """Answer PySide6's "does this module use PySide6?" without reading the module's source while
    no module has selected a feature; returns whether PySide6's hook was found and replaced.

    The answer registers the module under the current feature selection, which is "none" until a
    module selects one; a module that is not registered reads the same "none". Once any module has
    selected a feature, PySide6's own check runs again."""
    feature = sys.modules.get("shibokensupport.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    selections = getattr(feature, "pyside_feature_dict", None)
    if original is None or not isinstance(selections, dict) or getattr(original, "lrlab", False):
        return False

    def uses_pyside(module: ModuleType) -> bool:
        # values: -1 not a PySide6 user, 0 no feature, > 0 the features a module selected
        return original(module) if max(selections.values(), default=0) > 0 else False

    uses_pyside.lrlab = True  # type: ignore[attr-defined]
    feature._mod_uses_pyside = uses_pyside  # type: ignore[union-attr]
    return True


def load() -> None:
    """Import PySide6 and pyqtgraph as described in the module docstring (once)."""
    if "pyqtgraph" in sys.modules:
        return
    import PySide6.QtCore  # noqa: F401  (installs shibokensupport.feature)

    _skip_feature_scans()
    blocker = _RefuseCudaBindings()
    sys.meta_path.insert(0, blocker)
    try:
        import pyqtgraph  # noqa: F401
    finally:
        sys.meta_path.remove(blocker)
