"""``lrlab fork``: branch a session at a step with new edits and train the branch."""

from __future__ import annotations

import argparse

from lrlab.cli.common import (
    Commands,
    add_code,
    add_edit,
    add_json,
    add_out,
    add_quiet,
    allow_code,
    command,
    file_stopped,
    parse_edits,
    print_json,
    summary_line,
    whole_number,
)


def add_parser(commands: Commands) -> None:
    p = command(commands, "fork", "branch a session at a step with new edits",
                "Continue a session from its exact state at a step with new edits (or none: then it "
                "continues exactly like the parent). The parent's edits before the step are kept, those at "
                "or after it are replaced by yours; an edit without a STEP applies at the fork step. Writes a "
                "new session that names its parent; 'lrlab replay --verify' checks it from step 0.",
                ["lrlab fork tamed.lrlab --at 200 --edit '{\"kind\":\"scale\",\"factor\":0.1}' -o forked.lrlab"])
    p.add_argument("parent", help="the .lrlab session to fork")
    p.add_argument("--at", type=whole_number("--at"), required=True, metavar="STEP",
                   help="the fork step: the branch starts from the state before this step")
    add_edit(p, '{"kind":"scale","factor":0.1}', at_default=True)
    add_out(p, "file", "the branch's session (default: PARENT-atSTEP.lrlab beside the parent)")
    add_quiet(p)
    add_json(p, "the branch's summary (what 'lrlab info --json' prints)")
    add_code(p)
    p.set_defaults(func=execute, inputs=("parent",), file_outputs=("out",))


def execute(args: argparse.Namespace) -> int:
    from lrlab import api

    edits = parse_edits(args.edit or [], at=args.at)
    allow_code(args, api.open_session(args.parent).spec)
    session = api.fork(args.parent, args.at, edits=edits, out=args.out, progress=not args.quiet)
    if file_stopped(session):
        return 1
    if args.json:
        print_json(session.info(), indent=2)
        return 0
    print(session.path)
    print(summary_line(session))
    return 0
