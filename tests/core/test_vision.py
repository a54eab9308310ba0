"""Image datasets from local files in torchvision's formats, the CNN, and device selection."""

from __future__ import annotations

import importlib

import pytest
import torch
from fakedata import write_cifar10, write_mnist_family

from lrlab.core.decl.spec import RunSpec, SpecError
from lrlab.core.engine import devices
from lrlab.core.engine.data import load_dataset
from lrlab.core.runs import Collector, RecordedRun
from lrlab.core.runs.train import Trainer
from lrlab.core.storage.session import Session


def image_spec(name, root, **dataset):
    return RunSpec.from_json({
        "dataset": {"name": name, "root": str(root), **dataset},
        "model": {"kind": "cnn", "channels": [4, 8], "hidden": 16},
        "optimizer": {"name": "adam", "lr": 0.003}, "batch_size": 32, "epochs": 2, "device": "cpu"})


@pytest.mark.parametrize("cls_name, name", [("MNIST", "mnist"), ("FashionMNIST", "fashion_mnist"),
                                             ("KMNIST", "kmnist")])
def test_mnist_family_trains_from_idx_files(tmp_path, cls_name, name):
    write_mnist_family(tmp_path, cls_name)
    trainer = Trainer(image_spec(name, tmp_path))
    col = Collector()
    trainer.listeners.append(col)
    assert trainer.run() == "finished"
    # stored as uint8 images, converted per batch
    assert trainer.data.x_train.dtype == torch.uint8 and trainer.data.x_train.shape[1:] == (1, 28, 28)
    assert len(trainer.data.x_train) + len(trainer.data.x_val) == 600
    loss = col.column("train_loss")
    assert loss[-5:].mean() < loss[:5].mean()


def test_cifar10_batches_with_only_the_md5_check_patched(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as cifar

    write_cifar10(tmp_path)
    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: __import__("os").path.isfile(path))
    spec = image_spec("cifar10", tmp_path, test_eval=True)
    run = RecordedRun(spec, tmp_path / "c.lrlab")
    assert run.run() == "finished"
    assert run.runner.data.x_train.shape[1:] == (3, 32, 32)
    with Session.open(run.path) as s:
        assert 0 <= s.summary["test_metric"] <= 1 and s.summary["test_loss"] > 0
        assert [e.data["n"] for e in s.events() if e.kind == "test"] == [100]


def test_missing_files_give_one_clear_message(tmp_path):
    with pytest.raises(SpecError) as err:
        Trainer(image_spec("mnist", tmp_path))
    msg = str(err.value)
    assert msg.startswith("dataset.root: mnist files not found in")
    assert str(tmp_path / "MNIST" / "raw") in msg and "train-images-idx3-ubyte" in msg
    assert "--download" in msg


def test_subset_is_a_seeded_shuffle(tmp_path):
    write_mnist_family(tmp_path)
    a = load_dataset(image_spec("mnist", tmp_path, subset=100).dataset, torch.device("cpu"))
    b = load_dataset(image_spec("mnist", tmp_path, subset=100).dataset, torch.device("cpu"))
    c = load_dataset(image_spec("mnist", tmp_path, subset=100, split_seed=1).dataset, torch.device("cpu"))
    assert len(a.x_train) + len(a.x_val) == 100
    assert torch.equal(a.x_train, b.x_train)
    assert not torch.equal(a.x_train, c.x_train)


def test_batches_are_normalised_from_uint8(tmp_path):
    write_mnist_family(tmp_path)
    data = load_dataset(image_spec("mnist", tmp_path).dataset, torch.device("cpu"))
    x = data.prepare(data.x_train)
    assert x.dtype == torch.float32
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05
    expected = (data.x_train.double() / 255 - data.x_train.double().div(255).mean()) / \
        data.x_train.double().div(255).std()
    assert torch.allclose(x.double(), expected, atol=1e-3)


def test_digits_feeds_the_cnn_offline():
    spec = RunSpec.from_json({"dataset": {"name": "digits"}, "model": {"kind": "cnn", "channels": [8]},
                              "optimizer": {"name": "adam", "lr": 0.005}, "epochs": 3, "device": "cpu"})
    trainer = Trainer(spec)
    col = Collector()
    trainer.listeners.append(col)
    trainer.run()
    assert isinstance(trainer.model[0], torch.nn.Unflatten)
    assert col.evals[-1]["val_metric"] > 0.8


def test_cnn_on_tabular_data_is_a_field_error():
    with pytest.raises(SpecError, match=r"model\.kind: cnn needs image data"):
        RunSpec.from_json({"dataset": {"name": "iris"}, "model": {"kind": "cnn"}})


def test_image_sets_report_missing_torchvision(monkeypatch, tmp_path):
    from lrlab.core.engine import vision

    real_find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torchvision" else real_find(name, *a))
    assert vision.torchvision_missing() == "needs torchvision: pip install 'lrlab[vision]'"
    with pytest.raises(SpecError, match="'mnist' needs torchvision"):
        load_dataset(image_spec("mnist", tmp_path).dataset, torch.device("cpu"))
    # the rest of lrlab keeps working: a tabular run still trains
    tabular = RunSpec.from_json({"dataset": {"name": "iris"}, "epochs": 1, "device": "cpu"})
    assert Trainer(tabular).run() == "finished"


# --- devices --------------------------------------------------------------------------------


def fake_hardware(monkeypatch, cuda=0, mps=False):
    monkeypatch.setattr(devices, "cuda_count", lambda: cuda)
    monkeypatch.setattr(devices, "mps_available", lambda: mps)


@pytest.mark.parametrize("cuda, mps, expected", [(2, True, "cuda:0"), (0, True, "mps"), (0, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    fake_hardware(monkeypatch, cuda, mps)
    assert devices.resolve_device("auto") == torch.device(expected)


def test_missing_device_names_the_available_ones(monkeypatch):
    fake_hardware(monkeypatch, cuda=1)
    assert devices.resolve_device("cuda:0") == torch.device("cuda:0")
    assert devices.resolve_device("cuda") == torch.device("cuda:0")
    with pytest.raises(SpecError) as err:
        devices.resolve_device("cuda:3")
    assert str(err.value) == ("device: 'cuda:3' is not available on this machine "
                              "(available: auto, cuda:0, cpu)")
    fake_hardware(monkeypatch)
    with pytest.raises(SpecError, match=r"'mps' is not available .*\(available: auto, cpu\)"):
        devices.resolve_device("mps")


def test_out_of_memory_ends_the_run_with_a_clear_status(monkeypatch, tmp_path):
    spec = RunSpec.from_json({"dataset": {"name": "iris"}, "epochs": 5, "device": "cpu"})
    run = RecordedRun(spec, tmp_path / "oom.lrlab")
    real_forward = run.runner.model.forward
    calls = []

    def forward(x):
        calls.append(run.runner.model.training)  # training steps, not evaluations
        if sum(calls) == 7:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_forward(x)

    monkeypatch.setattr(run.runner.model, "forward", forward)
    assert run.run() == "failed"
    with Session.open(run.path) as s:
        assert s.status == "failed" and s.n_steps() == 6
        assert "ran out of memory at step 6: try a smaller batch size" in s.summary["error"]


def test_environment_differs_across_devices():
    from lrlab.core.runs import environment_differences

    diffs = environment_differences({"device": "cuda:0", "torch": "2.4"}, {"device": "cpu", "torch": "2.4"})
    assert diffs == ("device: recorded 'cuda:0', now 'cpu'",)
