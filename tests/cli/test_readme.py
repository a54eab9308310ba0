"""The README's two commands stay true: CI runs the second one verbatim."""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path

from lrlab.cli import main

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block and text.index(block.group(0)) < text.index("## "), "commands come first"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands():
    setup_run, setup_test = readme_commands()
    assert setup_run.endswith("lrlab")
    assert "pytest" in setup_test


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_commands()[1] in ci.splitlines()


def test_readme_says_what_a_newcomer_needs_before_the_first_launch():
    text = (ROOT / "README.md").read_text()
    before_features = text[:text.index("## ")]
    xcb = ast.literal_eval(re.search(r"^XCB_PACKAGES = (\(.*?\))$", (ROOT / "lrlab" / "gui" / "app.py").read_text(),
                                     re.S | re.M).group(1))
    assert f"sudo apt-get install {xcb}" in before_features  # the list the app itself prints
    requires = re.search(r'requires-python = "(.*?)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert f'`requires-python = "{requires}"`' in before_features
    assert "pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu" in before_features
    assert before_features.index("whl/cpu") < before_features.index("pip install -e '.[vision]' && .venv/bin/lrlab\n  ")
    assert "6 GB" in before_features and ". .venv/bin/activate" in before_features
    extras = re.search(r"\[project.optional-dependencies\](.*?)\n\n", (ROOT / "pyproject.toml").read_text(), re.S)
    assert 'dev = ["lrlab[vision,tensorboard,cluster,tables,autotune,test]"]' in extras.group(1)
    assert ("The second command installs the extra `dev`, which is `vision` + `tensorboard` + `cluster` + `tables` "
            "+ `autotune` + `test`." in text)


def test_command_line_examples_run_as_written(tmp_path, monkeypatch, capsys):
    """Every line of the README's command-line block, in order, in an empty folder."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Command line\n.*?```bash\n(.*?)```", text, re.S).group(1)
    lines = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    monkeypatch.chdir(tmp_path)
    for line in lines:
        argv = shlex.split(line, comments=True)
        assert argv[0] == "lrlab", line
        redirect = argv[argv.index(">") + 1] if ">" in argv else None
        argv = argv[:argv.index(">")] if redirect else argv
        try:
            status = main(argv[1:])
        except SystemExit as exit_:  # --help
            status = exit_.code
        out = capsys.readouterr().out
        assert status == 0, f"{line}: exit {status}"
        if redirect:
            Path(redirect).write_text(out)
    assert len(Path("lr.csv").read_text().splitlines()) == 1 + 690
    assert json.loads(Path("spec.json").read_text())["optimizer"]["lr"] == 1.5
    assert Path("compare.png").stat().st_size > 5000 and Path("tamed.lrlab").exists()


def test_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    """The "From Python" block, verbatim, in an empty folder."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## From Python\n.*?```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "identical: 69 steps" in out and "steepest" in out
    assert {p.name for p in Path("py-sweep").glob("*.lrlab")} and Path("py-sweep", "summary.json").exists()
    assert list(Path("tb", "py").glob("events.out.tfevents.*"))
    assert "py-high" in out and "py-find-lr" in out  # the library table names every session
