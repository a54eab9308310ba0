"""The loss landscape playground: real optimizers stepping on 2-D surfaces.

Every picture of the learning rate in a lecture (a ball overshooting across a valley, crawling
down a plateau, spiralling with momentum, Adam rescaling an ill-conditioned bowl) is a
trajectory on a function of two variables. Here each is computed, not drawn by hand:

- **Surfaces** (:data:`SURFACES`) are declared like schedules: a small class per kind with its
  formula as the first line of its docstring, its parameters as :class:`~lrlab.core.decl.params.Param`
  (so the CLI, the GUI form and validation come from one declaration), a default view box, a
  start point and its known minima. Gradients are analytic (checked against autograd by the
  tests); curvature at the minima comes from the Hessian.
- **Optimizers** are the real ``torch.optim`` classes on one 2-element float64 tensor, and the
  LR of every step comes from lrlab's schedule :class:`~lrlab.core.decl.schedules.Timeline`, so each
  schedule kind and each mid-run edit works as in a training run.
- **Critical step sizes** of the quadratic: on ``f = (x^2 + k y^2) / 2`` gradient descent
  multiplies the offset along an axis of curvature ``h`` by ``1 - lr h`` each step, which
  shrinks only while ``|1 - lr h| < 1``, that is ``lr < 2/h``; the steepest axis (``L``, the
  largest curvature) decides: ``lr < 2/L``. Heavy-ball momentum ``b`` moves the bound to
  ``2 (1 + b) / L`` (:func:`critical_lr`).

:class:`Landscape` steps up to :data:`MAX_TRAJECTORIES` trajectories one step at a time: the GUI
calls it from a timer, the ``landscape`` run kind (:mod:`lrlab.core.runs.landscape`) from its
loop, so the window, the CLI and a replay compute the same numbers.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from lrlab.core.decl.files import written
from lrlab.core.decl.metrics import GRAD_NORM, LR, VAL_LOSS
from lrlab.core.decl.params import (
    INVALID,
    REQUIRED,
    Check,
    Kinded,
    ListOf,
    Num,
    Optional,
    Param,
    Problems,
    Registry,
    SpecError,
    Text,
    dump_fields,
    join,
    loads,
    parse_fields,
    show,
    unknown,
)
from lrlab.core.decl.schedules import SCHEDULES, Timeline, parse_edit, resolve_schedule
from lrlab.core.decl.spec import OPTIMIZERS
from lrlab.core.engine.optim import CLASSES, apply_hyperparameters
from lrlab.core.features.series import Growable

#: the most trajectories one landscape run draws at once (one colour of the palette each)
MAX_TRAJECTORIES = 6
#: the most steps of one landscape run (an animation at 60 steps/s takes 5 minutes)
MAX_STEPS = 20_000
#: a trajectory within this share of the view box's diagonal of a known minimum has converged
CONVERGED_TOLERANCE = 1e-3

# --- surfaces -------------------------------------------------------------------------------

SURFACES = Registry("surface", "kind")
_SURFACE_CLASSES: dict[str, type[Surface]] = {}

Box = tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
Point = tuple[float, float]


def surface_kind(kind: str, *params: Param) -> Callable[[type[Surface]], type[Surface]]:
    """Register a Surface class under ``kind`` with its declared parameters."""

    def register(cls: type[Surface]) -> type[Surface]:
        SURFACES.register(kind, params, doc=(cls.__doc__ or "").strip())
        cls.kind = kind
        _SURFACE_CLASSES[kind] = cls
        return cls

    return register


def build_surface(spec: Kinded | Mapping[str, Any]) -> Surface:
    """The surface a spec (``{"kind": "quadratic", "condition": 10}``) describes."""
    if not isinstance(spec, Kinded):
        spec = SURFACES.parse(dict(spec), "surface")
    return _SURFACE_CLASSES[spec.kind](**spec.params)


class Surface:
    """A loss f(x, y) with its gradient, view box, start point and known minima.

    ``f`` is written with arithmetic only, so it takes floats, numpy arrays (the contour grid)
    and torch tensors (autograd, for the Hessian and the tests) alike. ``grad`` is the analytic
    gradient at one point, as floats: what each optimizer step uses, without an autograd graph.
    """

    kind: ClassVar[str] = ""
    title: ClassVar[str] = ""
    box: Box = (-3.0, 3.0, -2.0, 2.0)
    start: Point = (-2.5, 0.8)
    minima: tuple[Point, ...] = ((0.0, 0.0),)
    f_min: float = 0.0
    #: standard deviation of the Gaussian noise added to each gradient component (0: exact)
    noise: float = 0.0

    @property
    def formula(self) -> str:
        """The first line of the class docstring: ``f(x, y) = ...``."""
        return (type(self).__doc__ or "").strip().splitlines()[0]

    def f(self, x: Any, y: Any) -> Any:
        raise NotImplementedError

    def grad(self, x: float, y: float) -> Point:
        raise NotImplementedError

    @functools.cached_property
    def curvatures(self) -> tuple[float, ...]:
        """The largest Hessian eigenvalue at each known minimum."""
        out = []
        for m in self.minima:
            w = torch.tensor(m, dtype=torch.float64)
            hess = torch.autograd.functional.hessian(lambda v: self.f(v[0], v[1]), w)
            out.append(float(torch.linalg.eigvalsh(hess).max()))
        return tuple(out)

    @property
    def max_curvature(self) -> float:
        """L: the largest curvature at any known minimum. Near that minimum the loss is close to
        its quadratic approximation, so plain gradient descent above 2/L oscillates away from it."""
        return max(self.curvatures)

    def describe(self) -> str:
        """The formula with this surface's parameter values: for the CLI list and the window."""
        return self.formula


@surface_kind("quadratic", Param("condition", Num(ge=1, le=10_000), 10.0,
                                 "condition number k = L / mu: the ratio of the steepest curvature to the shallowest"))
class Quadratic(Surface):
    """f(x, y) = (x^2 + k y^2) / 2, k = condition

    An ill-conditioned bowl: curvature 1 along x and k along y, so L = k and mu = 1. Gradient
    descent multiplies the offset along each axis by (1 - lr h) per step (h its curvature): it
    converges only for lr < 2/L, crawls along x when lr suits y, and zigzags across y when lr is
    near 2/L. The textbook picture of why one LR cannot suit every direction, and of what Adam's
    per-coordinate scaling buys.
    """

    title = "ill-conditioned quadratic bowl"

    def __init__(self, condition: float = 10.0):
        self.k = float(condition)

    def f(self, x: Any, y: Any) -> Any:
        return 0.5 * (x * x + self.k * y * y)

    def grad(self, x: float, y: float) -> Point:
        return x, self.k * y

    @functools.cached_property
    def curvatures(self) -> tuple[float, ...]:
        return (max(1.0, self.k),)

    def describe(self) -> str:
        return f"f(x, y) = (x^2 + {self.k:g} y^2) / 2"


@surface_kind("rosenbrock", Param("b", Num(ge=1, le=1000), 100.0,
                                  "steepness of the valley walls (the classic function uses 100)"))
class Rosenbrock(Surface):
    """f(x, y) = (1 - x)^2 + b (y - x^2)^2

    A narrow curved valley (Rosenbrock, 1960): finding the valley is easy, following its floor
    to the minimum at (1, 1) is slow, because the walls are b times steeper than the floor.
    An LR small enough for the walls crawls along the floor; momentum and Adam go faster.
    """

    title = "Rosenbrock's banana valley"
    box = (-2.0, 2.0, -1.0, 3.0)
    start = (-1.2, 1.0)
    minima = ((1.0, 1.0),)

    def __init__(self, b: float = 100.0):
        self.b = float(b)

    def f(self, x: Any, y: Any) -> Any:
        return (1 - x) ** 2 + self.b * (y - x * x) ** 2

    def grad(self, x: float, y: float) -> Point:
        inner = y - x * x
        return -2 * (1 - x) - 4 * self.b * x * inner, 2 * self.b * inner

    def describe(self) -> str:
        return f"f(x, y) = (1 - x)^2 + {self.b:g} (y - x^2)^2"


@surface_kind("beale")
class Beale(Surface):
    """f(x, y) = (1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2

    Beale's function: a flat basin around the minimum at (3, 0.5) between steep cliffs, so
    gradients range over orders of magnitude. A fixed LR that is safe on the cliffs stalls in
    the basin; adaptive optimizers rescale each coordinate and cross it.
    """

    title = "Beale's function"
    box = (-4.5, 4.5, -4.5, 4.5)
    start = (1.0, -1.0)
    minima = ((3.0, 0.5),)

    def f(self, x: Any, y: Any) -> Any:
        return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y * y * y) ** 2

    def grad(self, x: float, y: float) -> Point:
        a, b, c = 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y ** 3
        gx = 2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y ** 3 - 1)
        gy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y * y
        return gx, gy


@surface_kind("himmelblau")
class Himmelblau(Surface):
    """f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2

    Himmelblau's function: four minima of equal depth (f = 0). Where a trajectory ends depends
    on where it starts and on its step sizes: click another start point and watch optimizers
    part ways.
    """

    title = "Himmelblau's four minima"
    box = (-5.0, 5.0, -5.0, 5.0)
    start = (0.0, 0.0)
    minima = ((3.0, 2.0), (-2.805118086952745, 3.131312518250573),
              (-3.779310253377747, -3.283185991286170), (3.584428340330492, -1.848126526964404))

    def f(self, x: Any, y: Any) -> Any:
        return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2

    def grad(self, x: float, y: float) -> Point:
        a, b = x * x + y - 11, x + y * y - 7
        return 4 * x * a + 2 * b, 2 * a + 4 * y * b


@surface_kind("saddle")
class Saddle(Surface):
    """f(x, y) = x^2 - y^2 + y^4 / 2

    A saddle at the origin between two minima at (0, -1) and (0, 1) (f = -1/2). Started near
    the ridge y = 0, gradient descent first falls towards the saddle and lingers there: the
    gradient across the ridge is tiny (2y), so escaping takes many steps, more the closer the
    start is to y = 0. Adam divides by the gradient's own size and escapes at once.
    """

    title = "a saddle point"
    box = (-2.0, 2.0, -2.0, 2.0)
    start = (-1.8, 0.02)
    minima = ((0.0, -1.0), (0.0, 1.0))
    f_min = -0.5

    def f(self, x: Any, y: Any) -> Any:
        return x * x - y * y + 0.5 * y ** 4

    def grad(self, x: float, y: float) -> Point:
        return 2 * x, -2 * y + 2 * y ** 3


@surface_kind("noisy_bowl",
              Param("condition", Num(ge=1, le=10_000), 5.0, "condition number k = L / mu of the bowl"),
              Param("noise", Num(ge=0, le=100), 0.5,
                    "standard deviation of the Gaussian noise added to each gradient component"))
class NoisyBowl(Quadratic):
    """f(x, y) = (x^2 + k y^2) / 2, gradient + noise * N(0, I)

    The quadratic bowl with seeded Gaussian noise on every gradient, standing in for the
    minibatch noise of real training. With a constant LR the iterates never settle: they hover
    around the minimum in a cloud whose size grows with lr * noise^2. Decaying the LR (step,
    cosine, ...) shrinks the cloud: large steps early for progress, small steps late to refine.
    The noise of step t is the same for every trajectory of a run (one generator per
    trajectory, all seeded from the run seed), so trajectories differ only in their optimizer.
    """

    title = "noisy bowl (minibatch-like gradient noise)"

    def __init__(self, condition: float = 5.0, noise: float = 0.5):
        super().__init__(condition)  # the quadratic's loss, gradient and curvature; noise on top
        self.noise = float(noise)

    def describe(self) -> str:
        return f"{super().describe()}, gradient + {self.noise:g} N(0, I)"


def surface_list() -> list[tuple[str, str, str]]:
    """(kind, title, formula) of every surface with its defaults: what ``--list`` prints."""
    out = []
    for kind in SURFACES.kinds:
        s = build_surface({"kind": kind})
        out.append((kind, s.title, s.formula))
    return out


def grid(surface: Surface, box: Box | None = None, n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``xs`` (n), ``ys`` (n) and f on the n x n grid over ``box`` (rows follow y): the contour's data."""
    x0, x1, y0, y1 = box or surface.box
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    xx, yy = np.meshgrid(xs, ys)
    return xs, ys, surface.f(xx, yy)


def log_levels(values: np.ndarray, f_min: float, n: int = 14) -> np.ndarray:
    """``n + 1`` contour levels of ``f - f_min`` spaced evenly on a log scale.

    Losses span orders of magnitude (Beale's cliffs reach 10^5 where its basin is below 1),
    so evenly spaced levels would put every line on the cliffs. Geometric levels from the
    smallest visible gap (the 0.5th percentile, at least 10^-8 of the largest) up to the
    largest one draw the basin and the walls alike."""
    gap = np.asarray(values, dtype=np.float64) - f_min
    gap = gap[np.isfinite(gap) & (gap > 0)]
    if gap.size == 0:
        return np.geomspace(1e-8, 1.0, n + 1)
    top = float(gap.max())
    low = max(float(np.quantile(gap, 0.005)), top * 1e-8)
    if not low < top:
        low = top / 10
    return np.geomspace(low, top, n + 1)


# --- critical step sizes ---------------------------------------------------------------------


def critical_lr(optimizer: Kinded, curvature: float) -> float | None:
    """The largest LR for which ``optimizer`` still converges on a quadratic whose largest
    curvature is ``curvature`` (L), or None for adaptive optimizers.

    - plain gradient descent: ``x <- x - lr h x`` shrinks iff ``|1 - lr h| < 1``: ``lr < 2/L``;
    - heavy-ball momentum ``b`` (torch's SGD: ``v <- b v + (1 - d) g``, ``x <- x - lr v``): the
      iteration's eigenvalues stay inside the unit circle iff ``lr (1 - d) < 2 (1 + b) / L``;
    - Nesterov momentum (``x <- x - lr (g + b v)``): ``lr < 2 (1 + b) / ((1 + 2 b) L)``;
    - L2 weight decay ``wd`` adds ``wd`` to every curvature: L becomes ``L + wd``.

    Adam, AdamW, RMSprop and Adagrad divide each step by a running size of the gradient, so
    their step is about ``lr`` per coordinate whatever the curvature: no 2/L bound applies.
    """
    if optimizer.kind != "sgd":
        return None
    big = curvature + optimizer["weight_decay"]
    b, d = optimizer["momentum"], optimizer["dampening"]
    if b == 0:
        return 2.0 / big
    if optimizer["nesterov"]:
        return 2.0 * (1 + b) / ((1 + 2 * b) * big)
    return 2.0 * (1 + b) / (big * (1 - d)) if d < 1 else math.inf


def describe_critical(surface: Surface) -> str:
    """One sentence with 2/L for the window and the CLI."""
    big = surface.max_curvature
    where = "" if isinstance(surface, Quadratic) else " at the sharpest minimum"
    return (f"L = {big:.4g} (largest curvature{where}): gradient descent converges for lr < 2/L = "
            f"{2 / big:.4g}; with momentum b below 2(1 + b)/L")


# --- what one landscape run is ---------------------------------------------------------------


@dataclass(frozen=True)
class Fields(Check):
    """A JSON object with declared fields (a dict of parsed values): one trajectory."""

    params: tuple[Param, ...]

    def parse(self, value: Any, path: str, problems: Problems) -> Any:
        before = len(problems.items)
        out = parse_fields(value, path, self.params, problems)
        return INVALID if len(problems.items) > before else out

    def dump(self, value: Any) -> Any:
        return dump_fields(value, self.params)


TRAJECTORY_PARAMS = (
    Param("optimizer", OPTIMIZERS, {"name": "sgd", "lr": 0.1}, "torch.optim optimizer and its base LR"),
    Param("schedule", SCHEDULES, {"kind": "constant"},
          'how the LR changes over the steps (durations: steps, "25%" or "run"; an epoch is one step)'),
    Param("label", Text(), "", "the name in the legend; empty: the optimizer and its LR"),
)

LANDSCAPE_PARAMS = (
    Param("surface", SURFACES, {"kind": "quadratic"}, "the loss surface"),
    Param("start", Optional(ListOf(Num(), 2, 2)), None, "start point [x, y] inside the view box; null: the "
          "surface's"),
    Param("steps", Num(ge=1, le=MAX_STEPS, integer=True), 200, "optimizer steps of every trajectory"),
    Param("seed", Num(ge=0, le=2**63 - 1, integer=True), 0, "seeds the gradient noise of the noisy bowl"),
    Param("trajectories", ListOf(Fields(TRAJECTORY_PARAMS), min_len=1), [{}],
          f"1 to {MAX_TRAJECTORIES} optimizers started from the same point"),
)


@dataclass(frozen=True)
class TrajectorySpec:
    """One optimizer on the surface: its torch.optim spec, its LR schedule, its legend label."""

    optimizer: Kinded
    schedule: Kinded
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.to_json(), "schedule": self.schedule.to_json(), "label": self.label}

    @property
    def name(self) -> str:
        """The legend text: the label, or ``sgd lr=0.1`` (plus the schedule kind when not constant)."""
        if self.label:
            return self.label
        text = short_spec(self.optimizer).replace(":", " ", 1).replace(",", " ")
        return text if self.schedule.kind == "constant" else f"{text}, {self.schedule.kind}"


@dataclass(frozen=True)
class LandscapeSpec:
    """A validated landscape run: surface, start, steps, seed and 1-6 trajectories.

    Build it with :meth:`from_json`; every problem comes back at once with its field path
    (``trajectories[1].optimizer.lr: must be a finite number > 0 and <= 1000, got -1``).
    Schedule durations written relative to the run (``"run"``, ``"25%"``) are resolved to
    steps here, so the spec a session stores replays as it is."""

    surface: Kinded
    start: Point | None
    steps: int
    seed: int
    trajectories: tuple[TrajectorySpec, ...]

    @classmethod
    def from_json(cls, data: Any, path: str = "") -> LandscapeSpec:
        problems = Problems()
        values = parse_fields(data, path, LANDSCAPE_PARAMS, problems)
        problems.raise_if_any()
        trajectories = values["trajectories"]
        if len(trajectories) > MAX_TRAJECTORIES:
            problems.add(join(path, "trajectories"), f"must have at most {MAX_TRAJECTORIES} trajectories "
                                                     f"(one colour each), got {len(trajectories)}")
        surface = build_surface(values["surface"])
        start = values["start"]
        if start is not None:
            x0, x1, y0, y1 = surface.box
            if not (x0 < start[0] < x1 and y0 < start[1] < y1):
                problems.add(join(path, "start"), f"must lie inside the view box x in ({x0:g}, {x1:g}), "
                                                  f"y in ({y0:g}, {y1:g}), got {show(list(start))}")
        specs = []
        for i, t in enumerate(trajectories):
            where = join(join(path, "trajectories"), i)
            try:  # "run" and "25%" mean this run's steps; an epoch is one step
                schedule = resolve_schedule(t["schedule"], values["steps"], 1, join(where, "schedule"))
            except SpecError as err:
                problems.items.extend(err.problems)
                continue
            specs.append(TrajectorySpec(t["optimizer"], schedule, t["label"]))
        problems.raise_if_any()
        return cls(values["surface"], None if start is None else (float(start[0]), float(start[1])),
                   values["steps"], values["seed"], tuple(specs))

    def to_json(self) -> dict[str, Any]:
        return {"surface": self.surface.to_json(), "start": None if self.start is None else list(self.start),
                "steps": self.steps, "seed": self.seed, "trajectories": [t.to_json() for t in self.trajectories]}

    def with_changes(self, **changes: Any) -> LandscapeSpec:
        """A copy with some top-level fields changed (as JSON), validated again."""
        return LandscapeSpec.from_json({**self.to_json(), **changes})

    @property
    def start_point(self) -> Point:
        return self.start if self.start is not None else build_surface(self.surface).start


# --- short forms for the command line: sgd:lr=0.1,betas=0.9:0.999 ------------------------------


def parse_short(text: str, registry: Registry, path: str) -> Any:
    """``name:key=value,key=value`` (or a JSON object) as JSON for ``registry``.

    Values are JSON where they parse (``0.1``, ``true``), lists are colon-separated
    (``betas=0.9:0.999``), anything else is a string (``anneal_strategy=linear``, ``T_max=run``).
    Raises SpecError naming ``path`` when the text is not of this form; the registry then checks
    the values themselves."""
    text = text.strip()
    if text.startswith("{"):
        return loads(text, path)
    name, _, rest = text.partition(":")
    if not name:
        raise SpecError([(path, f"expected {registry.tag}:key=value,..., got {text!r}")])
    out: dict[str, Any] = {registry.tag: name.strip()}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError([(path, f"expected key=value after '{name}:', got {item!r}")])
        parts = [loads(v, f"{path}: {key.strip()}", bare_words=True) for v in value.split(":")]
        out[key.strip()] = parts if len(parts) > 1 else parts[0]
    return out


def short_spec(spec: Kinded) -> str:
    """The reverse of :func:`parse_short`: the kind and the fields that differ from their
    defaults (an optimizer's ``lr`` always), e.g. ``adam:lr=0.05,betas=0.8:0.99``."""
    items = []
    written = spec.to_json()
    for p in spec.registry.params_of(spec.kind):
        default = None if p.default is REQUIRED else p.check.parse(p.default, "", Problems())
        if p.name == "lr" or p.default is REQUIRED or spec.params[p.name] != default:
            items.append(f"{p.name}={_short(written[p.name])}")
    return spec.kind + (":" + ",".join(items) if items else "")


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return ":".join(_short(v) for v in value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


#: how :func:`spec_from_short` names what it was given, in Python's words (the command passes its
#: flags'); ``{i}`` counts trajectories from 0, ``{n}`` from 1, ``{k}`` is how many schedules came
SHORT_WORDS: dict[str, str] = {
    "surface": "surface", "demo": "demo", "optimizer": "optimizers[{i}]", "schedule": "schedules[{i}]",
    "schedules": "schedules", "start": "start", "steps": "steps", "seed": "seed",
    "nothing": "give a surface (e.g. 'quadratic', see surface_list()) or a demo",
    "count": "give one schedule for every trajectory or one for each of the {n} optimizers, got {k}",
    "start_form": "expected X,Y (two numbers)",
}

#: a landscape spec's field paths -> the word in :data:`SHORT_WORDS` for what set the field
_SHORT_PATHS = ((r"^trajectories\[(\d+)\]\.optimizer\.?", "optimizer"),
                (r"^trajectories\[(\d+)\]\.schedule\.?", "schedule"),
                (r"^surface\.?", "surface"), (r"^start", "start"), (r"^steps", "steps"), (r"^seed", "seed"))


def spec_from_short(surface: str | None = None, *, demo: str | None = None, optimizers: Sequence[str] = (),
                    schedules: Sequence[str] = (), start: str | Sequence[float] | None = None,
                    steps: int | None = None, seed: int | None = None,
                    words: Mapping[str, str] = SHORT_WORDS) -> LandscapeSpec:
    """The landscape that a few short strings describe: a :data:`DEMOS` name and/or a surface
    (``"quadratic:condition=100"``), optimizers (``"adam:lr=0.05,betas=0.9:0.999"``, see
    :func:`parse_short`), schedules (one for all or one per optimizer), a start (``"X,Y"`` or a
    pair), steps and a seed. A surface replaces a demo's (and its start); optimizers replace its
    trajectories; without either, one SGD at LR 0.01 runs.

    The command line and Python share this one grammar; ``words`` names each input in a problem
    as its caller spells it (``--opt 2: lr must be ...`` on the command line, ``optimizers[1]:
    lr must be ...`` from Python). SpecError lists every problem."""
    words = {**SHORT_WORDS, **words}
    if demo is not None:
        if demo not in DEMOS:
            raise SpecError([(words["demo"], unknown(demo, list(DEMOS)))])
        data: dict[str, Any] = json.loads(json.dumps(DEMOS[demo].spec))
    elif surface is not None:
        data = {"trajectories": []}
    else:
        raise SpecError([("", words["nothing"])])
    if surface is not None:
        data["surface"] = parse_short(surface, SURFACES, words["surface"])
        if demo is None:
            data["start"] = None
    if optimizers:
        data["trajectories"] = [{"optimizer": parse_short(o, OPTIMIZERS, words["optimizer"].format(i=i, n=i + 1))}
                                for i, o in enumerate(optimizers)]
    elif not data["trajectories"]:
        data["trajectories"] = [{"optimizer": {"name": "sgd", "lr": 0.01}}]
    n = len(data["trajectories"])
    if schedules and len(schedules) not in (1, n):
        raise SpecError([(words["schedules"], words["count"].format(n=n, k=len(schedules)))])
    for i, t in enumerate(data["trajectories"]):
        if schedules:
            t["schedule"] = parse_short(schedules[i if len(schedules) > 1 else 0], SCHEDULES,
                                        words["schedule"].format(i=i, n=i + 1))
    if start is not None:
        data["start"] = _point(start, words)
    if steps is not None:
        data["steps"] = steps
    if seed is not None:
        data["seed"] = seed
    try:
        return LandscapeSpec.from_json(data)
    except SpecError as err:
        raise SpecError([_short_problem(path, message, words) for path, message in err.problems]) from None


def _point(start: str | Sequence[float], words: Mapping[str, str]) -> list[float]:
    """``"X,Y"`` or a pair as [x, y]; whether it lies in the view box is the spec's to say."""
    try:
        x, y = (float(v) for v in (start.split(",") if isinstance(start, str) else start))
    except (TypeError, ValueError):
        raise SpecError([(words["start"], f"{words['start_form']}, got {start!r}")]) from None
    return [x, y]


def _short_problem(path: str, message: str, words: Mapping[str, str]) -> tuple[str, str]:
    """A landscape spec's problem, named by the input that set the field (``--opt 2: lr ...``)."""
    for pattern, word in _SHORT_PATHS:
        m = re.match(pattern, path)
        if m:
            i = int(m.group(1)) if m.groups() else 0
            rest = path[m.end():]
            name = words[word].format(i=i, n=i + 1)
            return name, message if rest in ("", "kind", "name") else f"{rest} {message}"
    return path, message


# --- the trajectories -------------------------------------------------------------------------


RUNNING, CONVERGED, DIVERGED = "running", "converged", "diverged"


def _torch_optimizer(spec: Kinded, param: torch.Tensor) -> torch.optim.Optimizer:
    """The torch.optim class of ``spec`` in its reference single-tensor implementation: on a
    2-element tensor a fused kernel saves nothing, and this is the update torch documents (the
    tests hold one step to torch's own ``optimizer.step()`` exactly)."""
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

    def describe(self) -> str:
        """``converged at step 41``, ``diverged at step 5`` or ``running``."""
        if self.status == DIVERGED:
            return f"diverged at step {self.diverged_at}"
        if self.status == CONVERGED:
            return f"converged at step {self.converged_at}"
        return RUNNING

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


# --- presets ------------------------------------------------------------------------------------

#: the quadratic's teaching presets: plain gradient descent at these multiples of 2/L
QUADRATIC_PRESETS = {"too low": 0.1, "about right": 0.5, "too high": 0.95, "divergent": 1.05}
QUADRATIC_EXPLANATIONS = {
    "too low": "0.1 x 2/L: every step is safe and tiny; the shallow direction shrinks by only 2% a step, "
               "so after 200 steps it is still on its way",
    "about right": "0.5 x 2/L = 1/L: the steep direction is solved in one step, the shallow one shrinks by "
                   "1 - mu/L a step, with no overshoot",
    "too high": "0.95 x 2/L: each step overshoots the valley floor and lands on the other side; it still "
                "converges, zigzagging, because |1 - lr L| < 1",
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
    "quadratic-all": Demo("Quadratic: all four around 2/L", "The four LRs side by side: 0.1, 0.5, 0.95 and 1.05 "
                          "times 2/L. Below 2/L every one converges, above it the zigzag grows.",
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


def describe_results(landscape: Landscape) -> list[str]:
    """One line per trajectory: number, name, final point, loss and status (the CLI's output)."""
    lines = []
    for traj in landscape.trajectories:
        x, y = traj.point
        loss = float(traj.loss.data[-1])
        lines.append(f"{traj.index + 1}  {traj.name:<28} final ({x:.4g}, {y:.4g})  loss {loss:.4g}  "
                     f"{traj.describe()}")
    return lines


__all__ = ["CSV_COLUMNS", "DEMOS", "MAX_STEPS", "MAX_TRAJECTORIES", "QUADRATIC_PRESETS", "SURFACES", "Demo",
           "Landscape", "LandscapeSpec", "Note", "Surface", "Trajectory", "TrajectorySpec", "build_surface",
           "critical_lr", "describe_critical", "describe_results", "grid", "log_levels", "parse_short",
           "parse_targeted_edit", "preset_lr", "quadratic_preset", "short_spec", "spec_from_short",
           "surface_list", "write_csv"]
