"""The conventions every ``lrlab`` command follows (like git, pip and pytest), as a user meets them:
the help lists, short flags, ``--json``, one ``--edit STEP:JSON`` grammar, ``--out`` as a file or
a folder, a "did you mean" for a mistyped preset, and headless commands that print nothing but
their output."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

import pytest
from testkit import loaded_by

from lrlab.cli import build_parser, main
from lrlab.core.storage.session import Session

TINY = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
        "optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 2, "batch_size": 16, "device": "cpu"}
ORDER = ["gui", "run", "find-lr", "sweep", "grid", "pbt", "autotune", "fork", "compare", "replay", "info", "export",
         "schedule", "landscape", "presets", "repair"]


def lrlab(*args, **env):
    return subprocess.run([sys.executable, "-m", "lrlab", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})


def cli(capsys, *argv) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``lrlab ARGV`` in this process."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:  # argparse's own errors and --help
        code = stop.code
    printed = capsys.readouterr()
    return code, printed.out, printed.err


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


@pytest.fixture
def two_sessions(spec_file, tmp_path, capsys):
    paths = [tmp_path / "a.lrlab", tmp_path / "b.lrlab"]
    assert cli(capsys, "run", spec_file, "-o", paths[0], "-q")[0] == 0
    assert cli(capsys, "run", spec_file, "-o", paths[1], "-q", "-s", "optimizer.lr=0.05")[0] == 0
    return paths


# --- the help ---------------------------------------------------------------------------------------


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """name -> parser of each subcommand, in the order the help lists them."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def flags_without_help(parser: argparse.ArgumentParser) -> list[str]:
    """The arguments of ``parser`` a user cannot read about in its --help (hidden ones excepted)."""
    return [a.option_strings[-1] if a.option_strings else a.dest for a in parser._actions
            if a.help != argparse.SUPPRESS and not (a.help or "").strip()]


def test_the_help_checker_finds_a_flag_without_help():
    p = argparse.ArgumentParser()
    p.add_argument("file", help="a file")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--old", help=argparse.SUPPRESS)
    p.add_argument("-n", "--name", help=" ")
    assert flags_without_help(p) == ["--quiet", "--name"]


def test_commands_are_listed_in_the_order_a_user_meets_them_one_line_each():
    proc = lrlab("--help", COLUMNS="80")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    listed = [line.split()[0] for line in lines if re.match(r"^    [a-z-]+ ", line)]
    assert listed == ORDER
    assert list(commands(build_parser())) == ORDER
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for action in sub._get_subactions():  # each summary whole on its command's line, within 80 columns
        line = next(line for line in lines if line.startswith(f"    {action.dest} "))
        assert line.rstrip().endswith(action.help) and len(line) <= 80, line


def test_every_command_has_a_description_with_an_example_and_help_on_every_flag():
    for name, parser in commands(build_parser()).items():
        paragraph, _, examples = parser.description.partition("\n\nexample")
        assert len(paragraph.split()) >= 12, name  # a paragraph, not a title
        assert f"lrlab {name}" in examples, name
        assert flags_without_help(parser) == [], name


def test_the_examples_in_the_help_are_valid_command_lines():
    import shlex

    parser = build_parser()
    for name, sub in commands(parser).items():
        examples = sub.description.partition("\n\nexample")[2].splitlines()[1:]
        assert examples, name
        for line in examples:
            argv = shlex.split(line.split(" > ")[0])
            assert argv[0] == "lrlab", line
            args = parser.parse_args(argv[1:])  # argparse exits on a flag that does not exist
            assert args.command == argv[1]


def test_compare_lists_its_metrics_in_the_help_not_in_the_usage_line():
    from lrlab.cli.compare import X_AXES as CLI_X_AXES
    from lrlab.core.decl.metrics import METRICS
    from lrlab.core.features.compare import X_AXES

    assert CLI_X_AXES == X_AXES
    proc = lrlab("compare", "--help", COLUMNS="200")
    usage, _, rest = proc.stdout.partition("\n\n")
    assert "--metric METRIC" in usage and "train_loss" not in usage and "{" not in usage
    assert ", ".join(METRICS) in " ".join(rest.split())  # however argparse wraps the list


def test_out_is_a_folder_for_sweep_and_a_file_for_the_commands_that_write_one_session():
    writers = {name: next(a for a in p._actions if "--out" in a.option_strings)
               for name, p in commands(build_parser()).items() if "--out" in p._option_string_actions}
    assert set(writers) == {"run", "find-lr", "sweep", "grid", "pbt", "autotune", "fork", "replay", "landscape"}
    for name, action in writers.items():
        assert action.option_strings == ["-o", "--out"]
        if name in ("sweep", "grid", "pbt", "autotune"):
            assert action.metavar == "DIR" and action.help.startswith("folder to write")
        else:
            assert action.metavar == "FILE" and action.help.startswith("file to write"), name


def test_short_flags_exist_wherever_their_long_forms_do():
    for name, parser in commands(build_parser()).items():
        for short, long in (("-o", "--out"), ("-q", "--quiet"), ("-s", "--set")):
            if long in parser._option_string_actions:
                assert parser._option_string_actions[short] is parser._option_string_actions[long], (name, long)


def test_each_command_is_one_module_with_its_parser_beside_its_body():
    import pkgutil

    import lrlab.cli as cli_package
    from lrlab.cli import COMMANDS

    modules = {m.name for m in pkgutil.iter_modules(cli_package.__path__)} - {"common"}
    assert {m.__name__.rsplit(".", 1)[1] for m in COMMANDS} == modules
    assert [m.__name__.rsplit(".", 1)[1].replace("_", "-") for m in COMMANDS] == ORDER
    for module in COMMANDS:
        assert callable(module.add_parser) and callable(module.execute), module.__name__


def test_the_help_loads_neither_torch_nor_numpy_nor_qt():
    """``lrlab --help`` and a typo in a flag answer without the heavy imports."""
    code = ("import sys\nfrom lrlab.cli import build_parser\nbuild_parser()")
    assert loaded_by(code, ('torch', 'numpy', 'PySide6')) == []


# --- short flags at work --------------------------------------------------------------------------


def test_run_sweep_and_replay_take_the_short_flags(spec_file, tmp_path, capsys):
    out = tmp_path / "short.lrlab"
    code, printed, err = cli(capsys, "run", spec_file, "-o", out, "-q", "-s", "epochs=1", "-s", "optimizer.lr=0.2")
    assert code == 0 and err == ""  # -q: no progress bar
    assert printed.splitlines()[0] == str(out)
    with Session.open(out) as s:
        assert s.n_steps() == 8 and s.spec_json["optimizer"]["lr"] == 0.2
    folder = tmp_path / "sweep"
    code, printed, err = cli(capsys, "sweep", spec_file, "--lrs", "0.05,0.1", "-o", folder, "-q", "-s", "epochs=1")
    assert code == 0 and err == ""
    assert printed.splitlines()[0] == str(folder) and len(list(folder.glob("*.lrlab"))) == 2
    again = tmp_path / "again.lrlab"
    code, printed, err = cli(capsys, "replay", out, "--verify", "-o", again, "-q")
    assert code == 0 and printed.splitlines()[-1] == "identical: 8 steps" and again.exists()


# --- --json -------------------------------------------------------------------------------------------


def test_compare_json(two_sessions, tmp_path, capsys):
    table = tmp_path / "long.csv"
    code, printed, err = cli(capsys, "compare", *two_sessions, "--json", "--target", "train_loss<=10",
                             "--csv", table)
    assert code == 0
    data = json.loads(printed)  # stdout holds the JSON alone; the file written is named on stderr
    assert err.startswith(f"{table}: ") and err.endswith(" rows\n")
    assert data["metric"] == "train_loss" and data["x"] == "step" and data["target"] == "train_loss <= 10"
    assert [s["path"] for s in data["sessions"]] == [str(p) for p in two_sessions]
    for s in data["sessions"]:
        assert s["status"] == "finished" and s["steps"] == 16 and s["target_step"] == 0
        assert 0 < s["final_val_metric"] <= 1 and s["final_val_loss"] > 0
    assert {"field": "optimizer.lr", "values": [0.1, 0.05]} in data["differences"]
    assert all(d["field"] != "dataset.name" for d in data["differences"])  # only what differs


def test_presets_json(capsys):
    code, printed, _ = cli(capsys, "presets", "--json")
    assert code == 0
    presets = json.loads(printed)
    code, text, _ = cli(capsys, "presets")
    assert [p["name"] for p in presets] == [line.split()[0] for line in text.splitlines()]
    high = next(p for p in presets if p["name"] == "lr-too-high")
    assert high["title"] in text and high["explanation"] and high["spec"]["optimizer"]["lr"] == 1.5


def test_schedule_json(capsys):
    code, printed, err = cli(capsys, "schedule", "step-decay", "--steps", "3", "--lr", "0.5", "--json")
    assert code == 0 and err == ""
    data = json.loads(printed)
    assert data["base_lr"] == 0.5 and data["lr"] == [0.5, 0.5, 0.5] and data["schedule"]["kind"] == "step"


def test_run_and_landscape_json(spec_file, tmp_path, capsys):
    code, printed, _ = cli(capsys, "run", spec_file, "-o", tmp_path / "j.lrlab", "-q", "--json")
    info = json.loads(printed)
    assert code == 0 and info["file"] == str(tmp_path / "j.lrlab") and info["status"] == "finished"
    assert info["steps"] == 16
    code, printed, _ = cli(capsys, "landscape", "quadratic", "--opt", "sgd:lr=0.1", "--opt", "sgd:lr=0.25",
                           "--steps", "80", "--json")
    data = json.loads(printed)
    assert code == 0 and data["steps"] == 80
    assert [(t["trajectory"], t["status"]) for t in data["trajectories"]] == [(1, "converged"), (2, "diverged")]


# --- one --edit grammar ---------------------------------------------------------------------------


@pytest.fixture
def parent(spec_file, tmp_path, capsys):
    path = tmp_path / "parent.lrlab"
    assert cli(capsys, "run", spec_file, "-o", path, "-q")[0] == 0
    return path


def test_fork_edit_without_a_step_applies_at_the_fork_step(parent, tmp_path, capsys):
    decay = {"kind": "scale", "factor": 0.1}
    branches = []
    for i, edit in enumerate((json.dumps(decay), "8:" + json.dumps(decay))):
        out = tmp_path / f"branch{i}.lrlab"
        assert cli(capsys, "fork", parent, "--at", "8", "--edit", edit, "-o", out, "-q")[0] == 0
        with Session.open(out) as s:
            assert s.edits() == [(8, decay)]
            steps = s.steps()
            branches.append(dict(zip(steps["step"].tolist(), steps["lr"].tolist(), strict=True)))
    assert branches[0] == branches[1] and branches[0][8] == pytest.approx(0.01)


@pytest.mark.parametrize(("command", "edit", "message"), [
    (["run", "{spec}"], "x:{}", "--edit: expected STEP:JSON with STEP a whole number >= 0, got 'x:{}'"),
    (["landscape", "quadratic"], "x:{}", "--edit: expected STEP:JSON with STEP a whole number >= 0, got 'x:{}'"),
    (["fork", "{parent}", "--at", "4"], "x:{}",
     "--edit: expected JSON (at the fork step) or STEP:JSON with STEP a whole number >= 0, got 'x:{}'"),
    (["run", "{spec}"], '{"kind":"scale","factor":0.1}', "--edit: expected STEP:JSON"),
    (["run", "{spec}"], "3:{oops", "--edit 3: not valid JSON"),
    (["landscape", "quadratic"], "3:{oops", "--edit 3: not valid JSON"),
    (["fork", "{parent}", "--at", "4"], "3:{oops", "--edit 3: not valid JSON"),
    (["fork", "{parent}", "--at", "4"], "{oops", "--edit 4: not valid JSON"),
    (["run", "{spec}"], '5:{"kind":"scale"}', "--edit 5.factor: is required"),
    (["landscape", "quadratic"], '5:{"kind":"scale"}', "--edit 5.factor: is required"),
    (["fork", "{parent}", "--at", "4"], '{"kind":"scale"}', "--edit 4.factor: is required"),
])
def test_one_edit_grammar_and_one_set_of_messages(command, edit, message, spec_file, parent, tmp_path, capsys):
    argv = [a.format(spec=spec_file, parent=parent) for a in command]
    code, _, err = cli(capsys, *argv, "--edit", edit, "-o", tmp_path / "no.lrlab")
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "no.lrlab").exists()


# --- a mistyped preset ----------------------------------------------------------------------------


def test_a_mistyped_preset_gets_did_you_mean_and_a_pointer_to_the_list():
    proc = lrlab("run", "lr-to-high")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("lrlab: error: lr-to-high: no such file or preset, did you mean 'lr-too-high'? "
                           "('lrlab presets' lists the presets)\n")


@pytest.mark.parametrize("argv", [["sweep", "lr-to-high", "--lrs", "0.1"], ["find-lr", "lr-to-high"],
                                  ["schedule", "lr-to-high"], ["gui", "--run", "lr-to-high"]])
def test_every_command_that_takes_a_preset_says_the_same(argv, capsys):
    code, out, err = cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err == ("lrlab: error: lr-to-high: no such file or preset, did you mean 'lr-too-high'? "
                   "('lrlab presets' lists the presets)\n")


def test_a_missing_file_in_a_folder_is_not_taken_for_a_preset(tmp_path, capsys):
    code, _, err = cli(capsys, "run", tmp_path / "nothing.json")
    assert code == 2 and err == f"lrlab: error: {tmp_path / 'nothing.json'}: no such file\n"
    code, _, err = cli(capsys, "run", "zzzzzz")
    assert code == 2 and err == "lrlab: error: zzzzzz: no such file or preset ('lrlab presets' lists the presets)\n"


# --- headless commands print nothing but their output ---------------------------------------------


def test_headless_commands_print_nothing_on_stderr(two_sessions, tmp_path):
    """Qt's offscreen platform used to add 'This plugin does not support propagateSizeHints()'."""
    runs = [("landscape", "quadratic", "--opt", "sgd:lr=0.1", "--png", tmp_path / "l.png"),
            ("compare", *two_sessions, "--png", tmp_path / "c.png", "--svg", tmp_path / "c.svg"),
            ("find-lr", two_sessions[0].with_name("tiny.json"), "--iters", "20", "--seeds", "1", "-q",
             "-o", tmp_path / "f.lrlab", "--png", tmp_path / "f.png"),
            ("info", two_sessions[0])]
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}  # as a user types it, no display set up
    for argv in runs:
        proc = subprocess.run([sys.executable, "-m", "lrlab", *map(str, argv)], capture_output=True, text=True,
                              timeout=300, env=env)
        assert proc.returncode == 0 and proc.stdout and proc.stderr == "", (argv, proc.stderr)
    for name in ("l.png", "c.png", "f.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")
