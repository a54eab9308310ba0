"""Small dataset files in the real on-disk formats torchvision reads (no network needed)."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np


def _idx(path: Path, array: np.ndarray) -> None:
    """IDX (the MNIST family's format): magic 0x0000 08 ndim, big-endian sizes, uint8 data."""
    with path.open("wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def images_with_labels(n: int, channels: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable images: each class lights up its own band of rows, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 60, (n, channels, size, size))
    band = max(1, size // 10)
    for i, y in enumerate(labels):
        images[i, :, y * band:(y + 1) * band, :] += 180
    return images.clip(0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_mnist_family(root: Path, cls_name: str = "MNIST", n_train: int = 600, n_test: int = 100,
                       seed: int = 0) -> Path:
    raw = root / cls_name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n, s in (("train", n_train, seed), ("t10k", n_test, seed + 1)):
        images, labels = images_with_labels(n, 1, 28, s)
        _idx(raw / f"{prefix}-images-idx3-ubyte", images[:, 0])
        _idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return raw


def write_cifar10(root: Path, n_per_batch: int = 100, seed: int = 0) -> Path:
    """CIFAR-10's python batches: pickled dicts of "data" (N x 3072, CHW) and "labels"."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        images, labels = images_with_labels(n_per_batch, 3, 32, seed + i)
        with (folder / name).open("wb") as f:
            pickle.dump({"data": images.reshape(n_per_batch, -1), "labels": labels.tolist()}, f)
    with (folder / "batches.meta").open("wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    return folder
