"""``lrlab info``: what a session file holds, in a few lines or as JSON."""

from __future__ import annotations

import argparse
from typing import Any

from lrlab.cli.common import Commands, add_json, command, one_line, print_json
from lrlab.core.decl.params import SpecError


def add_parser(commands: Commands) -> None:
    p = command(commands, "info", "summary of a session file",
                "What a session holds: status, steps, seed, kind, parent, spec, final metrics, environment, "
                "events and, for a range test, its suggestions. Reads the file only (a journal an "
                "interrupted write left is reported, not applied; see 'lrlab repair').",
                ["lrlab info too-high.lrlab", "lrlab info too-high.lrlab --json"])
    p.add_argument("file", help="a .lrlab session")
    add_json(p, "everything the file holds but its steps")
    p.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    from lrlab import api
    from lrlab.core.runs.kinds import kind_record
    from lrlab.core.storage.session import SessionError

    s = api.open_session(args.file)
    info = s.info()
    try:
        lines = kind_record(info["kind"]).describe_summary(info["summary"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:  # its inside damaged
        raise SessionError(f"{args.file}: damaged session file (its {info['kind'].replace('_', ' ')} summary: "
                           f"{type(err).__name__} {str(err)[:80]})") from None
    snapshots = s.snapshot_summary() if kind_record(info["kind"]).forkable else None
    if args.json:
        print_json({**info, **({"snapshots": snapshots} if snapshots is not None else {})}, indent=2)
        return 0
    spec = info["spec"]
    summ = info["summary"]
    print(f"{info['file']}")
    print(f"  status    {info['status']}, {info['steps']} steps, seed {info['seed']}, "
          f"created {info['created']}")
    print(f"  kind      {info['kind']}" + (f", group {info['group']}" if info["group"] else ""))
    if info["parent"] is not None:
        print(f"  parent    {info['parent']['path']} (id {info['parent']['id']}), forked at step "
              f"{info['parent']['step']}")
    kind = kind_record(info["kind"])
    if not kind.trains_spec:  # a landscape: its surface, not a dataset and model
        _print_landscape(s.meta, summ)
    else:
        from lrlab.core.decl.spec import RunSpec

        try:  # as the run used it, defaults filled in; a spec someone damaged is said to be so
            spec = RunSpec.from_json(spec).to_json()
            print(f"  dataset   {spec['dataset']['name']}   model {spec['model']['kind']}   "
                  f"optimizer {spec['optimizer']['name']} lr {spec['optimizer']['lr']:g}   "
                  f"schedule {spec['schedule']['kind']}   batch {spec['batch_size']}")
        except SpecError as err:
            print(f"  spec      not valid here: {one_line(err)}")
        from lrlab.core.decl.usercode import code_refs

        try:  # your own code: what `--code FILE` must name to replay or fork it (never imported here)
            refs = code_refs(spec)
        except SpecError:
            refs = []
        for ref in refs:
            print(f"  code      {ref.field}: {ref.entry} (sha256 {ref.sha256 or 'not recorded'}); replay and "
                  "fork need --code FILE")
    for key in ("final_train_loss", "final_val_loss", "final_val_metric", "best_val_metric",
                "steps_per_second", "wall_time"):
        if isinstance(summ.get(key), (int, float)):
            print(f"  {key.replace('_', ' '):<17} {summ[key]:.6g}")
    env = info["environment"]
    print(f"  environment torch {env.get('torch')}, {env.get('device')} ({env.get('device_name')}), "
          f"{env.get('threads')} thread(s)")
    if snapshots is not None:  # what a fork of it costs (lrlab.core.engine.snapshots.thin)
        print(f"  snapshots {snapshots['kept']} kept ({snapshots['bytes'] / 2**20:.1f} MiB): a fork re-runs at most "
              f"{snapshots['rerun_at_most']:,} steps")
    data = env.get("data")
    if isinstance(data, dict):  # the user's own files, as a replay will check them
        skipped = f", {data['skipped']} corrupt skipped" if data.get("skipped") else ""
        print(f"  data      {data.get('path')} ({data.get('size')} bytes, SHA-256 {data.get('sha256')}{skipped})")
    for e in s.events:
        target = f"trajectory {e.data['trajectory']}: " if e.data.get("trajectory") else ""
        print(f"  event     step {e.step}: {target}{e.describe()}")
    for line in lines:  # a range test's suggestions
        print(f"  {line}")
    return 0


def _print_landscape(meta: dict[str, Any], summary: dict[str, Any]) -> None:
    """The surface and each trajectory of a landscape session, instead of its placeholder dataset."""
    from lrlab.core.features.landscape import LandscapeSpec, build_surface

    try:
        spec = LandscapeSpec.from_json(meta["landscape"])
    except (KeyError, SpecError) as err:
        print(f"  surface   (unreadable landscape spec: {err})")
        return
    surface = build_surface(spec.surface)
    x, y = spec.start_point
    print(f"  surface   {surface.kind}: {surface.describe()}; start ({x:g}, {y:g}); {spec.steps} steps")
    results = (summary.get("landscape") or {}).get("trajectories") or []
    for i, t in enumerate(spec.trajectories):
        r = results[i] if i < len(results) else {}
        status = str(r.get("status") or "")
        if type(r.get("step")) is int:
            status += f" at step {r['step']}"
        print(f"  trajectory {i + 1}  {t.name}" + (f": {status}" if status else ""))
