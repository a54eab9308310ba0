"""A landscape from a few short strings: the one grammar of ``lrlab landscape``, ``lrlab.landscape()`` and the window.

:func:`spec_from_short` takes a demo and/or a surface (``quadratic:condition=100``), optimizers
(``adam:lr=0.05,betas=0.9:0.999``), schedules, a start, steps and a seed, and builds the validated
:class:`~lrlab.core.features.landscape.spec.LandscapeSpec`; each caller names its inputs in problems with its
own :data:`SHORT_WORDS` (``--opt 2`` on the command line, ``optimizers[1]`` from Python).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lrlab.core.decl.params import SpecError, unknown
from lrlab.core.decl.schedules import SCHEDULES
from lrlab.core.decl.spec import OPTIMIZERS
from lrlab.core.features.landscape.presets import DEMOS
from lrlab.core.features.landscape.spec import LandscapeSpec, parse_short
from lrlab.core.features.landscape.surfaces import SURFACES

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
