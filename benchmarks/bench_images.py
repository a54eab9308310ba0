"""Image batching: lrlab's in-memory uint8 tensors vs torchvision's Dataset + DataLoader.

One epoch of 60,000 synthetic 28x28 images written as real MNIST IDX files, an MLP [128]
and SGD, batch 64, one intra-op thread for both. lrlab keeps the images as uint8 tensors
and normalises each batch in one fused op; the baseline is the usual
``DataLoader(MNIST(root, transform=ToTensor()), shuffle=True, num_workers=0)``, which
builds a PIL image and a tensor per sample. Target: lrlab >= 3x faster. Run side by side,
alternating, median of rounds.

    python benchmarks/bench_images.py [--rounds 3]
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
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakedata import write_mnist_family

from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs.train import Trainer


def lrlab_epoch(root: Path) -> float:
    spec = RunSpec.from_json({
        "dataset": {"name": "mnist", "root": str(root), "val_fraction": 0.01},
        "model": {"kind": "mlp", "hidden": [128]}, "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
        "batch_size": 64, "epochs": 1, "device": "cpu", "threads": 1, "eval_every": 10_000_000})
    trainer = Trainer(spec)
    t0 = time.perf_counter()
    trainer.run()
    return trainer.step / (time.perf_counter() - t0)


def torchvision_epoch(root: Path) -> float:
    from torchvision import datasets, transforms

    torch.manual_seed(0)
    ds = datasets.MNIST(str(root), train=True, transform=transforms.ToTensor())
    loader = DataLoader(ds, batch_size=64, shuffle=True, num_workers=0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    steps = 0
    t0 = time.perf_counter()
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    return steps / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--images", type=int, default=60_000)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    res: dict[str, list[float]] = {"lrlab": [], "torchvision": []}
    with tempfile.TemporaryDirectory() as tmp:
        write_mnist_family(Path(tmp), n_train=args.images, n_test=10)
        for _ in range(args.rounds):
            res["torchvision"].append(torchvision_epoch(Path(tmp)))
            res["lrlab"].append(lrlab_epoch(Path(tmp)))
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"one epoch of {args.images} 28x28 images, MLP [128], batch 64, 1 thread, {args.rounds} rounds")
    for k, v in med.items():
        print(f"  {k:<12} {v:7.0f} steps/s (rounds: {', '.join(f'{x:.0f}' for x in res[k])})")
    ratio = med["lrlab"] / med["torchvision"]
    print(f"lrlab / torchvision DataLoader: {ratio:.2f}x (target >= 3.00)")
    return 0 if ratio >= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
