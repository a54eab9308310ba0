"""torchvision's image files (MNIST family, EMNIST, CIFAR-10/100, SVHN, STL-10), read into uint8 tensors.

Only reading lives here: which datasets exist, and how they are split and normalised,
is declared in ``lrlab.core.decl.datasets`` and done in ``lrlab.core.engine.data``. Files are read
from a local root folder; the network is used only when the user asks for a download.
torchvision is an optional extra: without it these datasets are listed as unavailable,
with the reason, and everything else works.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from lrlab.core.decl import paths
from lrlab.core.decl.datasets import IMAGE_READER
from lrlab.core.decl.params import Kinded, SpecError


def torchvision_missing() -> str | None:
    """Why the image datasets cannot be used, or None when they can."""
    if importlib.util.find_spec("torchvision") is None:
        return "needs torchvision: pip install 'lrlab[vision]'"
    return None


def root_of(spec: Kinded) -> Path:
    return Path(spec["root"]).expanduser() if spec["root"] else paths.datasets_dir()


def expected_files(spec: Kinded, cls_name: str) -> tuple[Path, list[str]]:
    """The folder torchvision's ``cls_name`` reads and the files it needs there."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    root = root_of(spec)
    if cls_name == "SVHN":  # one MATLAB file per split
        return root, [cls.split_list[s][1] for s in ("train", "test")]
    if cls_name == "STL10":  # the labelled images only (the 2.7 GB unlabelled file is not needed)
        return root / cls.base_folder, [n for n, _ in cls.train_list[:2] + cls.test_list]
    if cls_name == "EMNIST":  # IDX files per split, as torchvision extracts them from its archive
        return root / "EMNIST" / "raw", [f"emnist-{spec['split']}-{part}-{what}-idx{n}-ubyte"
                                         for part in ("train", "test") for what, n in (("images", 3), ("labels", 1))]
    if hasattr(cls, "train_list"):  # CIFAR's pickled batches
        names = [n for n, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
        return root / cls.base_folder, names
    return root / cls.__name__ / "raw", [Path(url).stem for url, _ in cls.resources]


def read(spec: Kinded, cls_name: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, C, H, W) and int64 labels of one split, straight from torchvision's readers.

    Every problem is a SpecError on a dataset field, worded for someone who has not seen the
    files yet: torchvision missing, files missing (with where and which), files unreadable.
    """
    reason = torchvision_missing()
    if reason:
        raise SpecError([("dataset.name", f"{spec.kind!r} {reason}")])
    import torchvision.datasets as tvd

    download = spec["download"]
    folder, names = expected_files(spec, cls_name)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing and not download:
        raise SpecError([("dataset.root", f"{spec.kind} files not found in {folder} (missing: "
                          f"{', '.join(missing)}); run with --download (or tick Download) to fetch "
                          "them, or copy them there")])
    split = "train" if train else "test"
    kwargs = ({"split": split} if cls_name in ("SVHN", "STL10") else
              {"split": spec["split"], "train": train} if cls_name == "EMNIST" else {"train": train})
    try:
        if cls_name == "STL10" and not missing:  # read directly: torchvision checks the MD5 of 3 GB first
            return _read_stl10(folder, split)
        ds = getattr(tvd, cls_name)(str(root_of(spec)), download=download, **kwargs)
    except (RuntimeError, OSError, ValueError) as err:  # incomplete files, failed download
        raise SpecError([("dataset.root", f"cannot read {spec.kind} from {folder}: {err}")]) from None
    data = ds.data if isinstance(ds.data, torch.Tensor) else torch.from_numpy(np.asarray(ds.data))
    if cls_name == "EMNIST":  # stored transposed: without this letters lie on their side
        data = data.transpose(1, 2)
    chw = cls_name in ("SVHN", "STL10")  # these two hold (N, C, H, W) already
    images = data.unsqueeze(1) if data.ndim == 3 else data if chw else data.permute(0, 3, 1, 2)  # HWC -> CHW
    labels = ds.targets if hasattr(ds, "targets") else ds.labels
    return images.contiguous(), torch.as_tensor(np.asarray(labels), dtype=torch.int64)


def _read_stl10(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """STL-10's binary files: uint8 images (N, 3, 96, 96) stored column-major, labels 1..10."""
    images = np.fromfile(folder / f"{split}_X.bin", dtype=np.uint8)
    labels = np.fromfile(folder / f"{split}_y.bin", dtype=np.uint8).astype(np.int64) - 1
    if images.size != len(labels) * 3 * 96 * 96:
        raise ValueError(f"{split}_X.bin holds {images.size:,} bytes, not {len(labels):,} images of 3x96x96")
    images = images.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels)


IMAGE_READER[:] = [read]  # the image datasets' loaders (lrlab.core.decl.datasets) read through it
