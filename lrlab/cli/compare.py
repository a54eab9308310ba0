"""``lrlab compare``: sessions side by side: summary, what differs, plots and CSV."""

from __future__ import annotations

import argparse
import sys

from lrlab.cli.common import Commands, UsageError, add_json, command, fraction, offscreen_app, print_json
from lrlab.core.decl.params import SpecError

#: the x axes a comparison can use (lrlab.core.features.compare.X_AXES, without importing numpy to build the parser)
X_AXES = ("step", "epoch", "samples", "wall")


def add_parser(commands: Commands) -> None:
    from lrlab.core.decl.metrics import METRICS, TRAIN_LOSS

    p = command(commands, "compare", "compare sessions: tables, plot and CSV",
                "Print a summary (final/best metrics, when each reached a target) and the spec fields that "
                "differ; optionally write the overlay as PNG/SVG (no display needed) and all curves as "
                "long-form CSV.",
                ["lrlab compare too-high.lrlab tamed.lrlab --png compare.png",
                 "lrlab compare sweep/*.lrlab --metric val_metric --target 'val_metric>=95%' --json"])
    p.add_argument("files", nargs="+", metavar="FILE", help="two or more .lrlab sessions")
    p.add_argument("--metric", choices=list(METRICS), default=TRAIN_LOSS.name, metavar="METRIC",
                   help=f"the curve to plot: {', '.join(METRICS)} (default {TRAIN_LOSS.name})")
    p.add_argument("--x", choices=X_AXES, default="step", metavar="AXIS",
                   help=f"the x axis: {', '.join(X_AXES)} (default step)")
    p.add_argument("--smooth", type=fraction("--smooth"), default=0.6, help="EMA smoothing in [0, 1) (default 0.6)")
    p.add_argument("--logy", action=argparse.BooleanOptionalAction, default=None,
                   help="log y axis for the plot (default: the metric's own, log for gradient norms)")
    p.add_argument("--target", default="val_metric>=0.95", help="when each session first reached a goal, e.g. "
                   "val_metric>=95%% or train_loss<=0.2; '' for none (default val_metric>=0.95)")
    p.add_argument("--png", metavar="FILE", help="write the overlay plot as PNG")
    p.add_argument("--svg", metavar="FILE", help="write the overlay plot as SVG")
    p.add_argument("--csv", metavar="FILE", help="write session, step, metric, value rows")
    add_json(p, "the summary and the fields that differ (the file names go to stderr)")
    p.set_defaults(func=execute, inputs=("files",), file_outputs=("png", "svg", "csv"))


def execute(args: argparse.Namespace) -> int:
    from lrlab import api

    try:  # too few files, a bad --target, a file that is not a session: one line each
        comparison = api.compare(args.files, metric=args.metric, x=args.x, smooth=args.smooth, target=args.target)
    except SpecError:
        raise  # one line naming the argument (lrlab.cli.main)
    except ValueError as err:
        raise UsageError(str(err)) from None
    notes = sys.stderr if args.json else sys.stdout  # with --json, stdout holds the JSON alone
    if args.json:
        print_json(comparison.to_json(), indent=2)
    else:
        print(comparison.describe())
    if args.csv:
        rows = comparison.write_csv(args.csv)
        print(f"\n{args.csv}: {rows} rows" if not args.json else f"{args.csv}: {rows} rows", file=notes)
    for fmt in ("png", "svg"):
        out = getattr(args, fmt)
        if out:
            offscreen_app()
            from lrlab.gui.compare import render_file

            render_file(args.files, fmt, out, args.metric, args.x, args.smooth, args.logy)
            print(out, file=notes)
    return 0
