"""The ``lrlab`` command: the GUI's twin for scripts, CI and terminals.

Each command is one module here holding its parser (``add_parser``) next to its body
(``execute``), a thin client of the Python API (:mod:`lrlab.api`): it turns flags into
arguments and results into text. What they share (one-line errors with exit status 2,
``-o/--out``, ``-q/--quiet``, ``-s/--set``, ``--json``, ``--edit STEP:JSON``) is in
:mod:`lrlab.cli.common`. Heavy imports (torch, Qt) happen inside the bodies, so ``lrlab --help``
answers at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lrlab import __version__
from lrlab.cli import (
    autotune,
    compare,
    export,
    find_lr,
    fork,
    grid,
    gui,
    info,
    landscape,
    pbt,
    presets,
    repair,
    replay,
    run,
    schedule,
    sweep,
)
from lrlab.cli.common import CommandListFormatter, Parser, UsageError, check_paths, fail, one_line
from lrlab.core.decl.params import SpecError

#: the commands in the order a user meets them, which is their order in ``lrlab --help``
COMMANDS = (gui, run, find_lr, sweep, grid, pbt, autotune, fork, compare, replay, info, export, schedule, landscape,
            presets, repair)


def build_parser() -> argparse.ArgumentParser:
    """The ``lrlab`` parser with every command of :data:`COMMANDS`."""
    parser = Parser(prog="lrlab", description="lrlab: a desktop learning-rate lab. "
                    "With no command, opens the desktop app. 'lrlab COMMAND --help' describes a command.",
                    formatter_class=CommandListFormatter)
    parser.add_argument("--version", action="version", version=f"lrlab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMANDS:
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit status: 0, 1 for a failed check or a file that stopped
    being written, 2 for bad input (one line on stderr that names the field or file)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return gui.execute(parser.parse_args(["gui"]))
        check_paths(args)  # outputs that would overwrite an input, or make folders above them
        return int(args.func(args) or 0)
    except SpecError as err:
        return fail(one_line(err))
    except UsageError as err:
        return fail(str(err))
    except ValueError as err:  # a file that cannot be read, or written, wherever it was met
        from lrlab.core.engine.snapshots import SnapshotError
        from lrlab.core.runs.cluster import ClusterError
        from lrlab.core.storage.export import ExportError
        from lrlab.core.storage.session import SessionError

        if not isinstance(err, (SessionError, ExportError, ClusterError, SnapshotError)):
            raise
        return fail(str(err))
    except BrokenPipeError:  # `lrlab schedule ... | head`
        sys.stderr.close()
        return 0


__all__ = ["COMMANDS", "UsageError", "build_parser", "main"]
