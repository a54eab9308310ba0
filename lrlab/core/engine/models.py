"""Small networks for learning-rate experiments, built from a model spec."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from lrlab.core.decl.params import Kinded
from lrlab.core.engine import nets

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


def build_model(spec: Kinded, sample_shape: tuple[int, ...], n_outputs: int,
                image_shape: tuple[int, int, int] | None = None) -> nn.Module:
    """``linear``: one affine map (logistic/linear regression); ``mlp``: hidden layers, each
    Linear -> [BatchNorm] -> activation -> [Dropout]. Image inputs (N, C, H, W) are flattened;
    ``cnn`` needs ``image_shape`` and reshapes flat inputs (scikit-learn's digits) to it."""
    if spec.kind == "python":  # your own code (lrlab.core.engine.usercode checks consent and the output)
        from lrlab.core.engine.usercode import build_user_model

        return build_user_model(spec, sample_shape, n_outputs)
    if spec.kind == "cnn":
        assert image_shape is not None
        return build_cnn(spec, sample_shape, image_shape, n_outputs)
    if spec.kind in nets.KINDS:  # resnet, torchvision, transformer
        return nets.build(spec, sample_shape, n_outputs, image_shape)
    # Flatten only when samples are not already vectors: each module call costs per step.
    layers: list[nn.Module] = [nn.Flatten()] if len(sample_shape) > 1 else []
    width = math.prod(sample_shape)
    if spec.kind == "mlp":
        for hidden in spec["hidden"]:
            layers.append(nn.Linear(width, hidden))
            if spec["batch_norm"]:
                layers.append(nn.BatchNorm1d(hidden))
            layers.append(ACTIVATIONS[spec["activation"]]())
            if spec["dropout"] > 0:
                layers.append(nn.Dropout(spec["dropout"]))
            width = hidden
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def build_cnn(spec: Kinded, sample_shape: Sequence[int], image_shape: Sequence[int],
              n_outputs: int) -> nn.Module:
    """LeNet-style: per entry of ``channels``, conv(kernel_size, same padding) -> activation ->
    2x2 max-pool (while the image is at least 2 pixels wide); then flatten -> linear(hidden) ->
    activation -> [dropout] -> linear(classes). Flat inputs (digits' 64 features) are reshaped
    to ``image_shape`` first."""
    act = ACTIVATIONS[spec["activation"]]
    c, h, w = image_shape
    layers: list[nn.Module] = []
    if len(sample_shape) == 1:
        layers.append(nn.Unflatten(1, (c, h, w)))
    k = spec["kernel_size"]
    for out in spec["channels"]:
        layers += [nn.Conv2d(c, out, k, padding=k // 2), act()]
        if min(h, w) >= 2:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        c = out
    layers += [nn.Flatten(), nn.Linear(c * h * w, spec["hidden"]), act()]
    if spec["dropout"] > 0:
        layers.append(nn.Dropout(spec["dropout"]))
    layers.append(nn.Linear(spec["hidden"], n_outputs))
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
