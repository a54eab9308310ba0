"""A sweep on Ray vs the same sweep on this machine, side by side in one script.

    python benchmarks/bench_ray.py [--rounds 3]

1. Overhead: 16 members (16 LRs, iris MLP) as a Ray sweep on a local instance (2 tasks of 8
   members, 1 CPU each) vs the local vectorized sweep of the same 16 members, wall time to all
   sessions written (ratio; Ray pays for starting workers, importing torch in them and shipping
   the sessions back, and wins back by running the two tasks on two cores).
2. Per-task start-up: a Ray sweep of 1 LR x 1 step per task, its wall time per task.
The Ray instance is started once, before any timing (about 4-7 s, not counted).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [32]}, "optimizer": {"name": "sgd", "lr": 0.1},
        "epochs": 60, "batch_size": 16, "threads": 1}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    os.environ.setdefault("LRLAB_HOME", tempfile.mkdtemp(prefix="lrlab-bench-"))
    import ray

    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedSweep
    from lrlab.core.runs.cluster import ray_sweep
    from lrlab.core.runs.sweep import log_range

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    spec = RunSpec.from_json(SPEC)
    lrs = log_range(1e-3, 3.0, 16, "lrs")
    tmp = Path(tempfile.mkdtemp(prefix="lrlab-bench-ray-"))
    local, remote, startup = [], [], []
    for r in range(args.rounds):
        t0 = time.perf_counter()
        RecordedSweep(spec, lrs, tmp / f"local{r}").run()
        local.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = ray_sweep(spec, lrs, tmp / f"ray{r}", tasks=2)
        remote.append(time.perf_counter() - t0)
        assert not result.failures and len(result.rows) == 16
        t0 = time.perf_counter()
        one_step = RunSpec.from_json({k: v for k, v in SPEC.items() if k != "epochs"} | {"steps": 1})
        ray_sweep(one_step, [0.1, 0.2], tmp / f"tiny{r}", tasks=2)
        startup.append((time.perf_counter() - t0) / 2)
    shutil.rmtree(tmp, ignore_errors=True)
    lo, ra = statistics.median(local), statistics.median(remote)
    print(f"1. 16 members: Ray (2 tasks) {ra:.2f} s vs local vectorized sweep {lo:.2f} s = {ra / lo:.2f}x")
    print(f"   first round, Ray's workers starting (importing torch): {remote[0]:.2f} s = {remote[0] / local[0]:.2f}x")
    print(f"2. per-task start-up (1 step per task, warm workers): {statistics.median(startup):.2f} s")
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
