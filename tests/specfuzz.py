"""Mutated run specs through ``lrlab run``: every call must end in a result or in exit 2 with one
line, never a traceback, never a hang.

The corpus starts from every preset's spec, cut to a few steps, and applies seeded mutations of
the kinds a hand-edited or hostile file has: a field set to a value of the wrong type or size
(integers of hundreds of digits, 2**63, NaN, negative, empty lists and objects, long text), a
field removed or misspelt, a kind switched, a schedule nested hundreds deep, a validation share
that starves a class, extreme but valid schedules (a gamma of 2, triangular2 with one-step
cycles), huge sizes. ``tests/core/test_hardening.py`` runs a seeded sample; the full corpus is

    python tests/specfuzz.py [--n 300] [--seed 0]

which prints the outcome counts and the slowest calls (figures in benchmarks/README.md).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STEPS = 8  # each run: a few steps, so a mutation's effect shows without training for real
TIME_LIMIT = 10.0  # seconds one call may take

HOSTILE = [10**400, -(10**400), 2**63, 2**64 + 1, -1, 0, 1e308, -1e308, 1e-320, float("nan"), float("inf"),
           "many", "", "x" * 5000, [], {}, None, True, [1, "a"], {"kind": "constant"}, 0.5, 3, 65536]


def _leaves(node: Any, path: tuple = ()) -> Iterator[tuple]:
    """The path of every value in nested dicts and lists, containers included."""
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))


def _set(node: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = node
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return node


def _nested_schedule(depth: int) -> str:
    """A schedule nested ``depth`` warmups deep, as JSON text (json.dumps itself recurses too deep)."""
    return '{"kind": "warmup", "warmup_steps": 1, "then": ' * depth + '{"kind": "constant"}' + "}" * depth


def _mutate(spec: dict, rng: random.Random) -> tuple[str, str]:
    """(what was done, the spec file's text)."""
    spec = copy.deepcopy(spec)
    op = rng.choice(["hostile", "hostile", "hostile", "drop", "unknown", "kind", "nest", "split", "schedule",
                     "size", "size"])
    if op == "nest":
        depth = rng.choice([30, 250, 1000, 5000])
        text = json.dumps(spec)
        return f"schedule nested {depth} deep", text[:-1] + f', "schedule": {_nested_schedule(depth)}}}'
    if op == "hostile":
        path = rng.choice([p for p in _leaves(spec) if p])
        value = rng.choice(HOSTILE)
        what = f"{'.'.join(map(str, path))} = {str(value)[:30]}"
        spec = _set(spec, path, value)
    elif op == "drop":
        path = rng.choice([p for p in _leaves(spec) if p and isinstance(p[-1], str)])
        parent = spec
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        what = f"drop {'.'.join(map(str, path))}"
    elif op == "unknown":
        path = rng.choice([p for p in _leaves(spec) if not p or isinstance(_get(spec, p), dict)])
        _get(spec, path)["lerning_rate"] = 0.1
        what = f"unknown field in {'.'.join(map(str, path)) or 'spec'}"
    elif op == "kind":
        where, tag, kinds = rng.choice([
            ("schedule", "kind", ["cosine", "onecycle", "cyclic", "plateau", "sequence", "warmup", "step",
                                  "exponential", "cosine_restarts", "polynomial", "nope"]),
            ("optimizer", "name", ["adam", "adamw", "rmsprop", "adagrad", "sgd", "lbfgs"]),
            ("model", "kind", ["linear", "mlp", "cnn", "transformer"]),
            ("dataset", "name", ["iris", "moons", "blobs", "regression", "classification", "mnist", "cifar10", "x"])])
        spec.setdefault(where, {})[tag] = rng.choice(kinds)
        what = f"{where}.{tag} = {spec[where][tag]}"
    elif op == "split":
        spec.setdefault("dataset", {})["val_fraction"] = rng.choice([1e-9, 0.001, 0.01, 0.99, 0.999999])
        what = f"dataset.val_fraction = {spec['dataset']['val_fraction']}"
    elif op == "schedule":
        spec["schedule"] = rng.choice([
            {"kind": "exponential", "gamma": rng.choice([2, 1e300, 1e-300])},
            {"kind": "cyclic", "max_lr": 1.0, "mode": "triangular2", "step_size_up": 1},
            {"kind": "cyclic", "max_lr": 1000, "mode": "exp_range", "gamma": 1e-300, "step_size_up": 1},
            {"kind": "cosine_restarts", "T_0": 1, "T_mult": 1000},
            {"kind": "onecycle", "total_steps": 1, "pct_start": 1e-9},
            {"kind": "step", "step_size": 1, "gamma": 1e308},
            {"kind": "sequence", "schedules": [{"kind": "exponential", "gamma": 1e10}] * 3, "milestones": [2, 4]}])
        spec["steps"] = rng.choice([STEPS, 3000])
        what = f"schedule {spec['schedule']['kind']} over {spec['steps']} steps"
    else:  # sizes the machine cannot hold, or can only just
        change = rng.choice([
            {"model": {"kind": "mlp", "hidden": [65536, 65536]}},
            {"model": {"kind": "mlp", "hidden": [65536] * 8}},
            {"dataset": {"name": "classification", "n_samples": 1_000_000, "n_features": 10_000}},
            {"dataset": {"name": "blobs", "n_samples": 1_000_000, "n_features": 1000, "centers": 100}},
            {"batch_size": 1_000_000},
            {"epochs": 100_000, "batch_size": 1, "steps": None},
            {"steps": 100_000_000},
            {"threads": 1024}, {"threads": 100_000},
            {"eval_every": 1, "update_ratio_every": 1, "effective_lr_every": 1, "noise_scale_every": 1}])
        spec.update(change)
        what = f"size {json.dumps(change)[:60]}"
    return what, json.dumps(spec)


def _get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


def base_specs() -> list[dict]:
    """Every preset's spec, cut to a few steps on the CPU."""
    from lrlab.core.decl.resources import presets_dir

    specs = []
    for path in sorted(presets_dir().glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        spec = data.get("spec", data)
        specs.append({**spec, "steps": STEPS, "device": "cpu"})
    return specs


def corpus(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` seeded mutations: (what was done, spec file text)."""
    rng = random.Random(seed)
    bases = base_specs()
    return [_mutate(rng.choice(bases), rng) for _ in range(n)]


@dataclass
class Outcome:
    what: str
    code: int | str  # the exit status, or the exception that escaped
    stderr: str
    seconds: float

    @property
    def clean(self) -> bool:
        """A result (0), or exit 2 with one error line; never a traceback, never over the time limit."""
        lines = self.stderr.strip().splitlines()
        errors = [line for line in lines if not line.startswith("lrlab: warning:")]
        one_line = len(errors) == 1 and errors[0].startswith("lrlab: error: ")
        return ((self.code == 0 and not errors) or (self.code == 2 and one_line)) and self.seconds <= TIME_LIMIT


class _TooSlow(Exception):
    pass


def run_one(what: str, text: str, folder: Path) -> Outcome:
    """``lrlab run`` on one spec file, in this process, with a hard stop well past the time limit."""
    from lrlab.cli import main

    spec, out = folder / "spec.json", folder / "out.lrlab"
    spec.write_text(text, encoding="utf-8")
    out.unlink(missing_ok=True)
    err = io.StringIO()

    def too_slow(signum: int, frame: Any) -> None:
        raise _TooSlow

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(int(3 * TIME_LIMIT))
    start = time.perf_counter()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code: int | str = main(["run", str(spec), "--out", str(out), "--quiet"])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except _TooSlow:
        code = "hang"
    except BaseException as exc:
        code = f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(what, code, err.getvalue(), time.perf_counter() - start)


def main() -> None:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        for what, text in corpus(args.n, args.seed):
            outcomes.append(run_one(what, text, Path(tmp)))
    kinds = Counter("result" if o.code == 0 else "exit 2" if o.code == 2 else str(o.code)[:60] for o in outcomes)
    bad = [o for o in outcomes if not o.clean]
    total = sum(o.seconds for o in outcomes)
    print(f"{len(outcomes)} mutated specs (seed {args.seed}): " + ", ".join(f"{k}: {v}" for k, v in kinds.items()))
    print(f"not clean: {len(bad)}; total {total:.1f} s, slowest "
          + ", ".join(f"{o.seconds:.2f} s ({o.what})" for o in sorted(outcomes, key=lambda o: -o.seconds)[:3]))
    for o in bad:
        print(f"  {o.what}: {o.code} {o.stderr.strip()[-300:]!r} {o.seconds:.1f} s")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
