"""``lrlab gui`` (and ``lrlab`` alone): the desktop app."""

from __future__ import annotations

import argparse

from lrlab.cli.common import Commands, UsageError, command, input_path, positive_float


def add_parser(commands: Commands) -> None:
    p = command(commands, "gui", "open the desktop app (the default with no command)",
                "Open the desktop lab: the experiment form, live plots, mid-run edits, sessions and tools. "
                "A bad spec or session is reported here, on the command line, before any window opens.",
                ["lrlab gui --run lr-too-high --pace 10", "lrlab gui --compare too-high.lrlab tamed.lrlab"])
    p.add_argument("--run", metavar="SPEC", help="load a run spec or preset and start it")
    p.add_argument("--open", metavar="FILE", nargs="+", help="open saved sessions")
    p.add_argument("--compare", metavar="FILE", nargs="+", help="open straight into comparing sessions")
    p.add_argument("--pace", type=_pace, metavar="N|full",
                   help="train at most N steps per second (e.g. 10 for a class to watch), or 'full' speed")
    p.set_defaults(func=execute)


def _pace(text: str) -> float | str:
    if text == "full":
        return text
    return positive_float("--pace")(text)


def execute(args: argparse.Namespace) -> int:
    from lrlab.core.decl.spec import load_spec
    from lrlab.core.storage.session import Session, SessionError

    run = str(input_path(args.run)) if args.run else None
    if run:
        load_spec(run)  # a bad spec is a one-line error here, before any window opens
    for f in [*(args.open or []), *(args.compare or [])]:
        try:
            Session.open(f).close()
        except SessionError as err:
            raise UsageError(str(err)) from None
    from lrlab.gui.app import run_gui

    return run_gui(run, args.open or [], args.compare or [], None if args.pace in (None, "full") else args.pace,
                   exit_fast=True)
