"""The real torch.optim optimizers, configured from an optimizer spec, and the LR-free ones
(Prodigy, Schedule-Free AdamW and SGD) from their packages (:mod:`lrlab.core.decl.lrfree`)."""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Iterable, Iterator

import torch

from lrlab.core.decl import lrfree
from lrlab.core.decl.params import Kinded, SpecError
from lrlab.core.decl.spec import OPTIMIZER_FIELDS
from lrlab.core.engine.compat import optimizers_without_dynamo

optimizers_without_dynamo()  # a first optimizer no longer imports torch._dynamo (1.3 s): see compat

CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad,
}


#: the LR-free optimizers: name -> (module, class), imported when first built
OPTIONAL: dict[str, tuple[str, str]] = {
    "prodigy": ("prodigyopt", "Prodigy"), "schedulefree_adamw": ("schedulefree", "AdamWScheduleFree"),
    "schedulefree_sgd": ("schedulefree", "SGDScheduleFree"),
}


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """The class that runs optimizer ``name``; SpecError on ``optimizer.name`` with the install
    hint when its package is missing."""
    if name in CLASSES:
        return CLASSES[name]
    why = lrfree.missing(name)
    if why:
        raise SpecError([("optimizer.name", f"{name!r} {why}")])
    module, cls = OPTIONAL[name]
    return getattr(importlib.import_module(module), cls)


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
    if spec.kind == "prodigy" and kwargs.get("growth_rate") is None:
        kwargs["growth_rate"] = math.inf  # the package's "unlimited"
    params = list(params)
    cls = optimizer_class(spec.kind)
    if spec.kind in lrfree.SCHEDULE_FREE:
        optimizer = cls(params, **kwargs)
        optimizer.train()  # schedule-free optimizers refuse to step in eval mode
        return optimizer, "default"
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


def step_size(optimizer: torch.optim.Optimizer) -> float:
    """The step size the optimizer's next step will use (read just before it, after the LR of
    the step is set in its param groups): what the ``lr`` column records.

    torch's optimizers: ``lr``. Prodigy: ``d x lr x bc`` with ``bc = sqrt(1 - beta2^(k+1)) /
    (1 - beta1^(k+1))`` under ``use_bias_correction`` (else 1), ``k`` its step count and ``d``
    its current estimate (the package's ``dlr``). Schedule-Free: ``lr x min(1, (k+1) /
    warmup_steps)``, the step of its base sequence ``z`` (the package's ``scheduled_lr``).
    See :mod:`lrlab.core.decl.lrfree` for why these are "the LR".

    Prodigy's ``d`` changes inside its step, so the ``d`` read here is also kept on the optimizer
    (``lrlab_step_d``): :func:`lrlab.core.engine.effective_lr.effective_lr` needs the ``d`` the
    step used, which the optimizer no longer holds afterwards."""
    group = optimizer.param_groups[0]
    lr = float(group["lr"])
    name = type(optimizer).__name__
    if name == "Prodigy":
        optimizer.lrlab_step_d = float(group["d"])  # type: ignore[attr-defined]
        k = group["k"]
        bc = 1.0
        if group["use_bias_correction"]:
            beta1, beta2 = group["betas"]
            bc = math.sqrt(1 - beta2 ** (k + 1)) / (1 - beta1 ** (k + 1))
        return float(group["d"]) * lr * bc
    if name in ("AdamWScheduleFree", "SGDScheduleFree"):
        k, warmup = group["k"], group["warmup_steps"]
        return lr * ((k + 1) / warmup if k < warmup else 1.0)
    return lr


def is_schedule_free(optimizer: torch.optim.Optimizer) -> bool:
    """True for an optimizer whose model must be evaluated at its averaged point."""
    return type(optimizer).__name__ in ("AdamWScheduleFree", "SGDScheduleFree")


@contextlib.contextmanager
def averaged(optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """The model's parameters at the point to evaluate, for the ``with`` block.

    Schedule-Free keeps the gradient point ``y`` in the parameters while training; its average
    ``x``, where the model must be evaluated (the pitfall users of Schedule-Free meet most),
    comes from ``optimizer.eval()``. Afterwards the parameters are put back exactly as they
    were (copied back, not ``optimizer.train()``'s interpolation, which rounds): training goes
    on bit for bit as if nothing had been evaluated, so validation never changes a run and a
    snapshot (always taken in training mode) resumes it exactly. Other optimizers: nothing."""
    if not is_schedule_free(optimizer):
        yield
        return
    params = [p for g in optimizer.param_groups for p in g["params"]]
    saved = [p.detach().clone() for p in params]
    optimizer.eval()
    try:
        yield
    finally:
        with torch.no_grad():
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)
        for g in optimizer.param_groups:
            g["train_mode"] = True
