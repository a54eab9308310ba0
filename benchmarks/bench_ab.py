"""Two versions of lrlab compared pairwise: old and new in two long-lived processes, runs
alternated back to back, the median of each pair's ratio (new / old steps per second).

On a shared machine one version's steps/s swings by 2x between minutes; a pair of runs a few
seconds apart sees the same load, so the median pair ratio is what survives the noise.

    git archive OLD_COMMIT | tar -x -C /tmp/old
    python benchmarks/bench_ab.py /tmp/old . [--what train:9,sweep:7,range:7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [128], "activation": "relu"},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "batch_size": 64, "seed": 0, "device": "cpu"}


def one_run(what: str, folder: Path, i: int) -> float:
    """Steps per second of one run of ``what`` (a training run, a K=16 sweep, a range test),
    recorded to a session as the clients record it. Uses only APIs both versions have."""
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedRun, RecordedSweep

    if what == "train":
        run, steps = RecordedRun(RunSpec.from_json({**SPEC, "steps": 2000}), folder / f"t{i}.lrlab"), 2000
    elif what == "sweep":
        lrs = [0.001 * 1.5 ** j for j in range(16)]
        run, steps = RecordedSweep(RunSpec.from_json({**SPEC, "steps": 300}), lrs, folder / f"s{i}", path="bmm"), 300
    else:
        run = RecordedRun(RunSpec.from_json({**SPEC, "steps": 100}), folder / f"r{i}.lrlab", kind="range_test",
                          params={"num_iter": 300, "seeds": 3, "stop_factor": 1e6, "end_lr": 0.5})
        steps = 0
    t0 = time.perf_counter()
    run.run()
    return (steps or run.runner.step) / (time.perf_counter() - t0)


def worker() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    for i, line in enumerate(sys.stdin):
        print(one_run(line.strip(), folder, i), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old", help="a checkout of the old version (its root)")
    parser.add_argument("new", help="a checkout of the new version (its root)")
    parser.add_argument("--what", default="train:9,sweep:7,range:7", help="kind:pairs, comma-separated")
    args = parser.parse_args()

    def start(root: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, __file__, "--worker"], cwd=root, text=True,
                                env={**os.environ, "PYTHONPATH": str(Path(root).resolve())},
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def go(p: subprocess.Popen, what: str) -> float:
        p.stdin.write(what + "\n")
        p.stdin.flush()
        return float(p.stdout.readline())

    old, new = start(args.old), start(args.new)
    for item in args.what.split(","):
        what, pairs = item.split(":")
        go(old, what), go(new, what)  # warm-up: imports, first allocations
        ratios, old_rates, new_rates = [], [], []
        for i in range(int(pairs)):
            first, second = (old, new) if i % 2 == 0 else (new, old)  # neither always goes first
            rates = {id(first): go(first, what)}
            rates[id(second)] = go(second, what)
            old_rates.append(rates[id(old)])
            new_rates.append(rates[id(new)])
            ratios.append(rates[id(new)] / rates[id(old)])
        print(f"{what}: new / old median {statistics.median(ratios):.2f}x over {pairs} pairs "
              f"(pairs {min(ratios):.2f}-{max(ratios):.2f}); old {statistics.median(old_rates):.0f} steps/s, "
              f"new {statistics.median(new_rates):.0f}", flush=True)
    for p in (old, new):
        p.stdin.close()
        p.wait()


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        main()
