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


def write_cifar100(root: Path, n_train: int = 200, n_test: int = 50, seed: int = 0) -> Path:
    """CIFAR-100's python files: pickled dicts of "data", "fine_labels" and "coarse_labels"."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, n) in enumerate((("train", n_train), ("test", n_test))):
        images, labels = images_with_labels(n, 3, 32, seed + i)
        fine = (labels.astype(np.int64) * 10 + np.arange(n) % 10).tolist()  # 100 classes, learnable by band
        with (folder / name).open("wb") as f:
            pickle.dump({"data": images.reshape(n, -1), "fine_labels": fine,
                         "coarse_labels": labels.tolist()}, f)
    with (folder / "meta").open("wb") as f:
        pickle.dump({"fine_label_names": [f"fine{i}" for i in range(100)]}, f)
    return folder


def write_svhn(root: Path, n_train: int = 200, n_test: int = 50, seed: int = 0) -> Path:
    """SVHN's MATLAB files: X is (32, 32, 3, N), y is (N, 1) with the digit 0 stored as 10."""
    from scipy.io import savemat

    root.mkdir(parents=True, exist_ok=True)
    for i, (name, n) in enumerate((("train", n_train), ("test", n_test))):
        images, labels = images_with_labels(n, 3, 32, seed + i)
        y = np.where(labels == 0, 10, labels).astype(np.uint8).reshape(-1, 1)
        savemat(root / f"{name}_32x32.mat", {"X": images.transpose(2, 3, 1, 0), "y": y})
    return root


def write_stl10(root: Path, n_train: int = 60, n_test: int = 20, seed: int = 0) -> Path:
    """STL-10's binary files: uint8 images stored column-major (N, 3, W, H), labels 1..10."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, n) in enumerate((("train", n_train), ("test", n_test))):
        images, labels = images_with_labels(n, 3, 96, seed + i)
        images.transpose(0, 1, 3, 2).tofile(folder / f"{name}_X.bin")
        (labels + 1).astype(np.uint8).tofile(folder / f"{name}_y.bin")
    (folder / "class_names.txt").write_text("\n".join(f"class{i}" for i in range(10)) + "\n")
    return folder


def write_emnist(root: Path, split: str = "letters", n_train: int = 300, n_test: int = 60, seed: int = 0) -> Path:
    """EMNIST's IDX files for one split, images stored transposed as in the real archive."""
    raw = root / "EMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for i, (part, n) in enumerate((("train", n_train), ("test", n_test))):
        images, labels = images_with_labels(n, 1, 28, seed + i)
        if split == "letters":
            labels = labels + 1  # letters count from 1 (a)
        _idx(raw / f"emnist-{split}-{part}-images-idx3-ubyte", images[:, 0].transpose(0, 2, 1))
        _idx(raw / f"emnist-{split}-{part}-labels-idx1-ubyte", labels)
    return raw


def write_image_folder(root: Path, classes: int = 3, per_class: int = 20, size: tuple[int, int] = (40, 36),
                       seed: int = 0, suffix: str = ".png") -> Path:
    """torchvision's ImageFolder layout: root/class<k>/<i>.png, each class brighter in its own band
    of columns (so a small CNN learns it)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    h, w = size
    band = max(1, w // classes)
    for c in range(classes):
        folder = root / f"class{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            a = rng.integers(0, 80, (h, w, 3))
            a[:, c * band:(c + 1) * band] += 170
            Image.fromarray(a.clip(0, 255).astype(np.uint8)).save(folder / f"{i}{suffix}")
    return root
