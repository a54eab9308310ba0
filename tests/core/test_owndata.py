"""The user's own data: tables, image folders, more torchvision sets from disk, and provenance."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch
from fakedata import write_emnist, write_image_folder, write_stl10
from testkit import loaded_by

import lrlab
from lrlab.core.decl.datasets import DECLARED, check_data, train_size
from lrlab.core.decl.spec import RunSpec, SpecError
from lrlab.core.engine import owndata
from lrlab.core.engine.data import load_dataset
from lrlab.core.engine.limits import check_resources

CPU = torch.device("cpu")


def table_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n) * 10 + 50
    colour = rng.choice(["red", "green", "blue"], n)
    return pd.DataFrame({"x1": x1, "x2": x2, "colour": colour,
                         "label": np.where(x1 + (colour == "red") > 0.5, "yes", "no"),
                         "price": 3 * x1 + 0.1 * x2 + rng.normal(size=n) * 0.1,
                         "grade": (x1 > 0).astype(int) + (x1 > 1).astype(int)})


def dataset(**data):
    return RunSpec.from_json({"dataset": data}).dataset


def spec(data, **more):
    return {"dataset": data, "model": {"kind": "mlp", "hidden": [16]}, "optimizer": {"name": "adam", "lr": 0.01},
            "batch_size": 32, "epochs": 2, "device": "cpu", **more}


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "data.csv"
    table_frame().drop(columns=["price", "grade"]).to_csv(path, index=False)
    return path


# --- tables ---------------------------------------------------------------------------------


def test_a_table_learns_with_text_labels_one_hot_colours_and_scaled_numbers(csv):
    ds = dataset(name="table", path=str(csv), target="label")
    data = load_dataset(ds, CPU)
    assert data.task == "classification" and data.n_outputs == 2
    assert data.x_train.shape[1] == 2 + 3  # two numbers and three colours
    x = data.x_train.numpy()
    assert np.allclose(x[:, :2].mean(axis=0), 0, atol=1e-5) and np.allclose(x[:, :2].std(axis=0), 1, atol=1e-4)
    assert set(np.unique(x[:, 2:])) == {0.0, 1.0} and (x[:, 2:].sum(axis=1) == 1).all()
    assert data.n_train == train_size(ds) == 160
    assert data.provenance["sha256"] == __import__("hashlib").sha256(csv.read_bytes()).hexdigest()


@pytest.mark.parametrize("target, task, outputs", [("price", "regression", 1), ("grade", "classification", 3),
                                                   ("label", "classification", 2)])
def test_the_task_follows_the_target_and_task_overrides_it(tmp_path, target, task, outputs):
    path = tmp_path / "t.tsv"
    table_frame().to_csv(path, sep="\t", index=False)
    ds = dataset(name="table", path=str(path), target=target, ignore=[c for c in ("label", "price", "grade")
                                                                      if c != target])
    assert RunSpec.from_json(spec(ds.to_json())).task == task
    data = load_dataset(ds, CPU)
    assert (data.task, data.n_outputs) == (task, outputs)
    if target == "grade":  # a few whole numbers are classes, unless the spec says otherwise
        assert load_dataset(ds.replace(task="regression"), CPU).task == "regression"


def test_parquet_reads_with_pyarrow_and_says_how_to_get_it_without(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    path = tmp_path / "t.parquet"
    table_frame().to_parquet(path)
    ds = dataset(name="table", path=str(path), target="price", ignore=["label", "grade"])
    assert load_dataset(ds, CPU).task == "regression"
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    (tmp_path / "u.parquet").write_bytes(path.read_bytes())
    with pytest.raises(SpecError, match=r"pip install 'lrlab\[tables\]'"):
        check_data(ds.replace(path=str(tmp_path / "u.parquet")))


def test_missing_values_are_named_or_dropped_or_filled_with_the_training_mean(tmp_path):
    frame = table_frame()
    frame.loc[[3, 7], "x2"] = np.nan
    frame.loc[5, "colour"] = None
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    ds = dataset(name="table", path=str(path), target="label", ignore=["price", "grade"])
    with pytest.raises(SpecError) as err:
        check_data(ds)
    assert err.value.problems[0][0] == "dataset.missing" and "x2 (2), colour (1)" in str(err.value)
    dropped = load_dataset(ds.replace(missing="drop"), CPU)
    assert len(dropped.x_train) + len(dropped.x_val) == 197
    filled = load_dataset(ds.replace(missing="mean"), CPU)
    assert len(filled.x_train) + len(filled.x_val) == 200 and torch.isfinite(filled.x_train).all()


def test_relative_paths_are_read_from_the_working_folder(csv, monkeypatch):
    monkeypatch.chdir(csv.parent)
    assert load_dataset(dataset(name="table", path="data.csv", target="label"), CPU).n_train == 160


def test_a_table_spec_validates_without_torch(csv):
    code = ("import lrlab.core.decl.spec as s\n"
            f"s.RunSpec.from_json({{'dataset': {{'name': 'table', 'path': {str(csv)!r}, 'target': 'label'}}}})\n"
            "from lrlab.core.decl.datasets import check_data\n")
    assert loaded_by(code, ("torch", "sklearn", "torchvision")) == []


@pytest.mark.parametrize("content, data, field, words", [
    (None, {"path": "nope.csv", "target": "y"}, "dataset.path", "does not exist"),
    ('a,b\n1,2\n"3,4\n', {"target": "b"}, "dataset.path", "will not parse as CSV"),
    ("a,b\n1,2\n3,4\n", {"target": "c"}, "dataset.target", "no column 'c' in t.csv; its columns: a, b"),
    ("a,b,t\n" + "".join(f"id{i},{i},{i % 2}\n" for i in range(150)), {"target": "t"}, "dataset.ignore",
     "column 'a' of t.csv is text with 150 distinct values"),
])
def test_bad_tables_are_one_line_naming_the_field(tmp_path, content, data, field, words):
    if content is not None:
        (tmp_path / "t.csv").write_text(content)
    ds = dataset(name="table", path=str(tmp_path / data.pop("path", "t.csv")), **data)
    assert RunSpec.from_json(spec(ds.to_json()))  # a spec that names absent data still opens (sessions)
    with pytest.raises(SpecError) as err:
        check_resources(RunSpec.from_json(spec(ds.to_json())))  # what every runner does first
    assert err.value.problems[0][0] == field and words in str(err.value)


def test_a_table_beyond_the_memory_limit_is_refused_naming_the_path(csv):
    with pytest.raises(SpecError, match=r"^dataset\.path: the run would need"):
        check_resources(RunSpec.from_json(spec({"name": "table", "path": str(csv), "target": "label"})),
                        available=10_000)


# --- image folders --------------------------------------------------------------------------


def test_an_image_folder_is_decoded_once_and_cached_by_sizes_and_mtimes(tmp_path, lrlab_home, monkeypatch):
    root = write_image_folder(tmp_path / "photos", classes=3, per_class=10)
    ds = dataset(name="image_folder", path=str(root), size=16)
    first = load_dataset(ds, CPU)
    assert first.x_train.dtype == torch.uint8 and first.x_train.shape[1:] == (3, 16, 16)
    assert first.n_outputs == 3 and len(first.x_train) + len(first.x_val) == 30
    caches = list((lrlab_home / "cache" / "image_folders").iterdir())
    assert len(caches) == 1 and caches[0].suffix == ".npz"
    with np.load(caches[0], allow_pickle=False) as z:  # only arrays: loads without pickle
        assert z["images"].shape == (30, 3, 16, 16)

    def no_decoding(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(owndata, "_decode", no_decoding)
    again = load_dataset(ds, CPU)
    assert torch.equal(again.x_train, first.x_train) and again.provenance == first.provenance
    os.utime(root / "class1" / "3.png", ns=(1, 1))  # a touched file is decoded again
    with pytest.raises(SpecError, match="decoded again"):
        load_dataset(ds, CPU)


def test_corrupt_images_are_refused_by_name_or_skipped_with_a_count(tmp_path):
    root = write_image_folder(tmp_path / "photos", classes=2, per_class=8)
    (root / "class1" / "broken.png").write_bytes(b"not a png")
    ds = dataset(name="image_folder", path=str(root), size=8)
    with pytest.raises(SpecError, match=r"^dataset\.corrupt: .*broken\.png is not a readable image"):
        load_dataset(ds, CPU)
    data = load_dataset(ds.replace(corrupt="skip"), CPU)
    assert len(data.x_train) + len(data.x_val) == 16 and data.provenance["skipped"] == 1


def test_empty_folders_and_class_folders_without_images_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match="has no class folders"):
        check_data(dataset(name="image_folder", path=str(tmp_path / "empty")))
    root = write_image_folder(tmp_path / "photos", classes=2, per_class=2)
    (root / "zebra").mkdir()
    (root / "zebra" / "notes.txt").write_text("no images here")
    with pytest.raises(SpecError, match=r"class folder 'zebra' .* has no images"):
        check_data(dataset(name="image_folder", path=str(root)))


def test_crop_flip_is_seeded_by_seed_and_step_and_moves_pixels_only():
    x = torch.arange(4 * 3 * 8 * 8, dtype=torch.int64).reshape(4, 3, 8, 8).to(torch.uint8)
    a, b = owndata.crop_flip(x, 7, 3), owndata.crop_flip(x, 7, 3)
    assert torch.equal(a, b) and a.shape == x.shape and a.dtype == torch.uint8
    assert not torch.equal(owndata.crop_flip(x, 7, 4), a)
    # each output pixel comes from the same image and channel: the crop and flip only move pixels
    for i in range(4):
        assert set(a[i, 1].flatten().tolist()) <= set(x[i, 1].flatten().tolist())


def test_an_augmented_image_folder_run_replays_identical_and_says_when_data_changed(tmp_path, capsys):
    from lrlab.cli import main

    root = write_image_folder(tmp_path / "photos", classes=3, per_class=12)
    run = lrlab.run({"dataset": {"name": "image_folder", "path": str(root), "size": 12, "augment": "crop_flip"},
                     "model": {"kind": "cnn", "channels": [4, 8], "hidden": 16}, "batch_size": 8, "epochs": 2,
                     "device": "cpu"}, out=tmp_path / "a.lrlab")
    assert run.status == "finished" and run.environment["data"]["files"] == 36
    assert run.replay(verify=True).identical
    forked = lrlab.fork(tmp_path / "a.lrlab", 5, out=tmp_path / "f.lrlab")  # no edit: as the parent did
    parent, child = run.steps().set_index("step"), forked.steps().set_index("step")
    assert child.index[0] == 5 and (child["train_loss"] == parent.loc[child.index, "train_loss"]).all()
    write_image_folder(tmp_path / "photos", classes=3, per_class=12, seed=1)  # same names, other pixels
    assert main(["replay", str(tmp_path / "a.lrlab"), "--verify"]) == 1
    out = capsys.readouterr().out
    assert "data changed: recorded" in out and "identical" not in out.splitlines()[-1]


@pytest.mark.parametrize("kind", ["table", "image_folder"])
def test_run_find_lr_and_sweep_work_on_your_own_data(tmp_path, csv, kind):
    if kind == "table":
        data, model = {"name": "table", "path": str(csv), "target": "label"}, {"kind": "mlp", "hidden": [8]}
    else:
        root = write_image_folder(tmp_path / "photos", classes=2, per_class=10)
        data, model = ({"name": "image_folder", "path": str(root), "size": 8, "augment": "crop_flip"},
                       {"kind": "cnn", "channels": [4], "hidden": 8})
    s = {"dataset": data, "model": model, "batch_size": 8, "epochs": 1, "device": "cpu"}
    assert lrlab.run(s, out=tmp_path / "r.lrlab").status == "finished"
    found = lrlab.find_lr(s, num_iter=20, seeds=1, out=tmp_path / "f.lrlab")
    assert set(found.suggestions) == {"steepest", "valley", "minimum"}
    swept = lrlab.sweep(s, [0.01, 0.1], out=tmp_path / "sweep")
    assert [m.status for m in swept.members] == ["finished", "finished"]
    assert lrlab.open_session(tmp_path / "sweep" / swept.members[0].session).environment["data"]["sha256"]


# --- more torchvision sets from disk --------------------------------------------------------


@pytest.mark.parametrize("name, write, size, offset", [
    ("stl10", write_stl10, 96, 0), ("emnist", lambda root: write_emnist(root, "letters"), 28, 1)])
def test_stored_layouts_come_out_upright(tmp_path, name, write, size, offset):
    """STL-10 stores its images column-major and EMNIST transposed: read back, each image's bright
    band of rows is where its label put it."""
    write(tmp_path)
    extra = {"split": "letters"} if name == "emnist" else {}
    data = load_dataset(dataset(name=name, root=str(tmp_path), **extra), CPU)
    rows = data.x_train.float().mean(dim=(1, 3)).argmax(1) // max(1, size // 10)
    assert torch.equal(rows, data.y_train - offset)
    assert data.n_outputs == DECLARED[name].classes_of({"split": "letters"}) if name == "emnist" else 10


def test_a_table_too_big_to_read_is_refused_before_pandas_reads_it(csv, monkeypatch):
    from lrlab.core.decl import machine

    monkeypatch.setattr(machine, "available_memory", lambda: 50_000)  # 14 KB x 8 > half of 50 KB
    with pytest.raises(SpecError, match=r"^dataset\.path: data\.csv is [0-9.e-]+ MiB; .* GiB are available"):
        check_data(dataset(name="table", path=str(csv), target="label"))


@pytest.mark.parametrize("case", ["missing", "no target", "empty folder", "corrupt image"])
def test_the_cli_says_one_line_and_exits_2(tmp_path, csv, case, capsys):
    import json

    from lrlab.cli import main

    if case == "missing":
        data = {"name": "table", "path": str(tmp_path / "nope.csv"), "target": "y"}
    elif case == "no target":
        data = {"name": "table", "path": str(csv), "target": "y"}
    elif case == "empty folder":
        (tmp_path / "empty").mkdir()
        data = {"name": "image_folder", "path": str(tmp_path / "empty")}
    else:
        root = write_image_folder(tmp_path / "photos", classes=2, per_class=2)
        (root / "class0" / "x.jpg").write_bytes(b"\xff\xd8 truncated")
        data = {"name": "image_folder", "path": str(root)}
    spec = tmp_path / "spec.json"
    model = {"kind": "cnn" if data["name"] == "image_folder" else "mlp"}
    spec.write_text(json.dumps({"dataset": data, "model": model}))
    assert main(["run", str(spec), "-q"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrlab: error: dataset.")
    expected = {"missing": "does not exist", "no target": "its columns: x1, x2, colour, label",
                "empty folder": "has no class folders", "corrupt image": "x.jpg is not a readable image"}[case]
    assert expected in lines[0]


def test_listing_a_folder_stops_at_a_bound_and_does_not_follow_links(tmp_path, monkeypatch):
    from lrlab.core.decl import owndata as decl

    root = write_image_folder(tmp_path / "photos", classes=2, per_class=3)
    (root / "class0" / "loop").symlink_to(root)  # a link back up would list forever if followed
    assert len(decl.list_folder({"path": str(root)}).files) == 6
    monkeypatch.setattr(decl, "MAX_ENTRIES", 4)
    with pytest.raises(SpecError, match="more than 4 files and folders under"):
        decl.list_folder({"path": str(root)})
