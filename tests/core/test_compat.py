"""The private torch paths in lrlab.core.engine.compat give the public paths' numbers, bit for bit, and the
public path takes over when a private name disappears (as it may in any torch release)."""

from __future__ import annotations

import pytest
import torch
from torch.optim import optimizer as torch_optimizer

from lrlab.core.engine import compat

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def tensors(device: str = "cpu", seed: int = 0) -> list[torch.Tensor]:
    """Shapes like a small model's parameters: a matrix, a bias, a conv kernel, a scalar, an empty one."""
    gen = torch.Generator().manual_seed(seed)
    shapes = [(64, 32), (32,), (8, 3, 3, 3), (), (0,)]
    return [(torch.randn(s, generator=gen) * 3).to(device) for s in shapes]


@pytest.mark.parametrize("device", DEVICES)
def test_foreach_norm_matches_the_per_tensor_norm(device):
    xs = tensors(device)
    got = compat.foreach_norm(xs)
    want = [torch.linalg.vector_norm(x) for x in xs]
    assert isinstance(got, list) and len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape == () and g.dtype == w.dtype
        if device == "cpu":
            assert torch.equal(g, w)
        else:  # the multi-tensor CUDA kernel may sum in another order
            torch.testing.assert_close(g, w, rtol=1e-6, atol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_foreach_sub_matches_plain_subtraction(device):
    a, b = tensors(device, 0), tensors(device, 1)
    got = compat.foreach_sub(a, b)
    assert isinstance(got, list)
    assert all(torch.equal(g, x - y) for g, x, y in zip(got, a, b, strict=True))
    assert all(torch.equal(x, y) for x, y in zip(a, tensors(device, 0), strict=True))  # inputs untouched


def test_foreach_sub_rejects_lists_of_different_lengths():
    with pytest.raises(ValueError, match="equal length, got 2 and 1"):
        compat.foreach_sub(tensors()[:2], tensors()[:1])


def test_the_public_paths_are_used_when_the_private_ones_are_gone(monkeypatch):
    a, b = tensors(seed=0), tensors(seed=1)
    with_private = compat.foreach_norm(a), compat.foreach_sub(a, b)
    monkeypatch.delattr(torch, "_foreach_norm")
    monkeypatch.delattr(torch, "_foreach_sub")
    calls = []
    real_norm = torch.linalg.vector_norm
    monkeypatch.setattr(torch.linalg, "vector_norm", lambda x: calls.append(x) or real_norm(x))
    norms, diffs = compat.foreach_norm(a), compat.foreach_sub(a, b)
    assert len(calls) == len(a)  # the fallback ran, once per tensor
    assert all(torch.equal(x, y) for x, y in zip(norms, with_private[0], strict=True))
    assert all(torch.equal(x, y) for x, y in zip(diffs, with_private[1], strict=True))


# --- fast_step ----------------------------------------------------------------------------------

OPTIMIZERS = {
    "sgd_momentum": (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3}),
    "sgd_nesterov": (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "adam": (torch.optim.Adam, {"lr": 1e-2}),
    "adam_amsgrad": (torch.optim.Adam, {"lr": 1e-2, "amsgrad": True, "weight_decay": 1e-2}),
    "adamw": (torch.optim.AdamW, {"lr": 1e-2, "weight_decay": 0.1}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 1e-2, "momentum": 0.5}),
    "rmsprop_centered": (torch.optim.RMSprop, {"lr": 1e-2, "centered": True}),
    "adagrad": (torch.optim.Adagrad, {"lr": 1e-1, "lr_decay": 1e-3}),
}
#: torch has fused kernels for these (see lrlab.core.engine.optim.FUSED)
FUSED = ("sgd_momentum", "adam", "adamw", "adagrad")
CASES = [(name, False) for name in OPTIMIZERS] + [(name, True) for name in FUSED]


def train(name: str, fused: bool, device: str, use_fast: bool, steps: int = 6) -> list[torch.Tensor]:
    """Parameters of a small MLP after ``steps`` steps, with the LR changed every step as lrlab does."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).to(device)
    cls, kwargs = OPTIMIZERS[name]
    try:
        opt = cls(model.parameters(), **kwargs, **({"fused": True} if fused else {}))
    except (RuntimeError, TypeError, ValueError) as err:  # as build_optimizer does
        pytest.skip(f"no fused {name} on {device} in this torch: {err}")
    step = compat.fast_step(opt) if use_fast else opt.step
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(32, 10, generator=gen).to(device), torch.randint(0, 3, (32,), generator=gen).to(device)
    for i in range(steps):
        for g in opt.param_groups:
            g["lr"] = kwargs["lr"] * (1 - 0.1 * i)
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        step()
    return [p.detach().cpu().clone() for p in model.parameters()]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, fused", CASES, ids=[f"{n}{'-fused' if f else ''}" for n, f in CASES])
def test_fast_step_gives_bit_identical_parameters(name, fused, device):
    public = train(name, fused, device, use_fast=False)
    fast = train(name, fused, device, use_fast=True)
    assert any(not torch.equal(p, q) for p, q in zip(public, train(name, fused, device, False, steps=0),
                                                      strict=True))  # the steps did change something
    assert all(torch.equal(p, q) for p, q in zip(public, fast, strict=True))


def optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)


def test_fast_step_skips_the_profiling_wrapper():
    opt = optimizer()
    step = compat.fast_step(opt)
    inner = type(opt).step.__wrapped__
    # the profiling wrapper's inner function, or its body without dynamo's graph breaks
    assert step != opt.step and (getattr(step, "func", None) is inner or step.__name__ == "eager_step")


@pytest.mark.parametrize("register", [
    lambda opt: opt.register_step_pre_hook(lambda *a: None),
    lambda opt: opt.register_step_post_hook(lambda *a: None),
    lambda opt: torch_optimizer.register_optimizer_step_pre_hook(lambda *a: None),
    lambda opt: torch_optimizer.register_optimizer_step_post_hook(lambda *a: None),
], ids=["pre", "post", "global-pre", "global-post"])
def test_fast_step_is_the_public_step_when_hooks_are_registered(register):
    """Skipping the wrapper would skip the hooks, so they keep the public path."""
    opt = optimizer()
    handle = register(opt)
    try:
        assert compat.fast_step(opt) == opt.step
    finally:
        handle.remove()
    assert compat.fast_step(opt) != opt.step


@pytest.mark.parametrize("missing", ["_global_optimizer_pre_hooks", "_global_optimizer_post_hooks"])
def test_fast_step_is_the_public_step_without_the_global_hook_tables(monkeypatch, missing):
    opt = optimizer()
    monkeypatch.delattr(torch_optimizer, missing)
    assert compat.fast_step(opt) == opt.step


@pytest.mark.parametrize("missing", ["_optimizer_step_pre_hooks", "_optimizer_step_post_hooks"])
def test_fast_step_is_the_public_step_without_the_optimizer_hook_tables(monkeypatch, missing):
    opt = optimizer()
    monkeypatch.delattr(opt, missing)
    assert compat.fast_step(opt) == opt.step


@pytest.mark.parametrize("missing", ["__wrapped__", "hooked"])
def test_fast_step_is_the_public_step_when_step_is_not_torchs_wrapper(monkeypatch, missing):
    """Without ``hooked`` the wrapper may be someone else's, and unwrapping it could skip real work."""
    opt = optimizer()  # made before the patch: a new optimizer would wrap step again, for good
    monkeypatch.delattr(type(opt).step, missing)
    assert compat.fast_step(opt) == opt.step


OPTIMIZER_NAMES = ["sgd", "adam", "adamw", "rmsprop", "adagrad"]


def test_a_first_run_imports_no_dynamo_for_any_optimizer():
    """A run's first optimizer (built, stepped, snapshotted, restored) leaves ``torch._dynamo``
    unimported: it cost 1.3 s of every session's first Start (issue 31)."""
    from testkit import loaded_by

    code = (
        "import torch\n"
        "from lrlab.core.decl.spec import RunSpec\n"
        "from lrlab.core.runs.train import Trainer\n"
        f"for name in {OPTIMIZER_NAMES!r}:\n"
        "    spec = RunSpec.from_json({'dataset': {'name': 'iris'}, 'model': {'kind': 'linear'},\n"
        "                              'optimizer': {'name': name, 'lr': 0.01}, 'epochs': 1, 'batch_size': 32})\n"
        "    t = Trainer(spec)\n"
        "    t.run()\n"
        "    t.optimizer.load_state_dict(t.optimizer.state_dict())\n"
    )
    assert "torch._dynamo" not in loaded_by(code, ("torch",))

