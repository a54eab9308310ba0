"""``lrlab find-lr``: the LR range test: train briefly while the LR grows, suggest an LR."""

from __future__ import annotations

import argparse
import sys

from lrlab.cli.common import (
    Commands,
    add_json,
    add_out,
    add_quiet,
    add_set,
    add_spec,
    command,
    offscreen_app,
    print_json,
    spec_argument,
)
from lrlab.core.decl.params import SpecError

#: range-test parameter -> the find-lr flag that sets it, so a bad value's message names the flag
_FLAGS = {"start_lr": "--start", "end_lr": "--end", "num_iter": "--iters", "mode": "--mode", "seeds": "--seeds"}


def add_parser(commands: Commands) -> None:
    p = command(commands, "find-lr", "LR range test: ramp the LR, suggest one",
                "Train fresh models of the spec while the LR ramps from --start to --end, with --seeds seeds "
                "derived from the spec's seed, and print the LRs three rules suggest (steepest, valley, "
                "minimum) with their spread across seeds. The test is saved as a session (kind range_test) "
                "that replays identically.",
                ["lrlab find-lr lr-well-chosen -o find-lr.lrlab --png find-lr.png"])
    add_spec(p)
    p.add_argument("--start", type=float, help="first LR (default 1e-7)")
    p.add_argument("--end", type=float, help="last LR (default 10)")
    p.add_argument("--iters", type=int, help="steps of the ramp (default 100)")
    p.add_argument("--mode", choices=("exp", "linear"), help="exponential (default) or linear ramp")
    p.add_argument("--seeds", type=int, help="repeats with seeds derived from the spec's seed (default 3)")
    add_set(p, "optimizer.momentum=0.5")
    add_out(p, "file", "the test's session (default: a new file in the sessions folder)")
    add_json(p, "the suggestions and curves (the file names go to stderr)")
    p.add_argument("--png", metavar="FILE", help="write the curve with its suggestions as PNG (no display needed)")
    add_quiet(p)
    p.set_defaults(func=execute, inputs=("spec",), file_outputs=("out", "png"))


def execute(args: argparse.Namespace) -> int:
    from lrlab import api

    label, spec = spec_argument(args)
    given = {"start_lr": args.start, "end_lr": args.end, "num_iter": args.iters,
             "mode": {"exp": "exponential"}.get(args.mode, args.mode), "seeds": args.seeds}
    try:
        found = api.start_find_lr(label, spec, **given, out=args.out, progress=not args.quiet)
    except SpecError as err:
        raise SpecError([(_FLAGS.get(p, p), m.replace("start_lr", "--start")) for p, m in err.problems]) from None
    # with --json, stdout holds the JSON alone; the file names go to stderr
    notes = sys.stderr if args.json else sys.stdout
    print(found.session, file=notes)
    if args.json:
        print_json(found.to_json())
    else:
        print(found.describe())
    if args.png:
        offscreen_app()
        from lrlab.gui.range_plot import save_png

        save_png(found.result, args.png, f"{label or spec.dataset.kind}: loss against LR")
        print(args.png, file=notes)
    return 0
