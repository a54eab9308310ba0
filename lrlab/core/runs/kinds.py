"""The run kinds, each declared once: everything a client needs to know about a kind of run.

The API, the CLI, the GUI's worker, controller and window, the fork code and the Ray code never
ask "is this a sweep?": they read the kind's :class:`RunKind` (is it recorded as one session or
one per member, can it be forked, how is its progress line made...) and build its runs with
:func:`lrlab.core.runs.record`. A new kind of run is its runner module, its test, one line in
:data:`RUN_KINDS` below and, for the desktop app, its view (:mod:`lrlab.gui.views`).

This module imports neither torch nor the runners: the GUI reads these records while its window
opens, long before torch is loaded. A runner is named by ``"module:Class"`` and imported on first
use (:attr:`RunKind.runner`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lrlab.core.decl.params import SpecError


def _load(target: str) -> Any:
    """The object ``"package.module:name"`` names (imported now, once)."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class RunKind:
    """One kind of run, as the clients see it.

    ``runner`` and the other ``"module:name"`` fields are imported on first use, so reading a
    record costs nothing (see the module docstring)."""

    name: str
    #: the runner class (:class:`lrlab.core.runs.base.Runner`), as ``"module:Class"``
    runner_path: str
    #: one line for lists and help texts
    doc: str
    #: how it is recorded: ``"session"`` (one session file) or ``"members"`` (one session per
    #: member in a new folder, the folder's name their ``group``, plus a ``summary.json``)
    recorded: Literal["session", "members"] = "session"
    #: whether a session of this kind can be forked (one model trained by the Trainer, with
    #: snapshots): "Fork here" in the window, ``lrlab fork``
    forkable: bool = False
    #: whether its spec's dataset and model are what it trained (a landscape's are placeholders:
    #: ``lrlab info`` shows its surface instead)
    trains_spec: bool = True
    #: ``"module:function"`` building the recorded run when the runner's own options are not what a
    #: client gives (a fork is started from its parent's file and step): ``(spec, out, *, label,
    #: **options) -> RecordedRun``; None: :func:`lrlab.core.runs.record` builds it from the runner
    starter: str | None = None
    #: ``"module:function"``: the words of the progress line for an Update (``update -> str``)
    progress_words: str = "lrlab.core.runs.base:progress_words"
    #: ``"module:function"``: lines ``lrlab info`` adds about a finished session of this kind, from
    #: its summary (``summary -> list[str]``); None: none
    summary_lines: str | None = None

    @property
    def runner(self) -> type:
        """The runner class (imports it, and torch with it)."""
        return _load(self.runner_path)

    @property
    def per_member(self) -> bool:
        """Recorded as one session per member in a folder (its path is the folder)."""
        return self.recorded == "members"

    def replay_options(self, session: Any) -> dict[str, Any]:
        """What a runner of this kind needs to re-run ``session`` exactly (spec and seed aside)."""
        return dict(self.runner.replay_options(session))

    def describe_progress(self, update: Any) -> str:
        """The words of a progress line for ``update`` (epoch, loss and LR for one run)."""
        return str(_load(self.progress_words)(update))

    def describe_summary(self, summary: Mapping[str, Any]) -> list[str]:
        """What ``lrlab info`` says about a finished session of this kind beyond its metrics."""
        return list(_load(self.summary_lines)(summary)) if self.summary_lines else []


#: every kind of run, by name: one line each
RUN_KINDS: dict[str, RunKind] = {k.name: k for k in (
    RunKind("train", "lrlab.core.runs.train:Trainer", "a training run", forkable=True),
    RunKind("fork", "lrlab.core.runs.fork:Fork", "a training run branched off another at a step", forkable=True,
            starter="lrlab.core.runs.recorded:start_fork"),
    RunKind("range_test", "lrlab.core.runs.range_finder:RangeTest", "the LR range test (find LR)",
            summary_lines="lrlab.core.features.lrfind:summary_lines"),
    RunKind("sweep", "lrlab.core.runs.sweep:Sweep", "K learning rates (x seeds) trained at once", recorded="members",
            progress_words="lrlab.core.runs.sweep:progress_words"),
    RunKind("grid", "lrlab.core.runs.grid:Grid", "learning rates x batch sizes, a stacked sweep per batch size",
            recorded="members", progress_words="lrlab.core.runs.grid:progress_words"),
    RunKind("sweep_member", "lrlab.core.runs.sweep:SweepMember", "one member of a sweep, replayed on its own"),
    RunKind("pbt", "lrlab.core.runs.pbt:PBT", "population-based training: members copy the best and perturb their LR",
            recorded="members", progress_words="lrlab.core.runs.sweep:progress_words"),
    RunKind("pbt_member", "lrlab.core.runs.pbt:PBTMember", "one member of a population, replayed on its own"),
    RunKind("landscape", "lrlab.core.runs.landscape:LandscapeRunner", "optimizers on a 2-D loss surface",
            trains_spec=False),
)}


def run_kind(kind: str | RunKind) -> RunKind:
    """The record of the run kind ``kind`` (a name, or a record already); SpecError names an
    unknown one (a session from a newer lrlab)."""
    if isinstance(kind, RunKind):
        return kind
    try:
        return RUN_KINDS[kind]
    except (KeyError, TypeError):
        raise SpecError([("kind", f"unknown run kind {kind!r} (this lrlab knows: "
                                  f"{', '.join(RUN_KINDS)})")]) from None


def kind_record(name: str) -> RunKind:
    """The record of the run kind ``name``; for a kind this lrlab does not know (a session from
    a newer one), a record that says nothing beyond a training run's (it can be read, not run)."""
    return RUN_KINDS.get(name) or RunKind(name, "", "a kind of run this lrlab does not know")


def register(kind: RunKind) -> RunKind:
    """Add a run kind at run time (a plug-in); the bundled kinds are the table above."""
    if kind.name in RUN_KINDS:
        raise ValueError(f"run kind {kind.name!r} is already registered")
    RUN_KINDS[kind.name] = kind
    return kind

