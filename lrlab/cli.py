"""The ``lrlab`` command: the GUI's twin for scripts, CI and terminals.

Every subcommand is a thin client of :mod:`lrlab.core`. Bad input exits with
status 2 and one line on stderr that names the field or file and what is allowed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lrlab import __version__
from lrlab.core.events import Status
from lrlab.core.fmt import clock
from lrlab.core.metrics import METRICS
from lrlab.core.params import SpecError


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def _fail(message: str) -> int:
    print(f"lrlab: error: {message}", file=sys.stderr)
    return 2


def _one_line(err: SpecError) -> str:
    return "; ".join(f"{p}: {m}" if p else m for p, m in err.problems)


# --- lrlab schedule ------------------------------------------------------------------------


def cmd_schedule(args: argparse.Namespace) -> int:
    from lrlab.core import schedules
    from lrlab.core.spec import RunSpec, read_json, unwrap_preset

    data = unwrap_preset(read_json(_resolve_input(args.file)))
    is_schedule = isinstance(data, dict) and "kind" in data and "optimizer" not in data
    if is_schedule:
        spec = schedules.parse_schedule(data)
        base_lr, steps = 0.1, args.steps
        if steps is None:
            raise UsageError("--steps: required (how many steps to print, e.g. --steps 1000)")
        # a bare schedule has no run: "run" and "25%" mean the printed steps
        for path, value in schedules.relative_durations(spec):
            if str(value).endswith("ep") and args.steps_per_epoch is None:
                raise UsageError(f"{path}: {value!r} counts epochs; give --steps-per-epoch N, or use a "
                                 "run spec or preset")
        spec = schedules.resolve_schedule(spec, steps, args.steps_per_epoch or 1)
    else:
        from lrlab.core.spec import planned_steps, planned_steps_per_epoch

        run = RunSpec.from_json(data)
        total = planned_steps(run)
        spec, base_lr = run.resolved(total, planned_steps_per_epoch(run)).schedule, run.lr
        steps = args.steps if args.steps is not None else total  # the whole run by default
    if args.lr is not None:
        base_lr = args.lr
    lrs = schedules.values(schedules.build(spec, base_lr), 0, steps)
    out = sys.stdout
    if args.format == "json":
        json.dump({"schedule": spec.to_json(), "base_lr": base_lr, "lr": lrs.tolist()}, out)
        out.write("\n")
    else:
        out.write("step,lr\n")
        out.writelines(f"{i},{lr!r}\n" for i, lr in enumerate(lrs.tolist()))
    return 0


# --- lrlab run / replay / info / export / presets -----------------------------------------


class Progress:
    """A one-line progress bar on stderr: the bar and step count, :meth:`describe`'s words for
    the update (epoch, loss, LR), steps/s and ETA; redrawn a few times a second on a terminal,
    every 5 s into a file, and always at the end."""

    def __init__(self, total: int, quiet: bool = False, stream: Any = None):
        self.total, self.quiet = total, quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last_print = 0.0
        self.start = time.monotonic()

    def __call__(self, update: Any) -> None:
        if self.quiet or not update.n:
            return
        now = time.monotonic()
        final = Status(update.status).final
        if not final and now - self.last_print < (0.2 if self.tty else 5.0):
            return
        self.last_print = now
        done = update.step
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        width = 24
        filled = int(width * done / max(self.total, 1))
        line = (f"[{'#' * filled}{'.' * (width - filled)}] step {done}/{self.total} "
                f"{self.describe(update)} {rate:.0f} steps/s ETA {clock(eta)}")
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        if final and self.tty:
            self.stream.write("\n")
        self.stream.flush()

    def describe(self, update: Any) -> str:
        return (f"epoch {int(update.steps['epoch'][-1])} loss {update.steps['train_loss'][-1]:.4g} "
                f"lr {update.steps['lr'][-1]:.3g}")


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


def _summary_line(session_path: Path, status: str) -> str:
    from lrlab.core.session import Session

    with Session.open(session_path) as s:
        summ = s.summary
        metric = "accuracy" if s.spec.task == "classification" else "R^2"
    parts = [f"{status}", f"{summ.get('steps', 0)} steps", f"{summ.get('steps_per_second', 0):.0f} steps/s"]
    if summ.get("final_val_loss") is not None:
        parts.append(f"val loss {summ['final_val_loss']:.4g}")
    if summ.get("final_val_metric") is not None:
        parts.append(f"val {metric} {summ['final_val_metric']:.4g}")
    return ", ".join(parts)


def _run_with_ctrl_c(run: Any, trainer: Any) -> str:
    """Ctrl-C asks the trainer to stop at the next step boundary; a second one aborts."""
    import signal

    def on_sigint(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, previous)
        print("\nlrlab: stopping after this step (Ctrl-C again to abort)", file=sys.stderr)
        trainer.stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        return run.run()
    finally:
        signal.signal(signal.SIGINT, previous)


def cmd_run(args: argparse.Namespace) -> int:
    from lrlab.core.runs import RecordedRun
    from lrlab.core.spec import schedule_warnings

    label, spec = _spec_argument(args)
    if args.download:
        if "download" not in spec.dataset.params:
            raise UsageError(f"--download: {spec.dataset.kind} ships with scikit-learn and needs no "
                             "download (only torchvision datasets do)")
        spec = spec.with_changes({"dataset.download": True})
    edits = _parse_edits(args.edit or [])
    run = _open_run(lambda: RecordedRun(spec, args.out, edits=edits, label=label))
    for warning in schedule_warnings(spec, run.runner.total_steps, run.runner.session_meta()["steps_per_epoch"]):
        print(f"lrlab: warning: {warning}", file=sys.stderr)
    progress = Progress(run.runner.total_steps, args.quiet)
    run.add_listener(progress)
    status = _run_with_ctrl_c(run, run.runner)
    if run.failure is not None:  # the run went on in memory, but the file has only the first part
        print(f"lrlab: error: {run.failure}; the run went on and ended {status} after {run.runner.step} steps, "
              f"which {run.path} does not have", file=sys.stderr)
        return 1
    print(run.path)
    print(_summary_line(run.path, status))
    for ev in run.runner.events:
        if ev.kind == "diverged":
            print(ev.data["message"])
    return 0


# --- lrlab sweep ------------------------------------------------------------------------------


class SweepProgress(Progress):
    """The progress bar of a sweep: members training and diverged, and the lowest latest loss
    with its LR, in place of one run's epoch, loss and LR."""

    def __init__(self, total: int, lrs: Sequence[float], quiet: bool = False, stream: Any = None):
        super().__init__(total, quiet, stream)
        self.lrs = list(lrs)

    def describe(self, update: Any) -> str:
        latest = [(float(m.steps["train_loss"][-1]), float(m.steps["lr"][-1])) for m in update.members
                  if m.n and not Status(m.status).problem]
        diverged = sum(Status(m.status) == Status.DIVERGED for m in update.members)
        best = f" lowest loss {min(latest)[0]:.4g} at lr {min(latest)[1]:.3g}" if latest else ""
        return f"{len(update.members)} members, {diverged} diverged,{best}"


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
    from lrlab.core.runs import RecordedSweep, best_row
    from lrlab.core.runs.sweep import MAX_MEMBERS, ROW_KEYS, check_lrs
    from lrlab.core.spec import schedule_warnings

    label, spec = _spec_argument(args)
    lrs = check_lrs(_parse_lrs(args.lrs), "--lrs") if args.lrs is not None else _parse_range(args.range)
    if len(lrs) * args.seeds > MAX_MEMBERS:
        raise UsageError(f"--seeds: {len(lrs)} LRs x {args.seeds} seeds is more than {MAX_MEMBERS} members")
    if args.out and Path(args.out).exists() and (not Path(args.out).is_dir() or any(Path(args.out).iterdir())):
        raise UsageError(f"--out: {args.out} already exists and is not an empty folder; choose another "
                         "(nothing was overwritten)")
    seeds = [spec.seed + j for j in range(args.seeds)]
    run = _open_run(lambda: RecordedSweep(spec, lrs, args.out, seeds=seeds, label=label))
    runner = run.runner
    for warning in schedule_warnings(spec, runner.total_steps, runner.session_meta()["steps_per_epoch"]):
        print(f"lrlab: warning: {warning}", file=sys.stderr)
    run.add_listener(SweepProgress(runner.total_steps, runner.lrs, args.quiet))
    status = _run_with_ctrl_c(run, runner)
    if run.failure is not None:
        print(f"lrlab: error: {run.failure}; the sweep went on and ended {status}, but that file does not "
              "have all of it", file=sys.stderr)
        return 1
    rows = run.rows
    if args.json:
        from lrlab.core.runs import _json_safe

        best = best_row(rows)
        out = {"members": [{k: row[k] for k in ROW_KEYS} for row in rows],
               "best": None if best is None else {k: best[k] for k in ROW_KEYS}, "path": runner.path}
        json.dump(_json_safe(out), sys.stdout, indent=2)
        print()
        return 0
    print(run.path)
    print(format_sweep_table(rows, spec.task))
    best = best_row(rows)
    metric = "accuracy" if spec.task == "classification" else "R^2"
    if best is None:
        print("best: none, every member diverged: try lower LRs")
    else:
        print(f"best: lr {best['lr']:g} (seed {best['seed']}), best validation {metric} "
              f"{_cell(best['best_val_metric'])}")
    print(f"{runner.k} members x {runner.n_params:,} parameters, {runner.path} path, "
          f"{runner.summary.get('wall_time', 0):.1f} s")
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
    from lrlab.core.spec import RunSpec, apply_changes, read_json, unwrap_preset

    source = _resolve_input(args.spec)
    data = unwrap_preset(read_json(source))
    if args.set:
        data = apply_changes(data, _parse_set(args.set))
    label = source.stem if source.parent.resolve() == _presets_dir() else ""
    return label, RunSpec.from_json(data)


def _presets_dir() -> Path:
    from lrlab.core.resources import presets_dir

    return presets_dir().resolve()


def cmd_replay(args: argparse.Namespace) -> int:
    from lrlab.core.runs import (
        Collector,
        RecordedRun,
        compare_steps,
        environment_differences,
        replay_options,
        replay_runner,
    )

    session = _open_session(args.file)
    with session:
        recorded = session.steps(("step", "train_loss", "lr"))
        if args.out:
            run = _open_run(lambda: RecordedRun(session.spec.offline(), args.out, kind=session.kind,
                                                group=session.group, **replay_options(session)))
            runner = run.runner
        else:
            runner = replay_runner(session)
        describe = getattr(runner, "describe", None)
        if describe is not None:  # a sweep member: say that the whole sweep re-runs
            print(f"replaying {describe()}")
        diffs = environment_differences(session.environment, runner.environment)
        if diffs:
            print("environment differs from the recording, so bit-identity is not expected:")
            for d in diffs:
                print(f"  {d}")
        collector = Collector()
        runner.listeners.append(collector)
        runner.listeners.append(Progress(runner.total_steps, args.quiet or args.verify))
        status = _run_with_ctrl_c(run, runner) if args.out else runner.run()
    if args.out and run.failure is not None:
        print(f"lrlab: error: {run.failure}; the replay went on and ended {status}", file=sys.stderr)
        return 1
    if args.out:
        print(args.out)
    if not args.verify:
        print(f"replayed: {status}, {runner.step} steps")
        return 0
    result = compare_steps(recorded, {c: collector.column(c) for c in ("step", "train_loss", "lr")})
    print(result.describe())
    return 0 if result.identical else 1


def _open_session(path: str) -> Any:
    from lrlab.core.session import Session, SessionError

    try:
        return Session.open(path)
    except SessionError as err:
        raise UsageError(str(err)) from None


def cmd_info(args: argparse.Namespace) -> int:
    with _open_session(args.file) as s:
        info = {"file": str(s.path), "status": s.status, "steps": s.n_steps(), "seed": s.seed,
                "created": s.meta.get("created"), "app_version": s.meta.get("app_version"),
                "format_version": s.meta.get("format_version"), "kind": s.kind, "group": s.group,
                "meta": s.meta,
                "spec": s.spec_json,
                "environment": s.environment, "summary": s.summary,
                "events": s.events()}
    if args.json:
        info.pop("meta")
        json.dump({**info, "events": [e.to_json() for e in info["events"]]}, sys.stdout, indent=2)
        print()
        return 0
    spec = info["spec"]
    summ = info["summary"]
    print(f"{info['file']}")
    print(f"  status    {info['status']}, {info['steps']} steps, seed {info['seed']}, "
          f"created {info['created']}")
    print(f"  kind      {info['kind']}" + (f", group {info['group']}" if info["group"] else ""))
    if info["kind"] == "landscape":
        _print_landscape_info(info["meta"], summ)
    else:
        print(f"  dataset   {spec['dataset']['name']}   model {spec['model']['kind']}   "
              f"optimizer {spec['optimizer']['name']} lr {spec['optimizer']['lr']:g}   "
              f"schedule {spec['schedule']['kind']}   batch {spec['batch_size']}")
    for key in ("final_train_loss", "final_val_loss", "final_val_metric", "best_val_metric",
                "steps_per_second", "wall_time"):
        if summ.get(key) is not None:
            print(f"  {key.replace('_', ' '):<17} {summ[key]:.6g}")
    env = info["environment"]
    print(f"  environment torch {env.get('torch')}, {env.get('device')} ({env.get('device_name')}), "
          f"{env.get('threads')} thread(s)")
    for e in info["events"]:
        target = f"trajectory {e.data['trajectory']}: " if e.data.get("trajectory") else ""
        print(f"  event     step {e.step}: {target}{e.describe()}")
    if info["kind"] == "range_test" and summ.get("range_test"):
        from lrlab.core.lrfind import RULES, RangeTestResult

        result = RangeTestResult.from_summary(summ["range_test"])
        for rule in RULES:
            print(f"  suggests  {result.describe(rule)}")
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
    if not args.csv and not args.spec:
        raise UsageError("export: give --csv OUT.csv and/or --spec OUT.json")
    with _open_session(args.file) as s:
        if args.csv:
            from lrlab.core.export import write_csv

            write_csv(s, args.csv)
            print(args.csv)
        if args.spec:
            Path(args.spec).write_text(json.dumps(s.spec_json, indent=2) + "\n", encoding="utf-8")
            print(args.spec)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from lrlab.core.compare import (
        Target,
        differences,
        format_differences,
        format_summary,
        open_runs,
        summary,
        write_long_csv,
    )
    from lrlab.core.session import SessionError

    if len(args.files) < 2:
        raise UsageError("compare: give at least two session files")
    try:
        target = Target.parse(args.target) if args.target else None
    except ValueError as err:
        raise UsageError(str(err)) from None
    try:
        runs = open_runs(args.files)
    except SessionError as err:
        raise UsageError(str(err)) from None
    try:
        names = [r.name for r in runs]
        print(format_summary(summary(runs, target, args.smooth), target))
        print()
        print(format_differences(differences(runs), names))
        if args.csv:
            rows = write_long_csv(runs, args.csv)
            print(f"\n{args.csv}: {rows} rows")
        for fmt in ("png", "svg"):
            out = getattr(args, fmt)
            if out:
                _export_compare_plot(args.files, fmt, out, args.metric, args.x, args.smooth, args.logy)
                print(out)
    finally:
        for r in runs:
            r.close()
    return 0


def _export_compare_plot(files: Sequence[str], fmt: str, out: str, metric: str, x: str, smooth: float,
                         logy: bool | None = None) -> None:
    """Draw the overlay with Qt's offscreen platform: no display needed."""
    _offscreen_app()
    from lrlab.gui.compare import CompareView

    view = CompareView()
    view.resize(1400, 900)
    view.metric.setCurrentIndex(view.metric.findData(metric))
    view.x_axis.setCurrentIndex(view.x_axis.findData(x))
    view.smooth.setValue(round(smooth * 100))
    if logy is not None:
        view.log_y.setChecked(logy)
    view.open_paths(files)
    view.show()
    view.export(fmt, out)
    view.close()


# --- lrlab find-lr -------------------------------------------------------------------------

#: range-test parameter -> the find-lr flag that sets it, so a bad value's message names the flag
_FIND_LR_FLAGS = {"start_lr": "--start", "end_lr": "--end", "num_iter": "--iters", "mode": "--mode",
                  "seeds": "--seeds"}


def cmd_find_lr(args: argparse.Namespace) -> int:
    from lrlab.core.lrfind import RULES, RangeTestParams
    from lrlab.core.runs import RecordedRun

    label, spec = _spec_argument(args)
    given = {"start_lr": args.start, "end_lr": args.end, "num_iter": args.iters,
             "mode": {"exp": "exponential"}.get(args.mode, args.mode), "seeds": args.seeds}
    try:
        params = RangeTestParams.from_json({k: v for k, v in given.items() if v is not None})
    except SpecError as err:
        raise SpecError([(_FIND_LR_FLAGS.get(p, p), m.replace("start_lr", "--start"))
                         for p, m in err.problems]) from None
    run = _open_run(lambda: RecordedRun(spec, args.out, kind="range_test", label=label, params=params))
    run.add_listener(Progress(run.runner.total_steps, args.quiet))
    _run_with_ctrl_c(run, run.runner)
    result = run.runner.result
    # with --json, stdout holds the JSON alone; the file names go to stderr
    notes = sys.stderr if args.json else sys.stdout
    print(run.path, file=notes)
    if args.json:
        json.dump(result.cli_json(), sys.stdout)
        print()
    else:
        n_seeds = len(result.seeds)
        print(f"range test: {len(result.lrs)} of {params.num_iter} steps, LR {params.start_lr:g} to "
              f"{params.end_lr:g} ({params.mode}), {n_seeds} seed(s); {result.stop}")
        spread_head = f"across {n_seeds} seeds" if n_seeds > 1 else ""
        print(f"{'rule':<9} {'LR':<10} {spread_head:<19} why")
        for rule in RULES:
            s = result.suggestions[rule]
            if not s.ok:
                print(f"{rule:<9} {'-':<10} {'':<19} {s.reason}")
                continue
            spread = result.spread(rule)
            text = f"{spread[0]:.3g}-{spread[1]:.3g}" if spread and n_seeds > 1 else ""
            print(f"{rule:<9} {s.lr:<10.3g} {text:<19} {s.reason}")
    if args.png:
        _export_range_plot(result, args.png, f"{label or spec.dataset.kind}: loss against LR")
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
        _run_with_ctrl_c(run, run.runner)
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
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number >= 1, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number >= 1, got {value}")
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
    path = Path(name)
    if path.exists():
        return path
    from lrlab.core.resources import preset_path

    preset = preset_path(name)
    return preset if preset is not None else path


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

    p = sub.add_parser("export", help="export a session's steps as CSV or its run spec as JSON")
    p.add_argument("file", help="a .lrlab session")
    p.add_argument("--csv", help="one row per step: step, epoch, ..., val_loss, val_metric")
    p.add_argument("--spec", help="the run spec, runnable with 'lrlab run'")
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
