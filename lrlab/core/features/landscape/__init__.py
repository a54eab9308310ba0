"""The loss landscape playground: real optimizers stepping on 2-D surfaces.

Every picture of the learning rate in a lecture (a ball overshooting across a valley, crawling
down a plateau, spiralling with momentum, Adam rescaling an ill-conditioned bowl) is a
trajectory on a function of two variables. Here each is computed, not drawn by hand. The
package, from the bottom up (each module imports only those above it in this list):

- :mod:`.surfaces`: the surfaces f(x, y) with their formulas, analytic gradients, view boxes and
  minima, the contour grid and its log-spaced levels, and the critical LR: gradient descent on a
  quadratic of largest curvature ``L`` converges only for ``lr < 2/L`` (:func:`critical_lr`);
- :mod:`.spec`: what one run is (:class:`LandscapeSpec`, validated with every problem's field
  path) and the short form of one item, ``adam:lr=0.05,betas=0.9:0.999`` (:func:`parse_short`);
- :mod:`.presets`: the quadratic's teaching LRs around 2/L and the demos, with what each shows;
- :mod:`.short`: :func:`spec_from_short`, a landscape from a few short strings: the one grammar
  of ``lrlab landscape``, :func:`lrlab.api.landscape` and the window;
- :mod:`.simulation`: :class:`Landscape` steps up to :data:`MAX_TRAJECTORIES` trajectories (the
  real ``torch.optim`` classes, LRs from a schedule :class:`~lrlab.core.decl.schedules.Timeline`) one
  step at a time, and writes them as CSV. The window calls it from a timer, the ``landscape`` run
  kind (:mod:`lrlab.core.runs.landscape`) from its loop, so the window, the CLI and a replay
  compute the same numbers.

Nothing here imports Qt (tested): the window is :mod:`lrlab.gui.landscape`.
"""

from __future__ import annotations

from lrlab.core.features.landscape.presets import (
    DEMOS,
    QUADRATIC_EXPLANATIONS,
    QUADRATIC_PRESETS,
    Demo,
    preset_lr,
    quadratic_preset,
)
from lrlab.core.features.landscape.short import SHORT_WORDS, spec_from_short
from lrlab.core.features.landscape.simulation import (
    CONVERGED,
    CONVERGED_TOLERANCE,
    CSV_COLUMNS,
    DIVERGED,
    RUNNING,
    Landscape,
    Note,
    Trajectory,
    describe_results,
    parse_targeted_edit,
    write_csv,
)
from lrlab.core.features.landscape.spec import (
    LANDSCAPE_PARAMS,
    MAX_STEPS,
    MAX_TRAJECTORIES,
    TRAJECTORY_PARAMS,
    LandscapeSpec,
    TrajectorySpec,
    parse_short,
    short_spec,
)
from lrlab.core.features.landscape.surfaces import (
    SURFACES,
    Beale,
    Box,
    Himmelblau,
    NoisyBowl,
    Point,
    Quadratic,
    Rosenbrock,
    Saddle,
    Surface,
    build_surface,
    critical_lr,
    describe_critical,
    grid,
    log_levels,
    surface_kind,
    surface_list,
)

__all__ = ["CONVERGED", "CONVERGED_TOLERANCE", "CSV_COLUMNS", "DEMOS", "DIVERGED", "LANDSCAPE_PARAMS", "MAX_STEPS",
           "MAX_TRAJECTORIES", "QUADRATIC_EXPLANATIONS", "QUADRATIC_PRESETS", "RUNNING", "SHORT_WORDS", "SURFACES",
           "TRAJECTORY_PARAMS", "Beale", "Box", "Demo", "Himmelblau", "Landscape", "LandscapeSpec", "NoisyBowl",
           "Note", "Point", "Quadratic", "Rosenbrock", "Saddle", "Surface", "Trajectory", "TrajectorySpec",
           "build_surface", "critical_lr", "describe_critical", "describe_results", "grid", "log_levels",
           "parse_short", "parse_targeted_edit", "preset_lr", "quadratic_preset", "short_spec", "spec_from_short",
           "surface_kind", "surface_list", "write_csv"]
