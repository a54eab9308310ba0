"""``lrlab export``: a session's steps as CSV, its run spec as JSON, or a TensorBoard run."""

from __future__ import annotations

import argparse
import json

from lrlab.cli.common import Commands, UsageError, command


def add_parser(commands: Commands) -> None:
    p = command(commands, "export", "a session as CSV, run spec JSON or TensorBoard",
                "Write a session's steps as CSV (one row per step, validation beside it), its run spec as "
                "JSON (runnable with 'lrlab run'), and/or a TensorBoard run; prints each file written.",
                ["lrlab export too-high.lrlab --csv steps.csv --spec spec.json --tensorboard tb"])
    p.add_argument("file", help="a .lrlab session")
    p.add_argument("--csv", metavar="FILE", help="one row per step: step, epoch, ..., val_loss, val_metric")
    p.add_argument("--spec", metavar="FILE", help="the run spec, runnable with 'lrlab run'")
    p.add_argument("--tensorboard", metavar="DIR", help="write DIR/<session name>/ for 'tensorboard --logdir DIR': "
                   "metrics, LR, events as text, the spec as hyperparameters (needs lrlab[tensorboard])")
    p.set_defaults(func=execute, inputs=("file",), file_outputs=("csv", "spec"), folder_outputs=("tensorboard",))


def execute(args: argparse.Namespace) -> int:
    from lrlab import api
    from lrlab.core.storage.export import ExportError, written

    if not args.csv and not args.spec and not args.tensorboard:
        raise UsageError("export: give --csv OUT.csv, --spec OUT.json and/or --tensorboard DIR")
    s = api.open_session(args.file)
    if args.csv:
        print(s.to_csv(args.csv))
    if args.spec:
        with written(args.spec) as tmp:
            tmp.write_text(json.dumps(s.spec, indent=2) + "\n", encoding="utf-8")
        print(args.spec)
    if args.tensorboard:
        try:
            print(s.to_tensorboard(args.tensorboard))
        except ExportError as err:
            raise UsageError(str(err)) from None
    return 0
