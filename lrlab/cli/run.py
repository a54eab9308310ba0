"""``lrlab run``: train a run spec or preset and save the session."""

from __future__ import annotations

import argparse

from lrlab.cli.common import (
    Commands,
    UsageError,
    add_edit,
    add_json,
    add_out,
    add_quiet,
    add_set,
    add_spec,
    command,
    file_stopped,
    parse_edits,
    print_json,
    spec_argument,
    summary_line,
)


def add_parser(commands: Commands) -> None:
    p = command(commands, "run", "train a spec or preset and save the session",
                "Train with a progress bar on stderr; the session is saved from the first step on, and "
                "prints its path and how the run ended. Ctrl-C stops cleanly (status 'stopped'). "
                "Mid-run edits (--edit) change the schedule at a step, as the Edit panel does.",
                ["lrlab run lr-too-high -o too-high.lrlab",
                 "lrlab run spec.json -s optimizer.lr=0.01 --edit '300:{\"kind\":\"scale\",\"factor\":0.1}'"])
    add_spec(p)
    add_out(p, "file", "the session (default: a new file in the sessions folder; never overwritten)")
    add_set(p)
    add_edit(p, '300:{"kind":"scale","factor":0.1}')
    add_quiet(p)
    add_json(p, "the session's summary (what 'lrlab info --json' prints)")
    p.add_argument("--download", action="store_true",
                   help="fetch a torchvision dataset's missing files (needs the internet)")
    p.set_defaults(func=execute, inputs=("spec",), file_outputs=("out",))


def execute(args: argparse.Namespace) -> int:
    from lrlab import api

    label, spec = spec_argument(args)
    if args.download:
        if "download" not in spec.dataset.params:
            raise UsageError(f"--download: {spec.dataset.kind} ships with scikit-learn and needs no "
                             "download (only torchvision datasets do)")
        spec = spec.with_changes({"dataset.download": True})
    edits = parse_edits(args.edit or [])
    session = api.start_run(label, spec, edits=edits, out=args.out, progress=not args.quiet)
    if file_stopped(session):
        return 1
    if args.json:
        print_json(session.info(), indent=2)
        return 0
    print(session.path)
    print(summary_line(session))
    for ev in session.events:
        if ev.kind == "diverged":
            print(ev.data["message"])
    return 0
