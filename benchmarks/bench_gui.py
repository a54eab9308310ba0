"""GUI costs, measured side by side (offscreen): does the window slow training or stutter?

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [--rounds 5]

1. Training steps/s with the plots live and 1,000,000 points of loss history, vs the same
   run headless just before it (target >= 0.95x, the median of the interleaved rounds'
   ratios, once the window has warmed up as it does for a user), and the lateness of a
   10 ms QTimer on the GUI thread during that run (target p99 <= 50 ms).
2. Cost of a frame (redraw + paint) with 1,000,000 vs 10,000 points of history (target
   <= 2x), and a pan/zoom redraw (target <= 33 ms).
3. Time to a visible main window vs a bare PySide6 + pyqtgraph window with one empty plot,
   each in a fresh interpreter, alternating (target <= 1.15x).
4. The first Start of a fresh window (``tests/first_start.py``): Start-to-first-metrics when
   pressed 1 s after the window appeared (target <= 0.5 s and <= 1.5x a later Start in the same
   process), 3 s after, and once its background warm-up has finished; and how long the warm-up
   takes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SPEC = {"dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [128]},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "batch_size": 64, "steps": 8000,
        "device": "cpu", "threads": 1}
HISTORY = 1_000_000
#: where the first-Start runs keep their compiled bytecode (a fresh folder for each benchmark)
BYTECODE = os.path.join(tempfile.gettempdir(), f"lrlab-bench-bytecode-{os.getpid()}")
#: the GUI thread's CPU seconds per second of each live run: the window's own cost, which a
#: loaded machine's noise in wall-clock rates hides (the training thread loses about twice it)
GUI_CPU: list[float] = []


def history(n: int, offset: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    steps = np.arange(offset, offset + n)
    return {"step": steps, "epoch": steps // 23, "samples": (steps + 1) * 64,
            "wall_time": steps * 1e-3, "train_loss": np.exp(-steps / 2e5) + 0.05 * rng.random(n),
            "lr": np.full(n, 0.05), "grad_norm": 1 + rng.random(n),
            "update_ratio": np.where(steps % 10 == 0, 1e-3, np.nan)}


def headless_rate(recorded: bool = True) -> float:
    """The same run without a window: recorded to a session as ``lrlab run`` and the window's
    worker do (the writer costs ~1% of the steps, measured), or the bare trainer."""
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import record
    from lrlab.core.runs.train import Trainer

    if not recorded:
        trainer = Trainer(RunSpec.from_json(SPEC))
        t0 = time.perf_counter()
        trainer.run()
        return trainer.step / (time.perf_counter() - t0)
    run = record("train", RunSpec.from_json(SPEC))
    first: list[tuple[float, int]] = []
    run.runner.listeners.append(lambda u: first.append((time.perf_counter(), u.step)) if u.n and not first else None)
    run.run()
    t0, s0 = first[0]  # from the first batch on, as the live run is timed
    return (run.runner.step - s0) / (time.perf_counter() - t0)


def gui_rate(app, window, probe: bool) -> tuple[float, list[float]]:
    """Train in the worker thread while the window plots live on top of HISTORY points.

    ``probe`` adds the 10 ms QTimer whose lateness measures responsiveness; its own
    wake-ups cost the training thread GIL hand-offs, so throughput is measured without it.
    """
    from PySide6.QtCore import QObject, Slot

    from lrlab.core.decl.spec import RunSpec
    from lrlab.gui.pacing import batch_seconds
    from lrlab.gui.worker import RunWorker

    plots = window.plots
    plots.reset("classification", 23, HISTORY + SPEC["steps"])
    plots.add(history(HISTORY))
    plots.flush()

    class Sink(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.done = False
            self.t0 = self.t1 = 0.0
            self.steps = 0

        @Slot(object)
        def metrics(self, update) -> None:
            cols = dict(update.steps)
            cols["step"] = cols["step"] + HISTORY  # continue after the synthetic history
            plots.add(cols, [dict(e, step=e["step"] + HISTORY) for e in update.evals])
            if not self.t0 and update.n:
                self.t0, self.first = time.perf_counter(), update.step
            self.steps = update.step
            worker.set_batch_seconds(batch_seconds(plots.pacer))  # as the window's view does

        @Slot(str, str)
        def finished(self, status: str, path: str) -> None:
            self.t1 = time.perf_counter()
            self.done = True

    sink = Sink()
    worker = RunWorker(RunSpec.from_json(SPEC))
    worker.sig_metrics.connect(sink.metrics)
    worker.sig_finished.connect(sink.finished)
    cpu, lateness = run_live(worker, probe)
    GUI_CPU.append(cpu)
    rate = (sink.steps - sink.first) / (sink.t1 - sink.t0)
    return rate, lateness


def run_live(worker, probe: bool) -> tuple[float, list[float]]:
    """Run ``worker`` (a RunWorker) in its thread under the real event loop until it finishes.
    Returns the GUI thread's CPU seconds per second of the run and, with ``probe``, the lateness
    (ms past due) of a 10 ms QTimer on the GUI thread, its first five ticks left out."""
    from PySide6.QtCore import QEventLoop, QTimer

    from lrlab.gui.worker import start_in_thread

    lateness: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1000 - 10))
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    if probe:
        timer.start()
    loop = QEventLoop()
    worker.sig_finished.connect(loop.quit)
    thread = start_in_thread(worker)
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    loop.exec()  # the real event loop: it sleeps (and releases the GIL) between events
    cpu = (time.thread_time() - cpu0) / (time.perf_counter() - wall0)
    timer.stop()
    thread.quit()
    thread.wait()  # the run has ended: the thread must be gone before its QThread object is
    return cpu, lateness[5:]


def frame_cost(app, window, n: int, pan: bool = False) -> float:
    plots = window.plots
    plots.reset("classification", 23, n)
    plots.add(history(n))
    plots.flush()
    times = []
    for i in range(15):
        if pan:
            plots.p_loss.setXRange(n * 0.3 + i * n * 0.01, n * 0.6 + i * n * 0.01, padding=0)
        else:
            plots.add(history(100, offset=n + i * 100))  # new data arrives, as in a live run
        t0 = time.perf_counter()
        plots.flush()
        plots.view.grab()  # render now, so the paint is measured, not deferred
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


STARTUP = {
    "bare": ("import time; t0 = time.perf_counter()\n"
             "from PySide6.QtWidgets import QApplication, QMainWindow\nimport pyqtgraph as pg\n"
             "app = QApplication([]); w = QMainWindow(); w.setCentralWidget(pg.PlotWidget()); w.show()\n"
             "app.processEvents(); print(time.perf_counter() - t0, flush=True); import os; os._exit(0)"),
    "lrlab": ("import time; t0 = time.perf_counter()\n"
              "from lrlab.gui.app import make_app\napp = make_app()\n"
              "from lrlab.gui.window import MainWindow\nw = MainWindow(); w.show()\n"
              "app.processEvents(); print(time.perf_counter() - t0, flush=True); import os; os._exit(0)"),
    # the same window until its four (empty) plots, built after the first frame, are painted too
    "lrlab_plots": ("import time; t0 = time.perf_counter()\n"
                    "from lrlab.gui.app import make_app\napp = make_app()\n"
                    "from lrlab.gui.window import MainWindow\nw = MainWindow(); w.show()\n"
                    "app.processEvents()\nwhile not w.plots.built: app.processEvents()\n"
                    "app.processEvents(); print(time.perf_counter() - t0, flush=True); import os; os._exit(0)"),
}


def startup_times(rounds: int) -> dict[str, float]:
    """Median seconds to a visible window for each entry of STARTUP.

    Both start with their bytecode compiled, as after ``pip install`` or any earlier launch:
    with PYTHONDONTWRITEBYTECODE set (as on the machines these figures come from) lrlab's own
    modules were compiled from source on every start, ~55 ms that no user pays, while the
    libraries' bytecode was written when pip installed them. A discarded first round writes it
    to a temporary cache.
    """
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LRLAB_HOME=os.environ.get("LRLAB_HOME", "/tmp/lrlab-bench"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out: dict[str, list[float]] = {k: [] for k in STARTUP}
    with tempfile.TemporaryDirectory() as cache:
        env["PYTHONPYCACHEPREFIX"] = cache
        for i in range(rounds + 1):
            for name, code in STARTUP.items():
                proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                      check=True)
                if i:
                    out[name].append(float(proc.stdout.strip().splitlines()[-1]))
    return {k: statistics.median(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--live-only", action="store_true", help="parts 1 and 2 only (the live window's cost)")
    args = ap.parse_args(argv)
    os.environ.setdefault("LRLAB_HOME", "/tmp/lrlab-bench")
    from lrlab.gui.app import make_app
    from lrlab.gui.window import MainWindow

    app = make_app()
    window = MainWindow()
    window.resize(1440, 900)
    window.show()
    app.processEvents()
    t_end = time.perf_counter() + 30
    while not getattr(window.experiment, "warmed", False) and time.perf_counter() < t_end:
        app.processEvents()  # the window warms the core up in the background, as for a user
        time.sleep(0.05)

    heads, guis, late = [], [], []
    for _ in range(args.rounds):
        heads.append(headless_rate())
        guis.append(gui_rate(app, window, probe=False)[0])
        late.extend(gui_rate(app, window, probe=True)[1])
    # each round's live run against the headless run just before it: the machine's speed drifts
    # over a benchmark (other jobs, clocks), and a pair taken seconds apart cancels that out
    ratio = statistics.median(g / h for g, h in zip(guis, heads, strict=True))
    p99 = float(np.percentile(late, 99))
    print(f"1. training with live plots over {HISTORY:,} points: {statistics.median(guis):.0f} steps/s vs "
          f"headless {statistics.median(heads):.0f} steps/s; median of the rounds' ratios {ratio:.2f}x "
          f"(target >= 0.95; rounds: {', '.join(f'{g / h:.2f}' for g, h in zip(guis, heads, strict=True))})")
    print(f"   the GUI thread's CPU time during the live runs: median {statistics.median(GUI_CPU):.1%} of the wall "
          f"time (max {max(GUI_CPU):.1%})")
    print(f"   10 ms timer lateness during the run: median {statistics.median(late):.1f} ms, "
          f"p99 {p99:.1f} ms (target <= 50)")
    small, big = frame_cost(app, window, 10_000), frame_cost(app, window, HISTORY)
    pan = frame_cost(app, window, HISTORY, pan=True)
    print(f"2. frame (redraw + paint): {small:.1f} ms at 10,000 points, {big:.1f} ms at {HISTORY:,} "
          f"= {big / small:.2f}x (target <= 2); pan/zoom redraw {pan:.1f} ms (target <= 33)")
    window.close()
    if args.live_only:
        return 0 if ratio >= 0.95 and p99 <= 50 and big / small <= 2 and pan <= 33 else 1
    st = startup_times(max(args.rounds, 5))
    print(f"3. time to a visible window: lrlab {st['lrlab']:.2f} s vs bare PySide6 + pyqtgraph "
          f"{st['bare']:.2f} s = {st['lrlab'] / st['bare']:.2f}x (target <= 1.15); with its four plots "
          f"painted {st['lrlab_plots']:.2f} s = {st['lrlab_plots'] / st['bare']:.2f}x")
    fs = {after: first_start(after) for after in (1.0, 3.0, None)}
    at1, at3, warm = fs[1.0], fs[3.0], fs[None]
    print(f"4. first Start 1 s after the window appeared: {at1['first']:.2f} s to its first metrics (target <= 0.5) "
          f"vs {at1['second']:.2f} s for a later Start = {at1['first'] / at1['second']:.1f}x (target <= 1.5); "
          f"3 s after: {at3['first']:.2f} s vs {at3['second']:.2f} s = {at3['first'] / at3['second']:.1f}x; after "
          f"the warm-up ({warm['warm_s']:.1f} s): {warm['first']:.2f} s vs {warm['second']:.2f} s = "
          f"{warm['first'] / warm['second']:.2f}x")
    ok = (ratio >= 0.95 and p99 <= 50 and big / small <= 2 and pan <= 33 and st["lrlab"] / st["bare"] <= 1.15
          and at1["first"] <= 0.5 and at1["first"] / at1["second"] <= 1.5)
    return 0 if ok else 1


def first_start(after: float | None) -> dict:
    """tests/first_start.py in a fresh interpreter: Start pressed ``after`` seconds after the
    window appeared, or once it has warmed up (None). With bytecode compiled, as for a user
    (see :func:`startup_times`: a discarded first run writes it)."""
    import json
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "tests" / "first_start.py"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LRLAB_HOME=os.environ.get("LRLAB_HOME", "/tmp/lrlab-bench"),
               PYTHONPYCACHEPREFIX=BYTECODE)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    extra = ["--after", str(after)] if after is not None else []
    if not os.path.isdir(BYTECODE):
        subprocess.run([sys.executable, str(script), *extra], capture_output=True, env=env, check=True)
    proc = subprocess.run([sys.executable, str(script), *extra], capture_output=True, text=True, env=env, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["second"] = statistics.median(out["later"])
    return out


if __name__ == "__main__":
    sys.exit(main())
