"""Where the first Start's imports go: ``python -X importtime`` on a first run's path, summed
per top-level package (issue 31).

    python benchmarks/bench_imports.py [--tree PATH]

Runs, in a fresh interpreter, what the app does from launch to a first run's first step: Qt and
pyqtgraph (as ``make_app`` loads them), then a digits run's trainer through one step. Prints
each top-level package's self time (ms, its share of the total) and whether scikit-learn, scipy
and ``torch._dynamo`` were imported. ``--tree`` runs another checkout's code (for a before/after
table against main).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

CODE = """
from lrlab.gui.app import make_app
app = make_app()
import lrlab.gui.window
try:
    from lrlab.core.decl.spec import RunSpec
except ImportError:  # a tree from before the core's packages (for a before/after table)
    from lrlab.core.spec import RunSpec
from lrlab.core.runs.train import Trainer
t = Trainer(RunSpec.from_json({"dataset": {"name": "digits"}, "model": {"kind": "mlp"}, "steps": 1}))
t.run()
import sys
print("IMPORTED", [m for m in ("sklearn", "scipy", "scipy.signal", "torch._dynamo") if m in sys.modules])
"""


def importtimes(tree: Path) -> tuple[Counter, list[str]]:
    env = dict(os.environ, PYTHONPATH=str(tree), QT_QPA_PLATFORM="offscreen")
    # run from the tree: ``-c`` puts the working directory first on sys.path, ahead of PYTHONPATH
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", CODE], capture_output=True, text=True,
                          env=env, check=True, cwd=tree)
    per_package: Counter = Counter()
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        per_package[name.split(".")[0]] += int(self_us)
    imported = next(line for line in proc.stdout.splitlines() if line.startswith("IMPORTED"))
    return per_package, [imported]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    args = ap.parse_args()
    per_package, imported = importtimes(args.tree)
    total = sum(per_package.values())
    print(f"imports on the first run's path: {total / 1000:.0f} ms in all ({args.tree})")
    for name, us in per_package.most_common(12):
        print(f"  {name:<16} {us / 1000:7.0f} ms  {us / total:5.1%}")
    print(" ", *imported)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
