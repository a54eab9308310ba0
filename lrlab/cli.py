"""The ``lrlab`` command: the GUI's twin for scripts, CI and terminals.

Every subcommand is a thin client of the Python API (:mod:`lrlab.api`) or of :mod:`lrlab.core`:
it turns flags into arguments and results into text. Bad input exits with
status 2 and one line on stderr that names the field or file and what is allowed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lrlab import __version__
from lrlab.core.metrics import METRICS
from lrlab.core.params import SpecError
from lrlab.progress import run_with_ctrl_c


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def _fail(message: str) -> int:
    print(f"lrlab: error: {message}", file=sys.stderr)
    return 2


def _one_line(err: SpecError) -> str:
    return "; ".join(f"{p}: {m}" if p else m for p, m in err.problems)


# --- lrlab schedule ------------------------------------------------------------------------


#: how a missing length is asked for, in the flags' words
_SCHEDULE_WORDS = {"steps": ("--steps", "required (how many steps to print, e.g. --steps 1000)"),
                   "epochs": "--steps-per-epoch N"}


def cmd_schedule(args: argparse.Namespace) -> int:
    from lrlab import api

    spec, base_lr, lrs = api.plan_schedule(args.file, args.steps, lr=args.lr, steps_per_epoch=args.steps_per_epoch,
                                           words=_SCHEDULE_WORDS)
    out = sys.stdout
    if args.format == "json":
        json.dump({"schedule": spec.to_json(), "base_lr": base_lr, "lr": lrs.tolist()}, out)
        out.write("\n")
    else:
        out.write("step,lr\n")
        out.writelines(f"{i},{lr!r}\n" for i, lr in enumerate(lrs.tolist()))
    return 0


# --- lrlab run / replay / info / export / presets -----------------------------------------


def _parse_set(items: Sequence[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set: expected key.path=value, got {item!r}")
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            out[key] = text  # bare words are strings: --set schedule.kind=cosine
        except (ValueError, RecursionError) as err:  # 5,000 digits; [[[[... thousands deep
            raise UsageError(f"--set {key}: not a usable value ({type(err).__name__})") from None
    return out


def _parse_edits(items: Sequence[str]) -> list[tuple[int, dict]]:
    from lrlab.core.schedules import parse_edit

    edits = []
    for item in items:
        step_text, sep, text = item.partition(":")
        try:
            step = int(step_text)
            if step < 0:
                raise ValueError
        except ValueError:
            raise UsageError(f"--edit: expected STEP:JSON with STEP a whole number >= 0, "
                             f"got {item!r}") from None
        try:
            data = json.loads(text) if sep else None
        except json.JSONDecodeError as err:
            raise UsageError(f"--edit {step}: not valid JSON ({err.msg})") from None
        except (ValueError, RecursionError) as err:
            raise UsageError(f"--edit {step}: not a usable value ({type(err).__name__})") from None
        edits.append((step, parse_edit(data, f"--edit {step}").to_json()))
    return sorted(edits, key=lambda e: e[0])


def _summary_line(session: Any) -> str:
    summ = session.summary
    metric = "accuracy" if session.task == "classification" else "R^2"
    parts = [f"{session.status}", f"{summ.get('steps', 0)} steps", f"{summ.get('steps_per_second', 0):.0f} steps/s"]
    if summ.get("final_val_loss") is not None:
        parts.append(f"val loss {summ['final_val_loss']:.4g}")
    if summ.get("final_val_metric") is not None:
        parts.append(f"val {metric} {summ['final_val_metric']:.4g}")
    return ", ".join(parts)


def _file_stopped(result: Any) -> bool:
    """A run whose session file stopped being written (disk full, a folder made read-only) went on
    in memory, but the file lacks the rest: say so in one line (the command then exits 1)."""
    if result.write_failure is None:
        return False
    print(f"lrlab: error: {result.write_failure}", file=sys.stderr)
    return True


def cmd_run(args: argparse.Namespace) -> int:
    from lrlab import api

    label, spec = _spec_argument(args)
    if args.download:
        if "download" not in spec.dataset.params:
            raise UsageError(f"--download: {spec.dataset.kind} ships with scikit-learn and needs no "
                             "download (only torchvision datasets do)")
        spec = spec.with_changes({"dataset.download": True})
    edits = _parse_edits(args.edit or [])
    session = _open_run(lambda: api.start_run(label, spec, edits=edits, out=args.out, progress=not args.quiet))
    if _file_stopped(session):
        return 1
    print(session.path)
    print(_summary_line(session))
    for ev in session.events:
        if ev.kind == "diverged":
            print(ev.data["message"])
    return 0


# --- lrlab fork -------------------------------------------------------------------------------


def _parse_fork_edits(items: Sequence[str], at: int) -> list[tuple[int, dict]]:
    """``--edit JSON`` applies at the fork step; ``--edit STEP:JSON`` (as in ``lrlab run``) at a later one."""
    return _parse_edits([item if not item.lstrip().startswith("{") else f"{at}:{item}" for item in items])


def cmd_fork(args: argparse.Namespace) -> int:
    from lrlab import api

    edits = _parse_fork_edits(args.edit or [], args.at)
    session = _open_run(lambda: api.fork(args.parent, args.at, edits=edits, out=args.out, progress=not args.quiet))
    if _file_stopped(session):
        return 1
    print(session.path)
    print(_summary_line(session))
    return 0


# --- lrlab sweep ------------------------------------------------------------------------------


def _parse_lrs(text: str) -> list[float]:
    values = []
    for item in text.split(","):
        try:
            values.append(float(item))
        except ValueError:
            raise UsageError(f"--lrs: {item.strip()!r} is not a number (expected e.g. --lrs 1e-3,3e-3,1e-2)") from None
    return values


def _parse_range(text: str) -> list[float]:
    from lrlab.core.runs.sweep import log_range

    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        lo, hi, k = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise UsageError(f"--range: expected LO:HI:K (K learning rates from LO to HI on a log scale, "
                         f"e.g. 1e-4:1:9), got {text!r}") from None
    return log_range(lo, hi, k, "--range")


def _cell(x: Any, fmt: str = ".4g") -> str:
    return "-" if x is None else format(x, fmt)


def format_sweep_table(rows: Sequence[dict[str, Any]], task: str) -> str:
    """The members best first: rank, LR, seed, status, final training and validation loss,
    final and best validation metric, the step a member diverged at."""
    from lrlab.core.runs.sweep import rank

    metric = "acc" if task == "classification" else "R^2"
    header = ("#", "lr", "seed", "status", "train loss", "val loss", f"val {metric}", f"best val {metric}",
              "diverged at")
    lines = [header]
    for i, row in enumerate(rank(rows), 1):
        lines.append((str(i), f"{row['lr']:g}", str(row["seed"]), row["status"], _cell(row["final_train_loss"]),
                      _cell(row["final_val_loss"]), _cell(row["final_val_metric"]), _cell(row["best_val_metric"]),
                      _cell(row["diverged_at"], "d")))
    widths = [max(len(line[j]) for line in lines) for j in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def cmd_sweep(args: argparse.Namespace) -> int:
    from lrlab import api
    from lrlab.core.runs.sweep import MAX_MEMBERS, check_lrs

    label, spec = _spec_argument(args)
    lrs = check_lrs(_parse_lrs(args.lrs), "--lrs") if args.lrs is not None else _parse_range(args.range)
    if len(lrs) * args.seeds > MAX_MEMBERS:
        raise UsageError(f"--seeds: {len(lrs)} LRs x {args.seeds} seeds is more than {MAX_MEMBERS} members")
    if args.out and Path(args.out).exists() and (not Path(args.out).is_dir() or any(Path(args.out).iterdir())):
        raise UsageError(f"--out: {args.out} already exists and is not an empty folder; choose another "
                         "(nothing was overwritten)")
    result = _open_run(lambda: api.start_sweep(label, spec, lrs, seeds=args.seeds, out=args.out,
                                               progress=not args.quiet, ray=args.ray, ray_cpus=args.ray_cpus,
                                               ray_gpus=args.ray_gpus, ray_tasks=args.ray_tasks))
    if _file_stopped(result):
        return 1
    for failure in result.failures:  # members whose chunk failed on a worker; the others arrived
        print(f"lrlab: warning: failed on the cluster: {failure}", file=sys.stderr)
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=2)
        print()
        return 0
    print(result.folder)
    print(format_sweep_table(result.rows(), result.task))
    best = result.best
    metric = "accuracy" if result.task == "classification" else "R^2"
    if best is None:
        print("best: none, every member diverged: try lower LRs")
    else:
        print(f"best: lr {best.lr:g} (seed {best.seed}), best validation {metric} "
              f"{_cell(best.best_val_metric)}")
    print(f"{len(result.members)} members x {result.n_params:,} parameters, {result.path} path, "
          f"{result.wall_time:.1f} s")
    return 0


def _open_run(make: Callable[[], Any]) -> Any:
    from lrlab.core.session import SessionError

    try:
        return make()
    except SessionError as err:
        raise UsageError(str(err)) from None


def _spec_argument(args: argparse.Namespace) -> tuple[str, Any]:
    """The run spec a command names (a file or a preset, ``args.spec``) with its ``--set``
    changes: (the preset's name, '' for a file of the user's; the validated RunSpec). The
    changes apply to the JSON as written, so defaults of a kind being replaced do not come along."""
    from lrlab import api

    return api.resolve_spec(args.spec, _parse_set(args.set or []))


def cmd_replay(args: argparse.Namespace) -> int:
    session = _open_session(args.file)
    replay = _open_run(lambda: session.replay(args.verify, out=args.out, progress=not (args.quiet or args.verify)))
    if replay.replaying:  # a sweep member: say that the whole sweep re-ran
        print(f"replaying {replay.replaying}")
    if replay.environment_differences:
        print("environment differs from the recording, so bit-identity is not expected:")
        for d in replay.environment_differences:
            print(f"  {d}")
    if _file_stopped(replay):
        return 1
    if args.out:
        print(args.out)
    print(replay.describe())
    return 0 if replay.identical is not False else 1


def _open_session(path: str) -> Any:
    from lrlab import api
    from lrlab.core.session import SessionError

    try:
        return api.open_session(path)
    except SessionError as err:
        raise UsageError(str(err)) from None


def cmd_repair(args: argparse.Namespace) -> int:
    from lrlab.core.session import repair

    done = _open_run(lambda: repair(args.file))
    print("\n".join(done) if done else f"{args.file}: nothing to repair")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from lrlab.core.runs.kinds import kind_record

    s = _open_session(args.file)
    info = s.info()
    if args.json:
        json.dump(info, sys.stdout, indent=2)
        print()
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
        _print_landscape_info(s.meta, summ)
    else:
        from lrlab.core.spec import RunSpec

        try:  # as the run used it, defaults filled in; a spec someone damaged is said to be so
            spec = RunSpec.from_json(spec).to_json()
            print(f"  dataset   {spec['dataset']['name']}   model {spec['model']['kind']}   "
                  f"optimizer {spec['optimizer']['name']} lr {spec['optimizer']['lr']:g}   "
                  f"schedule {spec['schedule']['kind']}   batch {spec['batch_size']}")
        except SpecError as err:
            print(f"  spec      not valid here: {_one_line(err)}")
    for key in ("final_train_loss", "final_val_loss", "final_val_metric", "best_val_metric",
                "steps_per_second", "wall_time"):
        if isinstance(summ.get(key), (int, float)):
            print(f"  {key.replace('_', ' '):<17} {summ[key]:.6g}")
    env = info["environment"]
    print(f"  environment torch {env.get('torch')}, {env.get('device')} ({env.get('device_name')}), "
          f"{env.get('threads')} thread(s)")
    for e in s.events:
        target = f"trajectory {e.data['trajectory']}: " if e.data.get("trajectory") else ""
        print(f"  event     step {e.step}: {target}{e.describe()}")
    for line in kind.describe_summary(summ):  # a range test's suggestions
        print(f"  {line}")
    return 0


def _print_landscape_info(meta: dict[str, Any], summary: dict[str, Any]) -> None:
    """The surface and each trajectory of a landscape session, instead of its placeholder dataset."""
    from lrlab.core.landscape import LandscapeSpec, build_surface

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
        status = r.get("status", "")
        if r.get("step") is not None:
            status += f" at step {r['step']}"
        print(f"  trajectory {i + 1}  {t.name}" + (f": {status}" if status else ""))


def cmd_export(args: argparse.Namespace) -> int:
    from lrlab.core.export import ExportError

    if not args.csv and not args.spec and not args.tensorboard:
        raise UsageError("export: give --csv OUT.csv, --spec OUT.json and/or --tensorboard DIR")
    s = _open_session(args.file)
    if args.csv:
        print(s.to_csv(args.csv))
    if args.spec:
        from lrlab.core.export import written

        with written(args.spec) as tmp:
            tmp.write_text(json.dumps(s.spec, indent=2) + "\n", encoding="utf-8")
        print(args.spec)
    if args.tensorboard:
        try:
            print(s.to_tensorboard(args.tensorboard))
        except ExportError as err:
            raise UsageError(str(err)) from None
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from lrlab import api

    try:  # too few files, a bad --target, a file that is not a session: one line each
        comparison = api.compare(args.files, metric=args.metric, x=args.x, smooth=args.smooth, target=args.target)
    except ValueError as err:
        raise UsageError(str(err)) from None
    print(comparison.describe())
    if args.csv:
        rows = comparison.write_csv(args.csv)
        print(f"\n{args.csv}: {rows} rows")
    for fmt in ("png", "svg"):
        out = getattr(args, fmt)
        if out:
            _export_compare_plot(args.files, fmt, out, args.metric, args.x, args.smooth, args.logy)
            print(out)
    return 0


def _export_compare_plot(files: Sequence[str], fmt: str, out: str, metric: str, x: str, smooth: float,
                         logy: bool | None = None) -> None:
    """Draw the overlay with Qt's offscreen platform: no display needed."""
    _offscreen_app()
    from lrlab.gui.compare import CompareView

    view = CompareView()
    view.resize(1400, 900)
    view.metric_box.setCurrentIndex(view.metric_box.findData(metric))
    view.x_axis.setCurrentIndex(view.x_axis.findData(x))
    view.smooth.setValue(round(smooth * 100))
    if logy is not None:
        view.log_y.setChecked(logy)
    try:
        view.open_paths(files)
        view.show()
        view.export(fmt, out)
    finally:
        view.close()
        view.deleteLater()


# --- lrlab find-lr -------------------------------------------------------------------------

#: range-test parameter -> the find-lr flag that sets it, so a bad value's message names the flag
_FIND_LR_FLAGS = {"start_lr": "--start", "end_lr": "--end", "num_iter": "--iters", "mode": "--mode",
                  "seeds": "--seeds"}


def cmd_find_lr(args: argparse.Namespace) -> int:
    from lrlab import api

    label, spec = _spec_argument(args)
    given = {"start_lr": args.start, "end_lr": args.end, "num_iter": args.iters,
             "mode": {"exp": "exponential"}.get(args.mode, args.mode), "seeds": args.seeds}
    try:
        found = _open_run(lambda: api.start_find_lr(label, spec, **given, out=args.out, progress=not args.quiet))
    except SpecError as err:
        raise SpecError([(_FIND_LR_FLAGS.get(p, p), m.replace("start_lr", "--start"))
                         for p, m in err.problems]) from None
    # with --json, stdout holds the JSON alone; the file names go to stderr
    notes = sys.stderr if args.json else sys.stdout
    print(found.session, file=notes)
    if args.json:
        json.dump(found.to_json(), sys.stdout)
        print()
    else:
        print(found.describe())
    if args.png:
        _export_range_plot(found.result, args.png, f"{label or spec.dataset.kind}: loss against LR")
        print(args.png, file=notes)
    return 0


# --- lrlab landscape -----------------------------------------------------------------------

#: where a landscape spec's field paths come from on the command line, for one-line errors
_LANDSCAPE_FLAGS = ((r"^trajectories\[(\d+)\]\.optimizer\.?", "--opt {n}"),
                    (r"^trajectories\[(\d+)\]\.schedule\.?", "--schedule {n}"),
                    (r"^surface\.?", "SURFACE"), (r"^start", "--start"), (r"^steps", "--steps"), (r"^seed", "--seed"))


def _landscape_error(err: SpecError) -> UsageError:
    """A landscape spec's problems, named by the flag that set each field (``--opt 2: lr: ...``)."""
    import re

    lines = []
    for path, message in err.problems:
        for pattern, flag in _LANDSCAPE_FLAGS:
            m = re.match(pattern, path)
            if m:
                name = flag.format(n=int(m.group(1)) + 1) if m.groups() else flag
                rest = path[m.end():]
                if rest in ("", "kind", "name"):
                    path, message = name, message
                else:
                    path, message = name, f"{rest} {message}"
                break
        lines.append(f"{path}: {message}" if path else message)
    return UsageError("; ".join(lines))


def _landscape_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The landscape spec (JSON) the arguments describe: a demo, or SURFACE with --opt and --schedule."""
    from lrlab.core.landscape import DEMOS, SURFACES, parse_short
    from lrlab.core.params import unknown
    from lrlab.core.schedules import SCHEDULES
    from lrlab.core.spec import OPTIMIZERS

    if args.demo:
        if args.demo not in DEMOS:
            raise UsageError(f"--demo: {unknown(args.demo, list(DEMOS))}")
        data = json.loads(json.dumps(DEMOS[args.demo].spec))
    elif args.surface:
        data = {"trajectories": []}
    else:
        raise UsageError("landscape: name a SURFACE (e.g. quadratic; 'lrlab landscape --list' lists them) or a --demo")
    if args.surface:
        data["surface"] = parse_short(args.surface, SURFACES, "SURFACE")
        if not args.demo:
            data["start"] = None
    opts = args.opt or []
    if opts:
        data["trajectories"] = [{"optimizer": parse_short(o, OPTIMIZERS, f"--opt {i + 1}")} for i, o in enumerate(opts)]
    elif not data["trajectories"]:
        data["trajectories"] = [{"optimizer": {"name": "sgd", "lr": 0.01}}]
    schedules = args.schedule or []
    n = len(data["trajectories"])
    if schedules and len(schedules) not in (1, n):
        raise UsageError(f"--schedule: give one for every trajectory or one for {n} --opt, got {len(schedules)}")
    for i, t in enumerate(data["trajectories"]):
        if schedules:
            t["schedule"] = parse_short(schedules[i if len(schedules) > 1 else 0], SCHEDULES, f"--schedule {i + 1}")
    if args.start:
        try:
            x, y = (float(v) for v in args.start.split(","))
        except ValueError:
            raise UsageError(f"--start: expected X,Y (two numbers; --start=-1.5,2 for a negative x), "
                             f"got {args.start!r}") from None
        data["start"] = [x, y]
    if args.steps is not None:
        data["steps"] = args.steps
    if args.seed is not None:
        data["seed"] = args.seed
    return data


def _landscape_edits(items: Sequence[str], n: int) -> list[tuple[int, dict]]:
    from lrlab.core.landscape import parse_targeted_edit

    edits = []
    for item in items:
        step_text, sep, text = item.partition(":")
        if not step_text.isdigit():
            raise UsageError(f"--edit: expected STEP:JSON with STEP a whole number >= 0, got {item!r}")
        try:
            data = json.loads(text) if sep else None
        except json.JSONDecodeError as err:
            raise UsageError(f"--edit {step_text}: not valid JSON ({err.msg})") from None
        target, edit = parse_targeted_edit(data, n, f"--edit {step_text}")
        edits.append((int(step_text), {**edit.to_json(), **({"trajectory": target} if target else {})}))
    return sorted(edits, key=lambda e: e[0])


def cmd_landscape(args: argparse.Namespace) -> int:
    from lrlab.core.landscape import DEMOS, Landscape, LandscapeSpec, describe_critical, describe_results, surface_list

    if args.list:
        for kind, title, formula in surface_list():
            print(f"{kind:<12} {title}\n             {formula}")
        print("\ndemos (--demo NAME):")
        for name, demo in DEMOS.items():
            print(f"  {name:<24} {demo.title}")
        return 0
    try:
        spec = LandscapeSpec.from_json(_landscape_spec(args))
    except SpecError as err:
        raise _landscape_error(err) from None
    edits = _landscape_edits(args.edit or [], len(spec.trajectories))
    if args.out:
        from lrlab.core.runs import RecordedRun
        from lrlab.core.runs.landscape import run_spec_of

        run = _open_run(lambda: RecordedRun(run_spec_of(spec), args.out, kind="landscape",
                                            label=f"landscape-{spec.surface.kind}", landscape=spec.to_json(),
                                            edits=edits))
        run_with_ctrl_c(run, run.runner)
        land = run.runner.landscape
    else:
        land = Landscape(spec, edits).run()
    surface = land.surface
    x, y = land.start
    print(f"{surface.kind}: {surface.describe()}; start ({x:g}, {y:g}); {land.step} of {spec.steps} steps")
    print(describe_critical(surface))
    for line in describe_results(land):
        print(line)
    if args.out:
        print(args.out)
    if args.csv:
        from lrlab.core.landscape import write_csv

        rows = write_csv(land, args.csv)
        print(f"{args.csv}: {rows} rows")
    if args.png:
        _export_landscape_plot(land, args.png)
        print(args.png)
    return 0


def _offscreen_app() -> None:
    """A Qt application on the offscreen platform, for drawing files without a display."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from lrlab.gui.app import make_app

    make_app()


def _export_range_plot(result: Any, out: str, title: str) -> None:
    """Draw the range test with Qt's offscreen platform: no display needed."""
    _offscreen_app()
    from lrlab.gui.range_plot import save_png

    save_png(result, out, title)


def _export_landscape_plot(land: Any, out: str) -> None:
    """Draw the landscape with Qt's offscreen platform: no display needed."""
    _offscreen_app()
    from lrlab.gui.landscape import render_png

    render_png(land, out)


def cmd_presets(args: argparse.Namespace) -> int:
    from lrlab.core.resources import list_presets

    for p in list_presets():
        print(f"{p.name:<28} {p.title}")
    return 0


# --- helpers -------------------------------------------------------------------------------


def _positive_int(name: str) -> Callable[[str], int]:
    return _whole_number(name, 1)


def _whole_number(name: str, low: int = 0) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number >= {low}, got {value}")
        return value
    return parse


def _positive_float(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number > 0, got {text!r}")
        return value
    return parse


def _pace(text: str) -> float | str:
    if text == "full":
        return text
    return _positive_float("--pace")(text)


def _fraction(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0 <= value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be a number in [0, 1), got {text!r}")
        return value
    return parse


def _resolve_input(name: str) -> Path:
    """A path as given, or the name of a bundled preset (``lr-too-high``)."""
    from lrlab import api

    return api.resolve_input(name)


class _Parser(argparse.ArgumentParser):
    """argparse with exit status 2 and a single line for usage errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"lrlab: error: {message} (see 'lrlab {self.prog.split()[-1]} --help')\n"
                  if " " in self.prog else f"lrlab: error: {message} (see 'lrlab --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lrlab", description="lrlab: a desktop learning-rate lab. "
                     "With no command, opens the desktop app.")
    parser.add_argument("--version", action="version", version=f"lrlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("schedule", help="print a learning-rate schedule step by step (CSV or JSON)",
                       description="Print the LR at steps 0..N-1 for a schedule file, a run spec "
                                   "or a preset (a bare schedule uses base LR 0.1 unless --lr). Durations "
                                   'such as "run" or "25%" follow the run of a spec or preset; in a bare '
                                   "schedule they follow --steps.")
    p.add_argument("file", help="schedule JSON, run spec JSON, or a preset name")
    p.add_argument("--steps", type=_positive_int("--steps"),
                   help="how many steps to print (default for a run spec or preset: the whole run)")
    p.add_argument("--lr", type=_positive_float("--lr"), help="base LR (overrides the file's)")
    p.add_argument("--steps-per-epoch", type=_positive_int("--steps-per-epoch"),
                   help='for a bare schedule with durations in epochs ("3ep"); a run spec knows its own')
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser("run", help="train a run spec or preset and save the session",
                       description="Train with a progress bar; the session is saved from the first "
                                   "step on. Ctrl-C stops cleanly (status 'stopped').")
    p.add_argument("spec", help="run spec JSON or preset (file or name, see 'lrlab presets')")
    p.add_argument("--out", help="session file to write (default: a new file in the sessions folder)")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                   help="change a field, e.g. --set optimizer.lr=0.01 (repeatable)")
    p.add_argument("--edit", action="append", metavar="STEP:JSON",
                   help='schedule edit at a step, e.g. --edit \'300:{"kind":"scale","factor":0.1}\'')
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--download", action="store_true",
                   help="fetch a torchvision dataset's missing files (needs the internet)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("fork", help="branch a session at a step with new edits and train the branch",
                       description="Continue a session from its exact state at a step with new edits (or none: "
                                   "then it continues exactly like the parent). The parent's edits before the step "
                                   "are kept, those at or after it are replaced by yours. Writes a new session that "
                                   "names its parent; 'lrlab replay --verify' checks it from step 0.")
    p.add_argument("parent", help="the .lrlab session to fork")
    p.add_argument("--at", type=_whole_number("--at"), required=True, metavar="STEP",
                   help="the fork step: the branch starts from the state before this step")
    p.add_argument("--edit", action="append", metavar="JSON",
                   help='an edit at the fork step, e.g. --edit \'{"kind":"scale","factor":0.1}\', or STEP:JSON '
                        "for a later step (repeatable)")
    p.add_argument("--out", help="session file to write (default: PARENT-atSTEP.lrlab beside the parent)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_fork)

    p = sub.add_parser("sweep", help="train K learning rates (x seeds) at once and rank them",
                       description="Train copies of a run spec or preset that differ only in their LR (and, "
                                   "with --seeds, their seed), all at once with stacked parameters. Writes one "
                                   "session per member and summary.json into a folder and prints the members "
                                   "best first. The schedule applies to each member as a multiple of its own LR: "
                                   "absolute LRs in it (eta_min, max_lr, ...) are read relative to the spec's "
                                   "optimizer.lr. Ctrl-C stops cleanly.")
    p.add_argument("spec", help="run spec JSON or preset (file or name, see 'lrlab presets')")
    lr_choice = p.add_mutually_exclusive_group(required=True)
    lr_choice.add_argument("--lrs", metavar="LR,LR,...", help="the learning rates, e.g. --lrs 1e-3,3e-3,1e-2")
    lr_choice.add_argument("--range", metavar="LO:HI:K", help="K learning rates from LO to HI on a log scale, "
                           "e.g. --range 1e-4:1:9")
    p.add_argument("--seeds", type=_positive_int("--seeds"), default=1,
                   help="seeds per LR: the spec's seed, seed+1, ... (default 1)")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                   help="change a field, e.g. --set optimizer.name=adam (repeatable)")
    p.add_argument("--out", metavar="DIR", help="folder for the sessions (new or empty; default: a new folder "
                   "in the sessions folder)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run the members on a Ray cluster (HOST:6379; without ADDRESS: RAY_ADDRESS, else a local "
                        "instance); needs pip install 'lrlab[cluster]'")
    p.add_argument("--ray-cpus", type=_positive_float("--ray-cpus"), default=1.0, help="CPUs per Ray task (default 1)")
    p.add_argument("--ray-gpus", type=float, default=0.0, help="GPUs per Ray task (default 0; fractions share one)")
    p.add_argument("--ray-tasks", type=_positive_int("--ray-tasks"), default=None,
                   help="how many tasks to split the LRs into (default: as many as the cluster runs at once)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("replay", help="re-run a session from its spec, seed and edits",
                       description="Re-run a session. --verify compares every step's loss and LR "
                                   "with the recording (exit 1 if any differs).")
    p.add_argument("file", help="a .lrlab session")
    p.add_argument("--verify", action="store_true", help="check the replay is bit-identical")
    p.add_argument("--out", help="also save the replay as a new session")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("info", help="summary of a session file")
    p.add_argument("file", help="a .lrlab session")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("repair", help="apply a journal an interrupted write left beside a session, and bring an "
                       "older format up to date, in the file (after backups); reading never does either")
    p.add_argument("file", help="a .lrlab session")
    p.set_defaults(func=cmd_repair)

    p = sub.add_parser("export", help="export a session's steps as CSV, its run spec as JSON, or a TensorBoard run")
    p.add_argument("file", help="a .lrlab session")
    p.add_argument("--csv", help="one row per step: step, epoch, ..., val_loss, val_metric")
    p.add_argument("--spec", help="the run spec, runnable with 'lrlab run'")
    p.add_argument("--tensorboard", metavar="DIR", help="write DIR/<session name>/ for 'tensorboard --logdir DIR': "
                   "metrics, LR, events as text, the spec as hyperparameters (needs lrlab[tensorboard])")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("compare", help="compare sessions: summary, what differs, plots and CSV",
                       description="Print a summary (final/best metrics, when each reached a target) and "
                                   "the spec fields that differ; optionally write the overlay as PNG/SVG "
                                   "(no display needed) and all curves as long-form CSV.")
    p.add_argument("files", nargs="+", help="two or more .lrlab sessions")
    p.add_argument("--metric", choices=list(METRICS), default="train_loss")
    p.add_argument("--x", choices=("step", "epoch", "samples", "wall"), default="step")
    p.add_argument("--smooth", type=_fraction("--smooth"), default=0.6, help="EMA smoothing in [0, 1)")
    p.add_argument("--logy", action=argparse.BooleanOptionalAction, default=None,
                   help="log y axis for the plot (default: the metric's own, log for gradient norms)")
    p.add_argument("--target", default="val_metric>=0.95", help="e.g. val_metric>=95%% or train_loss<=0.2; "
                   "'' for none")
    p.add_argument("--png", help="write the overlay plot as PNG")
    p.add_argument("--svg", help="write the overlay plot as SVG")
    p.add_argument("--csv", help="write session, step, metric, value rows")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("find-lr", help="LR range test: train briefly while the LR grows, suggest an LR",
                       description="Train fresh models of the spec while the LR ramps from --start to --end, "
                                   "with --seeds seeds derived from the spec's seed, and print the LRs three "
                                   "rules suggest (steepest, valley, minimum) with their spread across seeds. "
                                   "The test is saved as a session (kind range_test) that replays identically.")
    p.add_argument("spec", help="run spec JSON or preset (file or name, see 'lrlab presets')")
    p.add_argument("--start", type=float, help="first LR (default 1e-7)")
    p.add_argument("--end", type=float, help="last LR (default 10)")
    p.add_argument("--iters", type=int, help="steps of the ramp (default 100)")
    p.add_argument("--mode", choices=("exp", "linear"), help="exponential (default) or linear ramp")
    p.add_argument("--seeds", type=int, help="repeats with seeds derived from the spec's seed (default 3)")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                   help="change a field of the spec, e.g. --set optimizer.momentum=0.5 (repeatable)")
    p.add_argument("--out", help="session file to write (default: a new file in the sessions folder)")
    p.add_argument("--json", action="store_true", help="print the suggestions and curves as JSON")
    p.add_argument("--png", help="write the curve with its suggestions as PNG (no display needed)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_find_lr)

    p = sub.add_parser("landscape", help="optimizers on a 2-D loss surface: final points, PNG and CSV",
                       description="Run real torch.optim optimizers with lrlab schedules on a 2-D surface and print "
                                   "each trajectory's final point, loss and status (converged, running, diverged at "
                                   "step N: it left the view box). Optimizers and schedules are NAME:key=value,...; "
                                   "lists take colons (betas=0.9:0.999).")
    p.add_argument("surface", nargs="?", metavar="SURFACE",
                   help="quadratic, rosenbrock, beale, himmelblau, saddle or noisy_bowl, with parameters as "
                        "quadratic:condition=100 (see --list)")
    p.add_argument("--list", action="store_true", help="name the surfaces with their formulas, and the demos")
    p.add_argument("--demo", metavar="NAME", help="a bundled set-up, e.g. quadratic-all (see --list)")
    p.add_argument("--opt", action="append", metavar="NAME:K=V,...",
                   help="a trajectory's optimizer, e.g. sgd:lr=0.1 or adam:lr=0.05,betas=0.9:0.999 (repeat, up to 6)")
    p.add_argument("--schedule", action="append", metavar="KIND:K=V,...",
                   help="LR schedule: one for all trajectories or one per --opt, e.g. cosine:T_max=run")
    p.add_argument("--start", metavar="X,Y", help="start point inside the view box (--start=-1.5,2 for a negative x)")
    p.add_argument("--steps", type=_positive_int("--steps"), help="optimizer steps (default 200)")
    p.add_argument("--seed", type=_positive_int("--seed"), help="seed of the noisy bowl's gradient noise")
    p.add_argument("--edit", action="append", metavar="STEP:JSON",
                   help='mid-run edit, e.g. \'40:{"kind":"scale","factor":0.5,"trajectory":2}\' (no trajectory: all)')
    p.add_argument("--png", help="write the picture as PNG (no display needed)")
    p.add_argument("--csv", help="write trajectory,optimizer,step,x,y,loss,lr,status rows")
    p.add_argument("--out", help="also save the run as a session (kind landscape)")
    p.set_defaults(func=cmd_landscape)

    p = sub.add_parser("gui", help="open the desktop app (the default with no command)")
    p.add_argument("--run", metavar="SPEC", help="load a run spec or preset and start it")
    p.add_argument("--open", metavar="FILE", nargs="+", help="open saved sessions")
    p.add_argument("--compare", metavar="FILE", nargs="+", help="open straight into comparing sessions")
    p.add_argument("--pace", type=_pace, metavar="N|full",
                   help="train at most N steps per second (e.g. 10 for a class to watch), or 'full' speed")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser("presets", help="list the bundled presets")
    p.set_defaults(func=cmd_presets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return _open_gui([])
    try:
        return int(args.func(args) or 0)
    except SpecError as err:
        return _fail(_one_line(err))
    except UsageError as err:
        return _fail(str(err))
    except ValueError as err:  # a file that cannot be read, or written, wherever it was met
        from lrlab.core.cluster import ClusterError
        from lrlab.core.export import ExportError
        from lrlab.core.session import SessionError

        if not isinstance(err, (SessionError, ExportError, ClusterError)):
            raise
        return _fail(str(err))
    except BrokenPipeError:  # `lrlab schedule ... | head`
        sys.stderr.close()
        return 0


def _open_gui(argv: list[str]) -> int:
    return int(cmd_gui(build_parser().parse_args(["gui", *argv])))


def cmd_gui(args: argparse.Namespace) -> int:
    from lrlab.core.session import Session, SessionError
    from lrlab.core.spec import load_spec

    run = str(_resolve_input(args.run)) if args.run else None
    if run:
        load_spec(run)  # a bad spec is a one-line error here, before any window opens
    for f in [*(args.open or []), *(args.compare or [])]:
        try:
            Session.open(f).close()
        except SessionError as err:
            raise UsageError(str(err)) from None
    from lrlab.gui.app import run_gui

    return run_gui(run, args.open or [], args.compare or [], None if args.pace in (None, "full") else args.pace,
                   exit_fast=True)
