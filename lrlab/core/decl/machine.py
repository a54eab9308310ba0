"""What the machine has now, asked without torch: the memory available to a new run.

Declarations need it too: a user's table is refused before pandas reads a file that would not
fit (``lrlab.core.decl.owndata``), and ``lrlab.core.engine.limits`` weighs whole runs with it.
"""

from __future__ import annotations

import os
from pathlib import Path


def available_memory() -> int | None:
    """Bytes of memory available to a new run now (Linux MemAvailable, else free pages), or None
    where the system does not say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on this system (macOS, Windows)
        return None
