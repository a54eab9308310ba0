"""Forking cost: reaching a fork step between two snapshots vs training ``snapshot_every`` steps.

A fork at step s starts from the nearest snapshot at or before s and re-runs the steps up to s.
The target (issue 15): forking costs at most that re-run, i.e. about ``snapshot_every`` steps
of training plus loading the snapshot. Measured in one process, interleaved over rounds:

- fork: ``fork_session(parent, s)`` built and run until its first step is recorded (one step
  past s), with s = a snapshot step + ``snapshot_every`` - 1: the worst place, the most re-run;
- baseline: a recorded run of the same spec for ``snapshot_every`` steps (built and run, so data
  loading and model building count on both sides) plus reading the nearest snapshot from the
  parent's file.

Ratio fork / baseline, target <= ~1.0.

    python benchmarks/bench_fork.py [--rounds 5]

``--budget`` measures the snapshot budget instead (issue 32): a ResNet-18's snapshot is measured
(its weights, buffers and SGD momentum encoded as a session stores them) and the session size of
a 10,000-step run is worked out from the policy (``lrlab.core.engine.snapshots.thin``); then two
10,000-step MLP parents are recorded, one with today's every-500 snapshots all kept, one thinned
to the slots a ResNet-18 gets, and the worst-placed fork of each is timed, interleaved over rounds.
Targets: <= 1 GB, fork ratio <= 2.0.

    python benchmarks/bench_fork.py --budget [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.snapshots import DiskPolicy, Snapshot, rerun_bound, thin
from lrlab.core.runs import RecordedRun, fork_session
from lrlab.core.runs.train import SNAPSHOT_EVERY
from lrlab.core.storage.session import Session


def make_spec(steps: int) -> RunSpec:
    return RunSpec.from_json({
        "dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [128], "activation": "relu"},
        "optimizer": {"name": "adam", "lr": 0.001}, "batch_size": 64,
        "steps": steps, "seed": 0, "device": "cpu"})


def fork_time(parent: Path, at: int, out: Path) -> float:
    t0 = time.perf_counter()
    run = fork_session(parent, at, out=out, max_steps=at + 1)
    run.run()
    return time.perf_counter() - t0


def baseline_time(spec: RunSpec, parent: Path, snapshot_step: int, out: Path) -> float:
    t0 = time.perf_counter()
    RecordedRun(spec, out, max_steps=SNAPSHOT_EVERY).run()
    with Session.open(parent) as s:
        s.snapshot(snapshot_step)
    return time.perf_counter() - t0


def resnet18_snapshot_bytes() -> int:
    """Bytes of one ResNet-18 (CIFAR-10 classes) snapshot with SGD momentum, as the session stores it."""
    import torch
    import torchvision

    model = torchvision.models.resnet18(num_classes=10)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.nn.functional.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([0, 1])).backward()
    opt.step()  # the momentum buffers exist from the first step on
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for i, state in opt.state_dict()["state"].items():
        tensors.update({f"optimizer.{i}.{k}": v for k, v in state.items() if torch.is_tensor(v)})
    header, blob = Snapshot(1, tensors, {}).encode()
    return len(blob) + len(header)


def budget(rounds: int) -> int:
    steps, policy = 10_000, DiskPolicy()
    size = resnet18_snapshot_bytes()
    slots = policy.slots(size)
    kept: set[int] = set()
    for t in range(policy.every, steps, policy.every):
        kept, spacing = thin(kept | {t}, slots, policy.every)
    every_500 = len(range(policy.every, steps, policy.every))
    print(f"ResNet-18 snapshot (weights, buffers, SGD momentum): {size / 1e6:.1f} MB; policy keeps {slots} slots")
    print(f"10,000 steps: {len(kept)} snapshots kept ({sorted(kept)}) = {len(kept) * size / 1e9:.2f} GB "
          f"(every-500, all kept: {every_500} = {every_500 * size / 1e9:.2f} GB); a fork re-runs at most "
          f"{rerun_bound(kept, 0, steps)} steps (every-500: {policy.every - 1})")
    spec = make_spec(steps)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        today = RecordedRun(spec, folder / "today.lrlab", snapshot_policy=DiskPolicy(floor_bytes=2**40))
        today.run()
        thinned = RecordedRun(spec, folder / "thinned.lrlab", snapshot_policy=DiskPolicy(copies=slots, floor_bytes=0))
        thinned.run()
        with Session.open(thinned.path) as s:
            summary = s.snapshot_summary()
        with Session.open(today.path) as s:
            before = s.snapshot_summary()
        print(f"MLP parents: every-500 keeps {before['kept']} ({before['bytes'] / 1e6:.1f} MB), re-run <= "
              f"{before['rerun_at_most']}; thinned to {slots} slots keeps {summary['kept']} "
              f"({summary['bytes'] / 1e6:.1f} MB), re-run <= {summary['rerun_at_most']}")
        # worst places: just before a kept snapshot, the farthest from the previous one
        at_today = 2 * policy.every - 1
        at_thinned = 2 * spacing - 1
        olds, news = [], []
        for r in range(rounds):
            olds.append(fork_time(today.path, at_today, folder / f"old-{r}.lrlab"))
            news.append(fork_time(thinned.path, at_thinned, folder / f"new-{r}.lrlab"))
    o, n = statistics.median(olds), statistics.median(news)
    for name, median, values in ((f"every-500, fork at {at_today}", o, olds),
                                 (f"thinned, fork at {at_thinned}", n, news)):
        print(f"  {name:<28}{median * 1000:7.0f} ms (rounds: {', '.join(f'{x * 1000:.0f}' for x in values)})")
    print(f"worst fork thinned / every-500: {n / o:.2f}x (target <= 2.0); ResNet-18 session "
          f"{len(kept) * size / 1e9:.2f} GB (target <= 1)")
    return 0 if n / o <= 2.0 and len(kept) * size <= 1e9 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--budget", action="store_true", help="the snapshot budget's figures (issue 32)")
    args = ap.parse_args(argv)
    if args.budget:
        return budget(args.rounds)
    every = SNAPSHOT_EVERY
    spec = make_spec(3 * every)
    at = every + every - 1  # just before the snapshot at 2 x every: re-runs every - 1 steps
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        recorded = RecordedRun(spec, folder / "parent.lrlab")
        recorded.run()
        parent = recorded.path
        forks, bases = [], []
        for r in range(args.rounds):
            forks.append(fork_time(parent, at, folder / f"fork-{r}.lrlab"))
            bases.append(baseline_time(spec, parent, every, folder / f"base-{r}.lrlab"))
    f, b = statistics.median(forks), statistics.median(bases)
    print(f"snapshot_every {every}, fork at step {at} (nearest snapshot {every}), rounds {args.rounds}")
    for name, median, rounds in (("fork to its first step", f, forks), (f"{every} steps + snapshot load", b, bases)):
        print(f"  {name:<28}{median * 1000:7.0f} ms (rounds: {', '.join(f'{x * 1000:.0f}' for x in rounds)})")
    print(f"fork / (snapshot_every steps + load): {f / b:.2f}x (target <= 1.0)")
    return 0 if f / b <= 1.05 else 1


if __name__ == "__main__":
    sys.exit(main())
