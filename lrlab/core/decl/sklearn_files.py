"""scikit-learn's bundled datasets, read from their files without importing scikit-learn.

Importing scikit-learn costs about 2 s (2.3 s after torch on this 2-core machine), and reading a
bundled set's file was all a first run on iris, wine, breast cancer, digits or diabetes needed it
for. These are ``sklearn/datasets/_base.py``'s readers (scikit-learn 1.9), with the same numpy calls
in the same order, so the arrays are scikit-learn's to the bit; ``tests/core/test_splits.py`` holds
them to ``load_*(return_X_y=True)``. The files are found with ``importlib.util.find_spec``, which
locates the package without importing it.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
from pathlib import Path

import numpy as np

#: the bundled sets' files in scikit-learn's ``datasets/data`` folder, by loader
BUNDLED_FILES = {"load_iris": "iris.csv", "load_wine": "wine_data.csv",
                 "load_breast_cancer": "breast_cancer.csv", "load_digits": "digits.csv.gz",
                 "load_diabetes": ("diabetes_data_raw.csv.gz", "diabetes_target.csv.gz")}


def sklearn_data_folder() -> Path:
    """scikit-learn's ``datasets/data`` folder, found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("scikit-learn is not installed: pip install scikit-learn")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def _csv_with_header(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``load_csv_data``: a header line ``n_samples,n_features,names...``, then rows of features
    and an integer target."""
    with path.open("r", encoding="utf-8") as f:
        rows = csv.reader(f)
        head = next(rows)
        data = np.empty((int(head[0]), int(head[1])))
        target = np.empty((int(head[0]),), dtype=int)
        for i, row in enumerate(rows):
            data[i] = np.asarray(row[:-1], dtype=np.float64)
            target[i] = np.asarray(row[-1], dtype=int)
    return data, target


def _gzip_table(path: Path, **kwargs: str) -> np.ndarray:
    """``load_gzip_compressed_csv_data``."""
    with gzip.open(path, mode="rt", encoding="utf-8") as f:
        return np.loadtxt(f, **kwargs)


def _scale(x: np.ndarray) -> np.ndarray:
    """``sklearn.preprocessing.scale(x, copy=False)`` of a dense float array (in place)."""
    mean = np.nanmean(x, 0)
    scale = np.nanstd(x, 0)
    x -= mean
    mean_1 = np.nanmean(x, axis=0)
    if not np.allclose(mean_1, 0):
        x -= mean_1
    scale[scale < 10 * np.finfo(scale.dtype).eps] = 1.0
    x /= scale
    mean_2 = np.nanmean(x, axis=0)
    if not np.allclose(mean_2, 0):
        x -= mean_2
    return x


def load_bundled(function: str) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.<function>(return_X_y=True)`` for the bundled sets, read from the files."""
    folder = sklearn_data_folder()
    if function == "load_digits":
        data = _gzip_table(folder / "digits.csv.gz", delimiter=",")
        return data[:, :-1], data[:, -1].astype(int, copy=False)
    if function == "load_diabetes":  # scaled=True: centred, divided by std * sqrt(n_samples)
        data_file, target_file = BUNDLED_FILES[function]
        data = _scale(_gzip_table(folder / data_file))
        data /= data.shape[0] ** 0.5
        return data, _gzip_table(folder / target_file)
    return _csv_with_header(folder / BUNDLED_FILES[function])
