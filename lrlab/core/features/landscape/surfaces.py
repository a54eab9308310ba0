"""Loss surfaces f(x, y): formulas, analytic gradients, view boxes, minima, and the critical LR.

Surfaces (:data:`SURFACES`) are declared like schedules: a small class per kind with its formula
as the first line of its docstring, its parameters as :class:`~lrlab.core.decl.params.Param` (so the
CLI, the GUI form and validation come from one declaration), a default view box, a start point and
its known minima. Gradients are analytic (checked against autograd by the tests); curvature at the
minima comes from the Hessian.

Critical step sizes of the quadratic: on ``f = (x^2 + k y^2) / 2`` gradient descent multiplies
the offset along an axis of curvature ``h`` by ``1 - lr h`` each step, which shrinks only while
``|1 - lr h| < 1``, that is ``lr < 2/h``; the steepest axis (``L``, the largest curvature)
decides: ``lr < 2/L``. Heavy-ball momentum ``b`` moves the bound to ``2 (1 + b) / L``
(:func:`critical_lr`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import torch

from lrlab.core.decl.params import Kinded, Num, Param, Registry

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
