"""The effective learning rate of every parameter, read from a torch.optim optimizer's state.

Adaptive optimizers divide each parameter's step by a running measure of its gradient's
size, so the one "lr" of a run says little about the steps they take. After an optimizer
step, the effective LR of parameter element i is the factor its update applies to the
optimizer's (bias-corrected) direction, exactly as torch computes it (torch 2.14 checked;
``tests/core/test_effective_lr.py`` predicts each update from it and compares with the real one):

- **SGD**: ``lr_t`` for every parameter (momentum changes the direction, not the factor).
- **Adam / AdamW**: ``lr_t / (sqrt(v_i / (1 - beta2**t)) + eps)``, applied to the bias-corrected
  first moment ``m_i / (1 - beta1**t)``; with ``amsgrad``, ``v_i`` is the running maximum
  ``max_exp_avg_sq``. AdamW's decoupled decay (``p *= 1 - lr_t * weight_decay`` before the
  update) is apart from it; Adam's L2 ``weight_decay`` is inside the gradient.
- **RMSprop**: ``lr_t / (sqrt(v_i) + eps)`` applied to the gradient (with momentum, to the
  momentum buffer's increment); ``centered``: ``lr_t / (sqrt(v_i - g_avg_i**2) + eps)``.
- **Adagrad**: ``lr_t / (1 + (t - 1) * lr_decay) / (sqrt(sum_i) + eps)`` applied to the gradient;
  its accumulator only grows, so this only falls (with a constant ``lr_t``).

- **Prodigy** (:mod:`lrlab.core.decl.lrfree`): ``d_t x lr x bc x d_t / (sqrt(v_i) + d x eps)``,
  applied to ``m_i / d_t`` (its moments are kept in units of ``d``, so ``m_i / d_t`` is the
  gradient's average): the step ``d_t x lr x bc`` the ``lr`` column shows, spread by Adam's
  denominator. ``d_t`` is the estimate the step used (kept by
  :func:`lrlab.core.engine.optim.step_size`, which runs before each step), ``d`` the one after it
  (the package's denominator uses the new one).
- **Schedule-Free AdamW**: ``lr_t / (sqrt(v_i / (1 - beta2**t)) + eps)`` (``lr_t`` with its warmup,
  the package's ``scheduled_lr``), the step of the base sequence ``z`` applied to the gradient.
  **Schedule-Free SGD**: ``lr_t`` for every parameter.

A parameter that has never had a gradient (its accumulator is exactly 0: an input pixel that
is always blank, a dead unit) would get ``lr / eps``, a huge factor on a zero direction: it takes
no step at all. Such elements are NaN here and left out of the quantiles, so they do not pin
the top of the band at ``lr / eps``.

Everything stays on the optimizer's device; the quantiles are one small tensor per call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)
QUANTILE_NAMES = ("p5", "p25", "p50", "p75", "p95")


def _unmoved(eff: torch.Tensor, accumulator: torch.Tensor) -> torch.Tensor:
    """NaN where the squared-gradient accumulator is exactly 0 (never a gradient: no step)."""
    return eff.masked_fill(accumulator == 0, float("nan"))


def _step_count(state: dict) -> float | torch.Tensor:
    """The optimizer's step count as it keeps it: a tensor (read in tensor arithmetic, so no
    wait for the device) or a number."""
    step = state.get("step", 0)
    return step.double() if isinstance(step, torch.Tensor) else float(step)


@torch.no_grad()
def effective_lr(optimizer: torch.optim.Optimizer, param: torch.Tensor, group: dict) -> torch.Tensor | None:
    """The effective LR of each element of ``param`` after the optimizer's last step (a tensor
    shaped like ``param``), or None before its first step. See the module docstring."""
    lr = float(group["lr"])
    name = type(optimizer).__name__
    if name == "SGD":
        return torch.full_like(param, lr)
    state = optimizer.state.get(param)
    if not state:
        return None
    if name == "SGDScheduleFree":
        return torch.full_like(param, float(group["scheduled_lr"]))
    if name == "AdamWScheduleFree":
        v, beta2 = state["exp_avg_sq"], float(group["betas"][1])
        return _unmoved(float(group["scheduled_lr"]) / ((v / (1 - beta2 ** group["k"])).sqrt()
                                                         + float(group["eps"])), v)
    if name == "Prodigy":
        d, v, k = float(group["d"]), state["exp_avg_sq"], group["k"] - 1  # k counts the steps taken
        d_t = float(getattr(optimizer, "lrlab_step_d", d))  # the d of the step (step_size keeps it)
        bc = 1.0
        if group["use_bias_correction"]:
            beta1, beta2 = group["betas"]
            bc = ((1 - beta2 ** (k + 1)) ** 0.5) / (1 - beta1 ** (k + 1))
        return _unmoved(d_t * lr * bc * d_t / (v.sqrt() + d * float(group["eps"])), v)
    t = _step_count(state)
    eps = float(group["eps"])
    if name in ("Adam", "AdamW"):
        v = state["max_exp_avg_sq"] if group.get("amsgrad") else state["exp_avg_sq"]
        beta2 = float(group["betas"][1])
        return _unmoved(lr / ((v / (1 - beta2 ** t)).sqrt() + eps), v)
    if name == "RMSprop":
        raw = state["square_avg"]
        v = raw - state["grad_avg"] ** 2 if group.get("centered") else raw
        return _unmoved(lr / (v.sqrt() + eps), raw)
    if name == "Adagrad":
        clr = lr / (1 + (t - 1) * float(group["lr_decay"]))
        return _unmoved(clr / (state["sum"].sqrt() + eps), state["sum"])
    raise ValueError(f"no effective-LR formula for {name}")


def _quantiles(flat: torch.Tensor) -> torch.Tensor:
    """QUANTILES of a 1-D tensor with linear interpolation (torch.quantile's default), from one
    sort: numpy's on the CPU (5x quicker here than torch.quantile for ten thousand values),
    torch's on an accelerator (no copy to the host)."""
    n = flat.numel()
    pos = [q * (n - 1) for q in QUANTILES]
    lo = [int(p) for p in pos]
    hi = [min(i + 1, n - 1) for i in lo]
    w = [p - i for p, i in zip(pos, lo, strict=True)]
    if flat.device.type == "cpu":
        s = np.sort(flat.numpy())
        return torch.from_numpy(s[lo] + (s[hi] - s[lo]) * np.asarray(w, dtype=s.dtype))
    s = flat.sort().values
    return s[lo] + (s[hi] - s[lo]) * torch.tensor(w, dtype=s.dtype, device=s.device)


@torch.no_grad()
def quantiles(optimizer: torch.optim.Optimizer, layers: Sequence[tuple[str, torch.Tensor]]
              ) -> dict[str, torch.Tensor]:
    """p5, p25, p50, p75 and p95 of the effective LR: over all parameters (key ``"all"``) and
    per named parameter tensor (a layer's weight or bias). Each value is a tensor of 5 on the
    optimizer's device (no host synchronisation on an accelerator); empty before the first step."""
    group_of = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    out: dict[str, torch.Tensor] = {}
    parts = []
    for name, p in layers:
        eff = effective_lr(optimizer, p, group_of[id(p)])
        if eff is None:
            return {}
        flat = eff.detach().reshape(-1).float()
        flat = flat[~torch.isnan(flat)]  # never-moved elements have no step size
        if flat.numel() == 0:
            continue
        out[name] = _quantiles(flat)
        parts.append(flat)
    if parts:
        out = {"all": _quantiles(torch.cat(parts)), **out}
    return out
