"""The teaching set-ups: the quadratic's four LRs around 2/L, and the demos with what each shows.

A preset and a demo are landscape specs as JSON, written with the short forms of
:func:`~lrlab.core.features.landscape.spec.parse_short` (``sgd:lr=0.05,momentum=0.9``) so they read like
the command line that would run them (``lrlab landscape --demo NAME``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lrlab.core.decl.spec import OPTIMIZERS
from lrlab.core.features.landscape.spec import parse_short

#: the quadratic's teaching presets: plain gradient descent at these multiples of 2/L
#: ("too high" at 2/L itself: the steep direction bounces between the walls and never settles; just
#: under 2/L it zigzags but converges, faster than "about right", which contradicted its name)
QUADRATIC_PRESETS = {"too low": 0.1, "about right": 0.5, "too high": 1.0, "divergent": 1.05}
QUADRATIC_EXPLANATIONS = {
    "too low": "0.1 x 2/L: every step is safe and tiny; the shallow direction shrinks by only 2% a step, "
               "so after 200 steps it is still on its way",
    "about right": "0.5 x 2/L = 1/L: the steep direction is solved in one step, the shallow one shrinks by "
                   "1 - mu/L a step, with no overshoot",
    "too high": "exactly 2/L: each step overshoots the valley floor and lands as far up the other side as "
                "it started (|1 - lr L| = 1), so it bounces between the walls and never settles",
    "divergent": "1.05 x 2/L: each step overshoots further than it started (|1 - lr L| > 1), so the "
                 "zigzag grows until it leaves the picture",
}


def preset_lr(name: str, condition: float = 10.0) -> float:
    """The LR of a quadratic preset: its multiple of 2/L (L = condition), to 3 significant digits."""
    return float(f"{QUADRATIC_PRESETS[name] * 2 / max(1.0, condition):.3g}")


def quadratic_preset(names: Sequence[str], condition: float = 10.0, steps: int = 200) -> dict[str, Any]:
    """A landscape spec (JSON) with one plain-SGD trajectory per named preset on the quadratic."""
    return {"surface": {"kind": "quadratic", "condition": condition}, "start": None, "steps": steps, "seed": 0,
            "trajectories": [{"optimizer": {"name": "sgd", "lr": preset_lr(n, condition)}, "label": n}
                             for n in names]}


@dataclass(frozen=True)
class Demo:
    """A named landscape set-up for teaching, with what it shows."""

    title: str
    explanation: str
    spec: dict[str, Any]


def _traj(opt: str, label: str = "", schedule: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"optimizer": parse_short(opt, OPTIMIZERS, "optimizer"), "schedule": dict(schedule or {"kind": "constant"}),
            "label": label}


DEMOS: dict[str, Demo] = {
    **{f"quadratic-{n.replace(' ', '-')}": Demo(f"Quadratic: LR {n}", QUADRATIC_EXPLANATIONS[n],
                                                quadratic_preset([n])) for n in QUADRATIC_PRESETS},
    "quadratic-all": Demo("Quadratic: all four around 2/L", "The four LRs side by side: 0.1, 0.5, 1 and 1.05 "
                          "times 2/L. Below 2/L every one converges, at 2/L the zigzag never settles, above it "
                          "the zigzag grows.",
                          quadratic_preset(list(QUADRATIC_PRESETS))),
    "quadratic-adam": Demo("Quadratic: SGD vs momentum vs Adam", "On an ill-conditioned bowl SGD must keep its LR "
                           "below 2/L for the steep axis and crawls along the shallow one; momentum builds up "
                           "speed along the floor; Adam scales each coordinate by its own gradient size.",
                           {"surface": {"kind": "quadratic", "condition": 10}, "steps": 200,
                            "trajectories": [_traj("sgd:lr=0.1"), _traj("sgd:lr=0.05,momentum=0.9"),
                                             _traj("adam:lr=0.1")]}),
    "rosenbrock": Demo("Rosenbrock: crawling along a valley", "Plain SGD at a safe LR reaches the valley floor at "
                       "once and then crawls; momentum carries speed along the curve; Adam and RMSprop rescale "
                       "the steep and the shallow direction.",
                       {"surface": {"kind": "rosenbrock"}, "steps": 800,
                        "trajectories": [_traj("sgd:lr=0.001"), _traj("sgd:lr=0.001,momentum=0.9"),
                                         _traj("adam:lr=0.05"), _traj("rmsprop:lr=0.01")]}),
    "beale": Demo("Beale: a flat basin between cliffs", "An LR safe on the cliffs barely moves in the flat basin; "
                  "Adam, RMSprop and Adagrad divide by the size of recent gradients and cross it.",
                  {"surface": {"kind": "beale"}, "steps": 400,
                   "trajectories": [_traj("sgd:lr=0.001"), _traj("sgd:lr=0.001,momentum=0.9"), _traj("adam:lr=0.05"),
                                    _traj("adagrad:lr=0.5")]}),
    "himmelblau": Demo("Himmelblau: which minimum?", "Started near the hilltop between four minima, optimizers "
                       "part ways: where a trajectory ends depends on its step sizes, not only on the start.",
                       {"surface": {"kind": "himmelblau"}, "start": [-0.27, -0.92], "steps": 300,
                        "trajectories": [_traj("sgd:lr=0.01"), _traj("sgd:lr=0.005,momentum=0.9"),
                                         _traj("adam:lr=0.1"), _traj("rmsprop:lr=0.05")]}),
    "saddle": Demo("Saddle: escaping a ridge", "Started just off the ridge, gradient descent falls towards the "
                   "saddle and lingers where the gradient is tiny; Adam divides by the gradient's size and leaves "
                   "at once.",
                   {"surface": {"kind": "saddle"}, "steps": 150,
                    "trajectories": [_traj("sgd:lr=0.05"), _traj("sgd:lr=0.05,momentum=0.9"),
                                     _traj("adam:lr=0.05")]}),
    "noisy-decay": Demo("Noisy bowl: constant LR vs decay", "With noisy gradients a constant LR hovers around the "
                        "minimum; a decaying LR (cosine, step) makes big moves early and settles late.",
                        {"surface": {"kind": "noisy_bowl"}, "steps": 300,
                         "trajectories": [_traj("sgd:lr=0.15", "constant"),
                                          _traj("sgd:lr=0.15", "cosine", {"kind": "cosine", "T_max": "run"}),
                                          _traj("sgd:lr=0.15", "step x0.3", {"kind": "step", "step_size": 75,
                                                                             "gamma": 0.3})]}),
}
