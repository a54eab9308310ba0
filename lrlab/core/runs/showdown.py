"""The auto-tuning showdown: every method of :mod:`lrlab.core.features.showdown` trained under one
step budget and the same seeds, each run an ordinary session in one folder.

The runs go one after another (a method's seeds, then the next method), so wall times are
comparable; the range test of methods 2 and 3 runs once per seed, is their session too, and its
wall time is part of both. PBT (method 6) is the ``pbt`` run kind's, reached through the callable
``pbt`` the caller passes (``lrlab.api.pbt``): the core never imports the API, and without it
the method is reported as unavailable. The folder ends with ``showdown.json``, what
``lrlab autotune --json`` prints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrlab.core.decl import paths
from lrlab.core.decl.files import ExportError, new_folder, occupied, write_text
from lrlab.core.decl.metrics import LR, VAL_METRIC
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import RunSpec
from lrlab.core.features.lrfind import RangeTestParams
from lrlab.core.features.showdown import (
    BY_NAME,
    PBT_POPULATION,
    RANGE_TEST_STEPS,
    MethodResult,
    SeedRun,
    Target,
    check_budget,
    method_spec,
    pbt_plan,
    steps_to_target,
    to_json,
)
from lrlab.core.runs.recorded import RecordedRun, unique_path
from lrlab.core.storage.session import Session, SessionError

#: the summary file beside the sessions
SUMMARY = "showdown.json"
#: what method 6 says when this lrlab has no PBT run kind
PBT_MISSING = "needs the pbt run kind (lrlab.api.pbt), which this lrlab does not have"

Progress = Callable[[int, int, str], None]


class Showdown:
    """The showdown of ``spec`` (its budget, seeds, target and methods checked on construction:
    SpecError before anything trains). :meth:`run` trains everything and returns one
    :class:`MethodResult` per method; :meth:`stop` (from another thread) ends the run in progress
    and skips the rest, which are then missing from the results."""

    def __init__(self, spec: RunSpec, *, budget: int, seeds: Sequence[int], target: Target,
                 methods: Sequence[str], folder: str | Path, pbt: Callable[..., Any] | None = None,
                 progress: Progress | None = None):
        check_budget(budget, methods)
        if not seeds:
            raise SpecError([("--seeds", "must be at least 1")])
        self.spec, self.budget, self.seeds, self.target = spec, budget, list(seeds), target
        self.methods, self.folder, self.pbt = list(methods), Path(folder), pbt
        self.progress = progress or (lambda done, total, text: None)
        self.results: list[MethodResult] = []
        self._stopped = False
        self._current: Any = None
        self._data: Any = None  # the dataset, loaded once (by the warm-up)
        ranged = any(BY_NAME[m].range_test for m in self.methods)
        runs_per_seed = len(self.methods) + (1 if ranged else 0)
        self.total_runs = runs_per_seed * len(self.seeds)
        self._done = 0

    def stop(self) -> None:
        self._stopped = True
        current = self._current
        if current is not None:
            current.stop()

    # --- running ------------------------------------------------------------------------------

    def run(self) -> list[MethodResult]:
        spec_json = self.spec.to_json()
        by_name = {m: MethodResult(m) for m in self.methods}
        if "pbt" in by_name and self.pbt is None:
            by_name["pbt"].unavailable = PBT_MISSING
        range_tests: dict[int, tuple[float, float, str, str]] = {}  # seed -> (lr, wall s, session, note)
        self._warm_up(spec_json)
        for method in self.methods:
            result = by_name[method]
            if result.unavailable:
                self._done += len(self.seeds)
                continue
            for seed in self.seeds:
                if self._stopped:
                    break
                if BY_NAME[method].range_test:
                    if seed not in range_tests:
                        range_tests[seed] = self._range_test(spec_json, seed)
                    lr, range_wall, range_session, note = range_tests[seed]
                    run = self._train(method, method_spec(spec_json, method, self.budget, seed, lr), seed,
                                      offset=RANGE_TEST_STEPS)
                    run.wall_s += range_wall
                    run.sessions.insert(0, range_session)
                    run.note = note
                elif method == "pbt":
                    run = self._pbt(spec_json, seed)
                else:
                    run = self._train(method, method_spec(spec_json, method, self.budget, seed), seed)
                result.runs.append(run)
        self.results = [by_name[m] for m in self.methods]
        write_text(self.folder / SUMMARY, json.dumps(self.to_json(), indent=2, allow_nan=False) + "\n")
        return self.results

    def _warm_up(self, spec_json: dict[str, Any]) -> None:
        """A few unrecorded steps first, so the first method's wall time does not carry this
        process's one-off costs (loading the dataset, torch's first kernels); the dataset it loads is
        every training run's (each range test loads its own: it takes no dataset)."""
        from lrlab.core.engine.limits import check_resources
        from lrlab.core.runs.train import Trainer

        check_resources(RunSpec.from_json({**spec_json, "steps": self.budget}))  # the runs skip it: shared data
        warm = Trainer(RunSpec.from_json({**spec_json, "steps": 5}), snapshot_every=None)
        warm.run()
        self._data = warm.data  # the split does not depend on the seed: every training run shares it

    def to_json(self) -> dict[str, Any]:
        return to_json(self.budget, self.seeds, self.target, self.results, str(self.folder))

    def _tick(self, text: str) -> None:
        self.progress(self._done, self.total_runs, text)

    def _range_test(self, spec_json: dict[str, Any], seed: int) -> tuple[float, float, str, str]:
        """The range test of ``seed``: (steepest LR, wall s, session, a note if it found none)."""
        self._tick(f"range test, seed {seed}")
        spec = RunSpec.from_json({**spec_json, "seed": seed})
        out = self.folder / f"range-test-seed{seed}.lrlab"
        started = time.perf_counter()
        recorded = RecordedRun(spec, out, kind="range_test", label="autotune range test", group=self.folder.name,
                               params=RangeTestParams(num_iter=RANGE_TEST_STEPS, seeds=1))
        self._current = recorded.runner
        recorded.run()
        self._current = None
        wall = time.perf_counter() - started
        self._done += 1
        result = recorded.runner.result
        lr = result.suggestions["steepest"].lr if result is not None else None
        if lr is None:  # no fall to read: train at the spec's own LR, and say so
            return spec.lr, wall, str(out), f"the range test suggested no LR; used the spec's {spec.lr:g}"
        return float(lr), wall, str(out), ""

    def _train(self, method: str, data: dict[str, Any], seed: int, offset: int = 0) -> SeedRun:
        """One training run of ``method``; its evaluations at compute step ``offset + step + 1``."""
        self._tick(f"{method}, seed {seed}")
        spec = RunSpec.from_json(data)
        out = self.folder / f"{method}-seed{seed}.lrlab"
        started = time.perf_counter()
        recorded = RecordedRun(spec, out, label=f"autotune {method}", group=self.folder.name, data=self._data,
                               extra_meta={"autotune": {"method": method, "seed": seed, "budget": self.budget}})
        self._current = recorded.runner
        recorded.run()
        self._current = None
        wall = time.perf_counter() - started
        self._done += 1
        return self._read(out, seed, wall, offset, 1)

    def _read(self, path: Path, seed: int, wall: float, offset: int, scale: int) -> SeedRun:
        """A run's figures from its session: evaluations and LRs at compute steps
        ``offset + (step + 1) x scale``."""
        with Session.open(path) as s:
            evals, steps = s.evals(), s.steps(("step", LR.name))
        values = evals[self.target.name]
        eval_steps = offset + (evals["step"] + 1) * scale
        finals = evals[VAL_METRIC.name]
        final = float(finals[-1]) if len(finals) and np.isfinite(finals[-1]) else None
        return SeedRun(seed, final, steps_to_target(eval_steps, values, self.target), wall, [str(path)],
                       eval_steps.astype(np.float64), values, offset + (steps["step"] + 1) * scale, steps[LR.name])

    def _pbt(self, spec_json: dict[str, Any], seed: int) -> SeedRun:
        """Method 6 for ``seed``: a population of PBT_POPULATION with the same total compute; its
        figures are the winner's, its sessions every member's."""
        self._tick(f"pbt, seed {seed}")
        steps, interval = pbt_plan(self.budget)
        started = time.perf_counter()
        result = self.pbt(method_spec(spec_json, "pbt", self.budget, seed), population=PBT_POPULATION,
                          interval=interval, seed=seed, out=str(self.folder / f"pbt-seed{seed}"))
        wall = time.perf_counter() - started
        self._done += 1
        winner = result.winner["member"]
        sessions = [str(m["session"]) for m in result.members]
        path = next(Path(m["session"]) for m in result.members if m["member"] == winner)
        run = self._read(path, seed, wall, 0, PBT_POPULATION)
        run.sessions = [str(path)] + [s for s in sessions if s != str(path)]  # the winner first
        run.note = f"winner: member {winner} of {PBT_POPULATION}, {steps} steps each, decisions every {interval}"
        return run


def output_folder(out: str | Path | None, label: str) -> Path:
    """The showdown's folder: ``out`` (new, or an empty folder), or a new one in the sessions
    folder named after the experiment; SessionError if ``out`` holds anything."""
    if out:
        path = Path(out)
        if occupied(path):
            raise SessionError(f"{path}: already exists and is not an empty folder; choose another "
                               "(nothing was overwritten)")
    else:
        path = unique_path(paths.sessions_dir() / f"{time.strftime('%Y%m%d-%H%M')}-autotune-{label or 'spec'}")
    try:
        return new_folder(path)
    except ExportError as err:
        raise SessionError(str(err)) from None
