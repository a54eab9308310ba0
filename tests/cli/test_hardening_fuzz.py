"""A sample of the third campaign's corpus (tests/fuzz_sessions.py; the whole one, 1,000+
variants, runs as a script with its figures in benchmarks/README.md): every kind of damage once,
each file through every command, the outputs that must be refused, then repair."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from fuzz_sessions import DAMAGES, SPECIAL, check, source_session, variants

#: the kinds of damage issue 30's third campaign added (one file each here)
NEW_KINDS = [k for k in {**DAMAGES, **SPECIAL} if k.startswith((
    "snapshot ", "sweep member", "fork ", "landscape", "range test", "unknown kind", "writer", "heartbeat",
    "spec of", "total steps fewer",
    "steps padded", "journal that", "zero-header", "wal that", "earlier backup", "FIFO in place"))]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return source_session(tmp_path_factory.mktemp("fuzz3"))


def test_the_new_kinds_of_damage_are_in_the_corpus():
    assert len(NEW_KINDS) >= 35


def test_every_new_kind_of_damage_ends_cleanly_everywhere(source, tmp_path):
    all_kinds = variants(source, tmp_path / "v", len(DAMAGES) + len(SPECIAL), seed=3, special=True)
    corpus = [(kind, path) for kind, path in all_kinds if kind in NEW_KINDS]
    assert {kind for kind, _ in corpus} == set(NEW_KINDS)
    problems = [f"{kind}: {p}" for kind, path in corpus for p in check(path, outputs=True, repair=True)]
    assert problems == []


def test_a_sample_of_the_older_kinds_with_outputs_and_repair(source, tmp_path):
    older = [k for k in DAMAGES if k not in NEW_KINDS]
    rng = random.Random(5)
    picked = set(rng.sample(older, 12))
    all_kinds = variants(source, tmp_path / "v", len(DAMAGES), seed=5)
    sample = [(kind, path) for kind, path in all_kinds if kind in picked]
    problems = [f"{kind}: {p}" for kind, path in sample for p in check(path, outputs=True, repair=True)]
    assert problems == []
