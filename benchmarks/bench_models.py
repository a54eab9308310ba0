"""lrlab's trainer on the models where the LR bites vs a plain torch loop over the same tensors.

Two models, each trained by lrlab (``RecordedRun``: the whole loop with metrics, evaluation,
effective-LR samples, snapshots and the session writer) and by a plain loop that a careful user
writes (in-memory tensors, a permutation per epoch, slices, ``loss.backward(); opt.step()``),
side by side in one process, interleaved over rounds; the median steps/s of each gives the ratio
(target >= 0.95x):

- ResNet-18, CIFAR style, on random 32x32 uint8 images held in memory (lrlab normalises each
  batch on the device; the plain loop reads pre-normalised floats), SGD with momentum;
- the transformer (2 layers, d_model 128, 4 heads) on modular addition mod 97, Adam.

``--device cuda --amp bf16 --channels-last`` run both sides with autocast and the NHWC layout (the
plain loop does the same), for a GPU. On a CPU the full-width ResNet-18 takes seconds a step:
``--width 8`` measures the same loop on a narrower one (overhead per step is the same, so the
ratio is, if anything, harder to reach).

    python benchmarks/bench_models.py [--steps 30] [--rounds 3] [--width 64] [--device cpu]
                                      [--amp off|bf16] [--channels-last] [--only resnet|transformer]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.data import Dataset, Normalize, load_dataset
from lrlab.core.engine.devices import resolve_device
from lrlab.core.engine.models import build_model
from lrlab.core.runs import RecordedRun

#: held-out samples: lrlab evaluates once, at the end of the run, and the plain loop never does; training
#: steps/s are what is compared, so the evaluation is kept to one small batch
VAL = 32


def resnet_spec(args: argparse.Namespace) -> tuple[RunSpec, Dataset]:
    spec = RunSpec.from_json({
        "dataset": {"name": "cifar10"}, "model": {"kind": "resnet", "depth": 18, "width": args.width},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "batch_size": args.batch_size,
        "steps": args.steps, "seed": 0, "device": args.device, "amp": args.amp, "channels_last": args.channels_last,
        "eval_every": args.steps, "threads": args.threads})
    device = resolve_device(args.device)
    g = torch.Generator().manual_seed(0)
    n = 2048
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,), generator=g)
    data = Dataset("cifar10", "classification", images[256:].to(device), labels[256:].to(device),
                   images[:VAL].to(device), labels[:VAL].to(device), 10, (3, 32, 32),
                   prepare=Normalize(images[256:], device))
    return spec, data


def transformer_spec(args: argparse.Namespace) -> tuple[RunSpec, Dataset]:
    spec = RunSpec.from_json({
        "dataset": {"name": "modular", "p": 97, "train_fraction": 0.5},
        "model": {"kind": "transformer", "layers": 2, "d_model": 128, "heads": 4, "norm": "pre"},
        "optimizer": {"name": "adam", "lr": 1e-3}, "batch_size": args.batch_size, "steps": args.steps, "seed": 0,
        "device": args.device, "amp": args.amp, "eval_every": args.steps, "threads": args.threads})
    data = load_dataset(spec.dataset, resolve_device(args.device))
    data.x_val, data.y_val = data.x_val[:VAL], data.y_val[:VAL]
    return spec, data


def lrlab_loop(spec: RunSpec, data: Dataset, folder: Path, i: int) -> float:
    run = RecordedRun(spec, folder / f"bench-{spec.model.kind}-{i}.lrlab", data=data)
    t0 = time.perf_counter()
    run.run()
    return spec.steps / (time.perf_counter() - t0)


def plain_loop(spec: RunSpec, data: Dataset) -> float:
    """In-memory tensors (images pre-normalised to float once), a permutation per epoch, slices."""
    device = data.x_train.device
    torch.manual_seed(0)
    model = build_model(spec.model, tuple(data.x_train.shape[1:]), data.n_outputs, data.image_shape).to(device)
    x = data.prepare(data.x_train) if data.prepare is not None else data.x_train
    if spec.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y, n, bs = data.y_train, data.n_train, spec.batch_size
    opt = (torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9) if spec.optimizer.kind == "sgd"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    amp = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if spec.amp == "bf16" else contextlib.nullcontext
    g = torch.Generator().manual_seed(0)
    step = 0
    t0 = time.perf_counter()
    while step < spec.steps:
        perm = torch.randperm(n, generator=g).to(device)
        xs, ys = x[perm], y[perm]
        for i in range(0, n, bs):
            with amp():
                loss = F.cross_entropy(model(xs[i:i + bs]), ys[i:i + bs])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step == spec.steps:
                break
    loss.item()  # wait for the device
    return spec.steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--width", type=int, default=64, help="ResNet's first-stage channels (64: ResNet-18)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", default="off", choices=("off", "bf16"))
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--only", choices=("resnet", "transformer"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads, the same for both loops (1: least "
                        "disturbed by other work on a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    makers = {"resnet": resnet_spec, "transformer": transformer_spec}
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in makers.items():
            if args.only and name != args.only:
                continue
            spec, data = make(args)
            lrlab_rates, plain_rates = [], []
            plain_loop(spec, data)  # warm-up: kernels, allocator
            for i in range(args.rounds):
                lrlab_rates.append(lrlab_loop(spec, data, Path(tmp), i))
                plain_rates.append(plain_loop(spec, data))
            a, b = statistics.median(lrlab_rates), statistics.median(plain_rates)
            print(f"{name}: lrlab {a:.2f} steps/s, plain loop {b:.2f} steps/s, ratio {a / b:.3f}x "
                  f"(rounds {', '.join(f'{x / y:.2f}' for x, y in zip(lrlab_rates, plain_rates, strict=True))}; "
                  f"device {args.device}, amp {args.amp}, channels_last {args.channels_last}, "
                  f"threads {torch.get_num_threads()})", flush=True)


if __name__ == "__main__":
    main()
