"""Small networks for learning-rate experiments, built from a model spec."""

from __future__ import annotations

import math

from torch import nn

from lrlab.core.params import Kinded

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


def build_model(spec: Kinded, sample_shape: tuple[int, ...], n_outputs: int,
                image_shape: tuple[int, int, int] | None = None) -> nn.Module:
    """``linear``: one affine map (logistic/linear regression); ``mlp``: hidden layers, each
    Linear -> [BatchNorm] -> activation -> [Dropout]. Image inputs (N, C, H, W) are flattened;
    ``cnn`` needs ``image_shape`` and reshapes flat inputs (scikit-learn's digits) to it."""
    if spec.kind == "cnn":
        from lrlab.core.vision import build_cnn

        assert image_shape is not None
        return build_cnn(spec, sample_shape, image_shape, n_outputs)
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


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
