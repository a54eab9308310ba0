"""``lrlab repair``: apply a journal an interrupted write left, and bring an old format up to date."""

from __future__ import annotations

import argparse

from lrlab.cli.common import Commands, command


def add_parser(commands: Commands) -> None:
    p = command(commands, "repair", "finish an interrupted write, update old files",
                "Apply a journal an interrupted write left beside a session, and bring an older format up "
                "to date, in the file itself (after backups). Reading a session never does either: it "
                "reports the journal and migrates in memory.",
                ["lrlab repair too-high.lrlab"])
    p.add_argument("file", help="a .lrlab session")
    p.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    from lrlab.core.storage.session import repair

    done = repair(args.file)
    print("\n".join(done) if done else f"{args.file}: nothing to repair")
    return 0
