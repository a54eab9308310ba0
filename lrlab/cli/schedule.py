"""``lrlab schedule``: a learning-rate schedule step by step, as CSV or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from lrlab.cli.common import Commands, command, input_path, positive_float, positive_int, warn

#: how a missing length is asked for, in the flags' words
_WORDS = {"steps": ("--steps", "required (how many steps to print, e.g. --steps 1000)"),
          "epochs": "--steps-per-epoch N"}


def add_parser(commands: Commands) -> None:
    p = command(commands, "schedule", "print a schedule's LR at every step (CSV/JSON)",
                "Print the LR at steps 0..N-1 for a schedule file, a run spec or a preset (a bare schedule "
                'uses base LR 0.1 unless --lr). Durations such as "run" or "25%" follow the run of a spec or '
                "preset; in a bare schedule they follow --steps. CSV (step,lr) by default, JSON with --json.",
                ["lrlab schedule cosine-warmup > lr.csv", "lrlab schedule cosine.json --steps 100 --lr 0.1 --json"])
    p.add_argument("file", help="schedule JSON, run spec JSON, or a preset name")
    p.add_argument("--steps", type=positive_int("--steps"),
                   help="how many steps to print (default for a run spec or preset: the whole run)")
    p.add_argument("--lr", type=positive_float("--lr"), help="base LR (overrides the file's)")
    p.add_argument("--steps-per-epoch", type=positive_int("--steps-per-epoch"),
                   help='for a bare schedule with durations in epochs ("3ep"); a run spec knows its own')
    p.add_argument("--json", action="store_true",
                   help='print {"schedule", "base_lr", "lr": [...]} as JSON instead of CSV')
    # before --json there was --format csv|json: kept working for old scripts, no longer shown
    p.add_argument("--format", choices=("csv", "json"), help=argparse.SUPPRESS)
    p.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    from lrlab import api

    if args.format is not None:
        warn(f"--format {args.format} is deprecated: use " + ("--json" if args.format == "json" else "no flag (CSV)"))
    spec, base_lr, lrs = api.plan_schedule(input_path(args.file), args.steps, lr=args.lr,
                                           steps_per_epoch=args.steps_per_epoch, words=_WORDS)
    out = sys.stdout  # written a piece at a time: a hundred million steps never sit in memory as text
    if args.json or args.format == "json":
        head = json.dumps({"schedule": spec.to_json(), "base_lr": base_lr, "lr": []})
        out.write(head[:-2])  # everything up to the empty list's closing "]}"
        for start, piece in lrs.chunks():
            out.write(("" if start == 0 else ", ") + ", ".join(map(repr, piece.tolist())))
        out.write("]}\n")
    else:
        out.write("step,lr\n")
        for start, piece in lrs.chunks():
            out.writelines(f"{start + i},{lr!r}\n" for i, lr in enumerate(piece.tolist()))
    return 0
