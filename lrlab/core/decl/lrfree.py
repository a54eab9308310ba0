"""Optimizers that choose their own pace: Prodigy and Schedule-Free AdamW and SGD, declared.

They come from their maintained packages (``prodigyopt``, ``schedulefree``), which the extra
``autotune`` installs (``pip install 'lrlab[autotune]'``). Without it they are still listed, as
the torchvision datasets are, with the install hint in their description; building one then
fails with that hint as a field error (``optimizer.name``), and everything else works.

What "the LR" of each is (the ``lr`` column and the LR panel show the step size they use, not
the nominal ``lr``; :func:`lrlab.core.engine.optim.step_size` computes it before each step):

- **Prodigy** (Mishchenko & Defazio, 2023; D-Adaptation's successor): Adam whose step is
  ``d_t x lr x bc_t``. ``d_t`` is its running estimate of the distance to a solution (it starts
  at ``d0`` and only grows), ``lr`` a multiplier left at 1, and ``bc_t`` Adam's bias correction
  ``sqrt(1 - beta2^(t+1)) / (1 - beta1^(t+1))`` with ``use_bias_correction`` (1 without, the
  default). The moments are kept in units of ``d``, so ``d_t x lr x bc_t`` plays the part of
  Adam's LR.
- **Schedule-Free AdamW / SGD** (Defazio et al., 2024): no schedule; the optimizer keeps a base
  sequence ``z`` (plain AdamW / SGD steps), its running average ``x`` (the point to evaluate)
  and the interpolation ``y`` where gradients are taken. The LR is the step of the ``z``
  sequence: ``lr x min(1, (t + 1) / warmup_steps)`` (its own linear warmup; ``lr`` alone
  without one). A schedule in the spec multiplies that ``lr`` as for any optimizer, but the
  point of the method is a constant one.
"""

from __future__ import annotations

import importlib.util

from lrlab.core.decl.params import Bool, ListOf, Num, Optional, Param, Registry
from lrlab.core.decl.schedules import LR

#: optimizer name -> the package that implements it
PACKAGES = {"prodigy": "prodigyopt", "schedulefree_adamw": "schedulefree", "schedulefree_sgd": "schedulefree"}
#: optimizers that must be evaluated at their averaged point (``optimizer.eval()``)
SCHEDULE_FREE = ("schedulefree_adamw", "schedulefree_sgd")
#: what a user without the packages is told
INSTALL_HINT = "pip install 'lrlab[autotune]'"


def missing(name: str) -> str | None:
    """Why optimizer ``name`` cannot be built here, or None (also for torch's own optimizers)."""
    package = PACKAGES.get(name)
    if package is None or importlib.util.find_spec(package) is not None:
        return None
    return f"needs {package}: {INSTALL_HINT}"


_BETAS = Param("betas", ListOf(Num(ge=0, lt=1), 2, 2), [0.9, 0.999],
               "decay rates of the first and second moment estimates")
_WARMUP = Param("warmup_steps", Num(ge=0, le=10**8, integer=True), 0,
                "its own linear warmup of the LR over this many steps (0: none)")
_R = Param("r", Num(ge=0, le=100), 0.0, "polynomial weighting (k+1)^r of the average")
_POWER = Param("weight_lr_power", Num(ge=0, le=100), 2.0,
               "the average weights each iterate by LR^power (so warmup steps weigh little)")

DECLARATIONS: tuple[tuple[str, tuple[Param, ...], str], ...] = (
    ("prodigy", (
        Param("lr", LR, 1.0, "multiplier of the estimated step size d; leave at 1"), _BETAS,
        Param("beta3", Optional(Num(ge=0, lt=1)), None, "decay of the d estimate's sums; null: sqrt(beta2)"),
        Param("eps", Num(gt=0, le=1), 1e-8, "added to the denominator (times d)"),
        Param("weight_decay", Num(ge=0, le=10), 0.0, "weight decay"),
        Param("decouple", Bool(), True, "AdamW-style decoupled weight decay"),
        Param("use_bias_correction", Bool(), False, "Adam's bias correction of the step"),
        Param("safeguard_warmup", Bool(), False, "leave the LR out of the d estimate's denominator"),
        Param("d0", Num(gt=0, le=1), 1e-6, "initial estimate of d"),
        Param("d_coef", Num(gt=0, le=100), 1.0, "multiplies the d estimate (the knob to tune)"),
        Param("growth_rate", Optional(Num(gt=1)), None, "most d may grow per step; null: unlimited")),
     "Prodigy (Mishchenko & Defazio, 2023): Adam that estimates its own step size d; step d x lr."),
    ("schedulefree_adamw", (
        Param("lr", LR, 0.0025, "step of the base sequence z"), _BETAS,
        Param("eps", Num(gt=0, le=1), 1e-8, "added to the denominator"),
        Param("weight_decay", Num(ge=0, le=10), 0.0, "weight decay (at the interpolated point)"),
        _WARMUP, _R, _POWER),
     "Schedule-Free AdamW (Defazio et al., 2024): iterate averaging instead of a schedule; "
     "evaluated at the average."),
    ("schedulefree_sgd", (
        Param("lr", LR, 1.0, "step of the base sequence z"),
        Param("momentum", Num(gt=0, lt=1), 0.9, "interpolation between the average and z"),
        Param("weight_decay", Num(ge=0, le=10), 0.0, "weight decay (at the interpolated point)"),
        _WARMUP, _R, _POWER),
     "Schedule-Free SGD (Defazio et al., 2024): iterate averaging instead of a schedule; "
     "evaluated at the average."),
)


def register(registry: Registry) -> None:
    """Add the three to the optimizer registry; one whose package is missing says so in its
    description (the form's tooltip, ``lrlab`` error messages)."""
    for name, params, doc in DECLARATIONS:
        why = missing(name)
        registry.register(name, params, f"{doc} Unavailable: {why}." if why else doc)
