"""An example of your own data for lrlab: ``{"name": "python", "entry": "my_data.py:load"}``.

lrlab calls ``load(seed)`` with the dataset's ``seed`` field (default 0) and expects
``(X_train, y_train, X_val, y_val)``: numpy arrays or torch tensors, inputs with one row per
sample, labels one per sample (integers 0..C-1 for classification; floats with
``"task": "regression"``). Your split is used as given; nothing is scaled.
"""

import numpy as np


def load(seed):
    rng = np.random.default_rng(seed)
    n = 600
    angle = rng.uniform(0.5, 3 * np.pi, n)
    label = rng.integers(0, 2, n)
    radius = angle / (3 * np.pi) + rng.normal(0, 0.02, n)
    sign = np.where(label == 0, 1.0, -1.0)  # two interleaved spirals
    x = np.stack([sign * radius * np.cos(angle), sign * radius * np.sin(angle)], axis=1).astype(np.float32)
    return x[:480], label[:480], x[480:], label[480:]
