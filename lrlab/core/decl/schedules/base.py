"""What every schedule kind shares: the :class:`Schedule` base, the registry, ``build``.

A kind is one class, declared once with :func:`schedule_kind`::

    @schedule_kind("cosine", Param("T_max", STEPS, help="steps from base to eta_min"),
                   Param("eta_min", LR_FLOOR, 0.0, "lowest LR", role="lr"))
    class Cosine(Schedule):
        # its docstring gives the formula: lr(t) = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2
        examples = (Example({"T_max": 2000}, TorchScheduler("CosineAnnealingLR", 2000)),)
        def __init__(self, base_lr, T_max, eta_min): ...
        def __call__(self, t): ...            # the training loop, one step at a time
        def at(self, t): ...                  # previews, a numpy array of steps at once
        @classmethod
        def warnings(cls, fit): ...           # where its durations do not fit the run

Everything else is derived from that declaration: the parser and the GUI's forms (the
:class:`~lrlab.core.decl.params.Param` tuple), which fields are durations (their check), which are
learning rates a sweep scales (``role="lr"``), which hold nested schedules (their check is the
registry), and the tests (``examples``, with torch's equivalent scheduler where there is one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from lrlab.core.decl.params import (
    Kinded,
    Num,
    Param,
    Problems,
    Registry,
    SpecError,
    join,
    show,
)
from lrlab.core.decl.schedules.durations import is_relative, nested_fields, relative_durations

POS = Num(gt=0)
NONNEG = Num(ge=0)
FACTOR = Num(gt=0, le=1)
#: the largest learning rate a spec may name anywhere (the optimizer's, a cyclic max_lr, a held LR):
#: with every named LR bounded, only growth factors (gamma, a scale edit) can push a schedule toward
#: overflow, and :data:`MAX_LR` caps those
MAX_NAMED_LR = 1e3
LR = Num(gt=0, le=MAX_NAMED_LR)
LR_FLOOR = Num(ge=0, le=MAX_NAMED_LR)

#: the largest LR any schedule or timeline gives. A gamma above 1 grows the LR without bound
#: (exponential with gamma 2 passes float's range after about 1,030 steps); past this ceiling every
#: step diverges anyway, so the LR is held here instead of overflowing to inf (previews could not
#: draw it, Python's ``**`` raises OverflowError, and torch refuses an LR beyond float32's 3.4e38).
#: Far above any LR a run could train with, so every schedule still matches torch's up to it.
MAX_LR = 1e30


class TorchScheduler:
    """A ``torch.optim.lr_scheduler`` class and its arguments after the optimizer, as data: the
    declarations stay importable without torch (the GUI validates specs on every keystroke), and
    tests build it with :meth:`make`. An argument that is itself a TorchScheduler (or a list of
    them, as ``SequentialLR`` takes) is built on the same optimizer, in the order written."""

    def __init__(self, name: str, *args: Any, **kwargs: Any):
        self.name, self.args, self.kwargs = name, args, kwargs

    def make(self, optimizer: Any) -> Any:
        from torch.optim import lr_scheduler

        def built(value: Any) -> Any:
            if isinstance(value, TorchScheduler):
                return value.make(optimizer)
            return [built(v) for v in value] if isinstance(value, list) else value

        args = [built(a) for a in self.args]
        kwargs = {k: built(v) for k, v in self.kwargs.items()}
        return getattr(lr_scheduler, self.name)(optimizer, *args, **kwargs)

    def __repr__(self) -> str:
        shown = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(shown)})"


@dataclass(frozen=True)
class Example:
    """A spec of a kind (``fields``, without ``kind``) that the tests run through every check:
    it parses and round-trips, ``lr(t)`` and ``at`` agree and stay finite, its durations resolve,
    a sweep scales it, the CLI prints it. ``torch``: torch's scheduler that gives the same LR at
    every step, for any optimizer LR (the parity table of ``tests/core/test_schedules.py``)."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    torch: TorchScheduler | None = None


@dataclass(frozen=True)
class Fit:
    """Where one schedule sits in a run, for its :meth:`Schedule.warnings`: it governs the global
    steps ``start..end-1`` of a run of ``total`` steps; ``has`` says so in words ("the run has 80
    steps", "it runs for 50 steps (20 to 69)"). ``written`` is the spec as the user wrote it,
    ``data`` the same with every duration resolved to steps (both JSON)."""

    written: Mapping[str, Any]
    data: Mapping[str, Any]
    start: int
    end: int
    total: int
    path: str
    has: str

    @property
    def remaining(self) -> int:
        """How many steps the schedule governs."""
        return max(self.end - self.start, 0)

    @property
    def follow(self) -> str:
        """The advice that ends most warnings: what to write instead."""
        return ('use "run" to follow the run' if self.end == self.total
                else f"use {self.remaining} to end at the next milestone")

    def name(self, param: str) -> str:
        """``schedule.T_max ("25%") is 20 steps``: the field, how it was written if relative, its steps."""
        value = self.written.get(param)
        shown = f" ({show(value)})" if is_relative(value) else ""
        return f"{join(self.path, param)}{shown} is {self.data[param]:,} steps"


class Schedule:
    """A map from a step (int >= 0) to a learning rate. Pure unless ``stateful``.

    ``lr(t)`` is what the training loop calls once per step; :meth:`at` evaluates a whole
    array of steps at once with numpy (as optax's schedules do), so a preview of a
    million-step run costs milliseconds. Both follow the same formula (tests compare them
    at every step, and ``lr(t)`` with torch's schedulers).

    The class methods belong to the kind rather than to one built schedule: the rules across
    fields that a per-field check cannot express (:meth:`check`), where nested schedules start
    (:meth:`children`) and what goes wrong when the durations do not fit the run (:meth:`warnings`).
    """

    #: the name specs use; set by :func:`schedule_kind`
    kind: ClassVar[str] = ""
    stateful: ClassVar[bool] = False
    #: why a spec of this kind cannot be nested in a composite schedule; None: it can be
    not_nestable: ClassVar[str | None] = None
    #: how warnings describe a nested schedule that runs to the end of the run, after "the run has N
    #: steps" ("after warmup"); None: by its steps ("it runs for N steps (a to b)")
    rest_of_run: ClassVar[str | None] = None
    #: specs the tests check this kind with (see :class:`Example`); every kind has at least one
    examples: ClassVar[tuple[Example, ...]] = ()

    def __call__(self, t: int) -> float:
        raise NotImplementedError

    def at(self, t: np.ndarray) -> np.ndarray:
        """lr at each step of the integer array ``t`` (float64). Subclasses vectorize this."""
        return np.fromiter((self(int(s)) for s in t), dtype=np.float64, count=len(t))

    @classmethod
    def check(cls, spec: Kinded, path: str, problems: Problems) -> None:
        """Add the problems of a parsed ``spec`` that no single field shows. The base rule: a
        nested schedule's kind must allow nesting. Kinds with rules of their own extend this."""
        for name, is_list, _ in nested_fields(SCHEDULES.params_of(spec.kind)):
            value = spec[name]
            for child in (list(value) if is_list else [value] if value is not None else []):
                reason = kind_class(child.kind).not_nestable
                if reason is not None:
                    problems.add(path, reason)

    @classmethod
    def children(cls, data: Mapping[str, Any], start: int) -> list[tuple[str, int | None, int]]:
        """(field, list index or None, global start step) of each schedule nested in ``data`` (the
        kind's resolved JSON) when this schedule starts at global step ``start``. A kind that
        declares nested schedules says where they start; others have none."""
        return []

    @classmethod
    def warnings(cls, fit: Fit) -> list[str]:
        """Where this schedule's durations do not fit the steps it governs (see :class:`Fit`):
        a decay that never happens, a cycle that ends early. Nested schedules are warned about
        by the caller, each with its own Fit."""
        return []

    @classmethod
    def example_specs(cls) -> list[dict[str, Any]]:
        """Each of :attr:`examples` as a whole spec (JSON, with ``kind``)."""
        return [{"kind": cls.kind, **ex.fields} for ex in cls.examples]


def _check_extra(spec: Kinded, path: str, problems: Problems) -> None:
    kind_class(spec.kind).check(spec, path, problems)


SCHEDULES = Registry("schedule", "kind", check_extra=_check_extra)
_CLASSES: dict[str, type[Schedule]] = {}


def schedule_kind(kind: str, *params: Param) -> Callable[[type[Schedule]], type[Schedule]]:
    """Register a Schedule class under ``kind`` with its declared parameters. A kind that holds
    nested schedules must say where they start (:meth:`Schedule.children`)."""

    def register(cls: type[Schedule]) -> type[Schedule]:
        if nested_fields(tuple(params)) and cls.children.__func__ is Schedule.children.__func__:  # type: ignore[attr-defined]
            raise TypeError(f"schedule kind {kind!r} holds nested schedules but does not define children()")
        cls.kind = kind
        SCHEDULES.register(kind, params, doc=(cls.__doc__ or "").strip())
        _CLASSES[kind] = cls
        return cls

    return register


def unregister_kind(kind: str) -> None:
    """Forget a kind registered by :func:`schedule_kind` (a test's temporary kind)."""
    SCHEDULES.unregister(kind)
    del _CLASSES[kind]


def kind_class(kind: str) -> type[Schedule]:
    """The class registered for ``kind`` (KeyError for an unknown one)."""
    return _CLASSES[kind]


def parse_schedule(data: Any, path: str = "schedule") -> Kinded:
    """Validate a schedule spec; raises SpecError naming every bad field."""
    return SCHEDULES.parse(data, path)


def build(spec: Kinded, base_lr: float) -> Schedule:
    """The function ``step -> lr`` that ``spec`` describes, for optimizer LR ``base_lr``.

    Relative durations must be resolved first (:func:`resolve_schedule`): a cosine over
    "run" has no shape until the run's length is known.
    """
    relative = relative_durations(spec)
    if relative:
        raise SpecError([(path, f"{show(value)} is relative to the run; resolve the schedule against "
                                "the run first (resolve_schedule, RunSpec.resolved or preview_timeline)")
                         for path, value in relative])
    return _CLASSES[spec.kind](base_lr, **spec.params)


def values(fn: Callable[[int], float], start: int, stop: int) -> np.ndarray:
    """``fn`` at every step in ``range(start, stop)``, as float64: what previews plot.
    Schedules and timelines are evaluated as arrays; any other callable step by step."""
    steps = np.arange(start, max(start, stop), dtype=np.int64)
    at = getattr(fn, "at", None)
    if at is not None:
        return at(steps)
    return np.fromiter((fn(int(t)) for t in steps), dtype=np.float64, count=len(steps))


# --- arithmetic that several kinds share ------------------------------------------------------


def grown(base: float, gamma: float, k: int) -> float:
    """min(base * gamma ** k, MAX_LR) for one exponent, without OverflowError."""
    try:
        return min(base * gamma ** k, MAX_LR)
    except OverflowError:  # gamma ** k beyond float's range: base > 0, so the product is too
        return MAX_LR


def grown_at(base: float, gamma: float, k: np.ndarray) -> np.ndarray:
    """min(base * gamma ** k, MAX_LR) for an array of exponents (:func:`grown`, vectorized)."""
    return capped(base, power(gamma, k))


def capped(factor: float, x: np.ndarray) -> np.ndarray:
    """min(factor * x, MAX_LR), where the product may overflow to inf without a warning."""
    with np.errstate(over="ignore"):
        return np.minimum(factor * x, MAX_LR)


def power(base: float, exponent: np.ndarray) -> np.ndarray:
    """base ** exponent for an array of exponents, overflowing to inf without a warning."""
    with np.errstate(over="ignore", under="ignore"):
        return np.power(float(base), np.asarray(exponent, dtype=np.float64))


def cosine(base: float, eta_min: float, t: Any, period: Any) -> Any:
    """eta_min + (base - eta_min) * (1 + cos(pi * t / period)) / 2, for numbers or arrays."""
    cos = np.cos if isinstance(t, np.ndarray) else math.cos
    return eta_min + (base - eta_min) * (1 + cos(math.pi * t / period)) / 2


def pieces(t: np.ndarray, starts: Sequence[int], parts: Sequence[tuple[Schedule, int, float]]) -> np.ndarray:
    """Piecewise evaluation: where starts[i] <= t < starts[i+1], factor_i * schedule_i(t - origin_i)."""
    out = np.empty(len(t))
    which = np.searchsorted(starts, t, "right") - 1
    for i, (fn, origin, factor) in enumerate(parts):
        mask = which == i
        if mask.any():
            out[mask] = capped(factor, fn.at(t[mask] - origin))
    return out
