"""Datasets held in memory as tensors, and the seeded order in which batches visit them.

Which datasets exist and how to load their samples is declared in
``lrlab.core.decl.datasets``; here the samples are split, scaled and moved to the run's
device, the way their family wants. The train/validation split is seeded by the
dataset's ``split_seed`` (not the run seed) so that runs with different seeds are
judged on the same validation samples. scikit-learn's sets work offline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lrlab.core.decl.datasets import ALGORITHMIC, DECLARED, IMAGES, TABULAR, TEXT, USER, DatasetInfo, Samples
from lrlab.core.decl.owndata import FOLDER, TABLE
from lrlab.core.decl.params import Kinded, SpecError
from lrlab.core.engine import owndata, usercode, vision  # noqa: F401 (install the readers the loaders call)
from lrlab.core.engine.splits import split_indices, standard_scaling, standardize


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
    #: the user's own files: path, size, SHA-256 (a session records it; a replay compares it)
    provenance: dict | None = None
    #: training batches' augmentation, (batch, seed, step) -> batch, on the device; None: none
    augment: Callable[[torch.Tensor, int, int], torch.Tensor] | None = None

    @property
    def n_train(self) -> int:
        return len(self.x_train)

    @property
    def n_features(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))


def load_dataset(spec: Kinded, device: torch.device) -> Dataset:
    """Load a dataset with its declared loader, split it as its family does, move it to ``device``."""
    info = DECLARED[spec.kind]
    return _SPLITTERS[info.family.name](spec, info, info.load(spec), device)


def _split_tabular(spec: Kinded, info: DatasetInfo, samples: Samples, device: torch.device) -> Dataset:
    """A stratified (classification) split by ``split_seed``; features, and a regression target,
    standardised with statistics of the training split only."""
    x, y = samples.x, samples.y
    classification = info.task == "classification"
    _check_split(spec, info, len(y), len(np.unique(y)) if classification else 1)
    # scikit-learn's train_test_split and StandardScaler, without importing it (2 s): see splits
    train, val = split_indices(len(y), spec["val_fraction"], spec["split_seed"], y if classification else None)
    x_tr, x_va, y_tr, y_va = x[train], x[val], y[train], y[val]
    mean, scale = standard_scaling(x_tr)
    x_tr, x_va = standardize(x_tr, mean, scale), standardize(x_va, mean, scale)
    if classification:
        y_tr_t = torch.as_tensor(y_tr, dtype=torch.int64)
        y_va_t = torch.as_tensor(y_va, dtype=torch.int64)
        n_out = info.classes or int(max(y_tr.max(), y_va.max())) + 1
    else:  # a standardised target keeps MSE near 1 at the start, whatever the units; R^2 is unchanged
        mean, std = float(y_tr.mean()), float(y_tr.std()) or 1.0
        y_tr_t = torch.as_tensor((y_tr - mean) / std, dtype=torch.float32).reshape(-1, 1)
        y_va_t = torch.as_tensor((y_va - mean) / std, dtype=torch.float32).reshape(-1, 1)
        n_out = 1

    def put(t: torch.Tensor) -> torch.Tensor:
        return t.to(device)

    return Dataset(spec.kind, info.task, put(torch.as_tensor(x_tr, dtype=torch.float32)), put(y_tr_t),
                   put(torch.as_tensor(x_va, dtype=torch.float32)), put(y_va_t), n_out, info.image_shape)


def _check_split(spec: Kinded, info: DatasetInfo, n: int, classes: int) -> None:
    """A stratified split puts at least one sample of every class on each side; scikit-learn's
    own refusal names none of our fields, so say which one and what would work."""
    n_val = info.family.held_out(n, spec["val_fraction"])
    for side, count in (("validation", n_val), ("training", n - n_val)):
        if count < classes:
            raise SpecError([("dataset.val_fraction",
                              f"{spec['val_fraction']:g} of {n:,} samples leaves {count:,} for {side}, fewer than "
                              f"the {classes} {'classes' if classes > 1 else 'sample'} it needs; choose a "
                              f"fraction between {classes / n:.2g} and {1 - classes / n:.2g}")])


def _split_images(spec: Kinded, info: DatasetInfo, samples: Samples, device: torch.device,
                  normalize: type[Normalize] | None = None) -> Dataset:
    """A seeded shuffle (cut to ``subset``) whose head is the validation set. Images stay uint8
    (CIFAR-10's training set is about 150 MB so) and are normalised one batch at a time."""
    images, labels = samples.x, samples.y
    gen = torch.Generator().manual_seed(spec["split_seed"])
    order = torch.randperm(len(images), generator=gen)
    if spec.get("subset") is not None:
        order = order[: spec["subset"]]
    _check_split(spec, info, len(order), 1)  # images are not stratified: one training image will do
    n_val = info.family.held_out(len(order), spec["val_fraction"])
    val_idx, train_idx = order[:n_val], order[n_val:]
    train = images[train_idx]  # one gather, for the statistics and the training set
    norm = (normalize or Normalize)(train, device)
    test = None if samples.test is None else (samples.test[0].to(device), samples.test[1].to(device))
    c, h, w = images.shape[1:]
    classes = (samples.meta or {}).get("classes")
    n_out = len(classes) if classes else info.classes_of(spec.params) or int(labels.max()) + 1
    return Dataset(spec.kind, info.task, train.to(device), labels[train_idx].to(device),
                   images[val_idx].to(device), labels[val_idx].to(device), n_out,
                   (int(c), int(h), int(w)), prepare=norm, test=test)


def _split_sequences(spec: Kinded, info: DatasetInfo, samples: Samples, device: torch.device) -> Dataset:
    """Token sequences: a text's loader put its validation windows last (they come from the
    text's tail); algorithmic tasks are shuffled by ``split_seed`` and the head validates.
    Tokens and targets share one numbering: the class count is the vocabulary."""
    x, y = torch.as_tensor(samples.x, dtype=torch.int64), torch.as_tensor(samples.y, dtype=torch.int64)
    n = len(x)
    n_val = info.family.held_out(n, spec[info.family.fraction])
    if info.family is TEXT:
        order = torch.arange(n)
        val_idx, train_idx = order[n - n_val:], order[:n - n_val]
    else:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(spec["split_seed"]))
        val_idx, train_idx = order[:n_val], order[n_val:]
    n_out = info.classes or int(max(x.max(), y.max())) + 1
    return Dataset(spec.kind, info.task, x[train_idx].to(device), y[train_idx].to(device),
                   x[val_idx].to(device), y[val_idx].to(device), n_out)


def _split_user(spec: Kinded, info: DatasetInfo, samples: Samples, device: torch.device) -> Dataset:
    """Your data comes split (``load(seed)`` returns both sides) and is used as given: no scaling."""
    (x_tr, x_va), (y_tr, y_va) = samples.x, samples.y
    task = spec["task"]
    n_out = 1 if task == "regression" else spec["n_classes"] or int(max(y_tr.max(), y_va.max())) + 1
    return Dataset(spec.kind, task, x_tr.to(device), y_tr.to(device), x_va.to(device), y_va.to(device), n_out)
def _split_table(spec: Kinded, info: DatasetInfo, samples: Samples, device: torch.device) -> Dataset:
    """The user's table: split, filled and scaled by ``owndata.split_table``; classes or a
    standardised target as for the bundled tables."""
    meta = samples.meta or {}
    classes = meta.get("classes")
    task = "classification" if classes is not None else "regression"
    _check_split(spec, info, len(samples.y), len(classes) if classes is not None else 1)
    x_tr, x_va, y_tr, y_va = owndata.split_table(spec, samples)
    if classes is not None:
        y_tr_t, y_va_t = torch.as_tensor(y_tr, dtype=torch.int64), torch.as_tensor(y_va, dtype=torch.int64)
    else:
        mean, std = float(y_tr.mean()), float(y_tr.std()) or 1.0
        y_tr_t = torch.as_tensor((y_tr - mean) / std, dtype=torch.float32).reshape(-1, 1)
        y_va_t = torch.as_tensor((y_va - mean) / std, dtype=torch.float32).reshape(-1, 1)
    return Dataset(spec.kind, task, torch.as_tensor(x_tr, dtype=torch.float32).to(device), y_tr_t.to(device),
                   torch.as_tensor(x_va, dtype=torch.float32).to(device), y_va_t.to(device),
                   len(classes) if classes is not None else 1, provenance=meta.get("provenance"))


def _split_folder(spec: Kinded, info: DatasetInfo, samples: Samples, device: torch.device) -> Dataset:
    """The user's image folder: split and normalised as torchvision's sets are (``subset`` none),
    with the declared augmentation for training batches."""
    data = _split_images(spec, info, samples, device, HistogramNormalize)
    meta = samples.meta or {}
    data.provenance = meta.get("provenance")
    data.augment = owndata.AUGMENTATIONS.get(spec["augment"])
    return data


#: family name -> how its samples become a Dataset
_SPLITTERS: dict[str, Callable[[Kinded, DatasetInfo, Samples, torch.device], Dataset]] = {
    TABULAR.name: _split_tabular, IMAGES.name: _split_images, USER.name: _split_user,
    ALGORITHMIC.name: _split_sequences, TEXT.name: _split_sequences, TABLE.name: _split_table,
    FOLDER.name: _split_folder}


class Normalize:
    """uint8 images -> float: (x / 255 - mean) / std per channel, with training-set statistics."""

    def __init__(self, images: torch.Tensor, device: torch.device):
        mean, std = self.statistics(images)
        shape = (1, -1, 1, 1)
        # (x / 255 - mean) / std  ==  x * scale + shift, one fused multiply-add per batch
        self.scale = (1 / (255 * std)).float().reshape(shape).to(device)
        self.shift = (-mean / std).float().reshape(shape).to(device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, x.float(), self.scale)

    @staticmethod
    def statistics(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and standard deviation of x / 255, from (up to) the first 10,000 images."""
        sample = images[: 10_000].double() / 255
        return sample.mean(dim=(0, 2, 3)), sample.std(dim=(0, 2, 3)).clamp_min(1e-6)


class HistogramNormalize(Normalize):
    """:class:`Normalize` with the statistics of every training image, counted exactly from each
    channel's histogram of byte values: one pass over the uint8 pixels and no float copy (a
    10,000-image folder loads from its cache in a tenth of the time the float copy would take)."""

    @staticmethod
    def statistics(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        counts = torch.stack([torch.bincount(images[:, ch].reshape(-1), minlength=256)
                              for ch in range(images.shape[1])]).double()
        values = torch.arange(256, dtype=torch.float64) / 255
        n = counts.sum(1)
        mean = (counts * values).sum(1) / n
        var = (counts * (values - mean[:, None]) ** 2).sum(1) / (n - 1).clamp_min(1)
        return mean, var.sqrt().clamp_min(1e-6)


class BatchOrder:
    """Which training samples each step uses: a fresh seeded permutation per epoch.

    The generator lives on the CPU, so the order is the same on every device. Steps
    count from 0; step s belongs to epoch ``s // steps_per_epoch``. For speed, a
    training set under ``copy_limit`` bytes is permuted once per epoch and batches are
    contiguous slices of that copy (no per-step gather); larger sets gather per step.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, drop_last: bool, seed: int,
                 copy_limit: int = 256 * 2**20,
                 augment: Callable[[torch.Tensor, int, int], torch.Tensor] | None = None):
        self.x, self.y = x, y
        self.seed, self.augment = seed, augment
        self.n, self.batch_size = len(x), batch_size
        self.steps_per_epoch = self.n // batch_size if drop_last else math.ceil(self.n / batch_size)
        if self.steps_per_epoch == 0:
            raise SpecError([("batch_size", f"must be <= the training set size ({self.n}) with "
                                            f"drop_last, got {batch_size}")])
        self.generator = torch.Generator().manual_seed(seed)
        self.copy = x.element_size() * x.numel() + y.element_size() * y.numel() < copy_limit
        self._epoch = -1
        self._epoch_start = self.generator.get_state()  # the generator before this epoch's permutation
        self._perm = x  # replaced at the first step
        self._xs: Sequence[torch.Tensor] = ()
        self._ys: Sequence[torch.Tensor] = ()

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The (inputs, targets) of ``step``; steps must be asked for in order."""
        epoch, i = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._epoch = epoch
            self._epoch_start = self.generator.get_state()
            self._perm = torch.randperm(self.n, generator=self.generator).to(self.x.device)
            if self.copy:  # all of the epoch's batches as views, made in one call
                self._xs = self.x[self._perm].split(self.batch_size)
                self._ys = self.y[self._perm].split(self.batch_size)
        if self.copy:
            x, y = self._xs[i], self._ys[i]
        else:
            idx = self._perm[i * self.batch_size:(i + 1) * self.batch_size]
            x, y = self.x[idx], self.y[idx]
        # augmentation depends on (seed, step) alone: replays and forks draw the same
        return (x if self.augment is None else self.augment(x, self.seed, step)), y

    def state(self, step: int) -> torch.Tensor:
        """What :meth:`restore` needs for the batches from ``step`` on (the next step to ask for):
        the generator's state before the permutation of ``step``'s epoch was drawn."""
        if step // self.steps_per_epoch == self._epoch:
            return self._epoch_start.clone()
        return self.generator.get_state()  # a new epoch: its permutation is not drawn yet

    def restore(self, state: torch.Tensor) -> None:
        """Continue from a :meth:`state`: the next batch draws its epoch's permutation again."""
        self.generator.set_state(state)
        self._epoch = -1
