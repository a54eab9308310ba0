"""An example of your own model for lrlab: ``{"kind": "python", "entry": "my_model.py:build"}``.

lrlab calls ``build(sample_shape, n_outputs)`` once per run, after seeding torch, with the shape
of one input sample (e.g. ``(2,)`` for two features, ``(1, 8, 8)`` for an 8x8 image) and the
number of outputs (classes, or 1 for regression). Return any ``torch.nn.Module`` that maps a
batch ``(N, *sample_shape)`` to ``(N, n_outputs)``: logits for classification, one value for
regression.
"""

import math

from torch import nn


def build(sample_shape, n_outputs):
    features = math.prod(sample_shape)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(features, 32),
        nn.SiLU(),
        nn.Linear(32, 32),
        nn.SiLU(),
        nn.Linear(32, n_outputs),
    )
