"""Declarative parameters and validation that reports every problem at once.

Every user-facing object in lrlab (run specs, schedules, datasets, optimizers,
edits) is plain JSON data described by a tuple of :class:`Param`. One parser
walks the data, fills defaults, rejects unknown keys and collects *all* the
problems with their field paths, so the GUI can mark every bad field inline and
the CLI can print them together. Messages read like
``optimizer.lr: must be a finite number > 0, got -1``.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class SpecError(ValueError):
    """Invalid user data. ``problems`` holds one ``(path, message)`` per problem."""

    def __init__(self, problems: Sequence[tuple[str, str]]):
        self.problems = list(problems)
        super().__init__("\n".join(f"{p}: {m}" if p else m for p, m in self.problems))

    def first_line(self) -> str:
        """The first problem, plus how many more there are: for one-line CLI errors."""
        path, msg = self.problems[0]
        line = f"{path}: {msg}" if path else msg
        if len(self.problems) > 1:
            line += f" (and {len(self.problems) - 1} more problem(s))"
        return line


class Problems:
    """Collects ``(path, message)`` pairs while a parser walks nested data."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError(self.items)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def show(value: Any) -> str:
    """A value as the user typed it (JSON), for 'got ...' in messages."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**60:
        return f"an integer of {len(str(abs(value))) if value.bit_length() < 14000 else 'over 4,000'} digits"
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):  # an object, a huge int inside a list, deep nesting
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f", did you mean '{close[0]}'?" if close else ""


def unknown(value: Any, options: Sequence[str]) -> str:
    """``unknown 'cosin', did you mean 'cosine'?`` or the list of what is allowed."""
    shown = (f"'{value}'" if len(value) <= 60 else f"'{value[:57]}...'") if isinstance(value, str) else show(value)
    hint = did_you_mean(value, options) if isinstance(value, str) and len(value) <= 200 else ""
    return f"unknown {shown}{hint}" if hint else f"unknown {shown} (one of: {', '.join(options)})"


#: how deep JSON objects and lists may nest in a spec; a warmup inside a warmup adds one level,
#: a part of a sequence two. Real specs use under ten; the bound keeps a hostile file (a schedule
#: nested 1,000 deep) from exhausting Python's recursion in the parsers, builders and writers.
MAX_DEPTH = 24


def check_depth(data: Any, path: str = "", limit: int = MAX_DEPTH) -> None:
    """Raise SpecError when ``data`` nests deeper than ``limit``. Iterative, so it is itself safe
    at any depth; run it before any recursive walk of data from a file."""
    stack = [(data, path, 0)]
    while stack:
        node, where, depth = stack.pop()
        if depth > limit:
            parts = where.split(".")
            shown = ".".join(parts[:4]) + ("..." if len(parts) > 4 else "")
            raise SpecError([(shown, f"nested more than {limit} levels deep; a spec needs far fewer (a "
                                     "nested schedule adds one level, a part of a sequence two)")])
        if isinstance(node, Mapping):
            stack.extend((v, join(where, str(k)), depth + 1) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((v, join(where, i), depth + 1) for i, v in enumerate(node))


#: the longest number a user may type: a float's full precision takes 17 digits; far longer text
#: is a mistake or an attack (Python refuses to convert integers of more than 4,300 digits)
MAX_NUMBER_CHARS = 100
#: the longest JSON text typed on a command line or in a field (an --edit, a --set value)
MAX_JSON_CHARS = 100_000
_BARE = object()


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number of {len(text):,} digits (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number of {len(text):,} characters (at most {MAX_NUMBER_CHARS})")
    return float(text)


def loads(text: str, path: str, *, bare_words: bool = False) -> Any:
    """JSON typed by a user (a ``--set`` value, an ``--edit``, a field of a short spec such as
    ``adam:lr=0.05``), parsed within bounds: every int and JSON parse of user input goes
    through here, so a 5,000-digit number, text nested thousands deep or megabytes of it is one
    SpecError naming ``path``, never a traceback. With ``bare_words``, text that is not JSON is
    the string itself (``--set schedule.kind=cosine``); else it is an error."""
    if len(text) > MAX_JSON_CHARS:
        raise SpecError([(path, f"too long ({len(text):,} characters; at most {MAX_JSON_CHARS:,})")])
    try:
        data = json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float)
    except json.JSONDecodeError as err:
        if bare_words:
            return text.strip()
        raise SpecError([(path, f"not valid JSON ({err.msg} at column {err.colno})")]) from None
    except RecursionError:
        raise SpecError([(path, f"nested more than {MAX_DEPTH} levels deep")]) from None
    except ValueError as err:  # a number too long to be one
        raise SpecError([(path, f"not a usable value: {err}")]) from None
    check_depth(data, path)
    return data


INVALID = object()  # a checker's "could not parse" marker


class Check:
    """Turns a raw JSON value into a valid Python value, or reports why not."""

    def parse(self, value: Any, path: str, problems: Problems) -> Any:
        raise NotImplementedError

    def dump(self, value: Any) -> Any:
        return value


@dataclass(frozen=True)
class Num(Check):
    """A finite number (``integer=True``: a whole number) within optional bounds."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    integer: bool = False

    def describe(self) -> str:
        what = "an integer" if self.integer else "a finite number"
        bounds = [f"{op} {_fmt(b)}" for op, b in ((">", self.gt), (">=", self.ge),
                                                 ("<", self.lt), ("<=", self.le)) if b is not None]
        if len(bounds) == 2 and self.ge is not None and self.le is not None:
            return f"must be {what} in [{_fmt(self.ge)}, {_fmt(self.le)}]"
        return f"must be {what}" + (" " + " and ".join(bounds) if bounds else "")

    def parse(self, value: Any, path: str, problems: Problems) -> Any:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and self.integer:
            ok = float(value).is_integer() if isinstance(value, float) else True
        if ok:  # a JSON integer can have any number of digits: too large for a float is out of range
            ok = _finite(value) and (not self.integer or -MAX_INTEGER <= value <= MAX_INTEGER)
        if ok:
            ok = ((self.gt is None or value > self.gt) and (self.ge is None or value >= self.ge)
                  and (self.lt is None or value < self.lt) and (self.le is None or value <= self.le))
        if not ok:
            limit = (f" (at most {MAX_INTEGER:,})" if self.integer and self.le is None
                     and isinstance(value, int) and abs(value) > MAX_INTEGER else "")
            problems.add(path, f"{self.describe()}{limit}, got {show(value)}")
            return INVALID
        return int(value) if self.integer else float(value)


#: the largest whole number any field takes, bounded or not: counts, seeds and steps end up in
#: int64 arrays and torch, where a larger one would wrap around or raise
MAX_INTEGER = 2**63 - 1


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float's range: 10**400
        return False


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


@dataclass(frozen=True)
class OfType(Check):
    """A value of one JSON type, as is."""

    type_: type = object
    what: str = "a value"

    def parse(self, value: Any, path: str, problems: Problems) -> Any:
        if not isinstance(value, self.type_):
            problems.add(path, f"must be {self.what}, got {show(value)}")
            return INVALID
        return value


def Bool() -> OfType:
    return OfType(bool, "true or false")


def Text() -> OfType:
    return OfType(str, "a string")


@dataclass(frozen=True)
class Choice(Check):
    options: tuple[str, ...]

    def parse(self, value: Any, path: str, problems: Problems) -> Any:
        if not isinstance(value, str) or value not in self.options:
            problems.add(path, unknown(value, self.options))
            return INVALID
        return value


@dataclass(frozen=True)
class AnyObject(Check):
    """A JSON object checked later, by whoever knows what it may hold."""

    def parse(self, value: Any, path: str, problems: Problems) -> Any:
        if not isinstance(value, Mapping):
            problems.add(path, f"must be an object, got {show(value)}")
            return INVALID
        return dict(value)


@dataclass(frozen=True)
class Optional(Check):
    """``null`` or what ``inner`` accepts; ``null`` means "automatic"."""

    inner: Check

    def parse(self, value: Any, path: str, problems: Problems) -> Any:
        return None if value is None else self.inner.parse(value, path, problems)

    def dump(self, value: Any) -> Any:
        return None if value is None else self.inner.dump(value)


@dataclass(frozen=True)
class ListOf(Check):
    """A JSON list of ``item``; ``increasing`` demands strictly increasing values."""

    item: Check
    min_len: int = 0
    max_len: int | None = None
    increasing: bool = False

    def parse(self, value: Any, path: str, problems: Problems) -> Any:
        if not isinstance(value, list):
            problems.add(path, f"must be a list, got {show(value)}")
            return INVALID
        if len(value) < self.min_len or (self.max_len is not None and len(value) > self.max_len):
            size = (f"exactly {self.min_len}" if self.max_len == self.min_len
                    else f"at least {self.min_len}")
            problems.add(path, f"must have {size} item(s), got {len(value)}")
            return INVALID
        out = [self.item.parse(v, join(path, i), problems) for i, v in enumerate(value)]
        if any(v is INVALID for v in out):
            return INVALID
        numbers = all(isinstance(v, (int, float)) for v in out)  # relative durations are checked once resolved
        if self.increasing and numbers and any(b <= a for a, b in itertools.pairwise(out)):
            problems.add(path, f"must be strictly increasing, got {show(value)}")
            return INVALID
        return tuple(out)

    def dump(self, value: Any) -> Any:
        return [self.item.dump(v) for v in value]


REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One named field: how to check it, its default (or REQUIRED), a help text and its role.

    ``role`` says what the value means where the check alone cannot: ``"lr"`` marks an absolute
    learning rate (a sweep scales it with each member's LR; a plateau's ``eps`` is one although it
    may be 0), ``"count"`` a whole number that is not a length in steps. Code that needs such a
    list reads it from the declarations (:meth:`Registry.with_role`) instead of keeping a table."""

    name: str
    check: Check
    default: Any = REQUIRED
    help: str = ""
    role: str = ""


def parse_fields(data: Any, path: str, params: Sequence[Param], problems: Problems,
                 ignore: Sequence[str] = ()) -> dict[str, Any]:
    """Check a JSON object against ``params``; defaults fill what is missing."""
    if not isinstance(data, Mapping):
        problems.add(path, f"must be an object, got {show(data)}")
        return {}
    names = [p.name for p in params]
    for key in data:
        if key not in names and key not in ignore:
            problems.add(join(path, key), f"unknown field{did_you_mean(key, names)}"
                                          f" (allowed: {', '.join(names) or 'none'})")
    out: dict[str, Any] = {}
    for p in params:
        if p.name in data:
            value = p.check.parse(data[p.name], join(path, p.name), problems)
            if value is not INVALID:
                out[p.name] = value
        elif p.default is REQUIRED:
            problems.add(join(path, p.name), "is required")
        else:  # defaults are declared as JSON and parsed like user input
            out[p.name] = p.check.parse(p.default, join(path, p.name), problems)
    return out


def dump_fields(values: Mapping[str, Any], params: Sequence[Param]) -> dict[str, Any]:
    return {p.name: p.check.dump(values[p.name]) for p in params if p.name in values}


@dataclass(frozen=True)
class Kinded:
    """A validated object chosen by a tag (``kind`` or ``name``) plus its parameters.

    Immutable and hashable-free on purpose: compare with ``==``, read with ``obj["field"]``.
    """

    tag: str
    kind: str
    params: Mapping[str, Any]
    registry: Registry = field(repr=False)

    def __getitem__(self, key: str) -> Any:
        return self.params[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def to_json(self) -> dict[str, Any]:
        return {self.tag: self.kind, **dump_fields(self.params, self.registry.params_of(self.kind))}

    def replace(self, **changes: Any) -> Kinded:
        """A copy with some parameters changed, validated again."""
        data = self.to_json()
        data.update(changes)
        return self.registry.parse(data)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Kinded) and self.tag == other.tag
                and self.to_json() == other.to_json())

    __hash__ = None  # type: ignore[assignment]


class Registry(Check):
    """A family of kinds (schedules, optimizers, ...) sharing a tag field."""

    def __init__(self, what: str, tag: str = "kind",
                 check_extra: Callable[[Kinded, str, Problems], None] | None = None):
        self.what = what
        self.tag = tag
        self._params: dict[str, tuple[Param, ...]] = {}
        self.docs: dict[str, str] = {}
        self.check_extra = check_extra

    def register(self, kind: str, params: Sequence[Param], doc: str = "") -> None:
        self._params[kind] = tuple(params)
        self.docs[kind] = doc

    def unregister(self, kind: str) -> None:
        """Forget ``kind`` (a test's temporary kind); specs of it no longer parse."""
        del self._params[kind]
        del self.docs[kind]

    def with_role(self, kind: str, role: str) -> tuple[str, ...]:
        """The names of ``kind``'s parameters declared with ``role`` (see :class:`Param`)."""
        return tuple(p.name for p in self._params[kind] if p.role == role)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._params)

    def params_of(self, kind: str) -> tuple[Param, ...]:
        return self._params[kind]

    def parse(self, value: Any, path: str = "", problems: Problems | None = None) -> Any:
        """Parse a tagged JSON object; raises SpecError when no ``problems`` is passed."""
        own = problems is None
        problems = Problems() if own else problems
        if own:
            check_depth(value, path)
        result = self._parse(value, path, problems)
        if own:
            problems.raise_if_any()
        return result

    def _parse(self, value: Any, path: str, problems: Problems) -> Any:
        if not isinstance(value, Mapping):
            problems.add(path, f"must be an object with a '{self.tag}' field, got {show(value)}")
            return INVALID
        kind = value.get(self.tag)
        if kind is None:
            problems.add(join(path, self.tag),
                         f"is required (one of: {', '.join(self.kinds)})")
            return INVALID
        if not isinstance(kind, str) or kind not in self._params:
            problems.add(join(path, self.tag), unknown(kind, self.kinds))
            return INVALID
        before = len(problems.items)
        params = parse_fields(value, path, self._params[kind], problems, ignore=(self.tag,))
        if len(problems.items) > before:
            return INVALID
        obj = Kinded(self.tag, kind, params, self)
        if self.check_extra is not None:
            self.check_extra(obj, path, problems)
            if len(problems.items) > before:
                return INVALID
        return obj

    def dump(self, value: Any) -> Any:
        return value.to_json()
