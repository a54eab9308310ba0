"""Start-to-first-metrics of a fresh window's first Start, against later Starts (issue 14).

    QT_QPA_PLATFORM=offscreen python tests/first_start.py [--after SECONDS]

Run in a fresh interpreter (nothing imported yet, as for a user who just launched lrlab).
Without ``--after`` the first Start is pressed once the window's background warm-up has
finished; with it, that many seconds after the window was shown, finished or not. Prints one
JSON line: the warm-up's duration (or null), the first Start's and three later Starts' seconds
to their first metrics, and the modules the first Start imported. ``test_gui.py`` and
``benchmarks/bench_gui.py`` both run it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--after", type=float, default=None)
    args = ap.parse_args()
    from guitools import QUICK

    from lrlab.core.decl.spec import RunSpec
    from lrlab.gui.app import make_app
    from lrlab.gui.window import MainWindow

    app = make_app()
    window = MainWindow()
    window.show()
    window.experiment.set_json(RunSpec.from_json(dict(QUICK, epochs=5)).to_json())
    t0 = time.perf_counter()
    limit = args.after if args.after is not None else 120.0
    while time.perf_counter() - t0 < limit and (args.after is not None or not window.experiment.warmed):
        app.processEvents()
        time.sleep(0.005)
    warm_s = time.perf_counter() - t0 if window.experiment.warmed and args.after is None else None

    def start_to_first_metrics() -> float:
        got: list[float] = []
        window.controller.sig_metrics.connect(lambda u: got.append(time.perf_counter()) if u.n and not got else None)
        start = time.perf_counter()
        window.start()
        while not got:
            app.processEvents()
            time.sleep(0.001)
        while not (window.controller.state == "idle" and window.controller.thread is None):
            app.processEvents()
            time.sleep(0.005)
        return got[0] - start

    before = set(sys.modules)
    first = start_to_first_metrics()
    imported = sorted(set(sys.modules) - before)
    later = [start_to_first_metrics() for _ in range(3)]
    print(json.dumps({"warm_s": warm_s, "first": first, "later": later, "imported": imported}), flush=True)
    os._exit(0)  # no teardown: the figures are printed


if __name__ == "__main__":
    main()
