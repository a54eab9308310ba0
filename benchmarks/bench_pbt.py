"""Population-based training: 16 members at once vs 16 sequential runs of the same length.

Two measurements, each printed as a Markdown table for benchmarks/README.md:

1. **processes** (the issue's target): ``lrlab pbt`` with 16 members on digits with the MLP [128]
   (SGD momentum 0.9, batch 64) as one process, against 16 sequential ``lrlab run`` processes of
   the same length at the members' first LRs, both from the shell as a user would run them,
   interleaved over rounds (median of the per-round ratios). Target: pbt / sequential <= 0.3.
2. **in one process**: the same, without the processes' start-up: one ``PBT`` runner against 16
   ``Trainer`` runs, each recorded to a session as the commands do (the engine's own ratio).

    python benchmarks/bench_pbt.py [--epochs 20] [--rounds 3] [--population 16] [--interval 100]
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
SPEC = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [128], "activation": "relu"},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "batch_size": 64, "seed": 0, "device": "cpu"}


def lrlab(*args: str) -> float:
    """Seconds for one `lrlab ...` process, start to exit, as from a shell."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lrlab", *args], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def first_lrs(k: int) -> list[float]:
    from lrlab.core.runs.pbt import initial_lrs

    return initial_lrs(SPEC["optimizer"]["lr"], k)


def table(rows: list[tuple[str, float, float, float]], k: int) -> None:
    print(f"\n| round | PBT, {k} members | {k} sequential runs | ratio |\n|---|---|---|---|")
    for name, a, b, r in rows:
        print(f"| {name} | {a:.1f} s | {b:.1f} s | {r:.3f} |")


def bench_processes(epochs: int, rounds: int, k: int, interval: int) -> float:
    folder = Path(tempfile.mkdtemp(prefix="bench-pbt-"))
    spec_file = folder / "spec.json"
    spec_file.write_text(json.dumps({**SPEC, "epochs": epochs}))
    lrs = first_lrs(k)
    rows = []
    for r in range(rounds):
        def pbt(r: int = r) -> float:
            return lrlab("pbt", str(spec_file), "--population", str(k), "--interval", str(interval),
                         "--out", str(folder / f"pbt-{r}"), "--quiet")

        def sequential(r: int = r) -> float:
            return sum(lrlab("run", str(spec_file), "--set", f"optimizer.lr={lr!r}", "--quiet",
                             "--out", str(folder / f"run-{r}-{i}.lrlab")) for i, lr in enumerate(lrs))

        if r % 2 == 0:  # alternate which goes first: a warm page cache or a busy neighbour favours neither
            a, b = pbt(), sequential()
        else:
            b, a = sequential(), pbt()
        rows.append((str(r + 1), a, b, a / b))
        print(f"  processes, round {r + 1}: pbt {a:.1f} s, {k} runs {b:.1f} s, ratio {a / b:.3f}", flush=True)
    table(rows, k)
    ratio = statistics.median(r[3] for r in rows)
    print(f"\nprocesses: median ratio {ratio:.3f} (target <= 0.3)")
    return ratio


def bench_in_process(epochs: int, rounds: int, k: int, interval: int) -> float:
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import record

    folder = Path(tempfile.mkdtemp(prefix="bench-pbt-mem-"))
    spec = RunSpec.from_json({**SPEC, "epochs": epochs})
    lrs = first_lrs(k)
    record("train", spec, folder / "warm.lrlab").run()  # imports, data, kernels: neither side pays them
    rows = []
    for r in range(rounds):
        def pbt(r: int = r) -> float:
            t0 = time.perf_counter()
            record("pbt", spec, folder / f"pbt-{r}", population=k, interval=interval).run()
            return time.perf_counter() - t0

        def sequential(r: int = r) -> float:
            t0 = time.perf_counter()
            for i, lr in enumerate(lrs):
                one = RunSpec.from_json({**SPEC, "epochs": epochs, "optimizer": {**SPEC["optimizer"], "lr": lr}})
                record("train", one, folder / f"run-{r}-{i}.lrlab").run()
            return time.perf_counter() - t0

        if r % 2 == 0:
            a, b = pbt(), sequential()
        else:
            b, a = sequential(), pbt()
        rows.append((str(r + 1), a, b, a / b))
        print(f"  in one process, round {r + 1}: pbt {a:.1f} s, {k} runs {b:.1f} s, ratio {a / b:.3f}", flush=True)
    table(rows, k)
    ratio = statistics.median(r[3] for r in rows)
    print(f"\nin one process: median ratio {ratio:.3f}")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--population", type=int, default=16)
    parser.add_argument("--interval", type=int, default=100)
    parser.add_argument("--only", default="processes,process", help="processes (shell), process (in one process)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(f"digits, MLP [128], SGD momentum 0.9, batch 64, {args.epochs} epochs; population {args.population}, "
          f"interval {args.interval}; {os.cpu_count()} CPUs", flush=True)
    if "processes" in only:
        bench_processes(args.epochs, args.rounds, args.population, args.interval)
    if "process" in only:
        bench_in_process(args.epochs, args.rounds, args.population, args.interval)


if __name__ == "__main__":
    main()
