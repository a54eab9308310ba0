"""``lrlab sweep``: train K learning rates (x seeds) at once and rank them."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from lrlab.cli.common import (
    Commands,
    UsageError,
    add_json,
    add_out,
    add_quiet,
    add_set,
    add_spec,
    check_new_folder,
    command,
    file_stopped,
    positive_float,
    positive_int,
    print_json,
    spec_argument,
    warn,
)


def add_parser(commands: Commands) -> None:
    p = command(commands, "sweep", "train many LRs (x seeds) at once and rank them",
                "Train copies of a run spec or preset that differ only in their LR (and, with --seeds, their "
                "seed), all at once with stacked parameters. Writes one session per member and summary.json "
                "into a folder and prints the members best first. The schedule applies to each member as a "
                "multiple of its own LR: absolute LRs in it (eta_min, max_lr, ...) are read relative to the "
                "spec's optimizer.lr. Ctrl-C stops cleanly.",
                ["lrlab sweep lr-well-chosen --range 1e-3:3:7 -o sweep",
                 "lrlab sweep adam --lrs 1e-3,3e-3,1e-2 --seeds 3 --json"])
    add_spec(p)
    lr_choice = p.add_mutually_exclusive_group(required=True)
    lr_choice.add_argument("--lrs", metavar="LR,LR,...", help="the learning rates, e.g. --lrs 1e-3,3e-3,1e-2")
    lr_choice.add_argument("--range", metavar="LO:HI:K", help="K learning rates from LO to HI on a log scale, "
                           "e.g. --range 1e-4:1:9")
    p.add_argument("--seeds", type=positive_int("--seeds"), default=1,
                   help="seeds per LR: the spec's seed, seed+1, ... (default 1)")
    add_set(p, "optimizer.name=adam")
    add_out(p, "folder", "a session per member and summary.json (new or empty; default: a new folder in the "
                         "sessions folder)")
    add_json(p, "the members and the best one")
    add_quiet(p)
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run the members on a Ray cluster (HOST:6379; without ADDRESS: RAY_ADDRESS, else a local "
                        "instance); needs pip install 'lrlab[cluster]'")
    p.add_argument("--ray-cpus", type=positive_float("--ray-cpus"), default=1.0, help="CPUs per Ray task (default 1)")
    p.add_argument("--ray-gpus", type=float, default=0.0, help="GPUs per Ray task (default 0; fractions share one)")
    p.add_argument("--ray-tasks", type=positive_int("--ray-tasks"), default=None,
                   help="how many tasks to split the LRs into (default: as many as the cluster runs at once)")
    p.set_defaults(func=execute, inputs=("spec",), folder_outputs=("out",))


def execute(args: argparse.Namespace) -> int:
    from lrlab import api
    from lrlab.core.runs.sweep import MAX_MEMBERS, check_lrs

    label, spec = spec_argument(args)
    lrs = check_lrs(_parse_lrs(args.lrs), "--lrs") if args.lrs is not None else _parse_range(args.range)
    if len(lrs) * args.seeds > MAX_MEMBERS:
        raise UsageError(f"--seeds: {len(lrs)} LRs x {args.seeds} seeds is more than {MAX_MEMBERS} members")
    check_new_folder(args.out)
    result = api.start_sweep(label, spec, lrs, seeds=args.seeds, out=args.out, progress=not args.quiet,
                             ray=args.ray, ray_cpus=args.ray_cpus, ray_gpus=args.ray_gpus, ray_tasks=args.ray_tasks)
    if file_stopped(result):
        return 1
    for failure in result.failures:  # members whose chunk failed on a worker; the others arrived
        warn(f"failed on the cluster: {failure}")
    if args.json:
        print_json(result.to_json(), indent=2)
        return 0
    print(result.folder)
    print(format_sweep_table(result.rows(), result.task))
    best = result.best
    metric = "accuracy" if result.task == "classification" else "R^2"
    if best is None:
        print("best: none, every member diverged: try lower LRs")
    else:
        print(f"best: lr {best.lr:g} (seed {best.seed}), best validation {metric} "
              f"{_cell(best.best_val_metric)}")
    print(f"{len(result.members)} members x {result.n_params:,} parameters, {result.path} path, "
          f"{result.wall_time:.1f} s")
    return 0


def _parse_lrs(text: str) -> list[float]:
    values = []
    for item in text.split(","):
        try:
            values.append(float(item))
        except ValueError:
            raise UsageError(f"--lrs: {item.strip()!r} is not a number (expected e.g. --lrs 1e-3,3e-3,1e-2)") from None
    return values


def _parse_range(text: str, field: str = "--range") -> list[float]:
    from lrlab.core.runs.sweep import log_range

    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        lo, hi, k = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise UsageError(f"{field}: expected LO:HI:K (K learning rates from LO to HI on a log scale, "
                         f"e.g. 1e-4:1:9), got {text!r}") from None
    return log_range(lo, hi, k, field)


def parse_lrs(text: str, field: str = "--lrs") -> list[float]:
    """``--lrs`` as a list (``1e-3,3e-3,1e-2``) or a log range (``LO:HI:K``), checked."""
    from lrlab.core.runs.sweep import check_lrs

    return _parse_range(text, field) if ":" in text else check_lrs(_parse_lrs(text), field)


def _cell(x: Any, fmt: str = ".4g") -> str:
    return "-" if x is None else format(x, fmt)


def format_sweep_table(rows: Sequence[dict[str, Any]], task: str) -> str:
    """The members best first: rank, LR, seed, status, final training and validation loss,
    final and best validation metric, the step a member diverged at."""
    from lrlab.core.runs.sweep import rank

    metric = "acc" if task == "classification" else "R^2"
    header = ("#", "lr", "seed", "status", "train loss", "val loss", f"val {metric}", f"best val {metric}",
              "diverged at")
    lines = [header]
    for i, row in enumerate(rank(rows), 1):
        lines.append((str(i), f"{row['lr']:g}", str(row["seed"]), row["status"], _cell(row["final_train_loss"]),
                      _cell(row["final_val_loss"]), _cell(row["final_val_metric"]), _cell(row["best_val_metric"]),
                      _cell(row["diverged_at"], "d")))
    widths = [max(len(line[j]) for line in lines) for j in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)
