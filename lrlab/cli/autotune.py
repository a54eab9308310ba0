"""``lrlab autotune``: the auto-tuning showdown, every method under one budget and the same seeds."""

from __future__ import annotations

import argparse

from lrlab.cli.common import (
    Commands,
    UsageError,
    add_json,
    add_out,
    add_quiet,
    add_set,
    add_spec,
    command,
    offscreen_app,
    positive_int,
    print_json,
    spec_argument,
)


def add_parser(commands: Commands) -> None:
    from lrlab.core.decl.showdown import NAMES, PBT_POPULATION, RANGE_TEST_STEPS

    p = command(commands, "autotune", "the auto-tuning showdown: six ways to choose the LR, one budget",
                "Train the experiment under one step budget and the same seeds in each of six ways: the spec as "
                f"given; a {RANGE_TEST_STEPS}-step range test, then cosine from its steepest LR; the range test, "
                "then one-cycle peaking there (the range test's steps count against the budget); Prodigy; "
                f"Schedule-Free AdamW; PBT with {PBT_POPULATION} members and the same total compute. Prints per "
                "method the median over the seeds of the final validation metric, the steps to the target and the "
                "wall time, and the spread. Every run is a session in one folder (compare, replay).",
                ["lrlab autotune lr-well-chosen --budget 600 --seeds 3",
                 "lrlab autotune spec.json --budget 1000 --methods given,prodigy,schedulefree --json"])
    add_spec(p)
    p.add_argument("--budget", type=positive_int("--budget"), required=True, metavar="STEPS",
                   help="optimizer steps each method may spend per seed")
    p.add_argument("--seeds", type=positive_int("--seeds"), default=3, help="seeds: the spec's, then the next "
                   "ones (default 3)")
    p.add_argument("--target", default="val_metric=0.97", metavar="NAME=VALUE",
                   help="when a run counts as arrived: val_metric=0.97 (at least) or val_loss=0.1 (at most)")
    p.add_argument("--methods", metavar="M,M,...", help=f"some of {','.join(NAMES)} (default: all)")
    p.add_argument("--png", metavar="FILE", help="write the plots (best-so-far metric and LR against steps) as PNG")
    add_set(p, "optimizer.lr=0.05")
    add_out(p, "folder", "every run's session and showdown.json (new or empty; default: a new folder in the "
                         "sessions folder)")
    add_json(p, "the budget and each method's figures and sessions")
    add_quiet(p)
    p.set_defaults(func=execute, inputs=("spec",), folder_outputs=("out",), file_outputs=("png",))


def execute(args: argparse.Namespace) -> int:
    from lrlab import api
    from lrlab.core.decl.showdown import check_budget, parse_methods, parse_target

    methods = parse_methods(args.methods)  # bad input: one line, before anything loads
    parse_target(args.target)
    check_budget(args.budget, methods)
    if args.seeds > 16:
        raise UsageError(f"--seeds: must be from 1 to 16, got {args.seeds}")
    label, spec = spec_argument(args)
    if args.png:
        offscreen_app()  # before training: a missing Qt is a message now, not after minutes
    result = api.start_autotune(label, spec, budget=args.budget, seeds=args.seeds, target=args.target,
                                methods=methods, out=args.out, progress=not args.quiet)
    if args.png:
        from lrlab.gui.autotune import write_png

        write_png(result, args.png)
    if args.json:
        print_json(result.to_json(), indent=2)
        return 0
    print(result.folder)
    print(result.describe())
    return 0
