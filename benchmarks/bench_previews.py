"""Previews and hover: the planned LR of a long run, and reading 20 curves under the cursor.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_previews.py [--rounds 5]

1. The LR at every step of a 1,000,000-step run (warmup, cosine and a mid-run edit), from the
   timeline's array evaluation vs one ``lr(t)`` call per step, side by side (target: the array
   path at most 50 ms, and the figure in benchmarks/README.md).
2. The compare view's hover read-out over 20 sessions x 100,000 steps with smoothing: the first
   hover (series computed) vs later ones (cached per run, metric, x axis and smoothing)
   (target <= 16 ms a hover event).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_compare import write_sessions


def timed(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    from lrlab.core.decl.schedules import Timeline, parse_edit, parse_schedule

    tl = Timeline(parse_schedule({"kind": "warmup", "warmup_steps": 1000,
                                  "then": {"kind": "cosine", "T_max": 999_000}}), 0.1)
    tl.apply(200_000, parse_edit({"kind": "scale", "factor": 0.5}))
    steps = np.arange(1_000_000)
    array_ms = timed(lambda: tl.at(steps), args.rounds)
    scalar_ms = timed(lambda: [tl(t) for t in range(1_000_000)], 1)
    sample_ms = timed(lambda: tl.sample(0, 1_000_000), args.rounds)
    print(f"1. LR at all 1,000,000 steps: arrays {array_ms:.1f} ms vs step by step {scalar_ms:.0f} ms "
          f"= {scalar_ms / array_ms:.0f}x faster (target <= 50 ms); the 2,000-point plot sample {sample_ms:.2f} ms")

    from lrlab.gui.app import make_app
    from lrlab.gui.compare import CompareView

    make_app()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_sessions(Path(tmp), 20, 100_000)
        view = CompareView()
        view.resize(1400, 900)
        view.smooth.setValue(60)
        view.open_paths(paths)
        view.show()
        for r in view.runs:
            r._series.clear()  # the first hover computes every run's smoothed series
        t0 = time.perf_counter()
        view.values_at(50_000.0)
        first_ms = (time.perf_counter() - t0) * 1000
        xs = np.linspace(0, 100_000, 200)
        later = timed(lambda: [view.values_at(float(x)) for x in xs], args.rounds) / len(xs)
        view.close()
    ok = array_ms <= 50 and later <= 16
    print(f"2. hover over 20 sessions x 100,000 steps: first {first_ms:.1f} ms, then {later:.2f} ms a hover "
          f"(target <= 16 ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
