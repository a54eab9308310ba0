"""Damaged sessions from others: every command ends with a result or one line (exit 2), nothing
hangs, a read never changes a file, and the window shows a message, never a traceback.

Here: the commands that draw PNG or SVG files (they need Qt offscreen); the rest are in
tests/core/test_fuzz_sessions.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_sessions import DAMAGES, check, source_session, variants


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("fuzz")
    return variants(source_session(folder), folder / "v", 2 * len(DAMAGES), seed=11)


def test_every_command_ends_cleanly_on_every_damaged_file(corpus):
    assert len(corpus) >= 100 and {kind for kind, _ in corpus} == set(DAMAGES)
    problems = [f"{kind}: {p}" for kind, path in corpus for p in check(path)]
    assert problems == []


@pytest.mark.parametrize("fmt", ["png", "svg", "csv"])
def test_exports_to_a_folder_that_cannot_take_them_say_so_and_leave_nothing(corpus, tmp_path, fmt):
    from fuzz_sessions import run_cli

    source = corpus[0][1].parents[2] / "source.lrlab"
    missing = tmp_path / "no-such-folder" / f"out.{fmt}"
    argv = (["export", str(source), "--csv", str(missing)] if fmt == "csv"
            else ["compare", str(source), str(source), f"--{fmt}", str(missing)])
    rc, err, _ = run_cli(argv)
    assert rc == 2 and err.count("\n") == 1 and "cannot write there" in err and str(missing) in err
    assert not missing.parent.exists()
