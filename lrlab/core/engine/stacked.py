"""K copies of one model trained at once: stacked parameters, three ways to run them forward,
and optimizers whose learning rate is a tensor with one entry per copy (a *member*).

Every parameter of the model becomes one tensor of shape ``[K, *shape]`` (member ``k``'s
weights are ``P[k]``), and so does every buffer (batch norm's running statistics). One forward
pass gives ``[K, B, outputs]``; the members' losses are summed for a single backward pass,
which gives each member exactly the gradient of its own loss (the gradient of a sum is 1 for
every term), and ``P.grad[k]`` is member ``k``'s gradient.

Three ways to run the stacked members forward (the *path*; a sweep records which one ran):

- ``bmm``: hand-batched maths for the ``linear`` and ``mlp`` models: each ``Linear`` is one
  ``torch.baddbmm`` over the members, batch norm is one ``F.batch_norm`` over ``K x H``
  channels (channels are independent, so that is K batch norms with their own running
  statistics). Fewest Python calls: fastest for small models (``benchmarks/README.md``).
- ``vmap``: ``torch.func.functional_call`` of the model under ``torch.func.vmap`` over the
  stacked parameters; works for any model whose layers vmap supports (the CNN included).
- ``loop``: ``functional_call`` once per member on views of the stacked tensors (one
  ``unbind``, so the backward pass stacks the gradients once). Works for any model; for large
  models on a CPU its plain matrix product per member and layer is 5-12% faster than ``bmm``.

:func:`choose_path` picks one from the model's size (measured in ``benchmarks/bench_sweep.py``).

Dropout: each member draws its own masks from torch's global generator
(``vmap(randomness="different")``, and the same in the other two paths), so with dropout on,
members of one seed differ in their masks as well as their LR. Members never share any
arithmetic: no operation here mixes two members' numbers (the loss sum for backward does not
look at the values), so a NaN in one member stays in that member.

:class:`StackedOptimizer` is ``torch.optim``'s arithmetic written over stacked tensors, with
the learning rate a ``[K, 1, ..., 1]`` tensor (``torch.optim`` takes one scalar LR per param
group, and a tensor LR must have one element). The order of operations follows torch's
single-tensor implementations (``torch/optim/sgd.py``, ``adam.py``, ``rmsprop.py``,
``adagrad.py``), so a member's numbers agree with a ``torch.optim`` run at its LR to float
rounding.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lrlab.core.decl.params import Kinded

PATHS = ("bmm", "vmap", "loop")
#: each path in words, for whoever tells a user how a sweep ran (the Sweep window)
PATH_WORDS = {"bmm": "hand-batched matrix products", "vmap": "torch.func.vmap over the members",
              "loop": "one forward call per member"}

#: layers the hand-batched path knows (activations are elementwise and run as they are)
_BMM_LAYERS = (nn.Linear, nn.BatchNorm1d, nn.Dropout, nn.Flatten, nn.ReLU, nn.Tanh, nn.GELU, nn.Sigmoid)

#: per-member multiply-adds per step (batch size x parameters) above which one plain matrix
#: product per member (``loop``) beats ``bmm`` on a CPU (bench_sweep.py, one thread)
LOOP_ABOVE_MACS = 12_000_000


def supports_bmm(model: nn.Module) -> bool:
    """True for a ``nn.Sequential`` of layers the hand-batched path implements."""
    return isinstance(model, nn.Sequential) and all(isinstance(m, _BMM_LAYERS) for m in model)


def choose_path(model: nn.Module, batch_size: int, device: torch.device) -> str:
    """The fastest path for this model, by size: ``bmm`` for small MLPs and linear models,
    ``loop`` for large ones on a CPU (a plain matrix product per member wins once the maths
    outweighs the per-call overhead), ``vmap`` for other models (the CNN), where the loop's
    Python calls per member would dominate. ``bench_sweep.py`` measured the threshold. A model
    class may name its path in ``stacked_path`` (the transformer: ``loop``)."""
    macs = batch_size * sum(p.numel() for p in model.parameters())
    preferred = getattr(model, "stacked_path", None)  # a model that knows vmap gains it nothing
    if preferred in PATHS:
        return preferred
    if supports_bmm(model):
        return "loop" if device.type == "cpu" and macs > LOOP_ABOVE_MACS else "bmm"
    return "vmap"


class StackedModel:
    """K members of one architecture with stacked parameters and buffers.

    ``modules`` holds one built module per member (the same object may appear several times:
    members of one seed start from the same weights). ``params`` are leaf tensors
    ``[K, *shape]`` that require grad; after a backward pass ``params[name].grad[k]`` is member
    k's gradient."""

    def __init__(self, modules: Sequence[nn.Module], path: str):
        if path not in PATHS:
            raise ValueError(f"path must be one of {PATHS}, got {path!r}")
        if path == "bmm" and not supports_bmm(modules[0]):
            raise ValueError("the bmm path needs an nn.Sequential of Linear, BatchNorm1d, Dropout, "
                             "Flatten and activations")
        self.k = len(modules)
        self.path = path
        self.params, self.buffers = torch.func.stack_module_state(list(modules))
        # the architecture alone, for functional_call and for reading layer settings
        self.base = copy.deepcopy(modules[0]).to("meta")
        self.training = True
        self._vmapped: dict[bool, Any] = {}

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def train(self, mode: bool = True) -> None:
        self.training = mode
        self.base.train(mode)

    def eval(self) -> None:
        self.train(False)

    def __call__(self, x: torch.Tensor, shared: bool) -> torch.Tensor:
        """Outputs ``[K, B, outputs]``. ``x`` is one batch for every member (``shared``,
        ``[B, ...]``) or one batch per member (``[K, B, ...]``)."""
        if self.path == "bmm":
            return self._bmm(x, shared)
        if self.path == "vmap":
            return self._vmap(x, shared)
        return self._loop(x, shared)

    def _bmm(self, x: torch.Tensor, shared: bool) -> torch.Tensor:
        k, p = self.k, self.params
        h = x
        for i, layer in enumerate(self.base):
            if isinstance(layer, nn.Linear):
                if shared:  # every member reads the same batch: a stride-0 view, no copy
                    h, shared = h.expand(k, *h.shape), False
                # y = x W^T + b for all members in one call
                h = torch.baddbmm(p[f"{i}.bias"].unsqueeze(1), h, p[f"{i}.weight"].transpose(1, 2))
            elif isinstance(layer, nn.BatchNorm1d):
                h = self._batch_norm(h, layer, str(i))
            elif isinstance(layer, nn.Flatten):
                h = h.flatten(1 if shared else 2)
            elif isinstance(layer, nn.Dropout):
                h = F.dropout(h, layer.p, self.training)  # a fresh mask for every member
            else:
                h = layer(h)
        return h.expand(k, *h.shape) if shared else h

    def _batch_norm(self, h: torch.Tensor, layer: nn.BatchNorm1d, name: str) -> torch.Tensor:
        """K batch norms as one over K x H channels: channels are normalised independently, so
        member k's statistics and running buffers (views of the stacked ones) are its own."""
        k, n, width = h.shape
        p, b = self.params, self.buffers
        flat = h.transpose(0, 1).reshape(n, k * width)
        if self.training:
            b[f"{name}.num_batches_tracked"].add_(1)
        out = F.batch_norm(flat, b[f"{name}.running_mean"].view(-1), b[f"{name}.running_var"].view(-1),
                           p[f"{name}.weight"].reshape(-1), p[f"{name}.bias"].reshape(-1),
                           self.training, layer.momentum, layer.eps)
        return out.view(n, k, width).transpose(0, 1)

    def _vmap(self, x: torch.Tensor, shared: bool) -> torch.Tensor:
        fn = self._vmapped.get(shared)
        if fn is None:
            base = self.base

            def one(params: Mapping[str, torch.Tensor], buffers: Mapping[str, torch.Tensor],
                    xb: torch.Tensor) -> torch.Tensor:
                return torch.func.functional_call(base, (params, buffers), (xb,))

            fn = torch.func.vmap(one, in_dims=(0, 0, None if shared else 0), randomness="different")
            self._vmapped[shared] = fn
        return fn(self.params, self.buffers, x)

    def _loop(self, x: torch.Tensor, shared: bool) -> torch.Tensor:
        # unbind once: its backward stacks the K gradients in one go (indexing P[k] K times
        # would build K full-size zero tensors in the backward pass)
        params = {n: t.unbind(0) for n, t in self.params.items()}
        buffers = {n: t.unbind(0) for n, t in self.buffers.items()}  # views: BN updates land in the stack
        outs = []
        for j in range(self.k):
            member = ({n: v[j] for n, v in params.items()}, {n: v[j] for n, v in buffers.items()})
            outs.append(torch.func.functional_call(self.base, member, (x if shared else x[j],)))
        return torch.stack(outs)


def member_view(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A ``[K]`` tensor shaped ``[K, 1, ..., 1]`` to broadcast against a stacked ``like``."""
    return values.view(-1, *([1] * (like.dim() - 1)))


def member_norms(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Each member's L2 norm over several stacked tensors, ``[K]``: never one norm across
    members. A norm of per-tensor norms, as the trainer computes its global norm."""
    k = tensors[0].shape[0]
    per_tensor = [torch.linalg.vector_norm(t.reshape(k, -1), dim=1) for t in tensors]
    return torch.linalg.vector_norm(torch.stack(per_tensor), dim=0)


class StackedOptimizer:
    """``torch.optim``'s SGD, Adam, AdamW, RMSprop and Adagrad over stacked parameters, with
    one learning rate per member.

    ``param_groups[0]`` holds the hyperparameters shared by all members (momentum, betas, ...;
    its ``lr`` is unused), so :func:`lrlab.core.engine.optim.apply_hyperparameters` edits them as it
    edits a torch optimizer. :meth:`step` takes the members' LRs for this step. In the
    formulas, ``g`` is a member's gradient, ``p`` its parameter, ``lr`` its LR and ``t`` the
    step count from 1; each rule is written in the order torch's single-tensor loop uses.
    """

    #: the optimizers written here (others run per member: :mod:`lrlab.core.engine.per_member`)
    KINDS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")

    def __init__(self, spec: Kinded, params: Sequence[torch.Tensor]):
        self.kind = spec.kind
        hyper = dict(spec.params)
        if "betas" in hyper:
            hyper["betas"] = tuple(hyper["betas"])
        self.param_groups: list[dict[str, Any]] = [hyper]
        self.params = list(params)
        self.k = self.params[0].shape[0]
        self.t = 0  # steps taken (torch keeps one count per parameter; here they are equal)
        self.state: list[dict[str, torch.Tensor]] = [{} for _ in self.params]
        if self.kind == "adagrad":
            for p, s in zip(self.params, self.state, strict=True):
                s["sum"] = torch.full_like(p, hyper["initial_accumulator_value"], memory_format=torch.preserve_format)
        self._update = {"sgd": self._sgd, "adam": self._adam, "adamw": self._adam,
                        "rmsprop": self._rmsprop, "adagrad": self._adagrad}[self.kind]

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor], lrs: np.ndarray) -> None:
        """One update of every member; ``lrs`` (float64, ``[K]``) are this step's LRs (0 for a
        frozen member)."""
        self.t += 1
        self._update(grads, lrs)

    @torch.no_grad()
    def copy_member(self, source: int, target: int) -> None:
        """Member ``target``'s optimizer state becomes ``source``'s (a population's exploit; the
        same call as :meth:`lrlab.core.engine.per_member.PerMemberOptimizer.copy_member`)."""
        for s in self.state:
            for v in s.values():
                v[target] = v[source]

    @torch.no_grad()
    def reset_member(self, k: int) -> None:
        """Forget member k's optimizer state (moment estimates, momentum): a frozen member's
        state may hold inf or NaN, and with its state at zero, a zero gradient and a zero LR
        its parameters stay exactly as they are."""
        for s in self.state:
            for name, v in s.items():
                v[k] = self.param_groups[0]["initial_accumulator_value"] if name == "sum" else 0

    def _tensor(self, values: np.ndarray) -> torch.Tensor:
        """Per-member scalars (computed in float64, as torch computes its Python-float scalars)
        as one tensor of the parameters' dtype and device."""
        p = self.params[0]
        values = np.asarray(values, dtype=np.float64)  # rounded to float32 here: MPS has no float64
        return torch.from_numpy(values.astype(np.float32) if p.dtype == torch.float32 else values).to(
            device=p.device, dtype=p.dtype)

    def _sgd(self, grads: Sequence[torch.Tensor], lrs: np.ndarray) -> None:
        """SGD (``torch/optim/sgd.py``)::

            g <- g + weight_decay * p                          (if weight_decay)
            b <- g  at the first step, else  momentum * b + (1 - dampening) * g
            g <- g + momentum * b  (nesterov)   or   g <- b    (if momentum)
            p <- p - lr * g
        """
        h = self.param_groups[0]
        lr = self._tensor(lrs)
        wd, momentum, dampening, nesterov = h["weight_decay"], h["momentum"], h["dampening"], h["nesterov"]
        for p, g, s in zip(self.params, grads, self.state, strict=True):
            if wd != 0:
                g = g.add(p, alpha=wd)
            if momentum != 0:
                buf = s.get("momentum_buffer")
                if buf is None:
                    buf = s["momentum_buffer"] = g.detach().clone()
                else:
                    buf.mul_(momentum).add_(g, alpha=1 - dampening)
                g = g.add(buf, alpha=momentum) if nesterov else buf
            p.addcmul_(g, member_view(lr, p), value=-1)

    def _adam(self, grads: Sequence[torch.Tensor], lrs: np.ndarray) -> None:
        """Adam and AdamW (``torch/optim/adam.py``; AdamW is Adam with decoupled decay)::

            p <- p * (1 - lr * weight_decay)                   (AdamW)
            g <- g + weight_decay * p                          (Adam, if weight_decay)
            m <- m + (1 - beta1) * (g - m)                     (lerp)
            v <- beta2 * v + (1 - beta2) * g * g
            v_max <- max(v_max, v), used for v below           (amsgrad)
            p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
        """
        h = self.param_groups[0]
        beta1, beta2 = h["betas"]
        wd, eps, amsgrad, decoupled = h["weight_decay"], h["eps"], h["amsgrad"], self.kind == "adamw"
        t = self.t
        bias_correction1 = 1 - beta1 ** t
        bias_correction2_sqrt = (1 - beta2 ** t) ** 0.5
        step_size = self._tensor(lrs / bias_correction1)
        decay = self._tensor(1 - lrs * wd) if decoupled and wd != 0 else None
        for p, g, s in zip(self.params, grads, self.state, strict=True):
            if not s:
                s["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                s["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if amsgrad:
                    s["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if wd != 0:
                if decay is not None:
                    p.mul_(member_view(decay, p))
                else:
                    g = g.add(p, alpha=wd)
            exp_avg, exp_avg_sq = s["exp_avg"], s["exp_avg_sq"]
            exp_avg.lerp_(g, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            if amsgrad:
                torch.maximum(s["max_exp_avg_sq"], exp_avg_sq, out=s["max_exp_avg_sq"])
                denom = (s["max_exp_avg_sq"].sqrt() / bias_correction2_sqrt).add_(eps)
            else:
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            p.addcmul_(exp_avg / denom, member_view(step_size, p), value=-1)

    def _rmsprop(self, grads: Sequence[torch.Tensor], lrs: np.ndarray) -> None:
        """RMSprop (``torch/optim/rmsprop.py``)::

            g <- g + weight_decay * p                          (if weight_decay)
            v <- alpha * v + (1 - alpha) * g * g
            a <- a + (1 - alpha) * (g - a);  d = sqrt(v - a * a) + eps     (centered)
            d = sqrt(v) + eps                                  (otherwise)
            b <- momentum * b + g / d;  p <- p - lr * b        (if momentum)
            p <- p - lr * g / d                                (otherwise)
        """
        h = self.param_groups[0]
        lr = self._tensor(lrs)
        wd, alpha, eps, momentum, centered = h["weight_decay"], h["alpha"], h["eps"], h["momentum"], h["centered"]
        for p, g, s in zip(self.params, grads, self.state, strict=True):
            if "square_avg" not in s:
                s["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if centered:
                    s["grad_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if wd != 0:
                g = g.add(p, alpha=wd)
            square_avg = s["square_avg"]
            square_avg.mul_(alpha).addcmul_(g, g, value=1 - alpha)
            if centered:
                grad_avg = s["grad_avg"]
                grad_avg.lerp_(g, 1 - alpha)
                avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
            else:
                avg = square_avg.sqrt()
            avg = avg.add_(eps)
            if momentum > 0:
                buf = s.get("momentum_buffer")
                if buf is None:  # momentum switched on mid-run: start from zero, as torch would
                    buf = s["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                buf.mul_(momentum).addcdiv_(g, avg)
                p.addcmul_(buf, member_view(lr, p), value=-1)
            else:
                p.addcmul_(g / avg, member_view(lr, p), value=-1)

    def _adagrad(self, grads: Sequence[torch.Tensor], lrs: np.ndarray) -> None:
        """Adagrad (``torch/optim/adagrad.py``)::

            g <- g + weight_decay * p                          (if weight_decay)
            clr = lr / (1 + (t - 1) * lr_decay)
            s <- s + g * g                                     (s starts at initial_accumulator_value)
            p <- p - clr * g / (sqrt(s) + eps)
        """
        h = self.param_groups[0]
        clr = self._tensor(lrs / (1 + (self.t - 1) * h["lr_decay"]))
        wd, eps = h["weight_decay"], h["eps"]
        for p, g, s in zip(self.params, grads, self.state, strict=True):
            if wd != 0:
                g = g.add(p, alpha=wd)
            state_sum = s["sum"]
            state_sum.addcmul_(g, g, value=1)
            std = state_sum.sqrt().add_(eps)
            p.addcmul_(g / std, member_view(clr, p), value=-1)


def member_losses(out: torch.Tensor, y: torch.Tensor, task: str, shared: bool) -> torch.Tensor:
    """Each member's mean loss over its batch, ``[K]``, reduced as ``nn.CrossEntropyLoss``
    (classification) or ``nn.MSELoss`` (regression) reduce one batch. ``y`` holds one batch of
    targets for every member (``shared``) or one per member (``[K, ...]``)."""
    k, n = out.shape[:2]
    if shared:
        y = y.expand(k, *y.shape)
    if task == "classification":
        per_sample = F.cross_entropy(out.reshape(k * n, -1), y.reshape(k * n), reduction="none")
        return per_sample.view(k, n).mean(1)
    return (out - y).pow(2).flatten(1).mean(1)
