"""Population-based training beyond one machine: Ray Tune's ``PopulationBasedTraining``
scheduler drives lrlab's trainer.

Ray is the engine; lrlab writes no scheduler here. Each member is a Tune trial whose trainable is
lrlab's :class:`~lrlab.core.runs.train.Trainer` (one model, on whichever node Tune places it),
reporting the validation metric every ``interval`` steps with a checkpoint that is an lrlab
snapshot (:mod:`lrlab.core.engine.snapshots`: weights, optimizer state, every generator; bytes,
no pickle) plus the member's history so far. When Tune's scheduler exploits, the trial restarts
from the source's checkpoint with its LR multiplier perturbed by one of the ``perturb`` factors;
the trainer continues from the snapshot bit for bit (as a fork does), with the new LR as a
mid-run schedule edit at that step.

So each member's weights come from one ordinary training run: the spec at its lineage's first
LR, with an edit at every exploit. Its session (kind ``train``, written by the trial at its end
and returned through the checkpoint as bytes, as a sweep's sessions come back) is that run, and
``lrlab replay --verify`` re-runs it on one machine: ``identical``. The folder then gets the same
``summary.json`` a local population writes (winner, lineage, discovered schedule), so the API,
the CLI and ``lrlab compare`` read it alike.

Tune's scheduler runs synchronously (every member reaches the interval before any exploit) and
its random draws are seeded with ``seed``; the metrics are deterministic, so with the same
cluster the history repeats, but the draws are Tune's, not the local engine's: a population on
Ray is not the same population as ``lrlab pbt`` without ``--ray``. ``ray.tune`` needs
``RAY_TRAIN_V2_ENABLED=0`` without ``pydantic`` (set here unless the user set it).
"""

from __future__ import annotations

import atexit
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from lrlab.core.decl.events import Event, Status
from lrlab.core.decl.files import new_folder, write_bytes
from lrlab.core.decl.metrics import STEP_COLUMNS, VAL_METRIC
from lrlab.core.decl.spec import RunSpec
from lrlab.core.runs.cluster import ClusterError, import_ray, new_output

#: the metric Tune ranks by, and what a member that cannot be ranked reports
METRIC = VAL_METRIC.name
_WORST = -1e30


def _lr_edit(spec: RunSpec, multiplier: float) -> dict[str, Any]:
    """The LR of a member from an exploit on: the spec's schedule times ``multiplier`` on the run's
    clock (the same edit the local engine records, :mod:`lrlab.core.runs.pbt`)."""
    from lrlab.core.runs.sweep import scale_schedule

    return {"kind": "schedule", "time": "global", "lr": spec.lr * multiplier,
            "schedule": scale_schedule(spec.schedule, multiplier).to_json()}


def _lane() -> int:
    """This trial's member (lane): the index Tune gave it when the population was made."""
    from ray import tune

    return lane_of(tune.get_context().get_trial_id())


def lane_of(trial_id: str) -> int:
    """The member index in a Tune trial id. Tune makes them "<5 hex digits of a uuid>_<index as 5
    digits>" (``ray/tune/search/basic_variant.py``); the prefix is all digits about one time in
    ten ("90207_00001"), so the index is the last part, not the first number in the name (which
    read 90207 there, and the population lost that member)."""
    tail = trial_id.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def trainable(config: dict[str, Any]) -> None:
    """One member: lrlab's trainer from the start or from a checkpoint (an lrlab snapshot and the
    history so far), reporting the validation metric and a checkpoint every ``interval`` steps,
    and its whole session at the end."""
    import torch
    from ray import tune

    from lrlab.core.engine.snapshots import Snapshot
    from lrlab.core.runs.base import Callback
    from lrlab.core.runs.recorded import Collector
    from lrlab.core.runs.sweep import member_spec
    from lrlab.core.runs.train import Trainer
    from lrlab.core.storage.session import SessionWriter

    torch.set_num_threads(config["threads"])
    base = RunSpec.from_json(config["spec"])
    lane, m = _lane(), float(config["m"])
    checkpoint = tune.get_checkpoint()
    history: dict[str, Any] = {"root_lr": base.lr * m, "edits": [], "exploits": [], "columns": {}, "evals": [],
                               "events": [], "m": m, "lane": lane}
    start = None
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            folder = Path(d)
            history = json.loads((folder / "history.json").read_text())
            start = Snapshot.decode((folder / "snapshot.json").read_text(), (folder / "snapshot.bin").read_bytes())
            with np.load(folder / "columns.npz", allow_pickle=False) as cols:
                history["columns"] = {k: cols[k] for k in cols.files}
        source, source_m = int(history["lane"]), float(history["m"])
        if (source, source_m) != (lane, m):  # an exploit; else Tune resumes this member (synchronous PBT)
            edit = _lr_edit(base, m)
            history["edits"].append([start.step, edit])
            history["exploits"].append({"step": start.step, "source": source, "factor": m / source_m, "edit": edit})
            history["lane"], history["m"] = lane, m
    spec = member_spec(base, history["root_lr"], base.seed)
    trainer = Trainer(spec, edits=[(s, e) for s, e in history["edits"]], threads=config["threads"],
                      snapshot_every=None, start=start)
    kept = Collector()
    trainer.listeners.append(kept)
    interval = config["interval"]

    def so_far() -> tuple[dict[str, np.ndarray], list[dict[str, Any]], list[dict[str, Any]]]:
        old = history["columns"]
        cols = {c: np.concatenate([np.asarray(old.get(c, np.empty(0))), kept.column(c)]) for c in STEP_COLUMNS}
        return cols, [*history["evals"], *kept.evals], [*history["events"], *(e.to_json() for e in kept.events)]

    class Report(Callback):
        """Every ``interval`` steps: the validation metric to Tune, with a checkpoint."""

        def after_step(self, run: Any) -> bool:
            if run.step % interval or run.step >= run.total_steps:
                return False
            if run.settle():
                return True
            run.flush(Status.RUNNING)  # every step so far reaches the collector
            _, metric = run.measure(run.data.x_val, run.data.y_val)
            cols, evals, events = so_far()
            with tempfile.TemporaryDirectory(prefix="lrlab-pbt-") as tmp:
                folder = Path(tmp)
                header, blob = run._snapshot(run.first_loss).encode()
                (folder / "snapshot.json").write_text(header)
                (folder / "snapshot.bin").write_bytes(blob)
                np.savez(folder / "columns.npz", **cols)
                (folder / "history.json").write_text(json.dumps({**history, "columns": {}, "evals": evals,
                                                                 "events": events}))
                tune.report({METRIC: metric if np.isfinite(metric) else _WORST, "lane": lane, "step": run.step},
                            checkpoint=tune.Checkpoint.from_directory(tmp))
            return False

    original_begin = trainer.begin

    def begin() -> None:
        original_begin()
        trainer.callbacks.append(Report())

    trainer.begin = begin  # type: ignore[method-assign]
    status = trainer.run()
    cols, evals, events = so_far()
    for e in events:  # the exploits' edits say where they came from
        for x in history["exploits"]:
            if e["kind"] == "edit" and e["step"] == x["step"] and e.get("edit") == x["edit"]:
                e["exploit"] = {"source": x["source"], "factor": x["factor"]}
    metric = evals[-1][METRIC] if evals else float("nan")
    with tempfile.TemporaryDirectory(prefix="lrlab-pbt-") as tmp:
        path = Path(tmp) / "session.lrlab"
        writer = SessionWriter(path, trainer.spec, trainer.environment, kind="train",
                               extra_meta={"label": config["label"], **trainer.session_meta(),
                                           "pbt": {"lane": lane, "ray": True}})
        from lrlab.core.runs.base import Update

        writer(Update(cols, evals, [Event(e["step"], e["kind"], {k: v for k, v in e.items() if k not in
                                                                  ("step", "kind")}) for e in events],
                      trainer.step, trainer.total_steps, Status.RUNNING))
        writer.close(status, trainer.final_summary())
        (Path(tmp) / "lineage.json").write_text(json.dumps({
            "lineage": [[x["step"], x["source"], x["edit"]["lr"]] for x in history["exploits"]],
            "pieces": [[0, history["root_lr"] / base.lr], *[[s, e["lr"] / base.lr] for s, e in history["edits"]]],
            "status": str(status)}))
        tune.report({METRIC: metric if np.isfinite(metric) else _WORST, "lane": lane, "step": trainer.step,
                     "done": True}, checkpoint=tune.Checkpoint.from_directory(tmp))


def ray_pbt(spec: RunSpec, out: str | Path | None, *, population: int, interval: int, quantile: float,
            perturb: tuple[float, float], seed: int = 0, address: str | None = None, label: str = "",
            cpus: float = 1, threads: int = 1) -> tuple[Path, list[str]]:
    """Population-based training of ``spec`` with Ray Tune's ``PopulationBasedTraining`` into the
    new folder ``out`` (its sessions and ``summary.json``, as a local population's); returns the
    folder and the members that failed on the cluster, each with its message."""
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "0")  # ray.tune without pydantic
    from lrlab.core.decl import paths
    from lrlab.core.decl.spec import planned_steps, planned_steps_per_epoch
    from lrlab.core.runs import unique_path, write_group_summary
    from lrlab.core.runs.pbt import discovered_schedule, initial_lrs
    from lrlab.core.runs.sweep import Member, folder_name, member_file_name

    lrs = initial_lrs(spec.lr, population)
    folder = Path(out) if out else unique_path(paths.sessions_dir() / folder_name(spec, lrs, population, label,
                                                                                  what="pbt"))
    new_output(folder)
    ray = import_ray()
    if not ray.is_initialized():
        try:
            ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
            atexit.register(ray.shutdown)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise ClusterError(f"cannot reach the Ray cluster at {address or os.environ.get('RAY_ADDRESS')}: "
                               f"{str(err).splitlines()[0][:160]}") from None
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining

    spec = spec.resolved(planned_steps(spec), planned_steps_per_epoch(spec))
    ratios = [lr / spec.lr for lr in lrs]
    random.seed(seed)  # Tune's scheduler draws from Python's generator in this process
    np.random.seed(seed)
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration", metric=METRIC, mode="max", perturbation_interval=1,
        quantile_fraction=quantile, resample_probability=0.0, perturbation_factors=(perturb[1], perturb[0]),
        hyperparam_mutations={"m": tune.loguniform(min(ratios) / 100, max(ratios) * 100)}, synch=True)
    param_space = {"spec": spec.to_json(), "interval": interval, "threads": threads, "label": label,
                   "m": tune.grid_search(ratios)}
    new_folder(folder)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lrlab-tune-") as storage:
        tuner = tune.Tuner(tune.with_resources(trainable, {"cpu": cpus}), param_space=param_space,
                           tune_config=tune.TuneConfig(scheduler=scheduler, num_samples=1, reuse_actors=True),
                           run_config=tune.RunConfig(name="lrlab-pbt", storage_path=storage, verbose=0,
                                                     checkpoint_config=tune.CheckpointConfig(num_to_keep=4)))
        grid = tuner.fit()
        files, lineage, pieces, failures = [None] * population, [[] for _ in range(population)], \
            [[(0, r)] for r in ratios], []
        for result in grid:
            if result.error is not None or result.checkpoint is None:
                failures.append(f"{type(result.error).__name__ if result.error else 'no result'}: "
                                f"{str(result.error)[:200] if result.error else ''}")
                continue
            lane = int(result.metrics.get("lane", 0))
            with result.checkpoint.as_directory() as d:
                session = Path(d) / "session.lrlab"
                if not session.exists():
                    failures.append(f"member {lane}: ended without its session")
                    continue
                target = folder / member_file_name(Member(lane, lrs[lane], spec.seed), population)
                write_bytes(target, session.read_bytes())
                info = json.loads((Path(d) / "lineage.json").read_text())
            files[lane] = target
            lineage[lane] = info["lineage"]
            pieces[lane] = [tuple(p) for p in info["pieces"]]
    written = [f for f in files if f is not None]
    if not written:
        raise ClusterError("population-based training on Ray: no member came back (" + "; ".join(failures) + ")")
    wall = time.perf_counter() - t0
    kept = [k for k, f in enumerate(files) if f is not None]
    from lrlab.core.storage.session import Session

    with Session.open(written[0]) as s:
        environment = s.environment
    settings = {"population": population, "interval": interval, "quantile": quantile, "perturb": list(perturb),
                "pbt_seed": seed}
    write_group_summary(folder, written, status="finished" if not failures else "failed", lrs=[lrs[k] for k in kept],
                        seeds=[spec.seed], spec_json=spec.to_json(), environment=environment,
                        summary={"wall_time": wall}, kind="pbt", path="ray-tune", pbt=settings,
                        exploits=sum(len(lineage[k]) for k in kept), lineage=[lineage[k] for k in kept],
                        discovered=[discovered_schedule(spec.schedule, pieces[k]) for k in kept],
                        ray={"scheduler": "PopulationBasedTraining", "failures": failures})
    return folder, failures
