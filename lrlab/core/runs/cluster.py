"""Sweeps beyond one machine: a sweep's members trained on a Ray cluster the user already runs.

Ray is the engine; lrlab writes no scheduler. The sweep's LRs are split into chunks, each chunk
one Ray task that runs the vectorized sweep engine (:class:`~lrlab.core.runs.RecordedSweep`) for
its members, all their seeds, so every node still trains several members at once. A task writes
its members' sessions into a temporary folder on its node and returns them as bytes, with their
summary rows, through Ray's object store: nothing needs a shared file system. The driver writes
them into the sweep's folder as they arrive (numbered in the whole sweep's order, in the folder's
``group``), then the same ``summary.json`` a local sweep writes, so progress, the GUI's U-curve
and ``lrlab compare`` read a cluster sweep as they read a local one.

Each member trains exactly as in a local sweep (a member's arithmetic does not depend on the
others in its stack), so its session replays ``identical`` on a workstation whose environment
matches, and says which environment fields differ otherwise.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrlab.core.decl.files import new_folder, occupied, write_bytes
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import RunSpec

INSTALL_HINT = "pip install 'lrlab[cluster]'"


class ClusterError(ValueError):
    """Ray is missing or the cluster cannot be reached; one line saying what to do."""


def ray_available() -> bool:
    """Whether the ``ray`` package is installed (without importing it: that takes seconds)."""
    return importlib.util.find_spec("ray") is not None


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--ray needs the ray package: {INSTALL_HINT}") from None
    return ray


def run_chunk(spec_json: dict[str, Any], lrs: list[float], seeds: list[int], group: str, label: str,
              threads: int) -> dict[str, Any]:
    """One Ray task: the vectorized sweep of ``lrs`` x ``seeds`` on this node, its sessions
    returned as bytes (``files``: name -> bytes, in member order) with their summary rows."""
    import torch

    from lrlab.core.runs import record

    # Ray sets OMP_NUM_THREADS=1 for its workers; the run's own count decides (and is recorded)
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="lrlab-ray-") as tmp:
        recorded = record("sweep", RunSpec.from_json(spec_json), Path(tmp) / group, lrs=lrs, seeds=seeds,
                          label=label, threads=threads)
        status = recorded.run()
        return {"status": str(status), "files": [(f.name, f.read_bytes()) for f in recorded.files],
                "path": recorded.runner.path, "n_params": recorded.runner.n_params,
                "environment": recorded.runner.environment}


def chunks_of(lrs: Sequence[float], n: int) -> list[list[float]]:
    """``lrs`` split into ``n`` contiguous chunks as equal as can be (the first ones longer)."""
    n = max(1, min(n, len(lrs)))
    size, extra = divmod(len(lrs), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (i < extra)
        out.append(list(lrs[start:end]))
        start = end
    return out


@dataclass
class ClusterSweep:
    """How a sweep on Ray went: its folder, the members' summary rows (as a local sweep's
    ``summary.json`` has them), the chunks that failed (their LRs and message) and the status."""

    folder: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    status: str = "finished"
    tasks: int = 0
    wall_time: float = 0.0
    path: str = ""  # the stacked code path the tasks ran (as a local sweep reports it)
    n_params: int = 0  # parameters per member


def ray_sweep(spec: RunSpec, lrs: Sequence[float], out: str | Path, *, seeds: int = 1, address: str | None = None,
              cpus: float = 1, gpus: float = 0, tasks: int | None = None, threads: int = 1, label: str = "",
              on_chunk: Callable[[ClusterSweep], None] | None = None, task: Callable[..., dict] = run_chunk,
              should_stop: Callable[[], bool] | None = None) -> ClusterSweep:
    """Run the sweep of ``lrs`` x ``seeds`` seeds on Ray into the new folder ``out``.

    ``address``: the cluster (``HOST:6379``; None: ``RAY_ADDRESS``, else a local instance started
    for this sweep with this machine's CPUs; an already initialized Ray is used as it is).
    ``cpus``/``gpus``: resources per task; ``tasks``: how many chunks (default: as many as the
    cluster can run at once, at most one per LR); ``threads``: torch threads inside each task.
    ``on_chunk`` is called after each chunk's sessions are written. A chunk that fails (an
    exception, a node lost, out of memory) is reported in ``failures`` and the others go on;
    Ctrl-C, or ``should_stop()`` turning true (the window's Stop), cancels the chunks still out
    and keeps what arrived (status ``stopped``).
    """
    from lrlab.core.decl.usercode import code_refs
    from lrlab.core.runs import group_rows, seed_list, write_group_summary
    from lrlab.core.runs.sweep import check_lrs, member_file_name

    lrs = check_lrs(lrs)
    refs = code_refs(spec)
    if refs:  # consent is this process's: a worker would have to import a file nobody named there
        raise SpecError([(f"{refs[0].field}.entry", "your own code does not run on Ray workers: sweep it here, "
                                                    "without --ray")])
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise SpecError([("seeds", f"must be a whole number >= 1, got {seeds!r}")])
    _check_task_resources(cpus, gpus)
    folder = new_output(out)
    ray = connect(address)
    if tasks is None:
        tasks = max(1, int(ray.cluster_resources().get("CPU", 1) // max(cpus, 1e-9)))
    chunks = chunks_of(lrs, tasks)
    seeds_used = seed_list(spec.seed, seeds)
    new_folder(folder)  # at most its last level
    result = ClusterSweep(folder, tasks=len(chunks))
    remote = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(task)
    spec_json = spec.to_json()
    pending: dict[Any, tuple[int, list[float]]] = {}
    offset = 0
    for chunk in chunks:
        ref = remote.remote(spec_json, chunk, seeds_used, folder.name, label, threads)
        pending[ref] = (offset, chunk)
        offset += len(chunk) * seeds
    total, written = len(lrs) * seeds, []

    def arrived(key: tuple[int, list[float]], got: dict[str, Any]) -> None:
        first, chunk = key
        for i, (_name, data) in enumerate(got["files"]):  # in member order: by LR, then seed
            member_lr, member_seed = chunk[i // seeds], seeds_used[i % seeds]
            target = folder / member_file_name(_Member(first + i, member_lr, member_seed), total)
            write_bytes(target, data)
            written.append(target)
        result.rows = group_rows(sorted(written))

    environment = gather(ray, pending, result, arrived, lambda key: f"LRs {', '.join(f'{lr:g}' for lr in key[1])}",
                         on_chunk, should_stop)
    ray_info = {"tasks": len(chunks), "cpus_per_task": cpus, "gpus_per_task": gpus, "failures": result.failures}
    result.rows = write_group_summary(folder, sorted(written), status=result.status, lrs=lrs, seeds=seeds_used,
                                      spec_json=spec_json, environment=environment,
                                      summary={"wall_time": result.wall_time}, ray=ray_info)
    return result


def _check_task_resources(cpus: float, gpus: float) -> None:
    for name, value in (("--ray-cpus", cpus), ("--ray-gpus", gpus)):
        if not 0 <= value <= 1024:
            raise SpecError([(name, f"must be from 0 to 1024, got {value:g}")])


def new_output(out: str | Path) -> Path:
    """``out`` as a run's new folder; SpecError if it exists and is not an empty folder."""
    folder = Path(out)
    if occupied(folder):
        raise SpecError([("out", f"{folder} already exists and is not an empty folder (nothing was overwritten)")])
    return folder


def connect(address: str | None) -> Any:
    """The ``ray`` module, initialized: at ``address``, ``RAY_ADDRESS``, or a local instance
    started for this run (an already initialized Ray is used as it is)."""
    ray = import_ray()
    if not ray.is_initialized():
        try:
            ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
            atexit.register(ray.shutdown)  # the local instance started for this run goes with it
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise ClusterError(f"cannot reach the Ray cluster at {address or os.environ.get('RAY_ADDRESS')}: "
                               f"{str(err).splitlines()[0][:160]}") from None
    return ray


def gather(ray: Any, pending: dict[Any, Any], result: ClusterSweep, arrived: Callable[[Any, dict[str, Any]], None],
           name: Callable[[Any], str], on_chunk: Callable[[ClusterSweep], None] | None = None,
           should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Wait for the tasks ``pending`` (ref -> key) and hand each result to ``arrived(key, result)``
    as it comes, then ``on_chunk(result)``. A task that fails is named (``name(key)``) with its
    message in ``result.failures`` while the others go on; Ctrl-C or ``should_stop()`` cancels
    those still out (``result.status`` stopped). Sets ``result``'s status, wall time, path and
    parameter count; returns the environment the tasks reported."""
    t0 = time.perf_counter()
    environment: dict[str, Any] = {}
    arrivals = 0
    try:
        while pending:
            if should_stop is not None and should_stop():
                raise KeyboardInterrupt
            done, _ = ray.wait(list(pending), num_returns=1, timeout=0.25)
            for ref in done:
                key = pending.pop(ref)
                try:
                    got = ray.get(ref)
                except Exception as err:  # RayTaskError, WorkerCrashedError, OutOfMemoryError, node lost...
                    cause = getattr(err, "cause", None) or err
                    message = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
                    result.failures.append(f"{name(key)}: {type(cause).__name__}: {message[:200]}")
                    continue
                environment = environment or got["environment"]
                result.path, result.n_params = got["path"], got["n_params"]
                arrived(key, got)
                arrivals += 1
            if on_chunk is not None:
                on_chunk(result)
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        result.status = "stopped"
    if result.failures and result.status == "finished":
        result.status = "failed" if not arrivals else "finished"
    result.wall_time = time.perf_counter() - t0
    return environment


def ray_grid(spec: RunSpec, lrs: Sequence[float], batch_sizes: Sequence[int], out: str | Path, *,
             budget: str = "epochs", seeds: int = 1, best: str | None = None, target: str | None = None,
             address: str | None = None, cpus: float = 1, gpus: float = 0, threads: int = 1, label: str = "",
             on_chunk: Callable[[ClusterSweep], None] | None = None, task: Callable[..., dict] = run_chunk,
             should_stop: Callable[[], bool] | None = None) -> ClusterSweep:
    """Run the grid of ``lrs`` x ``batch_sizes`` x ``seeds`` seeds on Ray into the new folder
    ``out``: each batch size's sweep is one task (:func:`run_chunk`), its cells written as they
    arrive, then the grid's ``summary.json`` (:mod:`lrlab.core.runs.grid`). ``address``, ``cpus``,
    ``gpus``, ``threads``, ``on_chunk`` and ``should_stop`` as for :func:`ray_sweep`."""
    from lrlab.core.runs import group_rows, seed_list, write_group_summary
    from lrlab.core.runs.grid import Grid, group_info

    seeds_used = seed_list(spec.seed, seeds)
    grid = Grid(spec, lrs=lrs, batch_sizes=batch_sizes, budget=budget, seeds=seeds_used, target=target,
                **({} if best is None else {"best": best}))
    _check_task_resources(cpus, gpus)
    folder = new_output(out)
    ray = connect(address)
    new_folder(folder)
    result = ClusterSweep(folder, tasks=len(grid.batch_sizes))
    remote = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(task)
    pending = {remote.remote(s.to_json(), grid.lrs, seeds_used, folder.name, label, threads): row
               for row, s in enumerate(grid.sweep_specs)}
    written: list[Path] = []
    per_row = len(grid.lrs) * len(seeds_used)

    def arrived(row: int, got: dict[str, Any]) -> None:
        for i, (_name, data) in enumerate(got["files"]):  # in member order: by LR, then seed
            target_file = folder / grid.member_file_name(row * per_row + i)
            write_bytes(target_file, data)
            written.append(target_file)
        result.rows = group_rows(sorted(written))

    environment = gather(ray, pending, result, arrived, lambda row: f"batch size {grid.batch_sizes[row]}",
                         on_chunk, should_stop)
    ray_info = {"tasks": len(grid.batch_sizes), "cpus_per_task": cpus, "gpus_per_task": gpus,
                "failures": result.failures}
    result.rows = write_group_summary(folder, sorted(written), status=result.status,
                                      **group_info(spec, grid.lrs, seeds_used, grid.batch_sizes, grid.budget,
                                                   grid.best_by, grid.target, environment,
                                                   {"wall_time": result.wall_time}, ray=ray_info))
    return result


@dataclass(frozen=True)
class _Member:
    """What :func:`~lrlab.core.runs.sweep.member_file_name` reads of a member."""

    index: int
    lr: float
    seed: int
