"""The effective LR formulas predict torch's own parameter updates (one step, 1e-6 relative)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrlab.core.engine.effective_lr import QUANTILES, effective_lr, quantiles

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    ("Adam", {"lr": 1e-3}),
    ("Adam", {"lr": 1e-3, "amsgrad": True, "weight_decay": 0.01}),
    ("AdamW", {"lr": 1e-3, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 1e-3}),
    ("RMSprop", {"lr": 1e-3, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.01}),
]


def grad_of(p: torch.Tensor, k: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(k)
    return torch.randn(p.shape, generator=g, dtype=p.dtype) * (1 + torch.arange(p.numel(), dtype=p.dtype)
                                                                .reshape(p.shape))


@pytest.mark.parametrize("name, kwargs", CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_predicted_update_matches_torch(name, kwargs):
    p = torch.nn.Parameter(torch.linspace(-1, 1, 12, dtype=torch.float64).reshape(3, 4))
    opt = getattr(torch.optim, name)([p], **kwargs)
    group = opt.param_groups[0]
    for k in range(3):  # a few steps so moments and accumulators are non-trivial
        p.grad = grad_of(p, k)
        opt.step()
    p.grad = grad_of(p, 99)
    before = p.detach().clone()
    state = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in opt.state[p].items()}
    opt.step()
    eff = effective_lr(opt, p, group)
    after = p.detach()
    g = p.grad + kwargs.get("weight_decay", 0.0) * before if name != "AdamW" else p.grad
    s = opt.state[p]
    if name == "SGD":
        direction = s["momentum_buffer"] if "momentum" in kwargs else g
        predicted = before - eff * direction
    elif name in ("Adam", "AdamW"):
        t = float(s["step"])
        m_hat = s["exp_avg"] / (1 - group["betas"][0] ** t)
        start = before * (1 - group["lr"] * kwargs["weight_decay"]) if name == "AdamW" else before
        predicted = start - eff * m_hat
    elif name == "RMSprop":
        if kwargs.get("momentum"):  # buf = momentum * buf + g / avg, and p -= lr * buf
            predicted = before - group["lr"] * kwargs["momentum"] * state["momentum_buffer"] - eff * g
        else:
            predicted = before - eff * g
    else:  # Adagrad
        predicted = before - eff * g
    torch.testing.assert_close(after, predicted, rtol=1e-6, atol=1e-12)


def test_sgd_collapses_onto_the_lr_and_adagrad_only_falls():
    p = torch.nn.Parameter(torch.ones(50))
    sgd = torch.optim.SGD([p], lr=0.3)
    p.grad = torch.ones(50)
    sgd.step()
    assert torch.all(effective_lr(sgd, p, sgd.param_groups[0]) == 0.3)
    q = torch.nn.Parameter(torch.ones(50))
    ada = torch.optim.Adagrad([q], lr=0.1)
    last = None
    for k in range(20):
        q.grad = grad_of(q, k)
        ada.step()
        eff = effective_lr(ada, q, ada.param_groups[0])
        if last is not None:
            assert torch.all(eff <= last)
        last = eff


def test_quantiles_over_all_parameters_and_per_layer():
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    layers = list(model.named_parameters())
    assert quantiles(opt, layers) == {}  # no step yet: nothing to report
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(0))
    model(x).pow(2).mean().backward()
    opt.step()
    q = quantiles(opt, layers)
    assert set(q) == {"all", "0.weight", "0.bias", "2.weight", "2.bias"}
    every = torch.cat([effective_lr(opt, p, opt.param_groups[0]).reshape(-1) for _, p in layers])
    torch.testing.assert_close(q["all"], torch.quantile(every, torch.tensor(QUANTILES)))
    assert all(bool(torch.all(v[1:] >= v[:-1])) for v in q.values())  # p5 <= p25 <= ... <= p95


def _recorded(preset: str):
    from lrlab.core.decl.resources import list_presets
    from lrlab.core.decl.spec import RunSpec
    from lrlab.core.runs import RecordedRun
    from lrlab.core.storage.session import Session

    spec = RunSpec.from_json(next(p for p in list_presets() if p.name == preset).spec)
    run = RecordedRun(RunSpec.from_json({**spec.to_json(), "epochs": 6, "effective_lr_every": 10}))
    run.run()
    with Session.open(run.path) as s:
        return s.effective_lr("all"), s.effective_lr_layers(), s.meta["steps_per_epoch"]


def test_adaptive_presets_show_adagrad_shrinking_and_adam_spreading():
    ada, layers, _ = _recorded("adaptive-adagrad")
    assert layers[0] == "all" and "0.weight" in layers and "2.bias" in layers
    assert len(ada["step"]) >= 10
    for q in ("p5", "p25", "p50", "p75", "p95"):  # constant schedule: the accumulator only grows
        assert np.all(np.diff(ada[q]) <= 0), q
    adam, _, spe = _recorded("adaptive-adam")
    later = adam["step"] >= spe  # after the first epoch
    assert np.all(adam["p95"][later] / adam["p5"][later] > 10)
    sgd, _, _ = _recorded("adaptive-sgd")
    np.testing.assert_allclose(sgd["p5"], 0.01, rtol=1e-6)  # one step size for all: the LR
    np.testing.assert_allclose(sgd["p95"], 0.01, rtol=1e-6)


def test_parameters_that_never_had_a_gradient_are_left_out():
    p = torch.nn.Parameter(torch.ones(4))
    opt = torch.optim.Adam([p], lr=0.01)
    p.grad = torch.tensor([1.0, 0.5, 0.0, 0.0])  # the last two never move (blank inputs, dead units)
    opt.step()
    eff = effective_lr(opt, p, opt.param_groups[0])
    assert torch.isnan(eff[2:]).all() and torch.isfinite(eff[:2]).all()
    q = quantiles(opt, [("w", p)])["all"]
    assert float(q.max()) < 0.02  # not lr / eps = 1e6


