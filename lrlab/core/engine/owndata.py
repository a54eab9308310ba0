"""The user's own data at work: image folders decoded and cached, tables split and scaled, and
augmentation on the device.

Which parameters a table or an image folder takes, and the quick look that validates them, are
declared in ``lrlab.core.decl.owndata``; here the pixels are decoded and the arrays prepared.

**The decoded cache.** An image folder is decoded once (Pillow, resized and centre-cropped to
``size``) into one uint8 array and written to ``<lrlab home>/cache/image_folders/<key>.npz``,
where the key is a SHA-256 of every file's name, class, size and mtime plus the decoding options:
touching, adding or removing a file makes a new key, so a stale cache is never read. The file
holds only arrays (``allow_pickle=False`` on load), written whole or not at all
(``lrlab.core.decl.files.replaced``), and carries the folder's SHA-256 so that a cached load
records the same provenance as the first one without reading every file again.

**Augmentation** (``crop_flip``): each training image of a batch is padded by 4 pixels
(reflected), cropped back to its size at a random offset and flipped left-right with probability
1/2, on the device, in two gathers. The random numbers of step ``s`` come from a CPU generator
seeded with ``(seed, s)`` alone, so they are the same on every device, need no state in a
snapshot, and a replay or a fork draws exactly what the recording drew.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lrlab.core.decl.datasets import Samples
from lrlab.core.decl.files import replaced
from lrlab.core.decl.owndata import FOLDER_READER, Listing
from lrlab.core.decl.params import Kinded, SpecError
from lrlab.core.decl.paths import home

#: bumped when the decoding changes, so caches of an older lrlab are not read
CACHE_VERSION = 1
PAD = 4  # pixels of padding before the random crop (the CIFAR recipe)


def cache_dir() -> Path:
    return home() / "cache" / "image_folders"


def _cache_path(spec: Kinded, listing: Listing) -> Path:
    h = hashlib.sha256(f"v{CACHE_VERSION}\0{listing.key()}\0{spec['size']}\0{spec['corrupt']}".encode())
    return cache_dir() / f"{h.hexdigest()[:32]}.npz"


def _decode(path: Path, size: int) -> np.ndarray:
    """One image as uint8 (3, size, size): RGB, the shorter side resized to ``size``, centre-cropped."""
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        img = ImageOps.fit(img.convert("RGB"), (size, size), Image.Resampling.BILINEAR)
        return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


def read_folder(spec: Kinded, listing: Listing) -> Samples:
    """The folder's images as uint8 (N, 3, size, size) and int64 labels, from the cache when the
    files are unchanged, else decoded (threads: Pillow releases the GIL while decoding) and cached."""
    cached = _cache_path(spec, listing)
    if cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as z:
                return _samples(listing, z["images"], z["labels"], str(z["sha256"]), int(z["skipped"]),
                                int(z["bytes"]))
        except (OSError, ValueError, KeyError):  # a damaged cache is decoded again
            pass
    size = spec["size"]

    def one(item: tuple[str, int, int, int]) -> tuple[np.ndarray | None, bytes, str]:
        rel = item[0]
        path = listing.root / rel
        data = path.read_bytes()
        try:
            return _decode(path, size), data, ""
        except Exception as err:  # Pillow raises many types for a damaged file
            return None, data, f"{type(err).__name__}: {err}"

    h = hashlib.sha256()
    images = np.empty((len(listing.files), 3, size, size), dtype=np.uint8)
    labels = np.empty(len(listing.files), dtype=np.int64)
    n, skipped, total = 0, 0, 0
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for (rel, label, _, _), (img, data, error) in zip(listing.files, pool.map(one, listing.files),
                                                          strict=True):
            h.update(f"{rel}\0{len(data)}\0".encode())
            h.update(data)
            total += len(data)
            if img is None:
                if spec["corrupt"] == "error":
                    raise SpecError([("dataset.corrupt", f"{listing.root / rel} is not a readable image "
                                                         f"({error}); remove it, or set \"corrupt\": \"skip\"")])
                skipped += 1
                continue
            images[n], labels[n] = img, label
            n += 1
    if n == 0:
        raise SpecError([("dataset.path", f"none of the {len(listing.files)} images in {listing.root} decodes")])
    images, labels = images[:n], labels[:n]
    sha = h.hexdigest()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with replaced(cached) as tmp, tmp.open("wb") as f:
            np.savez(f, images=images, labels=labels, sha256=np.str_(sha), skipped=np.int64(skipped),
                     bytes=np.int64(total))
    except OSError:  # a cache that cannot be written costs the next load its time, not this run
        pass
    return _samples(listing, images, labels, sha, skipped, total)


def _samples(listing: Listing, images: np.ndarray, labels: np.ndarray, sha: str, skipped: int,
             total: int) -> Samples:
    provenance = {"path": str(listing.root), "files": len(listing.files), "size": total, "sha256": sha,
                  "task": "classification"}
    if skipped:
        provenance["skipped"] = skipped
    return Samples(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels),
                   meta={"classes": listing.classes, "provenance": provenance, "skipped": skipped})


FOLDER_READER[:] = [read_folder]  # the image_folder loader (lrlab.core.decl.owndata) reads through it


def crop_flip(x: torch.Tensor, seed: int, step: int) -> torch.Tensor:
    """A batch (B, C, H, W) randomly cropped after :data:`PAD` pixels of reflected padding and
    flipped left-right with probability 1/2, per image; the random numbers from ``(seed, step)``.

    No padded copy is made: the crop's rows and columns are indices into the batch, reflected at
    the borders (index -i reads row i, index H-1+i reads row H-1-i), and two gathers (rows, then
    columns, the flip being reversed column indices) do it all, in the batch's own dtype."""
    b, c, h, w = x.shape
    gen = torch.Generator().manual_seed((seed * 1_000_003 + step) % 2**63)
    offsets = torch.randint(0, 2 * PAD + 1, (2, b), generator=gen)
    flips = torch.rand(b, generator=gen) < 0.5
    rows = _reflect(offsets[0][:, None] - PAD + torch.arange(h), h)  # (B, H)
    cols = _reflect(offsets[1][:, None] - PAD + torch.arange(w), w)  # (B, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    rows, cols = rows.to(x.device, non_blocking=True), cols.to(x.device, non_blocking=True)
    x = x.gather(2, rows[:, None, :, None].expand(b, c, h, w))
    return x.gather(3, cols[:, None, None, :].expand(b, c, h, w))


def _reflect(i: torch.Tensor, n: int) -> torch.Tensor:
    i = i.abs()
    return torch.where(i > n - 1, 2 * (n - 1) - i, i)


AUGMENTATIONS: dict[str, Callable[[torch.Tensor, int, int], torch.Tensor]] = {"crop_flip": crop_flip}


def split_table(spec: Kinded, samples: Samples) -> tuple[Any, Any, Any, Any]:
    """A table's rows split as the bundled tables are (stratified for classes, by ``split_seed``),
    missing numbers filled with the training split's means (``missing: "mean"``), and the numeric
    features standardised with the training split's statistics; one-hot columns stay 0/1."""
    from sklearn.model_selection import train_test_split

    x, y = samples.x, samples.y
    meta = samples.meta or {}
    classification = meta.get("classes") is not None
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, test_size=spec["val_fraction"], random_state=spec["split_seed"],
        stratify=y if classification else None)
    x_tr, x_va = x_tr.copy(), x_va.copy()
    means = np.nanmean(np.where(np.isnan(x_tr).all(axis=0), 0.0, x_tr), axis=0) if np.isnan(x_tr).any() \
        else x_tr.mean(axis=0)
    for part in (x_tr, x_va):
        holes = np.isnan(part)
        if holes.any():
            part[holes] = np.take(means, np.nonzero(holes)[1])
    scale = np.asarray(meta.get("scale", np.ones(x.shape[1], dtype=bool)))
    mean = np.where(scale, x_tr.mean(axis=0), 0.0)
    std = np.where(scale, x_tr.std(axis=0), 1.0)
    std[std == 0] = 1.0
    return (x_tr - mean) / std, (x_va - mean) / std, y_tr, y_va
