"""Small text formats shared by the CLI and the GUI."""

from __future__ import annotations

import math


def clock(seconds: float) -> str:
    """A duration as m:ss or h:mm:ss; '--:--' when unknown (an ETA before any progress)."""
    if not math.isfinite(seconds):
        return "--:--"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
