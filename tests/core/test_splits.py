"""lrlab reads scikit-learn's bundled sets, splits and scales without importing scikit-learn (2 s
of every first run, issue 31), and gets scikit-learn's own results: the same samples in the same
order on each side of every split, so sessions recorded before replay unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from lrlab.core.decl.datasets import DECLARED
from lrlab.core.decl.sklearn_files import load_bundled
from lrlab.core.decl.spec import RunSpec
from lrlab.core.engine.splits import split_indices, standard_scaling, standardize

BUNDLED = ["load_iris", "load_wine", "load_breast_cancer", "load_digits", "load_diabetes"]
SEEDS = [0, 1, 7, 12345]
FRACTIONS = [0.05, 0.2, 0.25, 0.5, 0.9]


@pytest.mark.parametrize("function", BUNDLED)
def test_the_bundled_files_read_as_scikit_learn_reads_them(function):
    x, y = load_bundled(function)
    want_x, want_y = getattr(datasets, function)(return_X_y=True)
    assert x.shape == want_x.shape and x.dtype == want_x.dtype and y.dtype == want_y.dtype
    np.testing.assert_array_equal(y, want_y)
    if function == "load_diabetes":  # scaled after reading: the same numpy calls, compared with a tolerance
        np.testing.assert_allclose(x, want_x, rtol=1e-12, atol=1e-15)
    else:
        np.testing.assert_array_equal(x, want_x)


def every_set() -> list[str]:
    """Every scikit-learn set lrlab declares (bundled and generated), by dataset name."""
    return [name for name, info in DECLARED.items() if info.family.name == "tabular"]


def samples(name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    spec = RunSpec.from_json({"dataset": {"name": name}}).dataset
    info = DECLARED[name]
    got = info.load(spec)
    return np.asarray(got.x), np.asarray(got.y), info.task == "classification"


@pytest.mark.parametrize("name", every_set())
def test_every_split_takes_scikit_learns_samples_in_its_order(name):
    _, y, classification = samples(name)
    for seed in SEEDS:
        for fraction in FRACTIONS:
            stratify = y if classification else None
            try:
                want = train_test_split(np.arange(len(y)), test_size=fraction, random_state=seed, stratify=stratify)
            except ValueError:  # too few of a class for this fraction: lrlab refuses it before splitting
                with pytest.raises(ValueError):
                    split_indices(len(y), fraction, seed, stratify)
                continue
            train, test = split_indices(len(y), fraction, seed, stratify)
            np.testing.assert_array_equal(train, want[0], err_msg=f"{name} seed {seed} fraction {fraction}")
            np.testing.assert_array_equal(test, want[1], err_msg=f"{name} seed {seed} fraction {fraction}")


@pytest.mark.parametrize("name", every_set())
def test_scaling_matches_the_standard_scaler(name):
    x, y, classification = samples(name)
    train, test = split_indices(len(y), 0.2, 0, y if classification else None)
    scaler = StandardScaler().fit(x[train])
    mean, scale = standard_scaling(x[train])
    np.testing.assert_allclose(mean, scaler.mean_, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(scale, scaler.scale_, rtol=1e-12)
    for part in (train, test):
        got = standardize(x[part], mean, scale)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, scaler.transform(x[part]), rtol=1e-10, atol=1e-12)


def test_constant_features_keep_a_scale_of_one():
    """digits has pixels that are 0 in every image: dividing by their zero spread would give NaN."""
    x = np.array([[0.0, 1.0], [0.0, 3.0], [0.0, 5.0]])
    mean, scale = standard_scaling(x)
    assert scale[0] == 1.0 and np.isfinite(standardize(x, mean, scale)).all()
    assert scale[1] == pytest.approx(np.std(x[:, 1]))


def test_a_run_on_a_bundled_set_imports_no_scikit_learn():
    from testkit import loaded_by

    code = ("import torch\n"
            "from lrlab.core.decl.spec import RunSpec\n"
            "from lrlab.core.runs.train import Trainer\n"
            "for name in ('digits', 'iris', 'wine', 'breast_cancer', 'diabetes'):\n"
            "    Trainer(RunSpec.from_json({'dataset': {'name': name}, 'model': {'kind': 'mlp'},\n"
            "                               'epochs': 1})).run()\n")
    assert loaded_by(code, ("sklearn",)) == []
