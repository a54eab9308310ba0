"""A sweep's optimizer for what the stacked maths does not implement: one real optimizer per member.

:class:`~lrlab.core.engine.stacked.StackedOptimizer` rewrites torch's SGD, Adam, AdamW, RMSprop
and Adagrad over stacked ``[K, ...]`` tensors. Prodigy and Schedule-Free AdamW and SGD are
not rewritten (their maths lives in their packages, and copying it would be a second version
to keep in step): a sweep of them gives every member its *own* instance of the package's
optimizer, whose parameters are member ``k``'s slices ``P[k]`` of the stacked tensors (detached
views, so its in-place updates land in the stack and the forward and backward passes stay
stacked). The steps run one member after another: slower than the stacked maths for many
members, exact to the package for each. Sessions record ``optimizer_impl: "per-member"``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from lrlab.core.decl.params import Kinded
from lrlab.core.engine.optim import averaged, build_optimizer, step_size


class PerMemberOptimizer:
    """K optimizers of ``spec``, member k's on the views ``P[k]`` of the stacked ``params``.

    Same interface as :class:`~lrlab.core.engine.stacked.StackedOptimizer` where a sweep uses it:
    :meth:`step` with the members' LRs, :meth:`reset_member`, ``param_groups`` (every member's
    groups, so :func:`lrlab.core.engine.optim.apply_hyperparameters` edits them all), plus
    :attr:`step_sizes` (each member's step size in the last step, what its ``lr`` column shows)
    and :meth:`averaged` (every member at its point to evaluate)."""

    def __init__(self, spec: Kinded, params: Sequence[torch.Tensor], device: torch.device):
        self.kind = spec.kind
        self.params = list(params)
        self.k = self.params[0].shape[0]
        self.views = [[p.detach()[k] for p in self.params] for k in range(self.k)]
        self.optimizers = [build_optimizer(spec, views, device)[0] for views in self.views]
        self.active = np.ones(self.k, dtype=bool)
        self.step_sizes = np.zeros(self.k)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [g for opt in self.optimizers for g in opt.param_groups]

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor], lrs: np.ndarray) -> None:
        """One step of every running member with its LR (a frozen member takes none)."""
        for k, (opt, views) in enumerate(zip(self.optimizers, self.views, strict=True)):
            if not self.active[k]:
                continue
            for v, g in zip(views, grads, strict=True):
                v.grad = g[k]
            for group in opt.param_groups:
                group["lr"] = float(lrs[k])
            self.step_sizes[k] = step_size(opt)
            opt.step()
            for v in views:
                v.grad = None

    @torch.no_grad()
    def copy_member(self, source: int, target: int) -> None:
        """Member ``target``'s optimizer becomes an exact copy of ``source``'s (its state tensors
        and its group's running values: Prodigy's ``d``, Schedule-Free's step count and weight
        sum...), and takes steps again: what a population's exploit needs once the parameters
        themselves are copied in the stack."""
        src, dst = self.optimizers[source], self.optimizers[target]
        for p_src, p_dst in zip(self.views[source], self.views[target], strict=True):
            state = src.state.get(p_src)
            if state:
                dst.state[p_dst] = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in state.items()}
            else:
                dst.state.pop(p_dst, None)
        for g_src, g_dst in zip(src.param_groups, dst.param_groups, strict=True):
            g_dst.update({k: v for k, v in g_src.items() if k not in ("params", "lr")})
        self.active[target] = self.active[source]

    def reset_member(self, k: int) -> None:
        """Member k diverged: it takes no more steps, so its parameters stay as they are."""
        self.active[k] = False

    @contextlib.contextmanager
    def averaged(self) -> Iterator[None]:
        """Every member at its point to evaluate (:func:`lrlab.core.engine.optim.averaged`)."""
        with contextlib.ExitStack() as stack:
            for opt in self.optimizers:
                stack.enter_context(averaged(opt))
            yield


def needs_per_member(spec: Kinded) -> bool:
    """True for an optimizer the stacked maths does not implement (a sweep runs it per member)."""
    from lrlab.core.engine.stacked import StackedOptimizer

    return spec.kind not in StackedOptimizer.KINDS


def engine_note(spec: Kinded) -> str | None:
    """What a sweep of this optimizer tells the user about how it runs, or None for the stacked maths."""
    if not needs_per_member(spec):
        return None
    return (f"{spec.kind} runs as one real optimizer per member (exact to its package; the stacked "
            "maths implements only SGD, Adam, AdamW, RMSprop and Adagrad)")
