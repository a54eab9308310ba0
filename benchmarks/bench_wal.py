"""Why session files are written through a write-ahead log: commit cost, WAL vs rollback journal.

    python benchmarks/bench_wal.py [--rounds 5]

A 50,000-step run commits about twice a second: 200 commits of 250 step rows (the steps table's
shape) and a heartbeat, with synchronous=NORMAL as the session writer sets it, once with SQLite's
rollback journal (lrlab before WAL) and once in WAL mode including the final checkpoint and the
switch back to one file. The two alternate; the median of the rounds is printed.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

COMMITS, ROWS = 200, 250


def one_run(mode: str, folder: Path) -> float:
    con = sqlite3.connect(folder / f"{mode}.lrlab")
    con.execute(f"PRAGMA journal_mode = {mode}")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("CREATE TABLE steps (step INTEGER PRIMARY KEY, epoch INTEGER, samples INTEGER, wall_time REAL, "
                "train_loss REAL, lr REAL, grad_norm REAL, update_ratio REAL)")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    con.commit()
    t0 = time.perf_counter()
    for c in range(COMMITS):
        rows = [(c * ROWS + i, 0, 0, 0.1, 0.5, 0.1, 0.2, None) for i in range(ROWS)]
        con.executemany("INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('heartbeat', ?)", (str(time.time()),))
        con.commit()
    if mode == "WAL":  # what SessionWriter.close does: one file again
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("PRAGMA journal_mode = DELETE")
    con.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    rounds = ap.parse_args().rounds
    times: dict[str, list[float]] = {"DELETE": [], "WAL": []}
    for _ in range(rounds):
        for mode in times:
            with tempfile.TemporaryDirectory() as tmp:
                times[mode].append(one_run(mode, Path(tmp)))
    journal, wal = (statistics.median(times[m]) for m in ("DELETE", "WAL"))
    print(f"{COMMITS} commits of {ROWS} steps, median of {rounds} rounds: rollback journal {journal * 1000:.0f} ms, "
          f"WAL with the final checkpoint {wal * 1000:.0f} ms: WAL / journal {wal / journal:.2f}x")


if __name__ == "__main__":
    main()
