"""Kill runs, sweeps and forks with SIGKILL at random moments; every file they leave must open.

    python tests/crash_campaign.py [--kills 50] [--seed 0]

Each kill starts a fresh interpreter training a run, a sweep (its members are sessions) or a
fork of a finished run, waits until its session file exists, then a seeded random 0-3 s more,
and sends SIGKILL. Every session file left behind must then open read-only with no repair
step: `Session.open` (the GUI and the Sessions list read through it), `lrlab info`, `lrlab export
--csv` and `lrlab compare`, with status "interrupted" and every committed step in order.
`tests/core/test_session.py` runs a sample of three; the figures of a full campaign are in
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

SPEC = {"dataset": {"name": "iris"}, "optimizer": {"name": "sgd", "lr": 0.01}, "batch_size": 8, "device": "cpu"}

SCRIPTS = {
    "run": """
        import sys
        from lrlab.core.runs import RecordedRun
        from lrlab.core.decl.spec import RunSpec
        RecordedRun(RunSpec.from_json({**SPEC, "steps": 10_000_000}), sys.argv[1]).run()
    """,
    "sweep": """
        import sys
        from lrlab.core.runs import RecordedSweep
        from lrlab.core.decl.spec import RunSpec
        RecordedSweep(RunSpec.from_json({**SPEC, "steps": 10_000_000}), [0.001, 0.01, 0.1], out=sys.argv[1]).run()
    """,
    "fork": """
        import sys
        from lrlab.core.runs import fork_session
        fork_session(sys.argv[2], 100, [], out=sys.argv[1]).run()
    """,
}


@dataclass
class Kill:
    kind: str
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    steps: int = 0


def _script(kind: str) -> str:
    return f"SPEC = {SPEC!r}\n" + textwrap.dedent(SCRIPTS[kind])


def _session_files(target: Path) -> list[Path]:
    if target.is_dir():
        return sorted(target.glob("*.lrlab"))
    return [target] if target.exists() else []


def parent_session(folder: Path) -> Path:
    """A run stopped after 200 of its 10 million steps, to fork from (a fork trains on to the
    spec's end, so it is still training when it is killed)."""
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedRun

    path = folder / "parent.lrlab"
    if not path.exists():
        RecordedRun(RunSpec.from_json({**SPEC, "steps": 10_000_000}), path, max_steps=200).run()
    return path


def kill_one(kind: str, folder: Path, rng: random.Random, parent: Path | None = None) -> Kill:
    target = folder / (f"{kind}-{rng.randrange(10**9)}" + ("" if kind == "sweep" else ".lrlab"))
    args = [sys.executable, "-c", _script(kind), str(target)] + ([str(parent)] if kind == "fork" else [])
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kill = Kill(kind)
    try:
        deadline = time.monotonic() + 120
        while not _session_files(target) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 3.0))
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
    if proc.returncode != -signal.SIGKILL:
        kill.problems.append(f"the {kind} ended by itself ({proc.returncode}): {err.decode()[-300:]}")
    kill.files = _session_files(target)
    for f in kill.files:
        kill.problems += [f"{f.name}: {p}" for p in check_file(f, folder)]
        kill.steps += _steps(f)
    return kill


def _steps(path: Path) -> int:
    from lrlab.core.storage.session import Session

    with contextlib.suppress(Exception), Session.open(path) as s:
        return s.n_steps()
    return 0


def check_file(path: Path, folder: Path) -> list[str]:
    """What a user would meet opening ``path``: [] when every way in works."""
    from lrlab.cli import main
    from lrlab.core.storage.session import Session, SessionError

    problems = []
    try:
        with Session.open(path) as s:
            if s.status != "interrupted":
                problems.append(f"status {s.status}, expected interrupted")
            steps = s.steps(("step",))["step"].tolist()
            if steps != list(range(steps[0], steps[0] + len(steps))) if steps else False:
                problems.append("steps missing or out of order")
    except SessionError as err:
        problems.append(f"Session.open: {err}")
    out = folder / f"{path.stem}.csv"
    for argv in (["info", str(path)], ["export", str(path), "--csv", str(out)], ["compare", str(path), str(path)]):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
        if code != 0:
            problems.append(f"lrlab {argv[0]}: exit {code}: {err.getvalue().strip()[-200:]}")
    with contextlib.suppress(OSError):
        out.unlink()
    return problems


def campaign(kills: int, seed: int, folder: Path) -> list[Kill]:
    rng = random.Random(seed)
    parent = parent_session(folder)
    kinds = ["run", "sweep", "fork"]
    return [kill_one(kinds[i % 3], folder, rng, parent) for i in range(kills)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LRLAB_HOME"] = str(Path(tmp) / "home")
        t0 = time.perf_counter()
        results = campaign(args.kills, args.seed, Path(tmp))
        files = sum(len(k.files) for k in results)
        bad = [p for k in results for p in k.problems]
        wal_left = sum(1 for k in results for f in k.files if Path(f"{f}-wal").exists())
        print(f"{len(results)} kills ({', '.join(f'{sum(k.kind == x for k in results)} {x}' for x in SCRIPTS)}), "
              f"{files} session files, {sum(k.steps for k in results):,} committed steps, {wal_left} with a "
              f"write-ahead log left; {len(bad)} problems; {time.perf_counter() - t0:.0f} s")
        for p in bad:
            print("  ", p)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
