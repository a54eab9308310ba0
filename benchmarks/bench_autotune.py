"""The auto-tuning showdown on digits with 3 seeds: how long the whole of it takes (target: under
5 minutes on a 2-core machine), and, side by side, the same number of plain training runs of the
spec as given (what the showdown's runs would cost without it: its range tests, its LR-free
optimizers and its bookkeeping are the difference).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_autotune.py [--budget 600] [--seeds 3]

Prints the showdown's table, its wall time, the baseline's and their ratio. PBT (method 6) runs
when ``lrlab.api.pbt`` exists and is reported unavailable otherwise.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import lrlab
from lrlab import api
from lrlab.core.decl.showdown import NAMES, RANGE_TEST_STEPS

PRESET = "lr-well-chosen"  # digits, an MLP of 64, SGD 0.05 with momentum 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    methods = [m for m in NAMES if m != "pbt" or getattr(api, "pbt", None) is not None]
    with tempfile.TemporaryDirectory() as tmp:
        lrlab.run(PRESET, steps=5, out=Path(tmp) / "warm.lrlab")  # imports and first kernels, untimed
        started = time.perf_counter()
        result = lrlab.autotune(PRESET, budget=args.budget, seeds=args.seeds, out=Path(tmp) / "showdown")
        showdown = time.perf_counter() - started

        # the baseline: as many plain training runs of the spec as given, each the budget long
        runs = len(methods) * args.seeds
        started = time.perf_counter()
        for i in range(runs):
            lrlab.run(PRESET, steps=args.budget, seed=i % args.seeds, out=Path(tmp) / f"plain-{i}.lrlab")
        baseline = time.perf_counter() - started

    print(result.describe())
    print(f"\nshowdown: {len(methods)} methods x {args.seeds} seeds, budget {args.budget} steps "
          f"(range test {RANGE_TEST_STEPS} of them): {showdown:.1f} s "
          f"({'under' if showdown < 300 else 'OVER'} the 5-minute target)")
    print(f"baseline: {runs} plain runs of the spec as given, {args.budget} steps each: {baseline:.1f} s")
    print(f"ratio showdown / baseline: {showdown / baseline:.2f}x")


if __name__ == "__main__":
    main()
