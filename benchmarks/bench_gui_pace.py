"""The live window's pace, A/B in one process (issue 31): frames at least twice a second with ten
metric batches a second (before) against the pacer's floor of one frame a second with batches at
the frame pace (now), alternated round by round, each live run against the same run recorded
headless just before it (bench_gui's own functions).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui_pace.py [--rounds 5]

Prints each setting's median ratio, its rounds, and the GUI thread's CPU share (the figure the
machine's noise moves least).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LRLAB_HOME", "/tmp/lrlab-bench")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_gui

#: name -> (the pacer's slowest frame in ms, a fixed batch interval in s or None for the frame pace)
SETTINGS = {"before (>= 2 frames/s, 10 batches/s)": (500, 0.1),
            "now (>= 1 frame/s, batches at the frame pace)": (1000, None)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    import lrlab.gui.pacing as pacing
    from lrlab.gui.app import make_app
    from lrlab.gui.window import MainWindow

    paced = pacing.batch_seconds
    app = make_app()
    window = MainWindow()
    window.resize(1440, 900)
    window.show()
    while not window.experiment.warmed:
        app.processEvents()
        time.sleep(0.05)
    bench_gui.gui_rate(app, window, probe=False)  # the window's first run: warms its curves up
    ratios: dict[str, list[float]] = {name: [] for name in SETTINGS}
    cpu: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for _ in range(args.rounds):
        for name, (max_ms, batch) in SETTINGS.items():
            headless = bench_gui.headless_rate()
            window.plots.pacer.max_ms = max_ms
            pacing.batch_seconds = paced if batch is None else (lambda pacer, b=batch: b)
            ratios[name].append(bench_gui.gui_rate(app, window, probe=False)[0] / headless)
            cpu[name].append(bench_gui.GUI_CPU[-1])
    pacing.batch_seconds = paced
    for name in SETTINGS:
        rounds = ", ".join(f"{r:.2f}" for r in ratios[name])
        print(f"{name}: {statistics.median(ratios[name]):.2f}x headless (rounds: {rounds}); "
              f"GUI thread {statistics.median(cpu[name]):.1%} of the time")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
