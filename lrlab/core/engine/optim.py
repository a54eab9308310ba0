"""The real torch.optim optimizers, configured from an optimizer spec."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from lrlab.core.decl.params import Kinded, SpecError
from lrlab.core.decl.spec import OPTIMIZER_FIELDS
from lrlab.core.engine.compat import optimizers_without_dynamo

optimizers_without_dynamo()  # a first optimizer no longer imports torch._dynamo (1.3 s): see compat

CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad,
}


#: optimizers with a fused implementation (one kernel for all parameters) in torch
FUSED = {"sgd", "adam", "adamw", "adagrad"}


def build_optimizer(spec: Kinded, params: Iterable[torch.nn.Parameter],
                    device: torch.device) -> tuple[torch.optim.Optimizer, str]:
    """The optimizer and which implementation runs it ('fused', or 'default').

    Fused kernels are several times cheaper per step for the small models lrlab trains;
    they round differently from the default loop, so the choice is recorded in sessions.
    """
    kwargs = dict(spec.params)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    params = list(params)
    cls = CLASSES[spec.kind]
    if spec.kind in FUSED and device.type in ("cpu", "cuda"):
        try:
            return cls(params, fused=True, **kwargs), "fused"
        except (RuntimeError, TypeError, ValueError):
            pass  # this torch or device has no fused kernel for it
    return cls(params, **kwargs), "default"


def apply_hyperparameters(optimizer: torch.optim.Optimizer, name: str, changes: dict) -> dict:
    """Set hyperparameters on every param group from the next step on.

    Returns what was applied; raises SpecError naming a field the optimizer does not have.
    """
    changes = {k: v for k, v in changes.items() if v is not None}
    group = optimizer.param_groups[0]
    missing = [k for k in changes if k not in group or k == "lr"]
    if missing:
        have = sorted(k for k in group if k in OPTIMIZER_FIELDS)
        raise SpecError([(f"edit.{k}", f"{name} has no {k} (it has: {', '.join(have)})")
                         for k in missing])
    if not changes:
        raise SpecError([("edit", "names no hyperparameter to change")])
    for g in optimizer.param_groups:
        for k, v in changes.items():
            g[k] = tuple(v) if k == "betas" else v
    return changes
