"""lrlab: a desktop learning-rate lab, and its Python API.

``import lrlab`` stays as light as a version string: the desktop app imports this package
first thing (its start-up time is measured), and so does every core module. The public
functions live in :mod:`lrlab.api` and load on first use through :func:`__getattr__`
(PEP 562), so ``lrlab.run`` costs its imports only when a script touches it. Everything
not named in ``__all__`` is internal and may change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lrlab._version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ fetches these
    from lrlab.api import (
        AutotuneResult,
        Comparison,
        FindLRResult,
        GridResult,
        Library,
        PBTResult,
        Replay,
        Session,
        SessionError,
        SpecError,
        SweepMember,
        SweepResult,
        autotune,
        compare,
        find_lr,
        fork,
        grid,
        landscape,
        library,
        open_session,
        pbt,
        presets,
        run,
        schedule,
        sweep,
    )

__all__ = ["AutotuneResult", "Comparison", "FindLRResult", "GridResult", "Library", "PBTResult", "Replay", "Session",
           "SessionError", "SpecError", "SweepMember", "SweepResult", "__version__", "autotune", "compare", "find_lr",
           "fork", "grid", "landscape", "library", "open_session", "pbt", "presets", "run", "schedule", "sweep"]


def __getattr__(name: str) -> Any:
    """The public API, imported from :mod:`lrlab.api` the first time one of its names is used."""
    if name in __all__:
        from lrlab import api

        value = getattr(api, name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'lrlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
