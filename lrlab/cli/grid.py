"""``lrlab grid``: learning rates x batch sizes, the best LR per batch size against the scaling rules."""

from __future__ import annotations

import argparse
import math
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
from lrlab.cli.sweep import parse_lrs
from lrlab.core.decl.metrics import TRAIN_LOSS, VAL_METRIC


def add_parser(commands: Commands) -> None:
    p = command(commands, "grid", "learning rates x batch sizes: the best LR per batch size",
                "Train every LR at every batch size of a run spec or preset: each batch size's LRs (x seeds) at "
                "once with stacked parameters, the batch sizes one after another. Writes one session per cell and "
                "summary.json into a folder, and prints the grid, the best LR of each batch size and what the "
                "linear and square-root scaling rules predict from the smallest batch size's best LR. Ctrl-C "
                "stops cleanly.",
                ["lrlab grid batch-64 --lrs 1e-3:1:7 --batch-sizes 16,64,256 -o grid",
                 "lrlab grid batch-64 --lrs 0.01,0.03,0.1 --batch-sizes 16,64 --seeds 3 --target val_metric=0.95 "
                 "--json"])
    add_spec(p)
    p.add_argument("--lrs", required=True, metavar="LO:HI:K|LR,LR,...",
                   help="K learning rates from LO to HI on a log scale (1e-3:1:7), or a list (0.01,0.03,0.1)")
    p.add_argument("--batch-sizes", required=True, metavar="B,B,...", help="the batch sizes, e.g. 16,64,256")
    p.add_argument("--budget", choices=("epochs", "steps"), default="epochs",
                   help="epochs: equal samples seen, so larger batches take fewer steps (default); steps: equal steps")
    p.add_argument("--seeds", type=positive_int("--seeds"), default=1,
                   help="seeds per cell: the spec's seed, seed+1, ... (default 1)")
    p.add_argument("--best", choices=(VAL_METRIC.name, TRAIN_LOSS.name), default=VAL_METRIC.name,
                   help="what picks a batch size's best LR: the final validation metric (default) or the final "
                        "smoothed training loss")
    p.add_argument("--target", metavar="METRIC=VALUE",
                   help="the steps each cell takes to reach it, e.g. val_metric=0.95 (or val_metric>=0.95), and "
                        "the knee of those steps against batch size")
    add_set(p, "optimizer.momentum=0.9")
    add_out(p, "folder", "a session per cell and summary.json (new or empty; default: a new folder in the "
                         "sessions folder)")
    add_json(p, "the cells, the best LR per batch size and the rules' predictions")
    add_quiet(p)
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run each batch size as a task on a Ray cluster (HOST:6379; without ADDRESS: RAY_ADDRESS, "
                        "else a local instance); needs pip install 'lrlab[cluster]'")
    p.add_argument("--ray-cpus", type=positive_float("--ray-cpus"), default=1.0, help="CPUs per Ray task (default 1)")
    p.add_argument("--ray-gpus", type=float, default=0.0, help="GPUs per Ray task (default 0; fractions share one)")
    p.set_defaults(func=execute, inputs=("spec",), folder_outputs=("out",))


def parse_batch_sizes(text: str) -> list[int]:
    values = []
    for item in text.split(","):
        try:
            values.append(int(item))
        except ValueError:
            raise UsageError(f"--batch-sizes: {item.strip()!r} is not a whole number (expected e.g. "
                             "--batch-sizes 16,64,256)") from None
    return values


def execute(args: argparse.Namespace) -> int:
    from lrlab import api
    from lrlab.core.decl.datasets import train_size
    from lrlab.core.runs.grid import cell_spec, check_batch_sizes, target_text
    from lrlab.core.runs.sweep import MAX_MEMBERS

    label, spec = spec_argument(args)
    lrs = parse_lrs(args.lrs)
    batch_sizes = check_batch_sizes(parse_batch_sizes(args.batch_sizes), train_size(spec.dataset), "--batch-sizes")
    for b in batch_sizes:
        cell_spec(spec, b, args.budget, "--budget")
    if len(lrs) * args.seeds > MAX_MEMBERS:
        raise UsageError(f"--seeds: {len(lrs)} LRs x {args.seeds} seeds is more than {MAX_MEMBERS} cells per batch "
                         "size")
    target = None if args.target is None else target_text(args.target)
    check_new_folder(args.out)
    result = api.start_grid(label, spec, lrs, batch_sizes, budget=args.budget, seeds=args.seeds, best=args.best,
                            target=target, out=args.out, progress=not args.quiet, ray=args.ray,
                            ray_cpus=args.ray_cpus, ray_gpus=args.ray_gpus)
    if file_stopped(result):
        return 1
    for failure in result.failures:
        warn(f"failed on the cluster: {failure}")
    if args.json:
        print_json(result.to_json(), indent=2)
        return 0
    print(result.folder)
    print(format_grid(result.cells, lrs, batch_sizes, result.task))
    print(format_best(result.best, result.rules, batch_sizes))
    if result.knee is not None:
        found = result.knee
        steps = ", ".join(f"batch {b}: {s:g}" for b, s in found["steps_to_target"].items()) or "none reached it"
        print(f"steps to {target}: {steps}")
        crit = found["critical_batch"]
        print("knee: " + ("none in range (doubling the batch still halves the steps, or too few points)" if crit is None
                          else f"critical batch size about {crit:.0f} (S = {found['min_steps']:.0f} x (1 + "
                               f"{crit:.0f} / B))"))
    print(f"{len(result.cells)} cells, budget {result.budget}, {result.wall_time:.1f} s")
    return 0


def _mean(values: Sequence[Any]) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def format_grid(cells: Sequence[dict[str, Any]], lrs: Sequence[float], batch_sizes: Sequence[int], task: str) -> str:
    """The final validation metric (mean over seeds) of every cell: a row per batch size, a column
    per LR; ``div`` where a seed diverged, ``-`` where a cell did not run."""
    metric = "acc" if task == "classification" else "R^2"
    lines = [(f"val {metric}: batch \\ lr", *(f"{lr:g}" for lr in lrs))]
    for b in batch_sizes:
        row = [f"{b}"]
        for lr in lrs:
            mine = [c for c in cells if c["batch_size"] == b and c["lr"] == lr]
            if not mine:
                row.append("-")
            elif any(c["status"] == "diverged" for c in mine):
                row.append("div")
            else:
                m = _mean([c["final_val_metric"] for c in mine])
                row.append("-" if m is None else f"{m:.3f}")
        lines.append(tuple(row))
    widths = [max(len(line[j]) for line in lines) for j in range(len(lines[0]))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in lines)


def format_best(best: dict[str, dict[str, Any]], rules: dict[str, dict[str, float]], batch_sizes: Sequence[int]) -> str:
    """The best LR of each batch size beside the linear and square-root rules' predictions."""
    lines = [("batch", "best lr", "linear rule", "sqrt rule")]
    for b in batch_sizes:
        key = str(b)
        found = best.get(key) or {}
        lines.append((key, f"{found['lr']:g}" if found else "none (all diverged)",
                      _rule(rules["linear"].get(key)), _rule(rules["sqrt"].get(key))))
    widths = [max(len(line[j]) for line in lines) for j in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def _rule(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.3g}"
