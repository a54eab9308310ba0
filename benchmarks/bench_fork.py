"""Forking cost: reaching a fork step between two snapshots vs training ``snapshot_every`` steps.

A fork at step s starts from the nearest snapshot at or before s and re-runs the steps up to s.
The target (issue 15): forking costs at most that re-run, i.e. about ``snapshot_every`` steps
of training plus loading the snapshot. Measured in one process, interleaved over rounds:

- fork: ``fork_session(parent, s)`` built and run until its first step is recorded (one step
  past s), with s = a snapshot step + ``snapshot_every`` - 1: the worst place, the most re-run;
- baseline: a recorded run of the same spec for ``snapshot_every`` steps (built and run, so data
  loading and model building count on both sides) plus reading the nearest snapshot from the
  parent's file.

Ratio fork / baseline, target <= ~1.0.

    python benchmarks/bench_fork.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs import RecordedRun, fork_session
from lrlab.core.runs.train import SNAPSHOT_EVERY
from lrlab.core.storage.session import Session


def make_spec(steps: int) -> RunSpec:
    return RunSpec.from_json({
        "dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [128], "activation": "relu"},
        "optimizer": {"name": "adam", "lr": 0.001}, "batch_size": 64,
        "steps": steps, "seed": 0, "device": "cpu"})


def fork_time(parent: Path, at: int, out: Path) -> float:
    t0 = time.perf_counter()
    run = fork_session(parent, at, out=out, max_steps=at + 1)
    run.run()
    return time.perf_counter() - t0


def baseline_time(spec: RunSpec, parent: Path, snapshot_step: int, out: Path) -> float:
    t0 = time.perf_counter()
    RecordedRun(spec, out, max_steps=SNAPSHOT_EVERY).run()
    with Session.open(parent) as s:
        s.snapshot(snapshot_step)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    every = SNAPSHOT_EVERY
    spec = make_spec(3 * every)
    at = every + every - 1  # just before the snapshot at 2 x every: re-runs every - 1 steps
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        recorded = RecordedRun(spec, folder / "parent.lrlab")
        recorded.run()
        parent = recorded.path
        forks, bases = [], []
        for r in range(args.rounds):
            forks.append(fork_time(parent, at, folder / f"fork-{r}.lrlab"))
            bases.append(baseline_time(spec, parent, every, folder / f"base-{r}.lrlab"))
    f, b = statistics.median(forks), statistics.median(bases)
    print(f"snapshot_every {every}, fork at step {at} (nearest snapshot {every}), rounds {args.rounds}")
    for name, median, rounds in (("fork to its first step", f, forks), (f"{every} steps + snapshot load", b, bases)):
        print(f"  {name:<28}{median * 1000:7.0f} ms (rounds: {', '.join(f'{x * 1000:.0f}' for x in rounds)})")
    print(f"fork / (snapshot_every steps + load): {f / b:.2f}x (target <= 1.0)")
    return 0 if f / b <= 1.05 else 1


if __name__ == "__main__":
    sys.exit(main())
