"""Image folders: lrlab's decoded cache with on-device augmentation vs torchvision's ImageFolder.

(a) Training steps per second on a folder of PNG images (torchvision's ImageFolder layout, 10
classes, 40x36 pixels on disk, resized to 32x32), the same small CNN (lrlab's ``cnn``, channels
[8, 16], hidden 32: small, so that the data path, not the model, sets the pace), SGD, batch 64,
one intra-op thread, augmented by a random crop after 4 pixels of padding and a random
horizontal flip. lrlab: ``{"name": "image_folder", "size": 32, "augment": "crop_flip"}``,
trained by its Trainer (decoded once into a uint8 tensor; the crop and flip are two gathers per
batch on the device), timed over the training loop with the cache warm.
Baseline: ``ImageFolder(root, transform=Compose([Resize(32), CenterCrop(32), RandomCrop(32,
padding=4, padding_mode="reflect"), RandomHorizontalFlip(), ToTensor(), Normalize(...)]))`` +
``DataLoader(shuffle=True, num_workers=2)``, the usual recipe, which decodes every image of every
batch again. Target: lrlab >= 3x. Rounds alternate; medians.

(b) Loading a folder of 10,000 images the first time (listing, decoding, hashing, writing the
cache) and the second time (listing and reading the cache). Target: second <= 0.1x first.

    python benchmarks/bench_image_folder.py [--rounds 3] [--images 2000] [--steps 150] [--load-images 10000]
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

import torch
from torch import nn
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakedata import write_image_folder

from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.data import load_dataset
from lrlab.core.engine.models import build_model
from lrlab.core.runs.train import Trainer

BATCH = 64
MODEL = {"kind": "cnn", "channels": [8, 16], "hidden": 32}


def folder_spec(root: Path, steps: int) -> RunSpec:
    return RunSpec.from_json({
        "dataset": {"name": "image_folder", "path": str(root), "size": 32, "augment": "crop_flip",
                    "val_fraction": 0.05},
        "model": MODEL, "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
        "batch_size": BATCH, "steps": steps, "device": "cpu", "threads": 1, "eval_every": 10_000_000})


def lrlab_steps(root: Path, steps: int) -> float:
    trainer = Trainer(folder_spec(root, steps))
    t0 = time.perf_counter()
    trainer.run()
    return trainer.step / (time.perf_counter() - t0)


def torchvision_steps(root: Path, steps: int) -> float:
    from torchvision import datasets, transforms

    torch.manual_seed(0)
    tf = transforms.Compose([transforms.Resize(32), transforms.CenterCrop(32),
                             transforms.RandomCrop(32, padding=4, padding_mode="reflect"),
                             transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                             transforms.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
    loader = DataLoader(datasets.ImageFolder(str(root), transform=tf), batch_size=BATCH, shuffle=True,
                        num_workers=2, persistent_workers=False)
    spec = folder_spec(root, steps)
    model = build_model(spec.model, (3, 32, 32), 10, (3, 32, 32))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    done = 0
    it = iter(loader)
    next(it)  # the workers' start-up is not a training step (lrlab's decoding is not timed either)
    t0 = time.perf_counter()
    while done < steps:
        try:
            xb, yb = next(it)
        except StopIteration:
            it = iter(loader)
            continue
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        done += 1
    return done / (time.perf_counter() - t0)


def load_seconds(root: Path) -> float:
    spec = RunSpec.from_json({"dataset": {"name": "image_folder", "path": str(root), "size": 32}})
    t0 = time.perf_counter()
    load_dataset(spec.dataset, torch.device("cpu"))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--images", type=int, default=2000, help="images of the training folder (a)")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--load-images", type=int, default=10_000, help="images of the loading folder (b)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LRLAB_HOME"] = str(Path(tmp) / "home")  # a cache of its own
        root = write_image_folder(Path(tmp) / "train", classes=10, per_class=args.images // 10)
        lrlab_steps(root, 5)  # decodes once and writes the cache
        res: dict[str, list[float]] = {"lrlab": [], "torchvision": []}
        for _ in range(args.rounds):
            res["torchvision"].append(torchvision_steps(root, args.steps))
            res["lrlab"].append(lrlab_steps(root, args.steps))
        med = {k: statistics.median(v) for k, v in res.items()}
        print(f"(a) {args.images} PNGs in 10 class folders -> 32x32, crop+flip, CNN [8, 16], batch {BATCH}, "
              f"{args.steps} steps, 1 thread, {args.rounds} rounds")
        for k, v in med.items():
            print(f"  {k:<12} {v:7.1f} steps/s (rounds: {', '.join(f'{x:.1f}' for x in res[k])})")
        ratio = med["lrlab"] / med["torchvision"]
        print(f"  lrlab / ImageFolder + DataLoader(num_workers=2): {ratio:.2f}x (target >= 3.00)")
        ok &= ratio >= 3

        big = write_image_folder(Path(tmp) / "big", classes=10, per_class=args.load_images // 10, seed=1)
        firsts, seconds = [], []
        for _ in range(args.rounds):
            shutil.rmtree(Path(tmp) / "home" / "cache", ignore_errors=True)
            firsts.append(load_seconds(big))
            seconds.append(load_seconds(big))
        first, second = statistics.median(firsts), statistics.median(seconds)
        print(f"(b) loading {args.load_images:,} images: first {first:.2f} s (rounds: "
              f"{', '.join(f'{x:.2f}' for x in firsts)}), from the cache {second:.3f} s "
              f"({', '.join(f'{x:.3f}' for x in seconds)})")
        print(f"  second / first: {second / first:.3f}x (target <= 0.10)")
        ok &= second / first <= 0.1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
