"""What recording the effective LR costs: the same run with the default ``effective_lr_every``
and with it effectively off, interleaved rounds, median (target: under 5% of training time).

    python benchmarks/bench_effective_lr.py [--rounds 5] [--steps 3000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs.train import Trainer


def rate(optimizer: dict, every: int | None, steps: int) -> float:
    spec = RunSpec.from_json({"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [128]},
                              "optimizer": optimizer, "batch_size": 64, "steps": steps, "device": "cpu",
                              "threads": 1, "effective_lr_every": every})
    trainer = Trainer(spec)
    t0 = time.perf_counter()
    trainer.run()
    return trainer.step / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=3000)
    args = ap.parse_args(argv)
    ok = True
    for name, opt in (("sgd", {"name": "sgd", "lr": 0.05, "momentum": 0.9}), ("adam", {"name": "adam", "lr": 1e-3})):
        on, off = [], []
        for _ in range(args.rounds):
            on.append(rate(opt, None, args.steps))
            off.append(rate(opt, 10**8, args.steps))
        cost = 1 - statistics.median(on) / statistics.median(off)
        ok &= cost < 0.05
        print(f"{name}: {statistics.median(on):.0f} steps/s recording every 50 steps vs {statistics.median(off):.0f} "
              f"without = {cost:.1%} of training time (target < 5%)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
