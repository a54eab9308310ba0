"""Text a user types and files a user names: bounded parsing, outputs written whole or refused.

Issue 30's findings, each once a traceback or a silent success: 5,000-digit numbers and deeply
nested JSON in --set, --edit and the landscape's short specs; --png and --csv to a missing
folder, a folder, a device, or one of the command's own inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrlab.cli import main
from lrlab.core.decl.params import MAX_DEPTH, SpecError, loads

HUGE = "1" * 5000
DEEP = "[" * 5000 + "]" * 5000


def test_every_user_json_parse_is_bounded():
    assert loads('{"kind": "scale", "factor": 0.5}', "--edit 3") == {"kind": "scale", "factor": 0.5}
    assert loads("cosine", "--set schedule.kind", bare_words=True) == "cosine"
    for text, message in ((HUGE, "a number of 5,000 digits"), (f"[{HUGE}.5]", "a number of 5,002 characters"),
                          (DEEP, f"nested more than {MAX_DEPTH} levels deep"),
                          ("[" * 30 + "]" * 30, f"nested more than {MAX_DEPTH} levels deep"),
                          ("x" * 100_001, "too long (100,001 characters")):
        with pytest.raises(SpecError, match="--set x") as err:
            loads(text, "--set x", bare_words=True)
        assert message in str(err.value) and len(str(err.value)) < 300


@pytest.mark.parametrize("args, message", [
    (["run", "lr-well-chosen", "-s", f"optimizer.lr={HUGE}"], "--set optimizer.lr: not a usable value: a number"),
    (["run", "lr-well-chosen", "-s", f"schedule={DEEP}"], "--set schedule: nested more than"),
    (["run", "lr-well-chosen", "--edit", f"5:{DEEP}"], "--edit 5: nested more than"),
    (["run", "lr-well-chosen", "--edit", "²:{}"], "--edit: expected STEP:JSON"),  # a Unicode digit
    (["run", "lr-well-chosen", "--edit", f"{HUGE}:{{}}"], "--edit: expected STEP:JSON"),
    (["landscape", "quadratic", "--opt", f"sgd:lr={HUGE}"], "--opt 1: lr: not a usable value: a number"),
    (["landscape", "quadratic", "--schedule", f"cosine:T_max={HUGE}"], "--schedule 1: T_max: not a usable"),
    (["landscape", "quadratic", "--opt", '{"a":' * 3000 + "1" + "}" * 3000], "--opt 1: nested more than"),
    (["landscape", "quadratic", "--edit", "²:{}"], "--edit: expected STEP:JSON"),
])
def test_bounded_input_gets_one_line_and_exit_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lrlab: error: {message}") and err.count("\n") == 1 and len(err) < 400, err


@pytest.mark.parametrize("flag", ["--png", "--csv"])
def test_landscape_outputs_are_written_whole_or_refused(flag, tmp_path, capsys):
    base = ["landscape", "quadratic", "--opt", "sgd:lr=0.1", "--steps", "20"]
    fifo = tmp_path / "pipe"
    import os

    os.mkfifo(fifo)
    for target, why in ((tmp_path / "missing" / "x", "the folder"), (tmp_path, "it exists and is a folder"),
                        (fifo, "it exists and is a FIFO")):
        assert main([*base, flag, str(target)]) == 2
        assert why in capsys.readouterr().err
    out = tmp_path / f"ok.{flag[2:]}"
    assert main([*base, flag, str(out)]) == 0 and out.stat().st_size > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["pipe", out.name])  # no .part left


def test_compare_never_draws_over_its_own_inputs(tmp_path, capsys):
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedRun

    paths = []
    for lr in (0.05, 0.1):
        run = RecordedRun(RunSpec.from_json({"dataset": {"name": "iris"}, "epochs": 1,
                                             "optimizer": {"name": "sgd", "lr": lr}}), tmp_path / f"{lr}.lrlab")
        run.run()
        paths.append(str(run.path))
    before = Path(paths[0]).read_bytes()
    for flag in ("--png", "--svg", "--csv"):
        assert main(["compare", *paths, flag, paths[0]]) == 2
        assert "it is the input" in capsys.readouterr().err
    assert Path(paths[0]).read_bytes() == before


def test_a_long_schedule_is_printed_in_pieces_not_held_whole(capsys):
    """`lrlab schedule cosine-warmup --steps 100000000 --json` held 3.5 GB: the LRs are computed
    and printed a bounded piece at a time, with the same text as before."""
    import json
    import tracemalloc

    import numpy as np

    from lrlab import api

    assert main(["schedule", "cosine-warmup", "--steps", "250000", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["lr"] == api.schedule("cosine-warmup", 250000).tolist()  # across the 100,000-step pieces
    assert main(["schedule", "cosine-warmup", "--steps", "250000"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "step,lr" and rows[100_001] == f"100000,{printed['lr'][100000]!r}" and len(rows) == 250_001

    class Sink:  # a terminal or a pipe: what is printed is not kept
        def write(self, text: str) -> int:
            return len(text)

        def writelines(self, lines) -> None:
            for _ in lines:
                pass

        def flush(self) -> None:
            pass

    import sys

    real, sys.stdout = sys.stdout, Sink()
    tracemalloc.start()
    try:
        assert main(["schedule", "cosine-warmup", "--steps", "1000000", "--json"]) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        sys.stdout = real
    held_whole = np.zeros(1_000_000).nbytes * 4  # the array, its float objects and their text: far more
    assert peak < held_whole / 2, f"{peak / 1e6:.0f} MB"


def landscape_argvs(n: int, seed: int = 0) -> list[list[str]]:
    """Seeded mutations of the landscape command's arguments: the short specs' names, keys and
    values, starts, steps, seeds and edits, as a careless or hostile user types them."""
    import random

    rng = random.Random(seed)
    values = ["0.1", "-1", "0", "1e400", "nan", HUGE[:200], "²", "٣", "[]", "{}", "[1,2", '{"a":' * 40 + "1" + "}" * 40,
              "true", "null", "run", "25%", "3ep", "", ":", "0.9:0.999", "x" * 300, "\x00", "1:2:3:4"]
    names = {"opt": ["sgd", "adam", "adamw", "rmsprop", "adagrad", "sgdd", "", "{}"],
             "schedule": ["constant", "cosine", "warmup", "sequence", "plateau", "cyclic", "onecycle", "nope"],
             "surface": ["quadratic", "rosenbrock", "beale", "himmelblau", "saddle", "noisy_bowl", "quadratik"]}
    keys = ["lr", "momentum", "betas", "T_max", "gamma", "condition", "noise", "then", "schedules", "max_lr", "zz"]

    def short(kind: str) -> str:
        items = [f"{rng.choice(keys)}={rng.choice(values)}" for _ in range(rng.randrange(3))]
        return rng.choice(names[kind]) + (":" + ",".join(items) if items else "")

    out = []
    for _ in range(n):
        argv = ["landscape", short("surface")]
        for _ in range(rng.randrange(4)):
            argv += ["--opt", short("opt")]
        for flag, make in (("--schedule", lambda: short("schedule")), ("--start", lambda: rng.choice(values)),
                           ("--steps", lambda: rng.choice(["1", "30", "0", "-3", HUGE[:30], "²"])),
                           ("--seed", lambda: rng.choice(["1", "-1", "x"])),
                           ("--edit", lambda: rng.choice(["5:", "5:{}", "²:{}", f"5:{rng.choice(values)}",
                                                          '5:{"kind":"scale","factor":0.5,"trajectory":9}']))):
            if rng.random() < 0.3:
                argv.append(f"{flag}={make()}")
        out.append(argv)
    return out


def test_landscape_arguments_from_a_careless_or_hostile_user_end_cleanly(capsys):
    """Keep it found (issue 30): 150 seeded mutations of the landscape command's arguments each
    end with a result (exit 0) or one line on stderr (exit 2), never a traceback."""
    problems = []
    for argv in landscape_argvs(150):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's own refusals (a flag's type)
            code = exit_.code
        except Exception as err:  # a traceback the user would have seen
            problems.append(f"{argv}: {type(err).__name__}: {str(err)[:200]}")
            continue
        err = capsys.readouterr().err.strip()
        if code not in (0, 2) or (code == 2 and err.count("\n") > 0 and not err.startswith("usage:")):
            problems.append(f"{argv}: exit {code}: {err[-300:]}")
    assert problems == []
