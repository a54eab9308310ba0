"""Run specs from anywhere (a file, a session someone sent, --set) are checked like the user's own:
every bad value is exit 2 with one line naming the field, sizes that would not fit the machine are
refused before anything is allocated, and a replay never downloads or writes outside its folders."""

from __future__ import annotations

import json
import sqlite3

import pytest

from lrlab.cli import main
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import MAX_STEPS, RunSpec
from lrlab.core.engine.limits import MAX_PARAMETERS, check_resources, footprint

SPEC = {"dataset": {"name": "iris"}, "model": {"kind": "mlp", "hidden": [8]},
        "optimizer": {"name": "sgd", "lr": 0.1}, "steps": 12, "batch_size": 16, "device": "cpu"}


def run_cli(capsys, *args):
    """(exit status, stdout, stderr lines) of ``lrlab ARGS`` run in this process."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


@pytest.fixture
def session(tmp_path, capsys):
    """A small finished session and a way to rewrite one meta value in it, as a sender could."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    path = tmp_path / "s.lrlab"
    assert run_cli(capsys, "run", spec, "--out", path, "--quiet")[0] == 0

    def set_meta(key, change):
        con = sqlite3.connect(path)
        value = json.loads(con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])
        con.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(change(value)), key))
        con.commit()
        con.close()

    return path, set_meta


# --- values a float or an int cannot hold, nesting, splits -------------------------------------------


@pytest.mark.parametrize("changes,field,words", [
    ({"dataset": {"name": "iris", "val_fraction": 10**400}}, "dataset.val_fraction", "integer of 401 digits"),
    ({"eval_every": 10**30}, "eval_every", "at most 9,223,372,036,854,775,807"),
    ({"dataset": {"name": "moons", "random_state": 2**40}}, "dataset.random_state", "[0, 4294967295]"),
    ({"dataset": {"name": "digits"}, "steps": None, "epochs": 100_000, "batch_size": 1}, "epochs",
     f"100,000 epochs of 1,437 steps is more than the {MAX_STEPS:,} steps"),
])
def test_out_of_range_numbers_are_field_errors(changes, field, words):
    with pytest.raises(SpecError) as err:
        RunSpec.from_json({**SPEC, **changes})
    path, message = err.value.problems[0]
    assert path == field and words in message


def test_a_schedule_nested_250_deep_is_refused_in_one_line(tmp_path, capsys):
    warmup = '{"kind": "warmup", "warmup_steps": 1, "then": '
    schedule = warmup * 250 + '{"kind": "constant"}' + "}" * 250  # json.dumps itself would recurse too deep
    spec = tmp_path / "deep.json"
    spec.write_text(json.dumps(SPEC)[:-1] + ', "schedule": ' + schedule + "}")
    code, _, err = run_cli(capsys, "run", spec, "--quiet", "--out", tmp_path / "x.lrlab")
    assert code == 2 and len(err) == 1
    assert err[0].startswith("lrlab: error: schedule.then.then.then...: nested more than 24 levels deep")
    assert not (tmp_path / "x.lrlab").exists()


def test_json_nested_beyond_pythons_recursion_limit_is_a_one_line_error(tmp_path, capsys):
    spec = tmp_path / "deeper.json"
    spec.write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = run_cli(capsys, "run", spec, "--quiet")
    assert code == 2
    assert err == [f"lrlab: error: {spec}: not a spec: JSON nested too deep to read (specs nest at most 24 levels)"]


def test_a_validation_fraction_that_starves_a_class_names_the_field(tmp_path, capsys):
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({**SPEC, "dataset": {"name": "iris", "val_fraction": 0.001}}))
    code, _, err = run_cli(capsys, "run", spec, "--quiet", "--out", tmp_path / "x.lrlab")
    assert code == 2 and len(err) == 1
    assert err[0] == ("lrlab: error: dataset.val_fraction: 0.001 of 150 samples leaves 1 for validation, fewer "
                      "than the 3 classes it needs; choose a fraction between 0.02 and 0.98")


# --- sizes the machine cannot hold ---------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    {**SPEC, "model": {"kind": "linear"}},
    {**SPEC, "dataset": {"name": "digits"}, "model": {"kind": "mlp", "hidden": [32, 16], "batch_norm": True}},
    {**SPEC, "dataset": {"name": "blobs", "n_features": 7, "centers": 5}, "model": {"kind": "mlp", "hidden": [9]}},
    {**SPEC, "dataset": {"name": "regression", "n_features": 12}},
    {**SPEC, "dataset": {"name": "digits"}, "model": {"kind": "cnn", "channels": [4, 8, 6], "kernel_size": 5}},
    {**SPEC, "dataset": {"name": "cifar10"}, "model": {"kind": "cnn", "channels": [16, 32]}},
])
def test_the_parameter_estimate_is_the_built_models_count(data):
    """The limit is checked on an estimate made before anything is built: it must be exact."""
    from lrlab.core.decl.datasets import DECLARED
    from lrlab.core.engine.models import build_model, count_parameters

    spec = RunSpec.from_json(data)
    info = DECLARED[spec.dataset.kind]
    shape = info.image_shape if info.family.name == "images" else (info.n_features(spec.dataset.params),)
    outputs = 1 if info.task == "regression" else (
        info.classes or spec.dataset.get("centers"))
    model = build_model(spec.model, tuple(shape), outputs, info.image_shape)
    assert footprint(spec).parameters == count_parameters(model)


def test_huge_layers_from_a_session_are_refused_before_anything_is_allocated(session, capsys):
    path, set_meta = session
    set_meta("spec", lambda spec: {**spec, "model": {**spec["model"], "hidden": [65536, 65536]}})
    code, _, err = run_cli(capsys, "replay", path)
    n = 4 * 65536 + 65536 + 65536 * 65536 + 65536 + 65536 * 3 + 3  # iris: 4 inputs, 3 classes
    assert code == 2 and err == [f"lrlab: error: model.hidden: the model would have {n:,} parameters, "
                                 f"more than the {MAX_PARAMETERS:,} lrlab trains; use smaller layers or fewer inputs"]


def test_memory_is_estimated_against_what_is_available():
    big = RunSpec.from_json({**SPEC, "dataset": {"name": "classification", "n_samples": 1_000_000,
                                                 "n_features": 1000}, "model": {"kind": "linear"}})
    with pytest.raises(SpecError) as err:
        check_resources(big, available=8 * 2**30)
    assert err.value.problems == [("dataset.n_samples", "the run would need about 29.8 GiB of memory (data 29.8 GiB) "
                                                        "but 8 GiB are available; make dataset.n_samples smaller")]
    assert check_resources(RunSpec.from_json(SPEC), available=8 * 2**30).total < 2**20
    sweep = RunSpec.from_json({**SPEC, "dataset": {"name": "mnist"},
                               "model": {"kind": "mlp", "hidden": [4096, 4096]}})
    check_resources(sweep, members=1, available=8 * 2**30)
    with pytest.raises(SpecError, match=r"^model.hidden: the run would need about .* but 8 GiB are available"):
        check_resources(sweep, members=32, available=8 * 2**30)  # a sweep holds one model per member


def test_a_cuda_run_is_checked_against_the_gpus_free_memory(monkeypatch):
    """On a GPU the data, models and activations must fit in what is free on it (steps kept stay
    on the host); the CPU and MPS are left to the host's check. Tested by stubbing the driver's
    answer: this machine has no GPU."""
    import torch

    asked = []
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda d: asked.append(d) or (256 * 2**20, 16 * 2**30))
    wide = RunSpec.from_json({**SPEC, "dataset": {"name": "mnist"}, "model": {"kind": "mlp", "hidden": [4096, 4096]}})
    gpu = torch.device("cuda:0")
    check_resources(wide, available=64 * 2**30)  # the host has room: no device named, no GPU asked
    check_resources(wide, available=64 * 2**30, device=torch.device("cpu"))
    assert asked == []
    with pytest.raises(SpecError) as err:
        check_resources(wide, available=64 * 2**30, device=gpu)
    assert asked == [gpu]
    ((field, message),) = err.value.problems
    # 784-4096-4096-10: 20,037,642 parameters x 24 bytes = 459 MiB; + 60,000 uint8 images 135 MiB
    assert field == "model.hidden" and message == ("the run would need about 599 MiB of memory on cuda:0 (model "
                                                   "459 MiB) but 256 MiB are free on cuda:0; make model.hidden smaller")
    check_resources(RunSpec.from_json(SPEC), available=64 * 2**30, device=gpu)  # iris fits anywhere


def test_runs_and_sweeps_check_their_own_device(monkeypatch):
    import lrlab.core.runs.sweep as sweep
    import lrlab.core.runs.train as train

    seen = []
    for module in (train, sweep):
        monkeypatch.setattr(module, "check_resources", lambda spec, members=1, device=None: seen.append(device))
    train.Trainer(RunSpec.from_json(SPEC))
    sweep.Sweep(RunSpec.from_json(SPEC), lrs=[0.01, 0.1])
    assert [str(d) for d in seen] == ["cpu", "cpu"]


# --- meta values a session may not dictate ---------------------------------------------------------------


@pytest.mark.parametrize("threads,shown", [(100_000, "100000"), ("many", '"many"'), (0, "0")])
def test_recorded_threads_are_checked_like_a_specs(session, capsys, threads, shown):
    path, set_meta = session
    set_meta("environment", lambda env: {**env, "threads": threads})
    code, _, err = run_cli(capsys, "replay", path, "--verify")
    assert code == 2 and err == [f"lrlab: error: environment.threads: must be an integer in [1, 1024], got {shown}"]


def test_a_replay_never_downloads_or_creates_folders(session, capsys, tmp_path):
    path, set_meta = session
    root = tmp_path / "elsewhere" / "data"
    set_meta("spec", lambda spec: {**spec, "dataset": {"name": "mnist", "root": str(root), "download": True},
                                   "model": {"kind": "linear"}})
    code, _, err = run_cli(capsys, "replay", path)
    assert code == 2 and len(err) == 1 and err[0].startswith("lrlab: error: dataset.")
    assert "--download" in err[0] or "torchvision" in err[0]
    assert not (tmp_path / "elsewhere").exists()


# --- the settings file holds data only, and the GUI always starts -------------------------------------


# --- a full disk while a run writes its session ----------------------------------------------------------


def test_a_full_disk_stops_the_file_not_the_run_and_save_as_writes_all_of_it(full_disk, tmp_path):
    from lrlab.core.runs import RecordedRun
    from lrlab.core.storage.session import Session, SessionError

    run = RecordedRun(RunSpec.from_json({**SPEC, "steps": 100}), tmp_path / "full.lrlab")
    run.runner.flush_seconds = 0  # an update (and a commit) every step: the file stops at step 40 exactly
    assert run.run() == "finished" and run.runner.step == 100
    assert run.failure == "the session file stopped at step 40: database or disk is full"
    assert [(e.step, e.data["message"]) for e in run.runner.events if e.kind == "session_write_failed"] == [
        (41, run.failure)]
    with Session.open(tmp_path / "full.lrlab") as s:  # what was committed is intact
        assert s.n_steps() == 40  # (and its status says running until this process ends: interrupted)
    out = run.save_as(tmp_path / "elsewhere.lrlab")
    with Session.open(out) as s:
        assert s.n_steps() == 100 and s.status == "finished" and s.spec == run.runner.spec
        assert s.steps()["lr"].tolist() == run.kept.column("lr").tolist()
        assert s.events()[0].kind == "session_write_failed" and s.summary["steps"] == 100
    with pytest.raises(SessionError, match=r"full\.lrlab: cannot save the session there: database or disk is full"):
        run.save_as(tmp_path / "full.lrlab")  # the same full disk: said, not a traceback


def test_the_cli_ends_with_exit_1_and_one_line_when_the_disk_fills(full_disk, tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**SPEC, "steps": 600}))
    full_disk[0] = 0
    code, out, err = run_cli(capsys, "run", spec, "--out", tmp_path / "full.lrlab", "--quiet")
    assert code == 1 and out == "" and len(err) == 1
    assert err[0] == (f"lrlab: error: the session file stopped at step 0: database or disk is full; the run went on "
                      f"and ended finished after 600 steps, which {tmp_path / 'full.lrlab'} does not have")


@pytest.mark.parametrize("changes", [
    ["schedule.mode=triangular2", "schedule.step_size_up=1", "steps=2100"],  # OverflowError at step 1857
    ['schedule={"kind":"exponential","gamma":2}', "steps=3000"],  # past float range, and torch's float32
])
def test_schedules_that_used_to_overflow_mid_run_now_run_to_the_end(capsys, tmp_path, changes):
    sets = [a for change in changes for a in ("--set", change)]
    code, out, err = run_cli(capsys, "run", "cyclic-triangular", *sets, "--out", tmp_path / "s.lrlab", "--quiet")
    assert code == 0 and not [line for line in err if not line.startswith("lrlab: warning:")]
    assert out.splitlines()[1].startswith(("finished, 2100 steps", "diverged, "))


def test_a_seeded_sample_of_mutated_specs_ends_cleanly(tmp_path):
    """60 of the ~300-spec corpus (python tests/specfuzz.py runs them all): a result or exit 2 with
    one line, no traceback, none over 10 s."""
    from specfuzz import corpus, run_one

    outcomes = [run_one(what, text, tmp_path) for what, text in corpus(60, seed=1)]
    assert [o for o in outcomes if not o.clean] == []
    assert {o.code for o in outcomes} == {0, 2}  # the sample reaches both ends
