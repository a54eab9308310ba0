"""Trainer overhead: lrlab's loop (metrics + session writer on) vs hand-written torch loops.

Same data (digits, standardised), model (MLP [128] relu), optimizer (SGD momentum 0.9),
batch 64 and thread count, run side by side in one process, interleaved over several
rounds; the median steps/s of each is compared as a ratio (absolute times on a shared
machine mean little). Targets: lrlab >= 0.90x the minimal loop, >= 2x the DataLoader loop.
lrlab runs with its default snapshots (every 500 steps, for forks) and once more without, to show
what they cost.

    python benchmarks/bench_trainer.py [--steps 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.models import build_model
from lrlab.core.runs import RecordedRun


def make_spec(steps: int) -> RunSpec:
    return RunSpec.from_json({
        "dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [128], "activation": "relu"},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "batch_size": 64,
        "steps": steps, "seed": 0, "device": "cpu"})


def lrlab_loop(spec: RunSpec, folder: Path, i: int, snapshots: bool = True) -> float:
    options = {} if snapshots else {"snapshot_every": None}
    run = RecordedRun(spec, folder / f"bench-{i}-{snapshots}.lrlab", **options)
    t0 = time.perf_counter()
    run.run()
    return spec.steps / (time.perf_counter() - t0)


def fresh(spec: RunSpec, data):
    torch.manual_seed(0)
    model = build_model(spec.model, tuple(data.x_train.shape[1:]), data.n_outputs)
    return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), nn.CrossEntropyLoss()


def minimal_loop(spec: RunSpec, data) -> float:
    """What a careful user writes: in-memory tensors, a permutation per epoch, no DataLoader."""
    model, opt, loss_fn = fresh(spec, data)
    x, y, n, bs = data.x_train, data.y_train, data.n_train, spec.batch_size
    g = torch.Generator().manual_seed(0)
    step = 0
    t0 = time.perf_counter()
    while step < spec.steps:
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, bs):
            if step == spec.steps:
                break
            idx = perm[i:i + bs]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    return spec.steps / (time.perf_counter() - t0)


def dataloader_loop(spec: RunSpec, data) -> float:
    """The loop most tutorials show: DataLoader(TensorDataset(...), shuffle=True)."""
    model, opt, loss_fn = fresh(spec, data)
    loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=spec.batch_size,
                        shuffle=True)
    step = 0
    t0 = time.perf_counter()
    while step < spec.steps:
        for xb, yb in loader:
            if step == spec.steps:
                break
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    return spec.steps / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    spec = make_spec(args.steps)
    from lrlab.core.engine.data import load_dataset

    data = load_dataset(spec.dataset, torch.device("cpu"))
    torch.set_num_threads(1)  # what lrlab chooses for a model this small; same for all three
    results: dict[str, list[float]] = {"lrlab": [], "minimal": [], "dataloader": [], "no snapshots": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            results["minimal"].append(minimal_loop(spec, data))
            results["lrlab"].append(lrlab_loop(spec, Path(tmp), r))
            results["dataloader"].append(dataloader_loop(spec, data))
            results["no snapshots"].append(lrlab_loop(spec, Path(tmp), r, snapshots=False))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"steps per run: {args.steps}, rounds: {args.rounds}, threads: 1")
    for k, v in med.items():
        print(f"  {k:<11} {v:8.0f} steps/s (rounds: {', '.join(f'{x:.0f}' for x in results[k])})")
    r_min, r_dl = med["lrlab"] / med["minimal"], med["lrlab"] / med["dataloader"]
    print(f"lrlab / minimal loop:    {r_min:.2f}x (target >= 0.90)")
    print(f"lrlab / DataLoader loop: {r_dl:.2f}x (target >= 2.00)")
    print(f"lrlab / lrlab without snapshots: {med['lrlab'] / med['no snapshots']:.2f}x")
    return 0 if r_min >= 0.90 and r_dl >= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
