"""The models where the learning rate really bites: a CIFAR-style ResNet, any torchvision
classifier by name, and a small decoder-only transformer for the sequence datasets.

Each is built from its model spec (declared in ``lrlab.core.decl.spec``) by
:func:`lrlab.core.engine.models.build_model`, which hands these kinds to :func:`build`.

- ``resnet`` (He et al., 2015, as adapted to 32x32 images): a 3x3 stem of ``width`` (64)
  channels without max-pool, four stages of basic blocks (64, 128, 256, 512 channels at width
  64; strides 1, 2, 2, 2), global average pool, one linear layer. ``depth`` 18 has 2 blocks per stage, 34 has
  3, 4, 6, 3. Each block: conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the input (a 1x1
  conv + BN where the shape changes), then ReLU.
- ``torchvision``: ``torchvision.models.get_model(name, weights=None, num_classes=...)``:
  random weights, so nothing is ever downloaded.
- ``transformer``: token embedding + learned positions, ``layers`` blocks of causal
  self-attention (``F.scaled_dot_product_attention``) and a 4x MLP, each sub-layer wrapped
  pre-LN (``x + f(LN(x))``, then a final LN) or post-LN (``LN(x + f(x))``, as in the original
  transformer), and a linear head read at the last position. Sequence datasets give one
  target per sample (the next token after the sample's tokens), so the transformer is a
  classifier of its sequence and the trainer's cross-entropy and accuracy apply unchanged.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lrlab.core.decl.params import Kinded, SpecError

KINDS = ("resnet", "torchvision", "transformer")

#: blocks per stage of the CIFAR-style ResNets
RESNET_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def build(spec: Kinded, sample_shape: Sequence[int], n_outputs: int,
          image_shape: Sequence[int] | None) -> nn.Module:
    """The module of a ``resnet``, ``torchvision`` or ``transformer`` spec."""
    if spec.kind == "resnet":
        return ResNet(spec["depth"], _channels(sample_shape, image_shape), n_outputs,
                      None if len(sample_shape) > 1 else image_shape, spec["width"])
    if spec.kind == "torchvision":
        return build_torchvision(spec["name"], sample_shape, n_outputs, image_shape)
    if spec.kind == "transformer":
        return Transformer(n_outputs, int(sample_shape[0]), spec["layers"], spec["d_model"], spec["heads"],
                           spec["norm"], spec["dropout"])
    raise ValueError(f"not a model of this module: {spec.kind!r}")


def _channels(sample_shape: Sequence[int], image_shape: Sequence[int] | None) -> int:
    return int(sample_shape[0]) if len(sample_shape) == 3 else int(image_shape[0]) if image_shape else 1


# --- ResNet, CIFAR style ------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the shortcut, then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet-18/34 for 32x32 images: 3x3 stem, no max-pool (see the module docstring)."""

    def __init__(self, depth: int, channels: int, n_outputs: int, unflatten: Sequence[int] | None = None,
                 width: int = 64):
        super().__init__()
        self.unflatten = nn.Unflatten(1, tuple(unflatten)) if unflatten is not None else None
        self.stem = nn.Sequential(nn.Conv2d(channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        blocks: list[nn.Module] = []
        c = width
        for stage, n, stride in zip((1, 2, 4, 8), RESNET_BLOCKS[depth], (1, 2, 2, 2), strict=True):
            for i in range(n):
                blocks.append(BasicBlock(c, width * stage, stride if i == 0 else 1))
                c = width * stage
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(c, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unflatten is not None:
            x = self.unflatten(x)
        x = self.blocks(self.stem(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# --- any torchvision classifier -----------------------------------------------------------------


def torchvision_missing() -> str | None:
    """Why ``torchvision`` models cannot be built here, or None."""
    if importlib.util.find_spec("torchvision") is None:
        return "needs torchvision: pip install 'lrlab[vision]'"
    return None


def torchvision_classifiers() -> list[str]:
    """The names ``torchvision.models`` builds as image classifiers (its top-level module)."""
    import torchvision.models as tvm

    return sorted(tvm.list_models(module=tvm))


def check_torchvision_name(name: str) -> None:
    """SpecError on ``model.name`` unless torchvision is installed and has that classifier."""
    reason = torchvision_missing()
    if reason:
        raise SpecError([("model.kind", f"torchvision {reason}")])
    names = torchvision_classifiers()
    if name not in names:
        from lrlab.core.decl.params import did_you_mean

        raise SpecError([("model.name", f"unknown torchvision classifier {name!r}{did_you_mean(name, names)} "
                                        f"(e.g. {', '.join(n for n in names if n.startswith('resnet'))})")])


def build_torchvision(name: str, sample_shape: Sequence[int], n_outputs: int,
                      image_shape: Sequence[int] | None) -> nn.Module:
    """``torchvision.models.get_model(name, weights=None, num_classes=n_outputs)``; flat inputs
    (scikit-learn's digits) are unflattened to their image shape first."""
    check_torchvision_name(name)
    import torchvision.models as tvm

    kwargs = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
    model = tvm.get_model(name, weights=None, num_classes=n_outputs, **kwargs)
    if len(sample_shape) == 1 and image_shape is not None:
        return nn.Sequential(nn.Unflatten(1, tuple(image_shape)), model)
    return model


# --- a decoder-only transformer -----------------------------------------------------------------


class Block(nn.Module):
    """Causal self-attention and a 4x MLP, each wrapped pre-LN or post-LN."""

    def __init__(self, d_model: int, heads: int, norm: str, dropout: float):
        super().__init__()
        self.heads, self.pre, self.dropout = heads, norm == "pre", dropout
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
        self.drop = nn.Dropout(dropout)

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.drop(self.proj(out.transpose(1, 2).reshape(b, t, d)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre:  # x + f(LN(x)): the residual stream is never normalised
            x = x + self.attend(self.ln1(x))
            return x + self.drop(self.mlp(self.ln2(x)))
        x = self.ln1(x + self.attend(x))  # LN(x + f(x)): the original transformer
        return self.ln2(x + self.drop(self.mlp(x)))


class Transformer(nn.Module):
    """Tokens (B, T) -> logits (B, vocab) for the token after the last. The vocabulary is the
    number of outputs (sequence datasets number their tokens and targets alike)."""

    #: a sweep runs its members one call each: ``scaled_dot_product_attention`` has no batching
    #: rule for vmap (torch falls back to a loop over the members, with a warning), so ``vmap``
    #: would be the same loop, slower
    stacked_path = "loop"

    def __init__(self, vocab: int, context: int, layers: int, d_model: int, heads: int, norm: str, dropout: float):
        super().__init__()
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Parameter(torch.randn(context, d_model) * 0.02)
        self.blocks = nn.Sequential(*(Block(d_model, heads, norm, dropout) for _ in range(layers)))
        self.ln = nn.LayerNorm(d_model) if norm == "pre" else nn.Identity()
        self.head = nn.Linear(d_model, vocab)
        nn.init.normal_(self.tokens.weight, std=0.02)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if name.endswith(("proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.tokens(x.long()) + self.positions[: x.shape[1]])
        return self.head(self.ln(h[:, -1]))


# --- what a model costs, before anything is allocated ------------------------------------------


def estimate(spec: Kinded, sample_shape: Sequence[int], image_shape: Sequence[int] | None, n_outputs: int,
             tokens: bool, max_parameters: int) -> tuple[int, int]:
    """(parameters, activation values per sample) of this model, before anything is allocated.

    ResNet and transformer are counted by formula (building one of 10 billion parameters to count
    them would be the allocation this check exists to prevent; torch's ``meta`` device would do
    it without memory but loads torch's compiler, 7-15 s). A torchvision model is built on the
    ``meta`` device to count its parameters and then, unless above ``max_parameters``, on the CPU for one
    forward pass of two samples, which counts the outputs of its leaf modules and checks that it
    takes the samples and gives one output per class; SpecError (one line, naming the field) if not.
    """
    if spec.kind == "resnet":
        return _resnet_size(spec, sample_shape, image_shape, n_outputs)
    if spec.kind == "transformer":
        return _transformer_size(spec, int(sample_shape[0]), n_outputs)
    try:
        with torch.device("meta"):
            n_params = sum(p.numel() for p in build(spec, sample_shape, n_outputs, image_shape).parameters())
    except SpecError:
        raise
    except (RuntimeError, ValueError, TypeError) as err:
        raise SpecError([("model.name", f"cannot build {_name(spec)}: {str(err).splitlines()[0][:200]}")]) from None
    if n_params > max_parameters:
        return n_params, 0  # refused by its size (lrlab.core.engine.limits): never built for real
    return n_params, check_outputs(build(spec, sample_shape, n_outputs, image_shape), spec, sample_shape,
                                   n_outputs, tokens)


def check_outputs(model: nn.Module, spec: Kinded, sample_shape: Sequence[int], n_outputs: int, tokens: bool) -> int:
    """One forward pass of two samples (eval mode: batch norm in training mode refuses one value
    per channel) on the CPU: SpecError unless the model takes them and gives ``n_outputs`` each;
    returns the activation values per sample (the outputs of every leaf module)."""
    field = "model.name" if spec.kind == "torchvision" else "model.kind"
    values = [0]

    def count(_: nn.Module, __: object, out: object) -> None:
        if isinstance(out, torch.Tensor):
            values[0] += out[0].numel() if out.dim() else 1  # one sample's share

    hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    x = torch.zeros((2, *sample_shape), dtype=torch.int64 if tokens else torch.float32)
    try:
        with torch.no_grad():
            out = model.eval()(x)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        raise SpecError([(field, f"{_name(spec)} cannot take samples of shape {tuple(sample_shape)}: "
                                 f"{str(err).splitlines()[0][:200]}")]) from None
    finally:
        for h in hooks:
            h.remove()
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, n_outputs):
        shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else type(out).__name__
        raise SpecError([(field, f"{_name(spec)} gives outputs of shape {shape} per sample, not ({n_outputs},) "
                                 f"for the dataset's {n_outputs} classes")])
    return values[0]


def _resnet_size(spec: Kinded, sample_shape: Sequence[int], image_shape: Sequence[int] | None,
                 n_outputs: int) -> tuple[int, int]:
    """ResNet's parameters, and its activations per sample: the stem's conv, BN and ReLU, and per
    block seven maps (two convs, two BNs, the sum, two ReLUs) plus the shortcut's two."""
    c = _channels(sample_shape, image_shape)
    h, w = (sample_shape[1:] if len(sample_shape) == 3 else (image_shape or (1, 1, 1))[1:])
    width = spec["width"]
    params, acts = c * width * 9 + 2 * width, 3 * width * h * w
    c_in = width
    for stage, n, stride in zip((1, 2, 4, 8), RESNET_BLOCKS[spec["depth"]], (1, 2, 2, 2), strict=True):
        c_out = width * stage
        for i in range(n):
            s = stride if i == 0 else 1
            h, w = -(-h // s), -(-w // s)
            params += c_in * c_out * 9 + c_out * c_out * 9 + 4 * c_out
            acts += 7 * c_out * h * w
            if s != 1 or c_in != c_out:
                params += c_in * c_out + 2 * c_out
                acts += 2 * c_out * h * w
            c_in = c_out
    return params + c_in * n_outputs + n_outputs, acts + c_in + n_outputs


def _transformer_size(spec: Kinded, context: int, vocab: int) -> tuple[int, int]:
    """The transformer's parameters (embeddings, per block 12 d^2 + 13 d, the head), and its
    activations per sample: per token and block about 17 d values (qkv, attention output,
    projection, two norms, the MLP's 4d twice, the residual sums) and the attention weights."""
    d, layers, heads = spec["d_model"], spec["layers"], spec["heads"]
    params = vocab * d + context * d + layers * (12 * d * d + 13 * d) + d * vocab + vocab
    params += 2 * d if spec["norm"] == "pre" else 0
    return params, context * (layers * (17 * d + heads * context) + 2 * d) + vocab


def _name(spec: Kinded) -> str:
    return f"torchvision's {spec['name']}" if spec.kind == "torchvision" else spec.kind
