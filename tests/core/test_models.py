"""The models where the LR bites (CIFAR-style ResNet, torchvision by name, a decoder-only
transformer) and the sequence datasets generated from a seed (modular arithmetic, copy,
reverse, a text file): what they build, and every tool of the lab on them, on tiny configs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import lrlab
from lrlab.cli import main
from lrlab.core.decl.spec import RunSpec, SpecError
from lrlab.core.engine.data import load_dataset
from lrlab.core.engine.limits import check_resources
from lrlab.core.engine.models import build_model
from lrlab.core.engine.nets import ResNet, Transformer
from lrlab.core.runs import Collector
from lrlab.core.runs.sweep import Sweep
from lrlab.core.runs.train import Trainer
from lrlab.core.storage.session import Session

CPU = torch.device("cpu")
TINY_TRANSFORMER = {"kind": "transformer", "layers": 1, "d_model": 16, "heads": 2}
TINY_RESNET = {"kind": "resnet", "width": 4}


def spec(dataset: dict, model: dict, **extra) -> RunSpec:
    return RunSpec.from_json({"dataset": dataset, "model": model, "optimizer": {"name": "adam", "lr": 3e-3},
                              "batch_size": 16, "steps": 12, "device": "cpu", **extra})


def train(s: RunSpec) -> tuple[Trainer, Collector]:
    trainer, col = Trainer(s), Collector()
    trainer.listeners.append(col)
    trainer.run()
    return trainer, col


# --- models -------------------------------------------------------------------------------------


def test_resnet_is_cifar_style_with_the_papers_sizes():
    model = ResNet(18, 3, 10)
    stem = model.stem[0]
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)  # a 3x3 stem, no max-pool for 32x32
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())
    assert sum(p.numel() for p in model.parameters()) == 11_173_962  # ResNet-18 for CIFAR-10
    assert len(ResNet(34, 3, 10).blocks) == 16 and len(model.blocks) == 8
    assert ResNet(18, 3, 10, width=4)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_torchvision_classifier_by_name_with_random_weights(monkeypatch):
    import torchvision.models as tvm

    calls = []
    real = tvm.get_model
    monkeypatch.setattr(tvm, "get_model", lambda name, **kw: calls.append(kw) or real(name, **kw))
    model = build_model(RunSpec.from_json({"dataset": {"name": "cifar10"},
                                           "model": {"kind": "torchvision", "name": "resnet18"}}).model,
                        (3, 32, 32), 10)
    assert calls == [{"weights": None, "num_classes": 10}]  # never downloads
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_transformer_is_causal_and_reads_the_last_position():
    torch.manual_seed(0)
    model = Transformer(vocab=12, context=6, layers=2, d_model=16, heads=4, norm="post", dropout=0.0).eval()
    x = torch.randint(0, 12, (3, 6))
    changed = x.clone()
    changed[:, -1] = (x[:, -1] + 1) % 12
    hidden = model.blocks(model.tokens(x) + model.positions)
    hidden2 = model.blocks(model.tokens(changed) + model.positions)
    assert torch.allclose(hidden[:, :-1], hidden2[:, :-1])  # no position sees a later token
    assert not torch.allclose(hidden[:, -1], hidden2[:, -1])
    assert model(x).shape == (3, 12)
    # pre-LN ends with a LayerNorm; post-LN's blocks already end with one
    assert isinstance(Transformer(12, 6, 1, 16, 4, "pre", 0.0).ln, torch.nn.LayerNorm)


@pytest.mark.parametrize("dataset, model, field", [
    ({"name": "modular", "p": 7}, {**TINY_TRANSFORMER, "heads": 3}, "model.heads: must divide d_model (16), got 3"),
    ({"name": "digits"}, TINY_TRANSFORMER, "model.kind: the sequence datasets"),
    ({"name": "modular"}, TINY_RESNET, "model.kind: resnet needs image data"),
    ({"name": "modular"}, {"kind": "mlp"}, "model.kind: the sequence datasets"),
    ({"name": "cifar10"}, {"kind": "resnet", "depth": 20}, "model.depth: must be 18 or 34, got 20"),
])
def test_bad_model_specs_name_the_field(dataset, model, field):
    with pytest.raises(SpecError) as err:
        RunSpec.from_json({"dataset": dataset, "model": model})
    assert field in str(err.value)


def test_torchvision_problems_are_refused_before_any_data_loads():
    with pytest.raises(SpecError, match=r"model.name: unknown torchvision classifier 'resnet81', did you mean "
                                        r"'resnet18'"):
        check_resources(RunSpec.from_json({"dataset": {"name": "cifar10"},
                                           "model": {"kind": "torchvision", "name": "resnet81"}}))
    # one channel into a 3-channel network; a network too deep for 32x32 images
    with pytest.raises(SpecError, match=r"model.name: torchvision's resnet18 cannot take samples of shape "
                                        r"\(1, 28, 28\)"):
        check_resources(RunSpec.from_json({"dataset": {"name": "mnist"},
                                           "model": {"kind": "torchvision", "name": "resnet18"}}))
    with pytest.raises(SpecError, match=r"model\.name: the model would have 57,044,810 parameters"):
        check_resources(RunSpec.from_json({"dataset": {"name": "cifar10"},
                                           "model": {"kind": "torchvision", "name": "alexnet"}}))


def test_an_output_that_does_not_match_the_classes_is_one_line(monkeypatch):
    from lrlab.core.engine import nets

    real = nets.build
    monkeypatch.setattr(nets, "build", lambda s, shape, n, image: real(s, shape, n + 1, image))
    with pytest.raises(SpecError, match=r"model.name: torchvision's resnet18 gives outputs of shape \(11,\) per "
                                        r"sample, not \(10,\) for the dataset's 10 classes"):
        check_resources(RunSpec.from_json({"dataset": {"name": "cifar10"}, "model": {"kind": "torchvision"}}))


def test_torchvision_missing_says_how_to_install(monkeypatch):
    from lrlab.core.engine import nets

    monkeypatch.setattr(nets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SpecError, match=r"model.kind: torchvision needs torchvision: pip install 'lrlab\[vision\]'"):
        check_resources(RunSpec.from_json({"dataset": {"name": "cifar10"}, "model": {"kind": "torchvision"}}))


# --- sequence datasets --------------------------------------------------------------------------


@pytest.mark.parametrize("op, fn", [("+", lambda a, b, p: (a + b) % p), ("-", lambda a, b, p: (a - b) % p),
                                    ("*", lambda a, b, p: (a * b) % p),
                                    ("/", lambda a, b, p: (a * pow(b, p - 2, p)) % p)])
def test_modular_arithmetic_holds_every_pair_once(op, fn):
    s = spec({"name": "modular", "p": 7, "op": op, "train_fraction": 0.3}, TINY_TRANSFORMER)
    d = load_dataset(s.dataset, CPU)
    x, y = torch.cat([d.x_train, d.x_val]), torch.cat([d.y_train, d.y_val])
    assert len(x) == (42 if op == "/" else 49) and len(d.x_train) == round(len(x) * 0.3)
    assert len({tuple(r) for r in x[:, [0, 2]].tolist()}) == len(x)
    assert (x[:, 1] == 7).all() and (x[:, 3] == 8).all() and d.n_outputs == 9  # tokens 0..6, OP, EQ
    assert all(int(t) == fn(int(r[0]), int(r[2]), 7) for r, t in zip(x, y, strict=True))


def test_division_needs_a_prime():
    with pytest.raises(SpecError, match=r"dataset\.p: must be prime for op '/'"):
        load_dataset(spec({"name": "modular", "p": 8, "op": "/"}, TINY_TRANSFORMER).dataset, CPU)


@pytest.mark.parametrize("name", ["copy", "reverse"])
def test_copy_and_reverse_ask_for_the_next_symbol_of_the_answer(name):
    d = load_dataset(spec({"name": name, "length": 4, "symbols": 5, "n_samples": 50}, TINY_TRANSFORMER).dataset, CPU)
    sep, pad = 5, 6
    for row, target in zip(d.x_train.tolist(), d.y_train.tolist(), strict=True):
        row = [t for t in row if t != pad]
        source, answer = row[:4], row[5:]
        assert row[4] == sep
        full = source if name == "copy" else source[::-1]
        assert answer == full[:len(answer)] and target == full[len(answer)]


def test_text_windows_predict_the_next_character_and_validate_on_the_tail(tmp_path):
    book = tmp_path / "book.txt"
    text = "".join(f"line {i}: the quick brown fox. ü\n" for i in range(200))
    book.write_text(text, encoding="utf-8")
    s = spec({"name": "text", "path": str(book), "context": 8, "n_samples": 100}, TINY_TRANSFORMER)
    d = load_dataset(s.dataset, CPU)
    alphabet = sorted(set(text))
    assert d.n_outputs == len(alphabet) and len(d.x_train) == 90 and len(d.x_val) == 10
    cut = int(len(text) * 0.9)
    for xs, ys, part in ((d.x_train, d.y_train, text[:cut]), (d.x_val, d.y_val, text[cut:])):
        for row, target in zip(xs.tolist(), ys.tolist(), strict=True):
            assert "".join(alphabet[t] for t in row) + alphabet[target] in part  # 8 characters and the next


def test_a_text_file_that_is_not_utf8_is_one_line_and_exit_2(tmp_path, capsys):
    book = tmp_path / "book.txt"
    book.write_bytes("caf\u00e9 ".encode("latin-1") * 100)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"dataset": {"name": "text", "path": str(book), "context": 8},
                                     "model": TINY_TRANSFORMER, "steps": 5, "device": "cpu"}))
    assert main(["run", str(spec_file), "-o", str(tmp_path / "r.lrlab"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"dataset.path: {book} is not UTF-8 text (byte 0xe9 at offset 3)" in err[0]
    assert not (tmp_path / "r.lrlab").exists()


def test_bad_model_input_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys):
    for model in ({**TINY_TRANSFORMER, "heads": 3}, {"kind": "torchvision", "name": "resnet81"}):
        dataset = {"name": "modular", "p": 5} if model["kind"] == "transformer" else {"name": "digits"}
        spec_file = tmp_path / "spec.json"
        spec_file.write_text(json.dumps({"dataset": dataset, "model": model, "steps": 5, "device": "cpu"}))
        assert main(["run", str(spec_file), "-o", str(tmp_path / "r.lrlab"), "-q"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and ("model.heads" in err[0] or "model.name" in err[0]), err


# --- every tool of the lab on them --------------------------------------------------------------


def test_the_transformer_learns_to_copy_and_replays_identically(tmp_path):
    s = spec({"name": "copy", "length": 3, "symbols": 4, "n_samples": 200}, TINY_TRANSFORMER, steps=40,
             eval_every=20, optimizer={"name": "adam", "lr": 1e-2})
    session = lrlab.run(s.to_json(), out=tmp_path / "m.lrlab")
    loss = session.steps()["train_loss"].to_numpy()
    assert session.status == "finished" and loss[-10:].mean() < 0.25 * loss[:5].mean()
    assert session.evals()["val_metric"].iloc[-1] > 0.9
    assert session.replay(verify=True).identical
    assert len(session.effective_lr()) > 0  # Adam's per-parameter step sizes were recorded


def test_sweeps_record_their_path_vmap_for_the_resnet_loop_for_the_transformer(tmp_path):
    resnet = Sweep(spec({"name": "digits"}, TINY_RESNET, steps=6, optimizer={"name": "sgd", "lr": 0.05,
                                                                               "momentum": 0.9}), lrs=[0.01, 0.05])
    updates = []
    resnet.listeners.append(updates.append)
    resnet.run()
    assert resnet.path == "vmap" and resnet.environment["sweep_path"] == "vmap"
    # each member is the training run at its LR, batch norm's statistics its own
    trainer, col = train(resnet.member_specs[1])
    member = np.concatenate([u.members[1].steps["train_loss"] for u in updates])
    assert np.allclose(member, col.column("train_loss"), rtol=1e-4)
    for name, buf in resnet.model.buffers.items():
        if buf.dtype.is_floating_point:
            assert torch.allclose(buf[1], dict(trainer.model.named_buffers())[name], rtol=1e-3, atol=1e-5), name
    swept = lrlab.sweep(spec({"name": "modular", "p": 5}, TINY_TRANSFORMER, steps=6).to_json(), [1e-3, 3e-3],
                        out=tmp_path / "sweep")
    assert json.loads((tmp_path / "sweep" / "summary.json").read_text())["path"] == "loop"
    assert swept.path == "loop"
    with Session.open(next((tmp_path / "sweep").glob("*.lrlab"))) as s:
        assert s.environment["sweep_path"] == "loop"


def test_find_lr_fork_and_compare_on_the_transformer_and_the_resnet(tmp_path):
    for name, dataset, model in (("t", {"name": "modular", "p": 5}, TINY_TRANSFORMER),
                                 ("r", {"name": "digits"}, TINY_RESNET)):
        s = spec(dataset, model, steps=10).to_json()
        found = lrlab.find_lr(s, num_iter=12, seeds=1, out=tmp_path / f"{name}-find.lrlab")
        assert len(found.curve()) > 0
        parent = lrlab.run(s, out=tmp_path / f"{name}.lrlab")
        fork = lrlab.fork(parent.path, 5, edits=[{"kind": "scale", "factor": 0.1}], out=tmp_path / f"{name}-f.lrlab")
        assert fork.replay(verify=True).identical
        cmp = lrlab.compare([parent.path, fork.path])
        assert "step 5: LR x0.1" in cmp.describe()


# --- precision and layout -----------------------------------------------------------------------


def test_bf16_autocast_and_channels_last_train_and_are_recorded():
    s = spec({"name": "digits"}, TINY_RESNET, steps=4, amp="bf16")
    trainer, col = train(s)
    assert trainer.status == "finished" and np.isfinite(col.column("train_loss")).all()
    assert trainer.environment["amp"] == "bf16" and trainer.environment["channels_last"] is False
    assert "amp" not in Trainer(spec({"name": "digits"}, TINY_RESNET, steps=4)).environment  # off: not recorded


def test_channels_last_on_images_and_refused_where_it_cannot_apply(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as cifar
    from fakedata import write_cifar10

    write_cifar10(tmp_path, n_per_batch=20)
    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: __import__("os").path.isfile(path))
    trainer, _ = train(spec({"name": "cifar10", "root": str(tmp_path)}, TINY_RESNET, steps=3, channels_last=True))
    assert trainer.status == "finished" and trainer.environment["channels_last"] is True
    assert trainer.model.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(SpecError, match="channels_last: needs image data"):
        Trainer(spec({"name": "copy", "n_samples": 20}, TINY_TRANSFORMER, channels_last=True))
    with pytest.raises(SpecError, match="amp: applies to single runs"):
        Sweep(spec({"name": "digits"}, TINY_RESNET, amp="bf16"), lrs=[0.1, 0.2])
