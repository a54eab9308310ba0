"""Range test overhead: one 100-iteration seed vs 100 plain training steps of the same spec.

digits, MLP [64] relu, SGD momentum 0.9, batch 64 (the ``lr-well-chosen`` preset), CPU, one
thread. Both run through ``RecordedRun`` with the session writer on, built and run end to end
(dataset split, model, optimizer, the loop, the session file): what a user waits for. The
range test ramps 1e-7 to 1 (so all 100 steps run; the default end of 10 stops it early) with
one seed; the training run has its validations and update-ratio samples thinned to one each,
so it is plain steps. The two alternate run by run; the median of each round's runs, then
the median of the rounds; the ratio is the target (<= 1.3x). The loop alone (``run()`` only) is reported beside it.

    python benchmarks/bench_range_test.py [--rounds 7] [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from lrlab.core.decl.resources import preset_path
from lrlab.core.decl.spec import load_spec
from lrlab.core.runs import RecordedRun

STEPS = 100


def timed(make, path: Path, tag: str) -> tuple[float, float]:
    """Seconds of one run: end to end (build and run) and the loop alone."""
    t0 = time.perf_counter()
    run = make(path)
    t1 = time.perf_counter()
    run.run()
    t2 = time.perf_counter()
    assert run.runner.step == STEPS, f"{tag} ran {run.runner.step} steps"
    return t2 - t0, t2 - t1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=10, help="runs of each per round")
    args = parser.parse_args(argv)

    spec = replace(load_spec(preset_path("lr-well-chosen")), threads=1)
    plain = replace(spec, steps=STEPS, eval_every=STEPS, update_ratio_every=10 * STEPS)
    params = {"start_lr": 1e-7, "end_lr": 1.0, "num_iter": STEPS, "seeds": 1}

    def range_test(path: Path) -> RecordedRun:
        return RecordedRun(spec, path, kind="range_test", params=params)

    def training(path: Path) -> RecordedRun:
        return RecordedRun(plain, path)

    # per round, the median of its runs; the two kinds alternate run by run, so a burst of load
    # from elsewhere on this shared machine hits both alike
    results: dict[str, list[tuple[float, float]]] = {"range": [], "train": []}
    kinds = (("range", range_test), ("train", training))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, make in kinds * 2:  # warm up: imports, first allocations
            timed(make, folder / f"warm-{name}-{time.monotonic_ns()}.lrlab", name)
        for r in range(args.rounds):
            times: dict[str, list[tuple[float, float]]] = {"range": [], "train": []}
            for i in range(args.repeats):
                for name, make in kinds if (r + i) % 2 == 0 else kinds[::-1]:
                    times[name].append(timed(make, folder / f"{name}-{r}-{i}.lrlab", name))
            for name, v in times.items():
                results[name].append((statistics.median(t for t, _ in v), statistics.median(lp for _, lp in v)))
    med = {name: (statistics.median(t for t, _ in v), statistics.median(lp for _, lp in v))
           for name, v in results.items()}
    ratio, loop_ratio = med["range"][0] / med["train"][0], med["range"][1] / med["train"][1]
    print(f"median of {args.rounds} rounds x {args.repeats} runs, {STEPS} steps each")
    print(f"  range test, 1 seed:   {med['range'][0] * 1e3:7.1f} ms end to end, loop {med['range'][1] * 1e3:6.1f} ms")
    print(f"  training, plain:      {med['train'][0] * 1e3:7.1f} ms end to end, loop {med['train'][1] * 1e3:6.1f} ms")
    print(f"  ratio: {ratio:.2f}x end to end (target <= 1.3x), {loop_ratio:.2f}x loop only")
    return 0 if ratio <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
