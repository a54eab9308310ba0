"""What one landscape run is: a validated :class:`LandscapeSpec` and the short form of one item.

A spec is JSON (surface, start, steps, seed, 1-6 trajectories), validated by the declared
:data:`LANDSCAPE_PARAMS` so every problem comes back at once with its field path. The short form
``name:key=value,...`` (:func:`parse_short`, and :func:`short_spec` back) is how the command line,
Python and the legend write one optimizer, schedule or surface.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
)
from lrlab.core.decl.schedules import SCHEDULES, resolve_schedule
from lrlab.core.decl.spec import OPTIMIZERS
from lrlab.core.features.landscape.surfaces import SURFACES, Point, build_surface

#: the most trajectories one landscape run draws at once (one colour of the palette each)
MAX_TRAJECTORIES = 6
#: the most steps of one landscape run (an animation at 60 steps/s takes 5 minutes)
MAX_STEPS = 20_000

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

    # The window's edits, here so that every change of a set-up is validated by the one parser
    # (each raises SpecError with the field paths of every problem, and changes nothing).

    def with_setup(self, surface: Mapping[str, Any], steps: int, seed: int) -> LandscapeSpec:
        """Another surface, length or seed. A surface of another kind has another view box, so it
        starts from its own default point; the same kind keeps the start."""
        data = self.to_json()
        if surface.get("kind") != self.surface.kind:
            data["start"] = None
        data.update(surface=dict(surface), steps=steps, seed=seed)
        return LandscapeSpec.from_json(data)

    def with_trajectory(self, i: int, trajectory: Mapping[str, Any]) -> LandscapeSpec:
        """Trajectory ``i`` (0-based) replaced by ``trajectory`` (optimizer, schedule, label as JSON)."""
        data = self.to_json()
        data["trajectories"][i] = dict(trajectory)
        return LandscapeSpec.from_json(data)

    def with_copy_of(self, i: int) -> LandscapeSpec:
        """One more trajectory: a copy of trajectory ``i`` at half its LR (``lr / 2`` to 3 significant
        digits, so the legend stays short), without its label; SpecError past :data:`MAX_TRAJECTORIES`."""
        data = self.to_json()
        copy = dict(data["trajectories"][i])
        copy["optimizer"] = {**copy["optimizer"], "lr": float(f"{copy['optimizer']['lr'] / 2:.3g}")}
        copy["label"] = ""
        data["trajectories"].append(copy)
        return LandscapeSpec.from_json(data)

    def without_trajectory(self, i: int) -> LandscapeSpec:
        """Trajectory ``i`` (0-based) removed; SpecError if it was the only one."""
        data = self.to_json()
        del data["trajectories"][i]
        return LandscapeSpec.from_json(data)

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
