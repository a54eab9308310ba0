"""The auto-tuning showdown's figures, read from its runs (its methods and inputs are declared
in :mod:`lrlab.core.decl.showdown`, re-exported here; the runs are :mod:`lrlab.core.runs.showdown`).

**Figures**, per method: the median over seeds of the final validation metric, of the steps to
the target (the compute spent when a validation first reached it; a seed that never does counts
as never, and the median is None when half or more never do), and of the wall time; the spread
is the lowest and highest final metric over the seeds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrlab.core.decl.showdown import (  # noqa: F401 (re-exported: the showdown in one import)
    BY_NAME,
    METHODS,
    NAMES,
    PBT_DECISIONS,
    PBT_POPULATION,
    RANGE_TEST_STEPS,
    TARGETS,
    Method,
    Target,
    check_budget,
    method_spec,
    parse_methods,
    parse_target,
    pbt_plan,
)

# --- the figures ----------------------------------------------------------------------------------


def best_so_far(values: Sequence[float] | np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """The best value up to each point (NaN, a diverged evaluation, never counts as best)."""
    v = np.asarray(values, dtype=np.float64)
    v = np.where(np.isfinite(v), v, -np.inf if higher_is_better else np.inf)
    out = np.maximum.accumulate(v) if higher_is_better else np.minimum.accumulate(v)
    return np.where(np.isfinite(out), out, np.nan)


def steps_to_target(steps: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray,
                    target: Target) -> int | None:
    """The compute (``steps``, already counted as the showdown counts them) at the first value
    that reached ``target``; None if none did."""
    v = np.asarray(values, dtype=np.float64)
    hit = np.flatnonzero(target.reached(np.where(np.isfinite(v), v, np.nan)) & np.isfinite(v))
    return int(np.asarray(steps)[hit[0]]) if len(hit) else None


@dataclass
class SeedRun:
    """One method's run for one seed: its figures, its sessions and its curves (x in compute steps)."""

    seed: int
    final_val_metric: float | None
    steps_to_target: int | None
    wall_s: float
    sessions: list[str]
    eval_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eval_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lr_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lrs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    note: str = ""


@dataclass
class MethodResult:
    """A method's runs over the seeds, or why it could not run (``unavailable``)."""

    name: str
    runs: list[SeedRun] = field(default_factory=list)
    unavailable: str | None = None

    @property
    def title(self) -> str:
        return BY_NAME[self.name].title

    def final_val_metric(self) -> float | None:
        return _median([r.final_val_metric for r in self.runs])

    def steps_to_target(self) -> int | None:
        """Median over seeds with "never" counted as infinitely many steps (None when the median is never)."""
        if not self.runs:
            return None
        m = float(np.median([math.inf if r.steps_to_target is None else r.steps_to_target for r in self.runs]))
        return round(m) if math.isfinite(m) else None

    def wall_s(self) -> float | None:
        return _median([r.wall_s for r in self.runs])

    def spread(self) -> list[float] | None:
        finals = [r.final_val_metric for r in self.runs if r.final_val_metric is not None]
        return [min(finals), max(finals)] if finals else None

    def to_json(self) -> dict[str, Any]:
        """The method's line of ``lrlab autotune --json``."""
        out: dict[str, Any] = {"name": self.name, "title": self.title, "final_val_metric": self.final_val_metric(),
                               "steps_to_target": self.steps_to_target(), "wall_s": self.wall_s(),
                               "spread": self.spread(), "sessions": [s for r in self.runs for s in r.sessions],
                               "seeds": [{"seed": r.seed, "final_val_metric": r.final_val_metric,
                                          "steps_to_target": r.steps_to_target, "wall_s": r.wall_s,
                                          **({"note": r.note} if r.note else {})} for r in self.runs]}
        if self.unavailable:
            out["unavailable"] = self.unavailable
        return out

    def best_curve(self, higher_is_better: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The median over seeds of the best-so-far metric, on the first seed's evaluation steps."""
        if not self.runs or not len(self.runs[0].eval_steps):
            return np.zeros(0), np.zeros(0)
        x = self.runs[0].eval_steps
        curves = [np.interp(x, r.eval_steps, best_so_far(r.eval_values, higher_is_better))
                  for r in self.runs if len(r.eval_steps)]
        return x, np.median(np.vstack(curves), axis=0)


def _median(values: Iterable[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(finite)) if finite else None


def to_json(budget: int, seeds: Sequence[int], target: Target, results: Sequence[MethodResult],
            folder: str) -> dict[str, Any]:
    """What ``lrlab autotune --json`` prints (and ``showdown.json`` in the folder holds)."""
    return {"budget": budget, "seeds": list(seeds), "target": str(target), "folder": folder,
            "methods": [r.to_json() for r in results]}


def format_table(results: Sequence[MethodResult], target: Target) -> str:
    """The showdown's table, one line per method: medians over the seeds and the spread."""
    head = f"{'method':<15} {'final val':>9} {'spread':>13} {'steps to target':>15} {'wall s':>7}  how"
    lines = [head, f"{'':<15} {'':>9} {'':>13} {f'({target})':>15}"]
    for r in results:
        if r.unavailable:
            lines.append(f"{r.name:<15} {'-':>9} {'':>13} {'-':>15} {'-':>7}  unavailable: {r.unavailable}")
            continue
        final, spread, stt, wall = r.final_val_metric(), r.spread(), r.steps_to_target(), r.wall_s()
        lines.append(f"{r.name:<15} {_cell(final):>9} "
                     f"{(f'{spread[0]:.3f}-{spread[1]:.3f}' if spread else '-'):>13} "
                     f"{('never' if stt is None else f'{stt:,}'):>15} {_cell(wall, '.1f'):>7}  {r.title}")
    return "\n".join(lines)


def _cell(value: float | None, fmt: str = ".4f") -> str:
    return "-" if value is None else format(value, fmt)
