"""A schedule kind that exists only in tests: proof that a new kind is one declaration.

:func:`declare` is all the code a new kind needs (in lrlab it would be a module under
``lrlab/core/decl/schedules/``). ``tests/core/test_schedules.py`` declares it in a fixture and checks that it
parses, previews, fits a run, scales in a sweep and is offered wherever kinds are listed; loaded
as a pytest plugin (``-p tiny_schedule``) it is registered before collection, so the per-kind tests
of every file pick up its examples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrlab.core.decl.params import Param
from lrlab.core.decl.schedules import (
    FACTOR,
    LR_FLOOR,
    STEPS,
    Example,
    Fit,
    Schedule,
    TorchScheduler,
    schedule_kind,
)

KIND = "tiny_halving"


def declare() -> type[Schedule]:
    """Register the kind ``tiny_halving`` and return its class."""

    @schedule_kind(KIND, Param("half_life", STEPS, help="steps in which the LR above floor halves"),
                   Param("factor", FACTOR, 0.5, "what is left of the LR above floor after each half_life"),
                   Param("floor", LR_FLOOR, 0.0, "the LR it decays toward", role="lr"))
    class Halving(Schedule):
        """lr(t) = base * f + floor * (1 - f), with f = factor ** (t / half_life)
        (with floor 0: torch ExponentialLR with gamma = factor ** (1 / half_life), to rounding).
        Evaluated as exp and expm1 of x = log(factor) * t / half_life, so that neither term cancels."""

        examples = (
            Example({"half_life": 100}, TorchScheduler("ExponentialLR", 0.5 ** (1 / 100))),
            Example({"half_life": "25%", "floor": 0.001}),
        )

        def __init__(self, base_lr: float, half_life: int, factor: float, floor: float):
            self.base, self.half_life, self.factor, self.floor = base_lr, half_life, factor, floor

        def __call__(self, t: int) -> float:
            x = math.log(self.factor) * (t / self.half_life)
            return self.base * math.exp(x) - self.floor * math.expm1(x)

        def at(self, t: np.ndarray) -> np.ndarray:
            x = np.log(self.factor) * (np.asarray(t, dtype=np.float64) / self.half_life)
            return self.base * np.exp(x) - self.floor * np.expm1(x)

        @classmethod
        def warnings(cls, fit: Fit) -> list[str]:
            if fit.data["half_life"] > fit.remaining:
                return [f"{fit.name('half_life')} but {fit.has}: the LR never halves"]
            return []

    return Halving


def pytest_configure(config: Any) -> None:
    declare()
