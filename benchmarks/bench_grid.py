"""LR x batch-size grids: ``lrlab grid`` as one process vs the same cells as sequential
``lrlab run`` processes (issue 27's target: grid / sequential <= 0.4).

The grid: digits, MLP [64] (the batch-size presets' model), SGD momentum 0.9, budget epochs,
K LRs (log-spaced, 1e-3 to 1) x batch sizes 16, 64, 256, 1 seed. The baseline: one ``lrlab run``
per cell, with that cell's batch size and LR (same epochs, so the same steps), from the shell as
a user would run them. Both are timed start to exit, alternating which goes first over rounds;
the figure is the median of the per-round ratios.

    python benchmarks/bench_grid.py [--epochs 5] [--lrs 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [64], "activation": "relu"},
        "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9}, "batch_size": 64, "seed": 0, "device": "cpu"}
BATCH_SIZES = (16, 64, 256)


def lrlab(*args: str) -> float:
    """Seconds for one `lrlab ...` process, start to exit, as from a shell."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lrlab", *args], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lrs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from lrlab.core.runs.sweep import log_range

    lrs = log_range(1e-3, 1.0, args.lrs)
    folder = Path(tempfile.mkdtemp(prefix="bench-grid-"))
    spec_file = folder / "spec.json"
    spec_file.write_text(json.dumps({**SPEC, "epochs": args.epochs}))
    cells = len(lrs) * len(BATCH_SIZES)
    ratios, grid_s, seq_s = [], [], []
    for r in range(args.rounds):
        def grid(r: int = r) -> float:
            return lrlab("grid", str(spec_file), "--lrs", ",".join(map(repr, lrs)),
                         "--batch-sizes", ",".join(map(str, BATCH_SIZES)), "--out", str(folder / f"grid-{r}"), "-q")

        def sequential(r: int = r) -> float:
            return sum(lrlab("run", str(spec_file), "--set", f"optimizer.lr={lr!r}", "--set", f"batch_size={b}",
                             "-q", "--out", str(folder / f"run-{r}-{b}-{i}.lrlab"))
                       for b in BATCH_SIZES for i, lr in enumerate(lrs))

        if r % 2 == 0:  # alternate which goes first: a warm cache or a busy neighbour favours neither
            a, b = grid(), sequential()
        else:
            b, a = sequential(), grid()
        grid_s.append(a)
        seq_s.append(b)
        ratios.append(a / b)
        print(f"  round {r + 1}: grid {a:.1f} s, {cells} sequential runs {b:.1f} s, ratio {a / b:.3f}", flush=True)
    print()
    print("| grid | cells | grid (s) | sequential `lrlab run` (s) | ratio (median) | target |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| {args.lrs} LRs x batch {', '.join(map(str, BATCH_SIZES))}, {args.epochs} epochs | {cells} | "
          f"{statistics.median(grid_s):.1f} | {statistics.median(seq_s):.1f} | {statistics.median(ratios):.3f} | "
          "<= 0.4 |")


if __name__ == "__main__":
    main()
