"""``lrlab replay``: re-run a session from its spec, seed and edits, and check it."""

from __future__ import annotations

import argparse

from lrlab.cli.common import (
    Commands,
    add_code,
    add_json,
    add_out,
    add_quiet,
    allow_code,
    command,
    file_stopped,
    print_json,
)


def add_parser(commands: Commands) -> None:
    p = command(commands, "replay", "re-run a session; --verify checks it is identical",
                "Re-run a session from its spec, seed and mid-run edits (a sweep member re-runs its whole "
                "sweep). --verify compares every step's loss and LR with the recording and exits 1 if any "
                "differs; a different environment (torch, device, threads) is named first.",
                ["lrlab replay too-high.lrlab --verify"])
    p.add_argument("file", help="a .lrlab session")
    p.add_argument("--verify", action="store_true", help="check the replay is bit-identical (exit 1 if not)")
    add_out(p, "file", "also save the replay as a new session (default: not saved)")
    add_quiet(p)
    add_json(p, "the outcome: status, steps, identical, the first difference")
    add_code(p)
    p.set_defaults(func=execute, inputs=("file",), file_outputs=("out",))


def execute(args: argparse.Namespace) -> int:
    from lrlab import api

    session = api.open_session(args.file)
    allow_code(args, session.spec)
    replay = session.replay(args.verify, out=args.out, progress=not (args.quiet or args.verify))
    if args.json:
        if file_stopped(replay):
            return 1
        print_json({"status": replay.status, "steps": replay.steps, "identical": replay.identical,
                    "result": replay.describe(), "replaying": replay.replaying,
                    "environment_differences": list(replay.environment_differences),
                    "out": None if replay.out is None else str(replay.out)}, indent=2)
        return 0 if replay.identical is not False else 1
    if replay.replaying:  # a sweep member: say that the whole sweep re-ran
        print(f"replaying {replay.replaying}")
    if replay.environment_differences:
        print("environment differs from the recording, so bit-identity is not expected:")
        for d in replay.environment_differences:
            print(f"  {d}")
    if file_stopped(replay):
        return 1
    if args.out:
        print(args.out)
    print(replay.describe())
    return 0 if replay.identical is not False else 1
