"""Datasets held in memory as tensors, and the seeded order in which batches visit them.

scikit-learn's bundled and generated sets work offline. The train/validation split
is seeded by the dataset's ``split_seed`` (not the run seed) so that runs with
different seeds are judged on the same validation samples; features (and a
regression target) are standardised with statistics of the training split only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lrlab.core.params import Kinded, SpecError
from lrlab.core.spec import SKLEARN_SETS


@dataclass
class Dataset:
    """Tensors on the run's device. ``y`` holds class indices (int64) or targets (float, N x 1)."""

    name: str
    task: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    n_outputs: int
    #: (C, H, W) when samples are images, else None
    image_shape: tuple[int, int, int] | None = None
    #: turns a stored batch into model input (uint8 images -> normalised floats); None: as is
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None
    #: the official test split (inputs, labels), when asked for
    test: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def n_train(self) -> int:
        return len(self.x_train)

    @property
    def n_features(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))


def _sklearn_arrays(spec: Kinded) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets as skd

    name, p = spec.kind, spec.params
    bundled = {"iris": skd.load_iris, "wine": skd.load_wine, "breast_cancer": skd.load_breast_cancer,
               "digits": skd.load_digits, "diabetes": skd.load_diabetes}
    if name in bundled:
        return bundled[name](return_X_y=True)
    seed = p["random_state"]
    n = p["n_samples"]
    if name == "moons":
        return skd.make_moons(n, noise=p["noise"], random_state=seed)
    if name == "circles":
        return skd.make_circles(n, noise=p["noise"], factor=p["factor"], random_state=seed)
    if name == "blobs":
        return skd.make_blobs(n, n_features=p["n_features"], centers=p["centers"],
                              cluster_std=p["cluster_std"], random_state=seed)
    if name == "classification":
        if p["n_informative"] > p["n_features"]:
            raise SpecError([("dataset.n_informative",
                              f"must be <= n_features ({p['n_features']}), got {p['n_informative']}")])
        if p["n_classes"] * 2 > 2 ** p["n_informative"]:
            raise SpecError([("dataset.n_classes", "make_classification needs n_classes * 2 <= "
                              f"2 ** n_informative ({2 ** p['n_informative']}), got {p['n_classes']}")])
        return skd.make_classification(n, n_features=p["n_features"], n_informative=p["n_informative"],
                                       n_redundant=0, n_classes=p["n_classes"], class_sep=p["class_sep"],
                                       random_state=seed)
    if name == "regression":
        return skd.make_regression(n, n_features=p["n_features"],
                                   n_informative=min(p["n_informative"], p["n_features"]),
                                   noise=p["noise"], random_state=seed)
    raise SpecError([("dataset.name", f"no loader for {name!r}")])


def load_dataset(spec: Kinded, device: torch.device) -> Dataset:
    """Load, split, standardise and move a dataset to ``device``."""
    if spec.kind not in SKLEARN_SETS:
        from lrlab.core import vision

        return vision.load(spec, device)
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    task = SKLEARN_SETS[spec.kind][0]
    x, y = _sklearn_arrays(spec)
    classification = task == "classification"
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, test_size=spec["val_fraction"], random_state=spec["split_seed"],
        stratify=y if classification else None)
    scaler = StandardScaler().fit(x_tr)
    x_tr, x_va = scaler.transform(x_tr), scaler.transform(x_va)
    if classification:
        y_tr_t = torch.as_tensor(y_tr, dtype=torch.int64)
        y_va_t = torch.as_tensor(y_va, dtype=torch.int64)
        n_out = int(max(y_tr.max(), y_va.max())) + 1
    else:  # a standardised target keeps MSE near 1 at the start, whatever the units; R^2 is unchanged
        mean, std = float(y_tr.mean()), float(y_tr.std()) or 1.0
        y_tr_t = torch.as_tensor((y_tr - mean) / std, dtype=torch.float32).reshape(-1, 1)
        y_va_t = torch.as_tensor((y_va - mean) / std, dtype=torch.float32).reshape(-1, 1)
        n_out = 1
    image_shape = (1, 8, 8) if spec.kind == "digits" else None

    def put(t: torch.Tensor) -> torch.Tensor:
        return t.to(device)

    return Dataset(spec.kind, task, put(torch.as_tensor(x_tr, dtype=torch.float32)), put(y_tr_t),
                   put(torch.as_tensor(x_va, dtype=torch.float32)), put(y_va_t), n_out, image_shape)


class BatchOrder:
    """Which training samples each step uses: a fresh seeded permutation per epoch.

    The generator lives on the CPU, so the order is the same on every device. Steps
    count from 0; step s belongs to epoch ``s // steps_per_epoch``. For speed, a
    training set under ``copy_limit`` bytes is permuted once per epoch and batches are
    contiguous slices of that copy (no per-step gather); larger sets gather per step.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, drop_last: bool, seed: int,
                 copy_limit: int = 256 * 2**20):
        self.x, self.y = x, y
        self.n, self.batch_size = len(x), batch_size
        self.steps_per_epoch = self.n // batch_size if drop_last else math.ceil(self.n / batch_size)
        if self.steps_per_epoch == 0:
            raise SpecError([("batch_size", f"must be <= the training set size ({self.n}) with "
                                            f"drop_last, got {batch_size}")])
        self.generator = torch.Generator().manual_seed(seed)
        self.copy = x.element_size() * x.numel() + y.element_size() * y.numel() < copy_limit
        self._epoch = -1
        self._perm = x  # replaced at the first step
        self._xs: Sequence[torch.Tensor] = ()
        self._ys: Sequence[torch.Tensor] = ()

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The (inputs, targets) of ``step``; steps must be asked for in order."""
        epoch, i = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._epoch = epoch
            self._perm = torch.randperm(self.n, generator=self.generator).to(self.x.device)
            if self.copy:  # all of the epoch's batches as views, made in one call
                self._xs = self.x[self._perm].split(self.batch_size)
                self._ys = self.y[self._perm].split(self.batch_size)
        if self.copy:
            return self._xs[i], self._ys[i]
        idx = self._perm[i * self.batch_size:(i + 1) * self.batch_size]
        return self.x[idx], self.y[idx]
