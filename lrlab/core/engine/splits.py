"""scikit-learn's ``train_test_split`` and ``StandardScaler``, computed with numpy alone.

Importing scikit-learn costs about 2 s (2.3 s after torch on this 2-core machine), and a first run
needed it for three things: reading a bundled dataset's file (:mod:`lrlab.core.decl.sklearn_files`),
splitting, and scaling. The last two are reproduced here with the same numpy calls in the same
order as scikit-learn 1.9 (``model_selection/_split.py``, ``utils/extmath.py``,
``preprocessing/_data.py``), so a session recorded with scikit-learn's versions replays
``identical`` without it. ``tests/core/test_splits.py`` holds every bundled and generated set, seed
and fraction to scikit-learn's own indices (exactly) and values.

scikit-learn still *generates* the synthetic sets (moons, blobs...): those loaders import it.
"""

from __future__ import annotations

import math

import numpy as np

# --- train_test_split ------------------------------------------------------------------------


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """``sklearn.utils.extmath._approximate_mode``: how many of each class a stratified draw of
    ``n_draws`` takes (floored shares, then the largest remainders, ties broken by ``rng``)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def split_indices(n: int, test_fraction: float, seed: int,
                  stratify: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The (train, test) indices ``train_test_split(..., test_size=test_fraction,
    random_state=seed, stratify=stratify)`` takes: ``ceil(test_fraction * n)`` held out, a
    seeded permutation (``ShuffleSplit``), or per class (``StratifiedShuffleSplit``)."""
    n_test = math.ceil(test_fraction * n)
    n_train = n - n_test
    rng = np.random.RandomState(seed)
    if stratify is None:
        permutation = rng.permutation(n)
        return permutation[n_test:n_test + n_train], permutation[:n_test]
    classes, y_indices, class_counts = np.unique(stratify, return_inverse=True, return_counts=True)
    if np.min(class_counts) < 2:
        raise ValueError(f"the least populated classes have only 1 member: {classes[class_counts < 2].tolist()}")
    if min(n_train, n_test) < len(classes):
        raise ValueError(f"{n_train} training and {n_test} test samples cannot hold {len(classes)} classes each")
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for i in range(len(classes)):
        permuted = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
        train.extend(permuted[: n_i[i]])
        test.extend(permuted[n_i[i]: n_i[i] + t_i[i]])
    return rng.permutation(train), rng.permutation(test)


# --- StandardScaler --------------------------------------------------------------------------


def _float(x: np.ndarray) -> np.ndarray:
    """The array as scikit-learn validates it: float32 and float64 kept, anything else float64."""
    x = np.asarray(x)
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)


def _sum(x: np.ndarray) -> np.ndarray:
    """``_safe_accumulator_op(np.sum, x, axis=0)``: sums in float64 whatever the input's width."""
    return np.sum(x, axis=0, dtype=np.float64) if x.dtype.itemsize < 8 else np.sum(x, axis=0)


def standard_scaling(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``StandardScaler().fit(x_train)``'s ``mean_`` and ``scale_`` for a dense array without NaN:
    one pass of Chan, Golub and LeVeque's update from zero (``_incremental_mean_and_var``),
    the variance's rounding error corrected by the residuals' sum, and constant features
    (variance within rounding of zero) given a scale of 1."""
    x = _float(x_train)
    n = float(x.shape[0])
    total = _sum(x)
    mean = total / n
    residual = x - mean
    correction = _sum(residual)
    residual **= 2
    var = (_sum(residual) - correction ** 2 / n) / n
    eps = np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    scale = np.sqrt(var)
    scale[constant] = 1.0
    return mean, scale


def standardize(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``StandardScaler.transform``: a copy, centred, then divided (in the input's float type)."""
    x = np.array(_float(x), copy=True)
    x -= mean.astype(x.dtype)
    x /= scale.astype(x.dtype)
    return x
