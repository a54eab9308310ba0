"""The simulation: real torch optimizers stepping trajectories on a surface, and its CSV.

Optimizers are the real ``torch.optim`` classes on one 2-element float64 tensor, and the LR of
every step comes from lrlab's schedule :class:`~lrlab.core.decl.schedules.Timeline`, so each schedule
kind and each mid-run edit works as in a training run. :class:`Landscape` steps up to
:data:`~lrlab.core.features.landscape.spec.MAX_TRAJECTORIES` trajectories one step at a time: the GUI calls
it from a timer, the ``landscape`` run kind (:mod:`lrlab.core.runs.landscape`) from its loop, so
the window, the CLI and a replay compute the same numbers.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lrlab.core.decl.files import written
from lrlab.core.decl.metrics import GRAD_NORM, LR, VAL_LOSS
from lrlab.core.decl.params import Kinded, SpecError, join, show
from lrlab.core.decl.schedules import Timeline, parse_edit
from lrlab.core.engine.optim import CLASSES, apply_hyperparameters, build_optimizer
from lrlab.core.features.landscape.spec import LandscapeSpec, TrajectorySpec, short_spec
from lrlab.core.features.landscape.surfaces import Box, Point, Surface, build_surface, critical_lr
from lrlab.core.features.series import Growable

#: a trajectory within this share of the view box's diagonal of a known minimum has converged
CONVERGED_TOLERANCE = 1e-3

# --- the trajectories -------------------------------------------------------------------------


RUNNING, CONVERGED, DIVERGED = "running", "converged", "diverged"


def _torch_optimizer(spec: Kinded, param: torch.Tensor) -> torch.optim.Optimizer:
    """The torch.optim class of ``spec`` in its reference single-tensor implementation: on a
    2-element tensor a fused kernel saves nothing, and this is the update torch documents (the
    tests hold one step to torch's own ``optimizer.step()`` exactly)."""
    if spec.kind not in CLASSES:  # Prodigy, Schedule-Free: their packages' own (engine/optim.py)
        return build_optimizer(spec, [param], param.device)[0]
    kwargs = dict(spec.params)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return CLASSES[spec.kind]([param], foreach=False, **kwargs)


class Trajectory:
    """One optimizer's path: points, losses, LRs and gradient norms, and where it ended up.

    Point ``i`` is where the parameters are after ``i`` steps (point 0 is the start); step ``t``
    goes from point ``t`` to point ``t + 1`` with LR ``lr[t]`` and gradient norm ``grad_norm[t]``
    (noise included). A trajectory that leaves the view box (or reaches a NaN) stops: its last
    point is the first one outside, and ``diverged_at`` is the step that took it there."""

    def __init__(self, index: int, spec: TrajectorySpec, surface: Surface, box: Box, start: Point, seed: int):
        self.index = index
        self.spec = spec
        self.surface = surface
        self.box = box
        self.param = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        self.optimizer = _torch_optimizer(spec.optimizer, self.param)
        self.timeline = Timeline(spec.schedule, spec.optimizer["lr"])
        # the same noise for every trajectory of a run (common random numbers: a fair comparison)
        self.rng = np.random.default_rng(np.random.SeedSequence(seed)) if surface.noise > 0 else None
        self.x, self.y, self.loss = Growable(256), Growable(256), Growable(256)
        self.lr, self.grad_norm = Growable(256), Growable(256)
        self.x.extend(np.array([start[0]]))
        self.y.extend(np.array([start[1]]))
        self.loss.extend(np.array([float(surface.f(*start))]))
        self.status = RUNNING
        self.diverged_at: int | None = None
        self.converged_at: int | None = None
        self.tolerance = CONVERGED_TOLERANCE * math.hypot(box[1] - box[0], box[3] - box[2])
        self._check(0, start)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def steps(self) -> int:
        """Steps taken so far."""
        return len(self.lr.data)

    @property
    def point(self) -> Point:
        return float(self.x.data[-1]), float(self.y.data[-1])

    def step(self, t: int) -> str | None:
        """Take step ``t``; returns a message when it left the view box or reached a NaN."""
        x, y = self.point
        lr = self.timeline(t)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        gx, gy = self.surface.grad(x, y)
        if self.rng is not None:
            nx, ny = self.rng.standard_normal(2)
            gx, gy = gx + self.surface.noise * float(nx), gy + self.surface.noise * float(ny)
        self.param.grad = torch.tensor((gx, gy), dtype=torch.float64)
        self.optimizer.step()
        nx_, ny_ = self.param.detach().tolist()
        self.lr.extend(np.array([lr]))
        self.grad_norm.extend(np.array([math.hypot(gx, gy)]))
        self.x.extend(np.array([nx_]))
        self.y.extend(np.array([ny_]))
        loss = float(self.surface.f(nx_, ny_)) if math.isfinite(nx_) and math.isfinite(ny_) else math.nan
        self.loss.extend(np.array([loss]))
        return self._check(t, (nx_, ny_), lr)

    def _check(self, t: int, point: Point, lr: float | None = None) -> str | None:
        x, y = point
        x0, x1, y0, y1 = self.box
        at_lr = "" if lr is None else f" at LR {lr:.4g}"
        if not (math.isfinite(x) and math.isfinite(y)):
            self.status, self.diverged_at = DIVERGED, t
            return f"{self.name} reached NaN at step {t}{at_lr}"
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            self.status, self.diverged_at = DIVERGED, t
            return f"{self.name} left the view box at step {t}{at_lr}, at ({x:.3g}, {y:.3g})"
        near = min(math.hypot(x - mx, y - my) for mx, my in self.surface.minima)
        if near <= self.tolerance:
            if self.status != CONVERGED:
                self.status, self.converged_at = CONVERGED, t
        else:
            self.status, self.converged_at = RUNNING, None
        return None

    def apply_edit(self, edit: Kinded) -> None:
        """A mid-run edit from the current step on: LR edits extend the timeline, ``optimizer``
        edits change the optimizer's hyperparameters (SpecError if it has no such field)."""
        if edit.kind == "optimizer":
            apply_hyperparameters(self.optimizer, self.spec.optimizer.kind, dict(edit.params))
        else:
            self.timeline.apply(self.steps, edit)

    def describe(self, ended: bool = False) -> str:
        """``converged at step 41``, ``diverged at step 5``, ``running``, or once the run has
        ``ended`` without either, ``not settled after 200 steps`` (never "running" when done)."""
        if self.status == DIVERGED:
            return f"diverged at step {self.diverged_at}"
        if self.status == CONVERGED:
            return f"converged at step {self.converged_at}"
        return f"not settled after {self.steps} steps" if ended else RUNNING

    def point_status(self) -> list[str]:
        """The status at each point: diverged outside the box, converged near a minimum, else running."""
        xs, ys = self.x.data, self.y.data
        x0, x1, y0, y1 = self.box
        with np.errstate(invalid="ignore"):
            inside = np.isfinite(xs) & np.isfinite(ys) & (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
            near = np.min([np.hypot(xs - mx, ys - my) for mx, my in self.surface.minima], axis=0) <= self.tolerance
        return [DIVERGED if not i else CONVERGED if n else RUNNING for i, n in zip(inside, near, strict=True)]

    def to_json(self) -> dict[str, Any]:
        """Everything a session's summary keeps about this trajectory (NaN and infinities as null)."""
        x, y = self.point
        return {"trajectory": self.index + 1, "name": self.name, "optimizer": self.spec.optimizer.to_json(),
                "schedule": self.spec.schedule.to_json(), "status": self.status,
                "step": self.diverged_at if self.status == DIVERGED else self.converged_at,
                "final": [_finite(x), _finite(y)], "final_loss": _finite(float(self.loss.data[-1])),
                "x": _list(self.x.data), "y": _list(self.y.data), "loss": _list(self.loss.data),
                LR.name: _list(self.lr.data), GRAD_NORM.name: _list(self.grad_norm.data)}


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _list(a: np.ndarray) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in a.tolist()]


def parse_targeted_edit(data: Mapping[str, Any], n_trajectories: int,
                        path: str = "edit") -> tuple[int | None, Kinded]:
    """``(trajectory, edit)`` from an edit JSON that may name a ``trajectory`` (1 = the first;
    absent or null: all of them): a landscape's only addition to the edits of a training run."""
    if not isinstance(data, Mapping):
        raise SpecError([(path, f"must be an object with a 'kind' field, got {show(data)}")])
    data = dict(data)
    target = data.pop("trajectory", None)
    if target is not None and (isinstance(target, bool) or not isinstance(target, int)
                               or not 1 <= target <= n_trajectories):
        raise SpecError([(join(path, "trajectory"), f"must be a trajectory number 1 to {n_trajectories} or null "
                                                    f"(all), got {show(target)}")])
    return target, parse_edit(data, path)


@dataclass
class Note:
    """Something that happened at a step of a landscape run, for the run's events."""

    step: int
    kind: str  # "edit", "diverged" or "plateau"
    data: dict[str, Any]


class Landscape:
    """Every trajectory of one landscape run, advanced together one step at a time.

    ``edits`` are (step, edit JSON) pairs applied at those steps (an edit JSON may name its
    ``trajectory``, 1-based; without one it applies to all). Cheap enough to run on the GUI
    thread: one step of six trajectories costs well under a millisecond."""

    def __init__(self, spec: LandscapeSpec, edits: Iterable[tuple[int, Mapping[str, Any]]] = ()):
        self.spec = spec
        self.surface = build_surface(spec.surface)
        self.box = self.surface.box
        self.start = spec.start_point
        self.trajectories = [Trajectory(i, t, self.surface, self.box, self.start, spec.seed)
                             for i, t in enumerate(spec.trajectories)]
        self.step = 0
        self.critical = [critical_lr(t.optimizer, self.surface.max_curvature) for t in spec.trajectories]
        self._planned: dict[int, list[tuple[int | None, Kinded]]] = {}
        for step, edit in edits:
            self._planned.setdefault(int(step), []).append(parse_targeted_edit(edit, len(self.trajectories)))
        #: every edit applied so far as (step, edit JSON with its trajectory): what a session records
        self.applied: list[tuple[int, dict[str, Any]]] = []

    @property
    def done(self) -> bool:
        """All steps taken, or every trajectory diverged."""
        return self.step >= self.spec.steps or all(t.status == DIVERGED for t in self.trajectories)

    def advance(self) -> list[Note]:
        """Apply the edits planned for this step, then one step of every trajectory still inside
        the view box; returns what happened (edits, divergences, plateau reductions)."""
        t = self.step
        notes = [self.apply_edit(edit, target) for target, edit in self._planned.pop(t, ())]
        for traj in self.trajectories:
            if traj.status == DIVERGED:
                continue
            problem = traj.step(t)
            if problem is not None:
                crit = self.critical[traj.index]
                lr = float(traj.lr.data[-1])
                if crit is not None and lr > crit:
                    problem += f": above 2/L = {crit:.4g} for this optimizer" if traj.spec.optimizer["momentum"] == 0 \
                        else f": above its critical LR {crit:.4g}"
                else:
                    problem += ": try a lower LR or a start further inside"
                notes.append(Note(t, "diverged", {"trajectory": traj.index + 1, "lr": lr,
                                                  "loss": _finite(float(traj.loss.data[-1])), "message": problem}))
                continue
            # a plateau schedule watches the loss of the exact objective after every step
            reduced = traj.timeline.observe(t + 1, VAL_LOSS.name, float(traj.loss.data[-1]))
            if reduced is not None:
                notes.append(Note(t + 1, "plateau", {"trajectory": traj.index + 1, "lr": reduced,
                                                     "monitor": VAL_LOSS.name}))
        self.step = t + 1
        return notes

    def apply_edit(self, edit: Kinded | Mapping[str, Any], trajectory: int | None = None) -> Note:
        """Apply ``edit`` from the current step on to trajectory ``trajectory`` (1-based) or, with
        None, to every trajectory that has the fields it changes; raises SpecError if none has."""
        if not isinstance(edit, Kinded):
            target, edit = parse_targeted_edit(edit, len(self.trajectories))
            trajectory = trajectory if target is None else target
        targets = self.trajectories if trajectory is None else [self.trajectories[trajectory - 1]]
        errors: list[SpecError] = []
        for traj in targets:
            try:
                traj.apply_edit(edit)
            except SpecError as err:
                errors.append(err)
        if len(errors) == len(targets):
            raise errors[0]
        data = {**edit.to_json(), **({"trajectory": trajectory} if trajectory is not None else {})}
        self.applied.append((self.step, data))
        return Note(self.step, "edit", {"edit": edit.to_json(), "trajectory": trajectory})

    def results(self) -> list[dict[str, Any]]:
        return [t.to_json() for t in self.trajectories]

    def run(self) -> Landscape:
        """Take every remaining step (the CLI, the tests)."""
        while not self.done:
            self.advance()
        return self


# --- files -------------------------------------------------------------------------------------

CSV_COLUMNS = ("trajectory", "optimizer", "step", "x", "y", "loss", "lr", "status")


def _cell(x: float) -> str:
    x = float(x)
    return "" if math.isnan(x) else repr(x)


def write_csv(landscape: Landscape, out: str | Path) -> int:
    """One row per point of each trajectory; returns the number of rows.

    ``trajectory`` counts from 1 (as the legend), ``optimizer`` is its short spec
    (``adam:lr=0.05``), row ``step`` N is the point after N steps (0: the start), ``lr`` the LR
    of the step taken from it (empty at the last point), ``status`` ``running``, ``converged``
    (within the tolerance of a known minimum) or ``diverged`` (outside the view box)."""
    rows = 0
    with written(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for traj in landscape.trajectories:
            opt = short_spec(traj.spec.optimizer)
            lrs = traj.lr.data
            for i, (x, y, loss, status) in enumerate(zip(traj.x.data, traj.y.data, traj.loss.data,
                                                         traj.point_status(), strict=True)):
                w.writerow([traj.index + 1, opt, i, _cell(x), _cell(y), _cell(loss),
                            _cell(lrs[i]) if i < len(lrs) else "", status])
                rows += 1
    return rows


def describe_results(landscape: Landscape) -> list[str]:
    """One line per trajectory: number, name, final point, loss and status (the CLI's output)."""
    lines = []
    for traj in landscape.trajectories:
        x, y = traj.point
        loss = float(traj.loss.data[-1])
        lines.append(f"{traj.index + 1}  {traj.name:<28} final ({x:.4g}, {y:.4g})  loss {loss:.4g}  "
                     f"{traj.describe(landscape.done)}")
    return lines
