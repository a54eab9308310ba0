"""What every ``lrlab`` command shares: the error convention, the spelling of common options,
and the parsers of values that several commands take.

The conventions live here so that a command cannot drift from them: bad input raises
:class:`UsageError` (or the core's SpecError), which :func:`lrlab.cli.main` prints as one line
on stderr with exit status 2; ``-o/--out``, ``-q/--quiet``, ``-s/--set``, ``--json`` and
``--edit STEP:JSON`` are added by the helpers below, so they read and behave alike everywhere.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lrlab.core.decl.params import SpecError

#: the width descriptions are wrapped to: an 80-column terminal, less argparse's margin
WIDTH = 78

Commands = Any  # argparse's subparsers action (its class is private)


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def fail(message: str) -> int:
    """Print one ``lrlab: error:`` line on stderr and give the exit status for bad input (2)."""
    print(f"lrlab: error: {message}", file=sys.stderr)
    return 2


def warn(message: str) -> None:
    """One ``lrlab: warning:`` line on stderr; the command goes on."""
    print(f"lrlab: warning: {message}", file=sys.stderr)


def one_line(err: SpecError) -> str:
    """Every problem of a SpecError on one line, each with its field path."""
    return "; ".join(f"{p}: {m}" if p else m for p, m in err.problems)


# --- declaring commands and their common options --------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse with exit status 2 and a single line for usage errors, pointing at the help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"lrlab: error: {message} (see 'lrlab {self.prog.split()[-1]} --help')\n"
                  if " " in self.prog else f"lrlab: error: {message} (see 'lrlab --help')\n")


class CommandListFormatter(argparse.HelpFormatter):
    """The formatter of ``lrlab --help``. argparse measures the commands' names without the
    indent they are printed with, so the longest one (``landscape``) would get a line of its
    own with its summary below; measured as printed, every command takes one line."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if action.help is not argparse.SUPPRESS and isinstance(action.choices, dict) and action.choices:
            longest = max(len(name) for name in action.choices)  # the commands, one indent deeper
            self._action_max_length = max(self._action_max_length, longest + self._current_indent + 2)


def command(commands: Commands, name: str, summary: str, description: str,
            examples: Sequence[str]) -> argparse.ArgumentParser:
    """A subcommand: ``summary`` is its line in ``lrlab --help`` (keep it to one line there),
    ``description`` the paragraph its own ``--help`` opens with, wrapped here, and ``examples``
    command lines shown as written (hence the raw formatter: argparse would re-wrap them)."""
    text = "\n\n".join(textwrap.fill(" ".join(par.split()), WIDTH) for par in description.split("\n\n"))
    shown = "\n".join(f"  {line}" for line in examples)
    label = "example" if len(examples) == 1 else "examples"
    return commands.add_parser(name, help=summary, description=f"{text}\n\n{label}:\n{shown}",
                               formatter_class=argparse.RawDescriptionHelpFormatter)


def add_out(p: argparse.ArgumentParser, what: str, default: str) -> None:
    """``-o/--out``: a FILE for commands that write one session, a DIR for those that write many."""
    metavar = "DIR" if what == "folder" else "FILE"
    p.add_argument("-o", "--out", metavar=metavar, help=f"{what} to write: {default}")


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``-q/--quiet``: the progress bar goes to stderr, so it never mixes with what is printed."""
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")


def add_set(p: argparse.ArgumentParser, example: str = "optimizer.lr=0.01") -> None:
    """``-s/--set KEY.PATH=VALUE``, applied to the spec as written (:func:`spec_argument`)."""
    p.add_argument("-s", "--set", action="append", metavar="KEY.PATH=VALUE",
                   help=f"change a field of the spec, e.g. -s {example} (repeatable)")


def add_json(p: argparse.ArgumentParser, what: str) -> None:
    """``--json``, the one machine-readable switch: stdout then holds one JSON document and
    nothing else, so the files a command writes are named on stderr instead."""
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON on stdout (and nothing else there)")


def add_edit(p: argparse.ArgumentParser, example: str, at_default: bool = False) -> None:
    """``--edit STEP:JSON``, the one grammar for mid-run edits (``fork``: STEP may be left out)."""
    if at_default:
        p.add_argument("--edit", action="append", metavar="[STEP:]JSON",
                       help=f"a schedule edit at STEP (default: the fork step --at), e.g. --edit '{example}' "
                            "or --edit '300:{...}' (repeatable)")
    else:
        p.add_argument("--edit", action="append", metavar="STEP:JSON",
                       help=f"a schedule edit at a step, e.g. --edit '{example}' (repeatable)")


def add_spec(p: argparse.ArgumentParser) -> None:
    """The positional SPEC of the commands that train: a file or a preset's name."""
    p.add_argument("spec", help="run spec JSON file or preset name (see 'lrlab presets')")
    p.add_argument("--allow-changed-code", action="store_true",
                   help="run your code (a python model or dataset) even if its SHA-256 differs from the spec's")


def add_code(p: argparse.ArgumentParser) -> None:
    """``--code FILE`` for the commands that re-run a saved session: a session that names your own
    code never runs it by itself (lrlab.core.decl.usercode); naming the file here does."""
    p.add_argument("--code", action="append", metavar="FILE",
                   help="the Python file of the session's own model or data (repeat for both): the session "
                        "runs it only when you name it here; its SHA-256 must match the recorded one")
    p.add_argument("--allow-changed-code", action="store_true",
                   help="run --code FILE even if its SHA-256 differs from the one the session recorded")


def allow_code(args: argparse.Namespace, spec: Any) -> None:
    """Give consent to ``--code`` files for a saved session's ``spec``; SpecError (exit 2) names code
    the spec runs that no ``--code`` covers, or a file whose content changed, before anything loads."""
    from lrlab.core.decl.usercode import allow_for

    allow_for(spec, args.code or [], allow_changed=args.allow_changed_code)


# --- values ---------------------------------------------------------------------------------------


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``--set key.path=value`` as {path: value}; values are JSON where they parse, else strings."""
    from lrlab.core.decl.params import loads

    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set: expected key.path=value, got {item!r}")
        out[key] = loads(text, f"--set {key}", bare_words=True)  # bare words are strings: schedule.kind=cosine
    return out


_STEP = re.compile(r"\s*([0-9]{1,15})\s*:(.*)", re.S)  # ASCII digits only, and few of them


def parse_edits(items: Sequence[str], *, at: int | None = None, check: bool = True) -> list[tuple[int, Any]]:
    """``--edit STEP:JSON`` values as (step, edit JSON), in step order: one grammar for run, fork
    and landscape. With ``at`` (fork) an edit may leave its step out (``--edit '{...}'``) and
    applies at that step. ``check`` validates each as a training run's edit here, so a problem
    names its ``--edit STEP``; landscape edits (which may name a trajectory) are checked by the
    API with the same names."""
    from lrlab.core.decl.params import loads
    from lrlab.core.decl.schedules import parse_edit

    edits = []
    for item in items:
        m = _STEP.fullmatch(item)
        if m:
            step, text = int(m.group(1)), m.group(2)
        elif at is not None and item.lstrip().startswith("{"):
            step, text = at, item
        else:
            shape = "JSON (at the fork step) or STEP:JSON" if at is not None else "STEP:JSON"
            raise UsageError(f"--edit: expected {shape} with STEP a whole number >= 0, got {_clip(item)!r}")
        data = loads(text, f"--edit {step}")
        edits.append((step, parse_edit(data, f"--edit {step}").to_json() if check else data))
    return sorted(edits, key=lambda e: e[0])


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def print_json(data: Any, indent: int | None = None) -> None:
    """``data`` as JSON on stdout, one document ending in a newline."""
    json.dump(data, sys.stdout, indent=indent)
    print()


def input_path(name: str) -> Path:
    """A file, or the file of a preset; a mistyped preset gets the closest name and a pointer to
    the list (``lr-to-high: no such file or preset, did you mean 'lr-too-high'?``)."""
    from lrlab import api

    try:
        return api.resolve_input(name)
    except SpecError as err:
        if Path(name).name != name:  # a path with folders: the user meant a file of theirs
            raise
        raise UsageError(f"{one_line(err)} ('lrlab presets' lists the presets)") from None


def spec_argument(args: argparse.Namespace) -> tuple[str, Any]:
    """The run spec a command names (a file or a preset, ``args.spec``) with its ``--set``
    changes: (the preset's name, '' for a file of the user's; the validated RunSpec). The
    changes apply to the JSON as written, so defaults of a kind being replaced do not come along."""
    from lrlab import api

    return api.resolve_spec(input_path(args.spec), parse_set(args.set or []),
                            allow_changed_code=getattr(args, "allow_changed_code", False))


def check_new_folder(out: str | None) -> None:
    """``--out`` for a command that writes a folder: new or empty (a UsageError before anything runs)."""
    from lrlab.core.decl.files import occupied

    if out and occupied(out):
        raise UsageError(f"--out: {out} already exists and is not an empty folder; choose another "
                         "(nothing was overwritten)")


def file_stopped(result: Any) -> bool:
    """A run whose session file stopped being written (disk full, a folder made read-only) went on
    in memory, but the file lacks the rest: say so in one line (the command then exits 1)."""
    if result.write_failure is None:
        return False
    print(f"lrlab: error: {result.write_failure}", file=sys.stderr)
    return True


def summary_line(session: Any) -> str:
    """How a training run ended, in one line: status, steps, speed, final validation."""
    summ = session.summary
    metric = "accuracy" if session.task == "classification" else "R^2"
    parts = [f"{session.status}", f"{summ.get('steps', 0)} steps", f"{summ.get('steps_per_second', 0):.0f} steps/s"]
    if summ.get("final_val_loss") is not None:
        parts.append(f"val loss {summ['final_val_loss']:.4g}")
    if summ.get("final_val_metric") is not None:
        parts.append(f"val {metric} {summ['final_val_metric']:.4g}")
    return ", ".join(parts)


def offscreen_app() -> None:
    """A Qt application on the offscreen platform, for drawing files without a display."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from lrlab.gui.app import make_app

    make_app()


# --- argument types ------------------------------------------------------------------------------


def positive_int(name: str) -> Callable[[str], int]:
    """An argparse type for a count such as ``--steps``: a whole number >= 1, named in the error."""
    return whole_number(name, 1)


def whole_number(name: str, low: int = 0) -> Callable[[str], int]:
    """An argparse type for a whole number >= ``low``; its error names the flag (``--at must be
    a whole number >= 0, got -3``), because argparse's own says only "invalid int value"."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number >= {low}, got {value}")
        return value
    return parse


def positive_float(name: str) -> Callable[[str], float]:
    """An argparse type for a finite number > 0 (an LR, a pace); NaN and infinity are refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number > 0, got {text!r}")
        return value
    return parse


def fraction(name: str) -> Callable[[str], float]:
    """An argparse type for a number in [0, 1), such as an EMA weight."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0 <= value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be a number in [0, 1), got {text!r}")
        return value
    return parse


def check_paths(args: argparse.Namespace) -> None:
    """Before a command reads or trains anything, refuse outputs that would destroy something or
    make folders nobody asked for. A command declares, with ``set_defaults``, which of its
    arguments are ``inputs`` (files it reads), ``file_outputs`` and ``folder_outputs``:

    - a file output may not be one of the inputs (same inode: ``find-lr s.json --png s.json``
      would turn the spec into a picture), nor a device, FIFO or folder, and its folder must exist;
    - a folder output is created at most one level deep (``sweep --out /nonexistent/x`` must not
      create ``/nonexistent``), never inside a file, and is not an input;
    - no two outputs may be one file (``find-lr -o r.lrlab --png r.lrlab`` would replace the session).

    ExportError (one line, exit 2) or UsageError."""
    import os

    from lrlab.core.decl.files import ExportError, check_file_output, same_file

    inputs: list[str] = []
    for name in getattr(args, "inputs", ()):
        value = getattr(args, name, None)
        inputs += [v for v in (value if isinstance(value, list) else [value]) if v and os.path.exists(v)]
    named: list[tuple[str, str]] = []
    for name in getattr(args, "file_outputs", ()):
        out = getattr(args, name, None)
        if out:
            check_file_output(out, inputs)
            named.append((name, out))
    for name in getattr(args, "folder_outputs", ()):
        out = getattr(args, name, None)
        if not out:
            continue
        parent = Path(out).parent
        if not Path(out).is_dir() and not parent.is_dir():
            what = "is not a folder" if parent.exists() else "does not exist"
            raise ExportError(f"{out}: cannot create this folder: {parent} {what} (lrlab creates only the last "
                              "level of an output folder)")
        source = next((i for i in inputs if same_file(out, i)), None)
        if source is not None:
            raise ExportError(f"{out}: cannot write there: it is the input {source}")
        named.append((name, out))
    for i, (name, out) in enumerate(named):
        for other, theirs in named[:i]:
            if Path(out).resolve() == Path(theirs).resolve() or same_file(out, theirs):
                raise UsageError(f"--{other.replace('_', '-')} and --{name.replace('_', '-')} name the same "
                                 f"file {out}: give each output its own name")
