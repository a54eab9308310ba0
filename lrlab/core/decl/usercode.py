"""Your own code: a model or a dataset from a Python file, and the consent that lets it run.

A spec names code by an entry point, ``"path/to/file.py:function"``::

    "model":   {"kind": "python", "entry": "my_model.py:build"}   # build(sample_shape, n_outputs) -> nn.Module
    "dataset": {"name": "python", "entry": "my_data.py:load"}     # load(seed) -> (X_train, y_train, X_val, y_val)

Safety: importing a file runs it, so lrlab imports one only when the user named it in this
process (this *session* of lrlab), never because a file it reads mentions it. Naming it is:

- giving a spec that names the file on the command line (``lrlab run|sweep|find-lr SPEC``, or
  ``--set model.entry=...``), or to the Python API (``lrlab.run(spec)``): the spec is yours;
- picking the file in the window's Experiment form;
- ``--code FILE`` for a saved session (``lrlab replay``, ``lrlab fork``), or confirming the
  window's dialog that shows the path and SHA-256: a session file is not consent.

Every spec that runs code records the file's SHA-256 (``sha256``); code whose hash differs from
the recorded one is refused unless the user says ``--allow-changed-code``. Reading a session
(opening it, ``info``, ``compare``, ``export``) never imports anything: only the engine's
``lrlab.core.engine.usercode`` imports, and only after :func:`consented` says yes.

Nothing here imports torch: consent and the spec fields are declarations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrlab.core.decl.files import sha256_file
from lrlab.core.decl.params import Choice, Num, Optional, Param, SpecError, Text

#: an entry point: a ``.py`` file and a Python name in it
ENTRY = re.compile(r"^(?P<file>.+\.py):(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")
#: the spec fields (model kind / dataset name ``python``) that name code, in the order checked
CODE_FIELDS = ("model", "dataset")

SHA256 = Param("sha256", Optional(Text()), None,
               "SHA-256 of the file, recorded when the code first runs; code that differs is refused "
               "unless --allow-changed-code")
MODEL_PARAMS: tuple[Param, ...] = (
    Param("entry", Text(), "model.py:build", "FILE.py:build, with build(sample_shape, n_outputs) -> torch.nn.Module"),
    SHA256,
)
MODEL_DOC = ("Your model (Python file): build(sample_shape, n_outputs) returns a torch.nn.Module whose "
             "output has n_outputs values per sample.")
DATA_PARAMS: tuple[Param, ...] = (
    Param("entry", Text(), "data.py:load", "FILE.py:load, with load(seed) -> (X_train, y_train, X_val, y_val)"),
    SHA256,
    Param("seed", Num(ge=0, le=2**32 - 1, integer=True), 0,
          "passed to load(seed); fixed apart from the run seed, so runs are judged on the same data"),
    Param("task", Choice(("classification", "regression")), "classification",
          "classification: integer labels 0..C-1; regression: one float target per sample"),
    Param("n_classes", Optional(Num(ge=2, le=100_000, integer=True)), None,
          "classes; null: one more than the largest label"),
    Param("n_train", Num(ge=1, le=100_000_000, integer=True), 1000,
          "training samples load() returns, for previews and memory estimates before the code runs"),
    Param("n_features", Num(ge=1, le=100_000_000, integer=True), 10,
          "inputs per sample, for memory estimates before the code runs"),
)
DATA_DOC = "Your data (Python file): load(seed) returns (X_train, y_train, X_val, y_val) as arrays or tensors."


@dataclass(frozen=True)
class CodeRef:
    """Code a spec names: its field (``model`` or ``dataset``), file, function and recorded hash."""

    field: str
    file: Path
    function: str
    sha256: str | None

    @property
    def entry(self) -> str:
        return f"{self.file}:{self.function}"


def parse_entry(entry: Any, field: str) -> tuple[Path, str]:
    """``"file.py:name"`` -> (file, name); SpecError naming ``field.entry`` otherwise."""
    m = ENTRY.match(entry) if isinstance(entry, str) else None
    if m is None:
        raise SpecError([(f"{field}.entry", f"must be FILE.py:FUNCTION (e.g. my_model.py:build), got {entry!r}")])
    return Path(m["file"]), m["name"]


def code_refs(spec: Any) -> list[CodeRef]:
    """The code a spec (a RunSpec or its JSON) names, without reading any file."""
    data = spec.to_json() if hasattr(spec, "to_json") else spec
    refs = []
    for field in CODE_FIELDS:
        node = data.get(field) if isinstance(data, Mapping) else None
        if isinstance(node, Mapping) and node.get("kind" if field == "model" else "name") == "python":
            file, function = parse_entry(node.get("entry"), field)
            sha = node.get("sha256")
            refs.append(CodeRef(field, file, function, sha if isinstance(sha, str) else None))
    return refs


def _readable(path: Path, where: str) -> str:
    """The file's SHA-256, or SpecError naming ``where`` when it is missing or unreadable."""
    if not path.is_file():
        raise SpecError([(where, f"no such Python file: {path}")])
    try:
        return sha256_file(path)
    except OSError as err:
        raise SpecError([(where, f"cannot read {path}: {err.strerror or err}")]) from None


# --- consent: the files this process was told to run ---------------------------------------------


@dataclass(frozen=True)
class Consent:
    """The user named ``file`` (with this content, ``sha256``) in this session, as the code of
    ``recorded`` (the path a session wrote down) or of itself; ``allow_changed``: run it even
    where a spec records another hash."""

    file: Path
    sha256: str
    allow_changed: bool = False


_CONSENTS: list[Consent] = []


def allow(file: str | Path, *, allow_changed: bool = False) -> Consent:
    """Record that the user named ``file`` in this session (a command-line argument, a file picked
    in the window); SpecError (field ``code``) if it is not a readable file."""
    path = _absolute(Path(file))
    consent = Consent(path, _readable(path, "--code"), allow_changed)
    _CONSENTS.append(consent)
    return consent


def forget_all() -> None:
    """Withdraw every consent (tests; a window that starts over)."""
    _CONSENTS.clear()


def consented(ref: CodeRef) -> Consent | None:
    """The consent that covers ``ref``: the named file with the recorded hash, else a named file at the
    recorded path or with the recorded file's name (a session from another machine). None: not named."""
    for c in reversed(_CONSENTS):
        if ref.sha256 is not None and c.sha256 == ref.sha256:
            return c
    for c in reversed(_CONSENTS):
        if c.file == _absolute(ref.file) or c.file.name == ref.file.name:
            return c
    return None


def _absolute(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError):
        return path


def check_code(ref: CodeRef) -> tuple[Path, str]:
    """(the file to import, its SHA-256) for ``ref``, or SpecError saying why it may not run: the
    user never named it in this session, or its content is not the content the spec recorded."""
    consent = consented(ref)
    if consent is None:
        recorded = f" (sha256 {ref.sha256[:12]}…)" if ref.sha256 else ""
        raise SpecError([(f"{ref.field}.entry", f"runs code from {ref.file}{recorded}, which you have not named in "
                                                "this session: pass --code FILE (or pick it in the window) to run it")])
    sha = _readable(consent.file, f"{ref.field}.entry")
    if sha != consent.sha256 and not consent.allow_changed:
        raise SpecError([(f"{ref.field}.entry", f"{consent.file} changed since you named it (sha256 {sha[:12]}…, "
                                                f"was {consent.sha256[:12]}…); name it again to run it")])
    if ref.sha256 is not None and sha != ref.sha256 and not consent.allow_changed:
        raise SpecError([(f"{ref.field}.sha256", f"{consent.file} has sha256 {sha[:12]}…, but the spec records "
                                                 f"{ref.sha256[:12]}…: the code changed; pass --allow-changed-code "
                                                 "to run it anyway")])
    return consent.file, sha


def consent_spec(data: Any, base: Path | None = None, *, allow_changed: bool = False) -> Any:
    """A spec's JSON the user named (a file or object on the command line or in the API), with
    consent given to the code it names: each entry's file made absolute (relative to ``base``,
    the spec file's folder, else the working folder), allowed, and its SHA-256 recorded (or checked
    against the one the spec records). Other specs come back unchanged."""
    if not isinstance(data, Mapping) or not code_refs(data):
        return data
    out = dict(data)
    for ref in code_refs(data):
        file = ref.file
        if not file.is_absolute():  # beside the spec file when it is there, else in the working folder
            file = base / file if base is not None and (base / file).is_file() else Path.cwd() / file
        consent = allow_file(file, ref.field, allow_changed)
        node = dict(out[ref.field])
        node["entry"] = f"{consent.file}:{ref.function}"
        if ref.sha256 is not None and ref.sha256 != consent.sha256 and not allow_changed:
            raise SpecError([(f"{ref.field}.sha256", f"{consent.file} has sha256 {consent.sha256[:12]}…, but the spec "
                                                     f"records {ref.sha256[:12]}…: the code changed; pass "
                                                     "--allow-changed-code to run it anyway")])
        node["sha256"] = consent.sha256
        out[ref.field] = node
    return out


def allow_file(file: Path, field: str, allow_changed: bool = False) -> Consent:
    """:func:`allow`, with a missing file blamed on ``field.entry``."""
    path = _absolute(file)
    consent = Consent(path, _readable(path, f"{field}.entry"), allow_changed)
    _CONSENTS.append(consent)
    return consent


def allow_for(spec: Any, files: Iterable[str | Path], *, allow_changed: bool = False) -> list[Consent]:
    """``--code FILE...`` for a saved session's spec: allow each file, then check that every piece
    of code the spec names is covered (SpecError naming what is not, before anything loads)."""
    consents = [allow(f, allow_changed=allow_changed) for f in files]
    for ref in code_refs(spec):
        check_code(ref)
    return consents


def unnamed(spec: Any) -> list[CodeRef]:
    """The code ``spec`` names that this session has not been told to run (the window asks for it,
    or shows an inline message, before Start, Re-run or Fork)."""
    return [ref for ref in code_refs(spec) if consented(ref) is None]


def pick(file: str | Path, field: str, function: str) -> tuple[str, str]:
    """The user picked ``file`` as the code of ``field`` (the window's file picker): consent, and
    the spec's new (entry, sha256)."""
    consent = allow_file(Path(file), field)
    return f"{consent.file}:{function}", consent.sha256


def describe(ref: CodeRef) -> str:
    """Where the code is and what it was, for a question to the user: path and SHA-256."""
    return f"{ref.file}\nSHA-256 {ref.sha256 or '(not recorded)'}"
