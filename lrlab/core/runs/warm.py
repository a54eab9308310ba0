"""Warming the core up before the first run, off the path to a visible window.

The first Start of a session used to wait about 3 s before its first step (measured): torch
imports in about 1.7 s, scikit-learn and the first dataset load in about 1 s, and the first
``torch.optim`` optimizer imported ``torch._dynamo`` (another 1.3 s, now avoided:
:func:`lrlab.core.engine.compat.optimizers_without_dynamo`). The GUI calls :func:`warm_up` in a
background thread once its window is up, so a Start pressed a few seconds after launch costs no more
than a second Start.
"""

from __future__ import annotations

import gc
from typing import Any


def warm_up(spec: Any = None) -> list[str]:
    """Import and touch what a run needs; returns the devices found (for the device list).

    ``spec`` (a RunSpec, optional) names the dataset to load once, so its files are read and
    its loader imported. Nothing is kept: runs build their own data and models.
    """
    import contextlib

    import torch

    from lrlab.core.engine.devices import available_devices

    devices = available_devices()
    import lrlab.core.runs.recorded  # noqa: F401  (the recorders, the trainer and every run kind)
    from lrlab.core.engine.optim import build_optimizer

    # One forward, backward and optimizer step on zeros: autograd, the loss and the optimizer's
    # (fused) kernels get loaded. Nothing here may draw from torch's global random generator:
    # a run starting in the GUI's worker thread at the same moment seeds and uses it.
    w = torch.zeros(4, 3, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(torch.ones(2, 4) @ w, torch.zeros(2, dtype=torch.int64))
    loss.backward()
    from lrlab.core.decl.spec import OPTIMIZERS
    from lrlab.core.engine.compat import fast_step

    optimizer_spec = getattr(spec, "optimizer", None) or OPTIMIZERS.parse({"name": "sgd", "lr": 0.1})
    fast_step(build_optimizer(optimizer_spec, [w], torch.device("cpu"))[0])()  # as the trainer steps
    # (the live loss smoothing no longer imports scipy.signal on the first batch: see
    # lrlab.core.features.series.SHORT_SERIES)
    if spec is not None:
        from lrlab.core.engine.data import load_dataset

        with contextlib.suppress(Exception):  # a missing image folder is reported by the run itself
            load_dataset(spec.dataset, torch.device("cpu"))
    return devices


def settle() -> None:
    """Freeze what the imports allocated, so that no garbage collection walks it again. What torch,
    Qt and scikit-learn allocated while importing lives as long as the app, and Python's first full
    collection after start-up walked all of it: 0.25 s of the GIL that fell inside the first Start
    or two (0.32 s to the first metrics against 0.09 s, tests/first_start.py). Nothing is collected
    first: a collection here found ~90 unreachable objects among ~230,000 and took 0.08-0.1 s of
    the GUI thread, which delayed a first Start pressed while the warm-up was ending. Call it from
    the GUI thread (the window does, when the warm-up is done)."""
    gc.freeze()
