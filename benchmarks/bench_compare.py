"""Opening 20 sessions of 100,000 steps and drawing the overlay, vs the format's floor.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_compare.py [--sessions 20] [--steps 100000]

The sessions are written by lrlab's own SessionWriter (synthetic curves, real format).
The floor: reading the same columns (step and training loss) of every file straight
into numpy with sqlite3. lrlab: open every session (checks, metadata, events), read the
columns, build the decimated curves, fill the summary/differences tables and paint the
overlay once. Targets: <= 1.5x the floor and under one second.
"""

from __future__ import annotations

import argparse
import math
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def write_sessions(folder: Path, n: int, steps: int) -> list[Path]:
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs.base import Update
    from lrlab.core.storage.session import SessionWriter

    paths = []
    for i in range(n):
        spec = RunSpec.from_json({"dataset": {"name": "digits"}, "optimizer": {"name": "sgd", "lr": 0.01 * (i + 1)},
                                  "steps": steps, "seed": i})
        w = SessionWriter(folder / f"run-{i:02d}.lrlab", spec, {"threads": 1, "device": "cpu"},
                          extra_meta={"steps_per_epoch": 23, "total_steps": steps})
        s = np.arange(steps)
        rng = np.random.default_rng(i)
        cols = {"step": s, "epoch": s // 23, "samples": (s + 1) * 64, "wall_time": s * 3e-4,
                "train_loss": np.exp(-s / (5000 * (i + 1))) + 0.05 * rng.random(steps), "lr": np.full(steps, 0.01),
                "grad_norm": 1 + rng.random(steps), "update_ratio": np.where(s % 10 == 0, 1e-3, math.nan)}
        evals = [{"step": int(k), "epoch": int(k // 23), "val_loss": 1.0 / (1 + k / 1000), "val_metric": 0.9}
                 for k in range(0, steps, steps // 50)]
        w(Update(cols, evals, [], steps, steps, "finished"))
        w.close("finished")
        paths.append(w.path)
    return paths


def floor(paths: list[Path]) -> float:
    t0 = time.perf_counter()
    for p in paths:
        con = sqlite3.connect(p)
        n = con.execute("SELECT COUNT(*) FROM steps").fetchone()[0]
        for col in ("step", "train_loss"):
            np.fromiter((r[0] for r in con.execute(f"SELECT {col} FROM steps ORDER BY step")), np.float64, count=n)
        con.close()
    return time.perf_counter() - t0


def lrlab(paths: list[Path], view) -> float:
    from lrlab.core.features.compare import open_runs

    t0 = time.perf_counter()
    view.set_runs(open_runs(paths))
    view.plot.grab()  # paint the overlay now
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    from lrlab.gui.app import make_app
    from lrlab.gui.compare import CompareView

    make_app()
    view = CompareView()
    view.resize(1400, 900)
    view.show()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_sessions(Path(tmp), args.sessions, args.steps)
        f, l = [], []
        for _ in range(args.rounds):
            f.append(floor(paths))
            l.append(lrlab(paths, view))
        view.set_runs([])
    ff, ll = statistics.median(f), statistics.median(l)
    print(f"{args.sessions} sessions x {args.steps:,} steps, median of {args.rounds} rounds")
    print(f"  floor (sqlite3 -> numpy, 2 columns): {ff:.3f} s")
    print(f"  lrlab (open, read, decimate, tables, paint): {ll:.3f} s = {ll / ff:.2f}x (target <= 1.5x, < 1 s)")
    return 0 if ll / ff <= 1.5 and ll < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
