"""Learning-rate schedules: JSON specs that build pure functions ``step -> lr``.

A schedule spec is data, e.g. ``{"kind": "cosine", "T_max": 2000, "eta_min": 0.0}``;
:func:`build` turns it and the optimizer's base LR into a callable. Steps count
from 0: the first optimizer step uses ``lr(0)``. Field names follow
``torch.optim.lr_scheduler`` so users recognise them, and ``tests/core/test_schedules.py``
checks every kind torch has against torch's own scheduler at every step.

Composite schedules (``warmup``, ``sequence``) join simpler ones at step
boundaries; each later piece sees *local* time ``step - boundary`` (like optax's
``join_schedules`` and torch's ``SequentialLR``). A run's :class:`Timeline` is a
base schedule plus the edits a user made mid-run, each starting at a step.

Durations (``T_max``, ``step_size``, ``milestones``, ``warmup_steps``, ...) are written as
whole steps (``640``), epochs (``"3ep"``), a share of the run (``"25%"``) or ``"run"``
(the rest of the run after the schedule starts), so a schedule written for 30 epochs still
means the same thing at 600. Relative durations are data until a run starts:
:func:`resolve_schedule` turns them into steps once the run's length is known, and the
session stores the resolved spec, so a replay never depends on how they were written.

The package, from the bottom up (each module imports only those above it in this list):

- :mod:`.durations`: the :class:`Duration` check, resolving one duration, finding relative ones;
- :mod:`.base`: the :class:`Schedule` base with each kind's hooks (cross-field checks, nested
  schedules' starts, warnings), the registry and :func:`schedule_kind`, :func:`build`, :func:`values`;
- the kinds, one module per family, each class with its formula, its declaration and its test
  examples: :mod:`.decay`, :mod:`.cosine`, :mod:`.polynomial`, :mod:`.cyclic`, :mod:`.inverse_sqrt`,
  :mod:`.composite`, :mod:`.plateau`;
- :mod:`.fitting`: a schedule against its run (:func:`resolve_schedule`, :func:`duration_warnings`);
- :mod:`.edits` and :mod:`.timeline`: mid-run edits and the run's :class:`Timeline`.

A new kind is one class in a module of its family (or a new module imported below); the
registry's order, which the GUI's kind menus and the "one of: ..." messages show, is the
order of the imports here.
"""

from __future__ import annotations

from lrlab.core.decl.schedules.base import (
    FACTOR,
    LR,
    LR_FLOOR,
    MAX_LR,
    MAX_NAMED_LR,
    NONNEG,
    POS,
    SCHEDULES,
    Example,
    Fit,
    Schedule,
    TorchScheduler,
    build,
    kind_class,
    parse_schedule,
    schedule_kind,
    unregister_kind,
    values,
)

# The kinds register as they are imported, in the order the GUI's menus and the "one of: ..."
# messages show them: keep this block in that order.
# isort: off
from lrlab.core.decl.schedules.decay import Constant, Exponential, MultiStep, StepDecay
from lrlab.core.decl.schedules.cosine import Cosine, CosineRestarts
from lrlab.core.decl.schedules.polynomial import Linear, Polynomial
from lrlab.core.decl.schedules.cyclic import Cyclic, OneCycle
from lrlab.core.decl.schedules.inverse_sqrt import InverseSqrt
from lrlab.core.decl.schedules.composite import Sequence_, Warmup
from lrlab.core.decl.schedules.plateau import Plateau
# isort: on

from lrlab.core.decl.schedules.durations import (
    STEPS,
    Duration,
    duration_fields,
    is_relative,
    nested_fields,
    relative_durations,
    resolve_duration,
)
from lrlab.core.decl.schedules.edits import EDITS, describe_edit, parse_edit
from lrlab.core.decl.schedules.fitting import duration_warnings, resolve_schedule
from lrlab.core.decl.schedules.timeline import Segment, Timeline

__all__ = [
    "EDITS", "FACTOR", "LR", "LR_FLOOR", "MAX_LR", "MAX_NAMED_LR", "NONNEG", "POS", "SCHEDULES", "STEPS",
    "Constant", "Cosine", "CosineRestarts", "Cyclic", "Duration", "Example", "Exponential", "Fit", "InverseSqrt",
    "Linear", "MultiStep", "OneCycle", "Plateau", "Polynomial", "Schedule", "Segment", "Sequence_", "StepDecay",
    "Timeline", "TorchScheduler", "Warmup", "build", "describe_edit", "duration_fields", "duration_warnings",
    "is_relative", "kind_class", "nested_fields", "parse_edit", "parse_schedule", "relative_durations",
    "resolve_duration", "resolve_schedule", "schedule_kind", "unregister_kind", "values",
]
