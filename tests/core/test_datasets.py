"""Dataset declarations: each one says its name, parameters, task, size, image shape and loader,
and everything else (validation, planned steps, the CNN check, the loaded tensors) agrees with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fakedata import write_cifar10, write_cifar100, write_emnist, write_mnist_family, write_stl10, write_svhn

from lrlab.core.decl import datasets
from lrlab.core.decl.datasets import DATASETS, DECLARED, IMAGES, TABULAR, Samples, dataset_kind, train_size
from lrlab.core.decl.params import Num, Param
from lrlab.core.decl.spec import IMAGE_SETS, RunSpec, SpecError, dataset_task, planned_steps
from lrlab.core.engine.data import load_dataset
from lrlab.core.runs.train import Trainer

CPU = torch.device("cpu")
TABULAR_SETS = [name for name, info in DECLARED.items() if info.family is TABULAR]
IMAGE_FILES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "kmnist": "KMNIST", "cifar10": None,
               "cifar100": None, "svhn": None, "stl10": None, "emnist": None}
#: the sets whose files torchvision checks against their MD5 (the tests' own files cannot match)
WRITERS = {"cifar10": (write_cifar10, "cifar"), "cifar100": (write_cifar100, "cifar"), "svhn": (write_svhn, "svhn"),
           "stl10": (lambda root: write_stl10(root, n_train=100), None),
           "emnist": (lambda root: write_emnist(root, "balanced"), None)}


def dataset(**data):
    return RunSpec.from_json({"dataset": data, "device": "cpu"}).dataset


def test_every_declaration_is_in_the_registry_the_run_spec_uses():
    assert DATASETS.kinds == tuple(DECLARED)
    assert RunSpec.from_json({}).dataset.kind == "digits"
    assert set(IMAGE_FILES) == {name for name, info in DECLARED.items() if info.family is IMAGES}
    for name, info in DECLARED.items():
        names = [p.name for p in DATASETS.params_of(name)]
        assert names[:len(info.family.params)] == [p.name for p in info.family.params]  # shared ones first
        assert DATASETS.docs[name] and dataset_task(name) == info.task


def test_image_sets_are_the_declared_ones_with_an_image_shape():
    assert IMAGE_SETS == ("digits", "mnist", "fashion_mnist", "kmnist", "cifar10", "cifar100", "svhn", "stl10",
                          "emnist")
    assert datasets.image_sets() == (*IMAGE_SETS, "image_folder")  # declared after the module
    assert DECLARED["digits"].image_shape == (1, 8, 8) and DECLARED["cifar10"].image_shape == (3, 32, 32)


@pytest.mark.parametrize("name", TABULAR_SETS)
@pytest.mark.parametrize("changes", [{}, {"val_fraction": 0.37, "split_seed": 4}])
def test_tabular_sets_load_as_declared(name, changes):
    info = DECLARED[name]
    if isinstance(info.size, str):
        changes = {**changes, info.size: 123}
    spec = dataset(name=name, **changes)
    data = load_dataset(spec, CPU)
    assert data.n_train + len(data.x_val) == info.n_samples(spec.params)
    assert data.n_train == train_size(spec)  # the previews' count matches the loaded split
    assert (data.task, data.image_shape) == (info.task, info.image_shape)
    assert data.x_train.dtype == torch.float32


@pytest.mark.parametrize("name", list(IMAGE_FILES))
def test_image_sets_load_as_declared(name, tmp_path, monkeypatch):
    if IMAGE_FILES[name] is None:
        import importlib

        write, module = WRITERS[name]
        write(tmp_path)
        if module:
            monkeypatch.setattr(importlib.import_module(f"torchvision.datasets.{module}"), "check_integrity",
                                lambda path, md5=None: __import__("os").path.isfile(path))
    else:
        write_mnist_family(tmp_path, IMAGE_FILES[name])
    info = DECLARED[name]
    for changes in ({}, {"subset": 77, "val_fraction": 0.3, "test_eval": True}):
        spec = dataset(name=name, root=str(tmp_path), **changes)
        data = load_dataset(spec, CPU)
        assert data.image_shape == info.image_shape and data.x_train.dtype == torch.uint8
        assert data.n_outputs == info.classes_of(spec.params) and data.task == info.task
        files = len(data.x_train) + len(data.x_val)
        assert data.n_train == files - IMAGES.held_out(files, spec["val_fraction"])
        assert (data.test is not None) == spec["test_eval"]
    assert files == 77
    assert data.n_train == train_size(spec)


@pytest.fixture
def scratch_declarations():
    """Declarations made in a test are forgotten after it."""
    saved = [(live, dict(live)) for live in (DATASETS._params, DATASETS.docs, DECLARED)]
    yield
    for live, before in saved:
        live.clear()
        live.update(before)


def test_a_new_dataset_is_one_declaration(scratch_declarations):
    @dataset_kind("xor", datasets.N_SAMPLES, Param("noise", Num(ge=0), 0.1, "std of added noise"),
                  task="classification", size="n_samples", features=2, doc="two classes in opposite quadrants")
    def xor(spec):
        rng = np.random.default_rng(0)
        x = rng.uniform(-1, 1, (spec["n_samples"], 2))
        return Samples(x + rng.normal(0, spec["noise"], x.shape), (x[:, 0] * x[:, 1] > 0).astype(np.int64))

    spec = RunSpec.from_json({"dataset": {"name": "xor", "n_samples": 200}, "batch_size": 32, "epochs": 2,
                              "device": "cpu"})
    assert spec.task == "classification" and spec.dataset["val_fraction"] == 0.2  # the family's defaults
    assert planned_steps(spec) == 2 * 5
    trainer = Trainer(spec)
    assert trainer.total_steps == planned_steps(spec) and trainer.run() == "finished"
    with pytest.raises(SpecError, match=r"dataset\.noize: unknown field, did you mean 'noise'"):
        RunSpec.from_json({"dataset": {"name": "xor", "noize": 1}})


def test_declaration_mistakes_fail_at_import(scratch_declarations):
    def loader(spec):
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="task must be one of"):
        dataset_kind("a", task="ranking", size=10, features=1, doc="")
    with pytest.raises(ValueError, match="size names no parameter of it: 'n'"):
        dataset_kind("a", task="regression", size="n", features=1, doc="")
    with pytest.raises(ValueError, match=r"image_shape must be \(C, H, W\)"):
        dataset_kind("a", task="regression", size=10, image_shape=(28, 28), doc="")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'a': declare its features"):
        dataset_kind("a", task="regression", size=10, doc="")
    with pytest.raises(ValueError, match="features names no parameter of it: 'width'"):
        dataset_kind("a", task="regression", size=10, features="width", doc="")
    with pytest.raises(ValueError, match="'iris' is declared twice"):
        dataset_kind("iris", task="classification", size=10, features=4, doc="")(loader)
