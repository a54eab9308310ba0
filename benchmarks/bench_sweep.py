"""LR sweeps: K learning rates trained at once vs one `lrlab run` per LR, and how the cost per
member changes with K, the stacking path and the model's size.

Four measurements, each printed as a Markdown table for benchmarks/README.md:

1. **processes** (the issue's target): ``lrlab sweep`` of K=16 LRs on digits with the MLP [128]
   (SGD momentum 0.9, batch 64) as one process, against 16 sequential ``lrlab run`` processes of
   the same length, both from the shell as a user would run them, interleaved over rounds
   (median of the per-round ratios). Target: sweep / sequential <= 0.35.
2. **per member**: seconds per member-step for K = 1, 4, 16, 64 on each path (bmm, vmap, loop),
   in one process, next to one training run's seconds per step.
3. **memory**: peak resident memory of a child process training a sweep of K members, for the
   digits MLP and for a large MLP (784 -> 512 -> 512 -> 10, Adam, batch 256), and what each
   member adds: where memory, rather than time, stops K.
4. **paths by size**: per member-step time of the three paths at K=16 for models from tiny to
   large: the measurements behind ``lrlab.core.engine.stacked.LOOP_ABOVE_MACS``.

    python benchmarks/bench_sweep.py [--epochs 200] [--rounds 3] [--only processes,members,memory,paths]
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEC = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [128], "activation": "relu"},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "batch_size": 64, "seed": 0, "device": "cpu"}
BIG = {"dataset": {"name": "classification", "n_samples": 6000, "n_features": 784, "n_informative": 40,
                   "n_classes": 10}, "model": {"kind": "mlp", "hidden": [512, 512]},
       "optimizer": {"name": "adam", "lr": 1e-3}, "batch_size": 256, "seed": 0, "device": "cpu"}


def lrlab(*args: str) -> float:
    """Seconds for one `lrlab ...` process, start to exit, as from a shell."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lrlab", *args], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def lr_grid(k: int, lo: float = 1e-3, hi: float = 1.0) -> list[float]:
    from lrlab.core.runs.sweep import log_range

    return log_range(lo, hi, k) if k > 1 else [lo]


def bench_processes(epochs: int, rounds: int, k: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    spec_file = folder / "spec.json"
    spec_file.write_text(json.dumps({**SPEC, "epochs": epochs}))
    lrs = lr_grid(k)
    sweep_s, seq_s, ratios = [], [], []
    for r in range(rounds):
        def sweep(r: int = r) -> float:
            return lrlab("sweep", str(spec_file), "--lrs", ",".join(map(repr, lrs)),
                         "--out", str(folder / f"sweep-{r}"), "--quiet")

        def sequential(r: int = r) -> float:
            return sum(lrlab("run", str(spec_file), "--set", f"optimizer.lr={lr!r}", "--quiet",
                             "--out", str(folder / f"run-{r}-{i}.lrlab")) for i, lr in enumerate(lrs))

        if r % 2 == 0:  # alternate which goes first: a warm page cache or a busy neighbour favours neither
            a, b = sweep(), sequential()
        else:
            b, a = sequential(), sweep()
        sweep_s.append(a)
        seq_s.append(b)
        ratios.append(a / b)
        print(f"  round {r + 1}: sweep {a:.1f} s, {k} sequential runs {b:.1f} s, ratio {a / b:.3f}", flush=True)
    print(f"\n| K={k}, digits MLP [128], {epochs} epochs ({epochs * 23} steps) | sweep process | {k} sequential "
          "`lrlab run` | sweep / sequential |")
    print("|---|---|---|---|")
    print(f"| median of {rounds} rounds | {statistics.median(sweep_s):.1f} s | {statistics.median(seq_s):.1f} s | "
          f"**{statistics.median(ratios):.3f}** (target <= 0.35) |")


def time_sweep(spec_json: dict, k: int, path: str | None, steps: int) -> tuple[float, str]:
    """Seconds per member-step of a sweep of k members (in this process, no session files)."""
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs.sweep import Sweep

    spec = RunSpec.from_json({**spec_json, "steps": steps, "eval_every": steps})
    # LRs around the spec's, none diverging: frozen members would make the timing about masks
    lrs = lr_grid(k, spec.lr / 10, spec.lr * 2) if k > 1 else [spec.lr]
    sweep = Sweep(spec, lrs=lrs, path=path)
    t0 = time.perf_counter()
    sweep.run()
    return (time.perf_counter() - t0) / (sweep.step * k), sweep.path


def time_train(spec_json: dict, steps: int) -> float:
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs.train import Trainer

    trainer = Trainer(RunSpec.from_json({**spec_json, "steps": steps, "eval_every": steps}))
    t0 = time.perf_counter()
    trainer.run()
    return (time.perf_counter() - t0) / trainer.step


def bench_members(rounds: int, steps: int) -> None:
    ks, paths = (1, 4, 16, 64), ("bmm", "vmap", "loop")
    times: dict[tuple[int, str], list[float]] = {}
    single = []
    for _ in range(rounds):
        single.append(time_train(SPEC, steps))
        for k in ks:
            for path in paths:
                times.setdefault((k, path), []).append(time_sweep(SPEC, k, path, steps)[0])
    base = statistics.median(single)
    print(f"\n| digits MLP [128], SGD, batch 64: µs per member-step (median of {rounds}) | "
          + " | ".join(f"K={k}" for k in ks) + " |")
    print("|---|" + "---|" * len(ks))
    for path in paths:
        cells = []
        for k in ks:
            t = statistics.median(times[(k, path)])
            cells.append(f"{t * 1e6:.0f} ({base / t:.2f}x)")
        print(f"| {path} | " + " | ".join(cells) + " |")
    print(f"| one training run (`train` kind), per step | {base * 1e6:.0f} | | | |")


# VmHWM, the peak resident memory of this process image: unlike ru_maxrss, Linux does not carry it
# over from the parent across fork and exec (the parent here has run K=64 sweeps itself)
MEMORY_CHILD = """
import json, re, sys
from pathlib import Path
from lrlab.core.runs.sweep import Sweep
from lrlab.core.decl.spec import RunSpec

def peak_kb():
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))

spec = RunSpec.from_json(json.loads(sys.argv[1]))
k = int(sys.argv[2])
lrs = [spec.lr * (1 + i / 100) for i in range(k)]
before = peak_kb()
sweep = Sweep(spec, lrs=lrs)
sweep.run()
print(json.dumps({"before_kb": before, "peak_kb": peak_kb(), "params": sweep.n_params, "path": sweep.path}))
"""


def bench_memory(steps: int) -> None:
    print("\n| model | K | peak RSS | RSS above the process before the sweep | per member |")
    print("|---|---|---|---|---|")
    for name, spec, ks in (("digits MLP [128], SGD", SPEC, (1, 16, 64)),
                           ("784-512-512-10 MLP, Adam, batch 256", BIG, (1, 16, 64))):
        rows = []
        for k in ks:
            out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, json.dumps({**spec, "steps": steps}), str(k)],
                                 capture_output=True, text=True, check=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((k, r))
        base = rows[0][1]["peak_kb"]
        for k, r in rows:
            per = (r["peak_kb"] - base) / (k - 1) / 1024 if k > 1 else float("nan")
            print(f"| {name} ({r['params']:,} parameters, {r['path']}) | {k} | {r['peak_kb'] / 1024:.0f} MB | "
                  f"{(r['peak_kb'] - r['before_kb']) / 1024:.0f} MB | "
                  + ("" if np.isnan(per) else f"{per:.2f} MB") + " |")


SIZES = [
    ("digits, MLP [32], batch 32", {**SPEC, "model": {"kind": "mlp", "hidden": [32]}, "batch_size": 32}),
    ("digits, MLP [128], batch 64", SPEC),
    ("digits, MLP [512], batch 64", {**SPEC, "model": {"kind": "mlp", "hidden": [512]}}),
    ("digits, MLP [256, 256], batch 64", {**SPEC, "model": {"kind": "mlp", "hidden": [256, 256]}}),
    ("digits, MLP [512, 512], batch 64", {**SPEC, "model": {"kind": "mlp", "hidden": [512, 512]}}),
    ("784 features, MLP [256], batch 128", {**BIG, "model": {"kind": "mlp", "hidden": [256]}, "batch_size": 128,
                                            "optimizer": SPEC["optimizer"]}),
    ("784 features, MLP [512, 512], batch 256", {**BIG, "optimizer": SPEC["optimizer"]}),
    ("digits, CNN [16, 32] (64 hidden), batch 64", {**SPEC, "model": {"kind": "cnn"}}),
]


def bench_paths(rounds: int, steps: int, k: int = 16) -> None:
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.engine.models import build_model

    print(f"\n| model (K={k}) | batch x parameters | bmm | vmap | loop | one run | chosen |")
    print("|---|---|---|---|---|---|---|")
    for name, spec_json in SIZES:
        spec = RunSpec.from_json(spec_json)
        n_in = 784 if spec.dataset.kind == "classification" else 64
        model = build_model(spec.model, (n_in,), 10, (1, 8, 8))
        macs = spec.batch_size * sum(p.numel() for p in model.parameters())
        paths = ("vmap", "loop") if spec.model.kind == "cnn" else ("bmm", "vmap", "loop")
        n = max(20, steps * 2_000_000 // max(macs * k, 1))  # big models: fewer steps
        n = min(n, steps)
        times: dict[str, list[float]] = {p: [] for p in paths}
        single, chosen = [], ""
        for _ in range(rounds):
            single.append(time_train(spec_json, n))
            for p in paths:
                times[p].append(time_sweep(spec_json, k, p, n)[0])
            chosen = time_sweep(spec_json, 2, None, 2)[1]
        cells = [f"{statistics.median(times[p]) * 1e6:.0f}" if p in times else "-" for p in ("bmm", "vmap", "loop")]
        print(f"| {name} | {macs / 1e6:.1f} M | " + " | ".join(cells)
              + f" | {statistics.median(single) * 1e6:.0f} | {chosen} |", flush=True)
    print("(µs per member-step; one run: µs per step of the `train` kind, fused optimizer)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=200, help="length of each run in the process comparison")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--k", type=int, default=16, help="LRs in the process comparison")
    parser.add_argument("--steps", type=int, default=300, help="steps per in-process measurement")
    parser.add_argument("--only", default="processes,members,memory,paths")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    parts = set(args.only.split(","))
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, python {sys.version.split()[0]}")
    if "processes" in parts:
        bench_processes(args.epochs, args.rounds, args.k)
    if "members" in parts:
        bench_members(args.rounds, args.steps)
    if "memory" in parts:
        bench_memory(100)
    if "paths" in parts:
        bench_paths(args.rounds, args.steps)


if __name__ == "__main__":
    main()
