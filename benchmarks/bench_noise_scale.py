"""The gradient noise scale's cost: training with B_simple measured vs without, side by side.

The ``lr-well-chosen`` preset (digits, MLP [64] relu, SGD momentum 0.9, batch 64), CPU, one
thread, 300 steps, evaluations and update-ratio samples thinned to one each, so the steps are
what is timed. "off" measures the noise scale once (``noise_scale_every`` beyond the run: step
0 only); "on" every ``noise_scale_every`` steps (the default, and the others given). Both a
training run (``Trainer.run()``) and an 8-member sweep (``Sweep.run()``, what a grid's cells
are). The variants alternate run by run, so a burst of load from elsewhere on this shared
machine hits all alike; per round the median of its runs, then the median of the rounds. Time
is the process's CPU time (one thread does all the work): on a 2-core machine shared with other
jobs the wall clock of a 0.3 s run swings by tens of percent, CPU time by about ten. So the
cost is also measured where it is large: measured at every step (``every 1``), whose overhead
is one measurement's cost as a share of a step; at every N steps that share is divided by N
(the estimate printed, beside the direct and noisier figure). The target is under 5% at the
default.

    python benchmarks/bench_noise_scale.py [--rounds 5] [--repeats 5] [--every 10 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from lrlab.core.decl.resources import preset_path
from lrlab.core.decl.spec import RunSpec, load_spec
from lrlab.core.runs.sweep import Sweep
from lrlab.core.runs.train import Trainer

STEPS = 300
OFF = 10**9  # beyond the run: measured at step 0 only


def timed(make: Callable[[], object]) -> float:
    """CPU seconds of the loop of one freshly built run."""
    run = make()
    t0 = time.process_time()
    run.run()  # type: ignore[attr-defined]
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each variant per round")
    parser.add_argument("--every", type=int, nargs="*", default=[], help="more noise_scale_every values")
    args = parser.parse_args(argv)

    base = replace(load_spec(preset_path("lr-well-chosen")), threads=1, device="cpu", steps=STEPS,
                   eval_every=STEPS, update_ratio_every=10 * STEPS)
    default = RunSpec.from_json({}).noise_scale_every
    everies = [OFF, default, 1, *[e for e in args.every if e not in (default, 1)]]
    variants: list[tuple[str, Callable[[], object]]] = []
    for every in everies:
        spec = replace(base, noise_scale_every=every)
        tag = "off" if every == OFF else f"every {every}"
        variants.append((f"train, {tag}", lambda s=spec: Trainer(s, snapshot_every=None)))
        variants.append((f"sweep x8, {tag}", lambda s=spec: Sweep(s, lrs=[0.01 * 1.5 ** i for i in range(8)])))

    for _, make in variants:  # warm up: imports, first allocations
        timed(make)
    rounds: dict[str, list[float]] = {name: [] for name, _ in variants}
    for r in range(args.rounds):
        times: dict[str, list[float]] = {name: [] for name, _ in variants}
        for i in range(args.repeats):
            order = variants if (r + i) % 2 == 0 else variants[::-1]
            for name, make in order:
                times[name].append(timed(make))
        for name, v in times.items():
            rounds[name].append(statistics.median(v))
    med = {name: statistics.median(v) for name, v in rounds.items()}
    print(f"median of {args.rounds} rounds x {args.repeats} runs, {STEPS} steps each, one thread, CPU time")
    worst = 0.0
    for kind in ("train", "sweep x8"):
        off = med[f"{kind}, off"]
        print(f"  {kind:9s} off:      {off * 1e3:7.1f} ms")
        for every in everies[1:]:
            on = med[f"{kind}, every {every}"]
            overhead = on / off - 1
            if every == 1:
                estimate = overhead / default
                worst = max(worst, estimate)
                print(f"  {kind:9s} one measurement costs {overhead:.0%} of a step: every {default} steps, "
                      f"{estimate:+.1%}")
            per_round = ", ".join(f"{a / b - 1:+.1%}" for a, b in
                                  zip(rounds[f"{kind}, every {every}"], rounds[f"{kind}, off"], strict=True))
            print(f"  {kind:9s} every {every:3d}: {on * 1e3:7.1f} ms  overhead {overhead:+.1%} (rounds {per_round})")
    print(f"  overhead at the default (every {default}), from every 1: {worst:+.1%} (target < 5%)")
    return 0 if worst < 0.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
