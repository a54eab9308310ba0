"""torchvision image datasets (MNIST family, CIFAR-10) and a small LeNet-style CNN.

Images stay in memory as uint8 tensors on the run's device (CIFAR-10's training set
is about 150 MB so) and are converted to normalised floats one batch at a time.
Files are read from a local root folder; the network is used only when the user asks
for a download. torchvision is an optional extra: without it these datasets are listed
as unavailable, with the reason, and everything else works.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lrlab.core import paths
from lrlab.core.params import Kinded, SpecError
from lrlab.core.spec import VISION_SETS

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


def torchvision_missing() -> str | None:
    """Why the image datasets cannot be used, or None when they can."""
    if importlib.util.find_spec("torchvision") is None:
        return "needs torchvision: pip install 'lrlab[vision]'"
    return None


def root_of(spec: Kinded) -> Path:
    return Path(spec["root"]).expanduser() if spec["root"] else paths.datasets_dir()


def expected_files(spec: Kinded) -> tuple[Path, list[str]]:
    """The folder torchvision reads and the files it needs there."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, VISION_SETS[spec.kind][0])
    root = root_of(spec)
    if spec.kind == "cifar10":
        names = [n for n, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
        return root / cls.base_folder, names
    return root / cls.__name__ / "raw", [Path(url).stem for url, _ in cls.resources]


def _read(spec: Kinded, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, C, H, W) and int64 labels, straight from torchvision's readers."""
    import torchvision.datasets as tvd

    folder, names = expected_files(spec)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing and not download:
        raise SpecError([("dataset.root", f"{spec.kind} files not found in {folder} (missing: "
                          f"{', '.join(missing)}); run with --download (or tick Download) to fetch "
                          "them, or copy them there")])
    cls = getattr(tvd, VISION_SETS[spec.kind][0])
    try:
        ds = cls(str(root_of(spec)), train=train, download=download)
    except (RuntimeError, OSError, ValueError) as err:  # incomplete files, failed download
        raise SpecError([("dataset.root", f"cannot read {spec.kind} from {folder}: {err}")]) from None
    data = ds.data if isinstance(ds.data, torch.Tensor) else torch.from_numpy(np.asarray(ds.data))
    images = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)  # HWC -> CHW
    return images.contiguous(), torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)


class Normalize:
    """uint8 images -> float: (x / 255 - mean) / std per channel, with training-set statistics."""

    def __init__(self, images: torch.Tensor, device: torch.device):
        sample = images[: 10_000].double() / 255
        mean = sample.mean(dim=(0, 2, 3))
        std = sample.std(dim=(0, 2, 3)).clamp_min(1e-6)
        shape = (1, -1, 1, 1)
        # x / 255 - mean) / std  ==  x * scale + shift, one fused multiply-add per batch
        self.scale = (1 / (255 * std)).float().reshape(shape).to(device)
        self.shift = (-mean / std).float().reshape(shape).to(device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, x.float(), self.scale)


def load(spec: Kinded, device: torch.device):  # -> lrlab.core.data.Dataset
    from lrlab.core.data import Dataset

    reason = torchvision_missing()
    if reason:
        raise SpecError([("dataset.name", f"{spec.kind!r} {reason}")])
    images, labels = _read(spec, train=True, download=spec["download"])
    gen = torch.Generator().manual_seed(spec["split_seed"])
    order = torch.randperm(len(images), generator=gen)
    if spec["subset"] is not None:
        order = order[: spec["subset"]]
    n_val = max(1, round(len(order) * spec["val_fraction"]))
    val_idx, train_idx = order[:n_val], order[n_val:]
    norm = Normalize(images[train_idx], device)
    test = None
    if spec["test_eval"]:
        test_images, test_labels = _read(spec, train=False, download=spec["download"])
        test = (test_images.to(device), test_labels.to(device))
    c, h, w = images.shape[1:]
    return Dataset(spec.kind, "classification", images[train_idx].to(device), labels[train_idx].to(device),
                   images[val_idx].to(device), labels[val_idx].to(device), VISION_SETS[spec.kind][3],
                   (int(c), int(h), int(w)), prepare=norm, test=test)


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

