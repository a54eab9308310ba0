"""The ``lrlab`` command: the GUI's twin for scripts, CI and terminals.

Every subcommand is a thin client of :mod:`lrlab.core`. Bad input exits with
status 2 and one line on stderr that names the field or file and what is allowed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from lrlab import __version__
from lrlab.core.params import SpecError


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def _fail(message: str) -> int:
    print(f"lrlab: error: {message}", file=sys.stderr)
    return 2


def _one_line(err: SpecError) -> str:
    return "; ".join(f"{p}: {m}" if p else m for p, m in err.problems)


# --- lrlab schedule ------------------------------------------------------------------------


def cmd_schedule(args: argparse.Namespace) -> int:
    from lrlab.core import schedules
    from lrlab.core.spec import RunSpec, read_json, unwrap_preset

    data = unwrap_preset(read_json(_resolve_input(args.file)))
    is_schedule = isinstance(data, dict) and "kind" in data and "optimizer" not in data
    if is_schedule:
        spec = schedules.parse_schedule(data)
        base_lr, steps = 0.1, None
    else:
        run = RunSpec.from_json(data)
        spec, base_lr, steps = run.schedule, run.lr, run.steps
    if args.lr is not None:
        base_lr = args.lr
    steps = args.steps if args.steps is not None else steps
    if steps is None:
        raise UsageError("--steps: required (how many steps to print, e.g. --steps 1000)")
    lrs = schedules.values(schedules.build(spec, base_lr), 0, steps)
    out = sys.stdout
    if args.format == "json":
        json.dump({"schedule": spec.to_json(), "base_lr": base_lr, "lr": lrs.tolist()}, out)
        out.write("\n")
    else:
        out.write("step,lr\n")
        out.writelines(f"{i},{lr!r}\n" for i, lr in enumerate(lrs.tolist()))
    return 0


# --- helpers -------------------------------------------------------------------------------


def _positive_int(name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number >= 1, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number >= 1, got {value}")
        return value
    return parse


def _positive_float(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number > 0, got {text!r}")
        return value
    return parse


def _resolve_input(name: str) -> Path:
    """A path as given, or the name of a bundled preset (``lr-too-high``)."""
    path = Path(name)
    if path.exists():
        return path
    from lrlab.core.resources import preset_path

    preset = preset_path(name)
    return preset if preset is not None else path


class _Parser(argparse.ArgumentParser):
    """argparse with exit status 2 and a single line for usage errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"lrlab: error: {message} (see 'lrlab {self.prog.split()[-1]} --help')\n"
                  if " " in self.prog else f"lrlab: error: {message} (see 'lrlab --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lrlab", description="lrlab: a desktop learning-rate lab. "
                     "With no command, opens the desktop app.")
    parser.add_argument("--version", action="version", version=f"lrlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("schedule", help="print a learning-rate schedule step by step (CSV or JSON)",
                       description="Print the LR at steps 0..N-1 for a schedule file, a run spec "
                                   "or a preset (a bare schedule uses base LR 0.1 unless --lr).")
    p.add_argument("file", help="schedule JSON, run spec JSON, or a preset name")
    p.add_argument("--steps", type=_positive_int("--steps"), help="how many steps to print")
    p.add_argument("--lr", type=_positive_float("--lr"), help="base LR (overrides the file's)")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.set_defaults(func=cmd_schedule)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return _open_gui([])
    try:
        return int(args.func(args) or 0)
    except SpecError as err:
        return _fail(_one_line(err))
    except UsageError as err:
        return _fail(str(err))
    except BrokenPipeError:  # `lrlab schedule ... | head`
        sys.stderr.close()
        return 0


def _open_gui(argv: list[str]) -> int:
    print("lrlab: the desktop app is not available yet; see 'lrlab --help' for the commands.")
    return 0
