"""The private torch APIs lrlab uses for speed, each behind one function with a public fallback.

For the small models lrlab trains, Python overhead per step is a large share of the
step, and three private paths remove some of it: ``torch._foreach_norm`` and
``torch._foreach_sub`` do a whole list of tensors in one call, and the unwrapped
``Optimizer.step`` skips the profiler scope torch puts around every step. Private
names can change in any release, so each function here looks its name up when
called and falls back to the public way of computing the same thing when it is
missing. ``tests/core/test_compat.py`` checks that both paths give the same numbers and
that the fallback is taken when a private name is gone.

Checked against torch 2.14.1 (the version installed when this was written): there
``torch._foreach_norm(tensors)`` returns one 0-d tensor per input,
``torch._foreach_sub(a, b)`` returns new tensors, and ``Optimizer._patch_step_function``
replaces each optimizer class's ``step`` by ``Optimizer.profile_hook_step(step)``, a
``functools.wraps`` wrapper marked ``hooked = True`` that opens a ``record_function``
scope, runs the global and per-optimizer pre hooks
(``torch.optim.optimizer._global_optimizer_pre_hooks``,
``optimizer._optimizer_step_pre_hooks``), calls ``step``, calls the no-op
``optimizer._optimizer_step_code()`` (a marker for the profiler and dynamo), then runs
the post hooks. When you check a newer torch, re-run ``tests/core/test_compat.py`` and add its
version here.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence

import torch


def foreach_norm(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The L2 norm of each tensor (0-d tensors), in one call for the whole list where torch can."""
    private = getattr(torch, "_foreach_norm", None)
    if private is None:
        return [torch.linalg.vector_norm(t) for t in tensors]
    return list(private(list(tensors)))


def foreach_sub(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``[x - y for x, y in zip(a, b)]`` as new tensors, in one call for the whole list where torch can."""
    if len(a) != len(b):
        raise ValueError(f"foreach_sub needs lists of equal length, got {len(a)} and {len(b)}")
    private = getattr(torch, "_foreach_sub", None)
    if private is None:
        return [x - y for x, y in zip(a, b, strict=True)]
    return list(private(list(a), list(b)))


def fast_step(optimizer: torch.optim.Optimizer) -> Callable[[], object]:
    """``optimizer.step`` without the profiler annotation torch wraps around every call.

    For a model of a few thousand parameters that wrapper (a ``record_function`` scope
    and hook lookups) costs a noticeable share of a step. The same update runs either way
    (the unwrapped ``step`` keeps its own no-grad handling). The choice is made once, when
    called: the public method is returned when anyone has registered step hooks (they
    would be skipped), or when torch no longer wraps ``step`` the way described in this
    module's docstring. Hooks registered after this call are not run by the fast path.
    """
    from torch.optim import optimizer as torch_optimizer

    step = type(optimizer).step
    inner = getattr(step, "__wrapped__", None)
    hooks = (getattr(torch_optimizer, "_global_optimizer_pre_hooks", None),
             getattr(torch_optimizer, "_global_optimizer_post_hooks", None),
             getattr(optimizer, "_optimizer_step_pre_hooks", None),
             getattr(optimizer, "_optimizer_step_post_hooks", None))
    # `hooked` marks torch's profiling wrapper: unwrapping anything else could skip real work
    if inner is None or not getattr(step, "hooked", False) or any(h is None or len(h) for h in hooks):
        return optimizer.step
    return _without_graph_breaks(optimizer, inner)


def _without_graph_breaks(optimizer: torch.optim.Optimizer, step: Callable) -> Callable[[], object]:
    """``step`` without torch's ``_use_grad`` wrapper, whose only work outside ``torch.compile``
    is to set grad mode to ``defaults["differentiable"]`` around the update: the same is done here,
    without the two ``torch._dynamo.graph_break()`` calls that import ``torch._dynamo`` (1.3 s) on
    an optimizer's first step. Anything but that wrapper (a third-party optimizer's own ``step``) is
    called as it is."""
    raw = getattr(step, "__wrapped__", None)
    wrapper = getattr(getattr(step, "__code__", None), "co_name", "")
    if raw is None or wrapper != "_use_grad" or "torch._dynamo" in sys.modules:
        return functools.partial(step, optimizer)
    differentiable = bool(optimizer.defaults.get("differentiable", False))

    def eager_step() -> object:
        previous = torch.is_grad_enabled()
        torch.set_grad_enabled(differentiable)
        try:
            return raw(optimizer)
        finally:
            torch.set_grad_enabled(previous)

    return eager_step


#: the ``torch.optim.Optimizer`` methods torch wraps with ``torch._disable_dynamo``
_DYNAMO_DISABLED = ("add_param_group", "state_dict", "load_state_dict", "zero_grad")


def optimizers_without_dynamo() -> bool:
    """Let ``torch.optim`` optimizers be built and saved without importing ``torch._dynamo``.

    torch wraps ``Optimizer.__init__``'s ``add_param_group`` (and ``state_dict``,
    ``load_state_dict``, ``zero_grad``) in ``torch._disable_dynamo``, which imports
    ``torch._dynamo`` on the first call (1.3 s, the largest share of a first Start's wait) to make
    a "do not compile this" version of the method, then caches it on the method as
    ``__dynamo_disable``. lrlab never compiles, so the plain method is that version: it is cached
    in its place, and the first call imports nothing. Done only while ``torch._dynamo`` is not
    imported (nobody compiles yet) and only where torch's wrapper is as described (``__wrapped__``
    and an unset cache); returns whether it was done. Process-wide, once."""
    if "torch._dynamo" in sys.modules:
        return False
    from torch.optim import optimizer as torch_optimizer

    done = False
    for name in _DYNAMO_DISABLED:
        raw = getattr(getattr(torch_optimizer.Optimizer, name, None), "__wrapped__", None)
        if raw is not None and getattr(raw, "__dynamo_disable", None) is None:
            setattr(raw, "__dynamo_disable", raw)  # the name torch reads
            done = True
    return done
