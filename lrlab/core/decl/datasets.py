"""Datasets, each declared once, the way schedules are.

A dataset is one decorated loader::

    @dataset_kind("moons", N_SAMPLES, Param("noise", ...), RANDOM_STATE,
                  task="classification", size="n_samples", doc="two interleaving half circles")
    def moons(spec: Kinded) -> Samples:
        from sklearn.datasets import make_moons
        return Samples(*make_moons(spec["n_samples"], noise=spec["noise"], ...))

That one declaration gives the run spec its validation (:data:`DATASETS`, with the
parameters its :class:`Family` shares), the GUI its form and tooltip, previews the
number of training samples without loading anything (:func:`train_size`), the CNN
check its list of image sets (:data:`IMAGE_SETS`), and ``lrlab.core.engine.data`` the
loader, task, image shape and class count it needs to build the tensors.

Nothing here imports torch, scikit-learn or torchvision, so validating a spec stays
instant for the GUI's inline checks; loaders import what they need when they run.
A loader returns every sample before the split (:class:`Samples`); how they are held
out for validation, scaled and moved to a device is the family's business, done by
``lrlab.core.engine.data``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from lrlab.core.decl import usercode
from lrlab.core.decl.params import REQUIRED, Bool, Choice, Kinded, Num, Optional, Param, Registry, SpecError, Text

TASKS = ("classification", "regression")


class Samples(NamedTuple):
    """Every sample of a dataset before the split, as a loader returns them.

    Tabular sets: numpy arrays ``x`` (N, features) and ``y`` (N,). Image sets: uint8
    tensors (N, C, H, W) and int64 labels, plus the official test split when the spec
    asks for it (``test_eval``). ``meta``: what a family's splitter needs besides the
    arrays (the user's own data: which columns to scale, the files' provenance).
    """

    x: Any
    y: Any
    test: tuple[Any, Any] | None = None
    meta: Mapping[str, Any] | None = None


class Probe(NamedTuple):
    """What a dataset whose shape depends on the user's files says after a quick look at them
    (a table read and encoded, a folder listed), for validation and resource checks."""

    task: str
    n_samples: int
    n_features: int
    classes: int | None
    image_shape: tuple[int, int, int] | None = None


Loader = Callable[[Kinded], Samples]


def _ceil_share(n: int, fraction: float) -> int:
    return math.ceil(n * fraction)  # what scikit-learn's train_test_split holds out


def _rounded_share(n: int, fraction: float) -> int:
    return max(1, round(n * fraction))  # never an empty validation set, even for a tiny subset


@dataclass(frozen=True, eq=False)
class Family:
    """Datasets that share parameters and one way of holding out validation samples.

    ``held_out(n, val_fraction)`` is how many of ``n`` samples go to validation. It is
    declared here, next to the parameters, so that :func:`train_size` can count the
    steps of a run without loading anything and still agree with the loaded split.
    """

    name: str
    params: tuple[Param, ...]
    held_out: Callable[[int, float], int]
    #: the parameter whose value ``held_out`` takes (the grokking task names its share of training samples)
    fraction: str = "val_fraction"


#: the largest seed scikit-learn's generators take (numpy's legacy RandomState: 32 bits)
SEED_MAX = 2**32 - 1

#: scikit-learn sets: arrays in memory, a stratified split, standardised features
TABULAR = Family("tabular", (
    Param("val_fraction", Num(gt=0, lt=1), 0.2, "share of samples held out for validation"),
    Param("split_seed", Num(ge=0, le=SEED_MAX, integer=True), 0,
          "seed of the train/validation split; fixed apart from the run seed so that runs "
          "with different seeds are evaluated on the same samples"),
), _ceil_share)

#: torchvision sets: uint8 images read from local files, normalised one batch at a time
IMAGES = Family("images", (
    Param("val_fraction", Num(gt=0, lt=1), 0.1, "share of the training files held out for validation"),
    Param("split_seed", Num(ge=0, le=SEED_MAX, integer=True), 0, "seed of the subset and the validation split"),
    Param("root", Optional(Text()), None, "folder with the files; null: the lrlab datasets folder"),
    Param("download", Bool(), False, "fetch missing files from the internet"),
    Param("subset", Optional(Num(ge=10, integer=True)), None,
          "use only the first N images after a seeded shuffle (quick demos)"),
    Param("test_eval", Bool(), False, "also evaluate on the official test split at the end"),
), _rounded_share)


@dataclass(frozen=True)
class DatasetInfo:
    """Everything declared about one dataset besides its parameters (those live in DATASETS)."""

    name: str
    family: Family
    task: str
    #: samples before the split: a number, the name of the parameter that sets it, or a function of the parameters
    size: int | str | Callable[[Mapping[str, Any]], int]
    #: (C, H, W) when samples are images (a CNN can take them), else None
    image_shape: tuple[int, int, int] | None
    #: inputs per sample: a number, the name of the parameter that sets it (images: C x H x W), or a function
    features: int | str | Callable[[Mapping[str, Any]], int]
    #: outputs of the classifier; None: one more than the largest label loaded
    classes: int | None
    load: Loader
    #: the user's own files: their shape comes from a look at them (raises SpecError naming
    #: the problem: a missing file, no such column, an empty folder); None: all declared
    probe: Callable[[Mapping[str, Any]], Probe] | None = None

    def n_features(self, params: Mapping[str, Any]) -> int:
        """Inputs per sample, from the declaration alone (resource checks run before loading)."""
        if self.probe is not None:
            return self.probe(params).n_features
        return _declared(self.features, params)

    def n_samples(self, params: Mapping[str, Any]) -> int:
        """Samples that go into the split: the declared size, cut to ``subset`` where the family has one."""
        n = self.probe(params).n_samples if self.probe is not None else _declared(self.size, params)
        subset = params.get("subset")
        return n if subset is None else min(n, subset)

    def task_of(self, params: Mapping[str, Any]) -> str:
        """'classification' or 'regression': declared, or what the user's files hold."""
        return self.task if self.probe is None else self.probe(params).task

    def classes_of(self, params: Mapping[str, Any]) -> int | None:
        return self.classes if self.probe is None else self.probe(params).classes

    def shape_of(self, params: Mapping[str, Any]) -> tuple[int, int, int] | None:
        return self.image_shape if self.probe is None else self.probe(params).image_shape


def _declared(value: int | str | Callable[[Mapping[str, Any]], int], params: Mapping[str, Any]) -> int:
    """A declared count: a number, a parameter's name, or a function of the parameters."""
    return params[value] if isinstance(value, str) else value(params) if callable(value) else value


DATASETS = Registry("dataset", "name")
#: name -> declaration, in the order declared (the GUI lists them so)
DECLARED: dict[str, DatasetInfo] = {}


def dataset_kind(name: str, *params: Param, task: str, size: int | str | Callable[..., int], doc: str,
                 image_shape: tuple[int, int, int] | None = None,
                 features: int | str | Callable[..., int] | None = None,
                 classes: int | None = None, family: Family = TABULAR,
                 probe: Callable[[Mapping[str, Any]], Probe] | None = None) -> Callable[[Loader], Loader]:
    """Register the decorated loader as dataset ``name``.

    ``params`` are its own parameters; the family's shared ones come first. ``size`` is
    the number of samples before the split, or the name of the parameter that sets it;
    ``features`` likewise the inputs per sample (for images, C x H x W by default).
    Mistakes in a declaration raise at import, not when a user picks the dataset.
    ``probe`` (the user's own files) gives task, size, features, classes and image shape from
    a look at the files; ``size`` and ``features`` are then placeholders.
    """
    if task not in TASKS:
        raise ValueError(f"dataset {name!r}: task must be one of {TASKS}, got {task!r}")
    if isinstance(size, str) and size not in {p.name for p in params}:
        raise ValueError(f"dataset {name!r}: size names no parameter of it: {size!r}")
    if image_shape is not None and len(image_shape) != 3:
        raise ValueError(f"dataset {name!r}: image_shape must be (C, H, W), got {image_shape!r}")
    if features is None and image_shape is None:
        raise ValueError(f"dataset {name!r}: declare its features (a number or a parameter name)")
    if isinstance(features, str) and features not in {p.name for p in params}:
        raise ValueError(f"dataset {name!r}: features names no parameter of it: {features!r}")
    n_features = math.prod(image_shape) if features is None else features  # type: ignore[arg-type]

    def register(load: Loader) -> Loader:
        if name in DECLARED:
            raise ValueError(f"dataset {name!r} is declared twice")
        DATASETS.register(name, (*family.params, *params), doc)
        DECLARED[name] = DatasetInfo(name, family, task, size, image_shape, n_features, classes, load, probe)
        return load

    return register


def train_size(dataset: Kinded) -> int:
    """Training samples after the validation split, without loading anything (for previews).
    The user's own files that cannot be read count as one sample here: validating a spec (opening
    a session whose data is elsewhere) must not need them; :func:`check_data` says what is wrong."""
    info = DECLARED[dataset.kind]
    try:
        n = info.n_samples(dataset.params)
    except SpecError:
        return 1
    return n - info.family.held_out(n, dataset.params.get(info.family.fraction, 0.0))


def check_data(dataset: Kinded) -> None:
    """Raise the SpecError of the user's own files that cannot be used (missing, unparsable, no
    such column, an empty folder); declared datasets pass. Runs before torch loads."""
    info = DECLARED[dataset.kind]
    if info.probe is not None:
        info.probe(dataset.params)


def dataset_task(dataset: str | Kinded) -> str:
    """'classification' or 'regression'. For the user's own files, what they hold; where they
    cannot be read (a session opened on another machine), the declared default."""
    if isinstance(dataset, str):
        return DECLARED[dataset].task
    info = DECLARED[dataset.kind]
    if info.probe is None:  # your own code's data says which in its `task` field
        task = dataset.params.get("task")
        return task if task in ("classification", "regression") else info.task
    try:
        return info.task_of(dataset.params)
    except SpecError:
        return info.task


# --- scikit-learn: bundled sets ---------------------------------------------------------


def _bundled(function: str) -> Samples:
    """``sklearn.datasets.<function>(return_X_y=True)``, read from its file without importing
    scikit-learn (2 s of a first run): :mod:`lrlab.core.decl.sklearn_files`."""
    from lrlab.core.decl.sklearn_files import load_bundled

    return Samples(*load_bundled(function))


@dataset_kind("iris", task="classification", size=150, features=4, classes=3,
              doc="150 flowers, 4 features, 3 species")
def iris(spec: Kinded) -> Samples:
    return _bundled("load_iris")


@dataset_kind("wine", task="classification", size=178, features=13, classes=3,
              doc="178 wines, 13 chemical features, 3 cultivars")
def wine(spec: Kinded) -> Samples:
    return _bundled("load_wine")


@dataset_kind("breast_cancer", task="classification", size=569, features=30, classes=2,
              doc="569 tumours, 30 features, benign or malignant")
def breast_cancer(spec: Kinded) -> Samples:
    return _bundled("load_breast_cancer")


@dataset_kind("digits", task="classification", size=1797, image_shape=(1, 8, 8), classes=10,
              doc="1,797 8x8 images of handwritten digits, 10 classes")
def digits(spec: Kinded) -> Samples:
    return _bundled("load_digits")


@dataset_kind("diabetes", task="regression", size=442, features=10,
              doc="442 patients, 10 features, disease progression")
def diabetes(spec: Kinded) -> Samples:
    return _bundled("load_diabetes")


# --- scikit-learn: generated sets -------------------------------------------------------

N_SAMPLES = Param("n_samples", Num(ge=10, le=1_000_000, integer=True), 1000, "samples to generate")
RANDOM_STATE = Param("random_state", Num(ge=0, le=SEED_MAX, integer=True), 0, "seed of the generator")


@dataset_kind("moons", N_SAMPLES, Param("noise", Num(ge=0, le=10), 0.2, "std of added noise"), RANDOM_STATE,
              task="classification", size="n_samples", features=2, doc="two interleaving half circles")
def moons(spec: Kinded) -> Samples:
    from sklearn.datasets import make_moons

    return Samples(*make_moons(spec["n_samples"], noise=spec["noise"], random_state=spec["random_state"]))


@dataset_kind("circles", N_SAMPLES, Param("noise", Num(ge=0, le=10), 0.1, "std of added noise"),
              Param("factor", Num(gt=0, lt=1), 0.5, "inner/outer radius"), RANDOM_STATE,
              task="classification", size="n_samples", features=2, doc="a small circle inside a large one")
def circles(spec: Kinded) -> Samples:
    from sklearn.datasets import make_circles

    return Samples(*make_circles(spec["n_samples"], noise=spec["noise"], factor=spec["factor"],
                                 random_state=spec["random_state"]))


@dataset_kind("blobs", N_SAMPLES, Param("centers", Num(ge=2, le=100, integer=True), 3, "classes"),
              Param("n_features", Num(ge=1, le=1000, integer=True), 2, "features"),
              Param("cluster_std", Num(gt=0, le=100), 1.0, "spread of each blob"), RANDOM_STATE,
              task="classification", size="n_samples", features="n_features",
              doc="Gaussian blobs, one per class")
def blobs(spec: Kinded) -> Samples:
    from sklearn.datasets import make_blobs

    return Samples(*make_blobs(spec["n_samples"], n_features=spec["n_features"], centers=spec["centers"],
                               cluster_std=spec["cluster_std"], random_state=spec["random_state"]))


@dataset_kind("classification", N_SAMPLES,
              Param("n_features", Num(ge=2, le=10_000, integer=True), 20, "features"),
              Param("n_informative", Num(ge=1, le=10_000, integer=True), 5, "informative features"),
              Param("n_classes", Num(ge=2, le=100, integer=True), 2, "classes"),
              Param("class_sep", Num(gt=0, le=100), 1.0, "larger is easier"), RANDOM_STATE,
              task="classification", size="n_samples", features="n_features",
              doc="scikit-learn's make_classification")
def classification(spec: Kinded) -> Samples:
    from sklearn.datasets import make_classification

    p = spec.params
    # scikit-learn's own messages for these name none of our fields
    if p["n_informative"] > p["n_features"]:
        raise SpecError([("dataset.n_informative",
                          f"must be <= n_features ({p['n_features']}), got {p['n_informative']}")])
    if p["n_classes"] * 2 > 2 ** p["n_informative"]:
        raise SpecError([("dataset.n_classes", "make_classification needs n_classes * 2 <= "
                          f"2 ** n_informative ({2 ** p['n_informative']}), got {p['n_classes']}")])
    return Samples(*make_classification(p["n_samples"], n_features=p["n_features"],
                                        n_informative=p["n_informative"], n_redundant=0,
                                        n_classes=p["n_classes"], class_sep=p["class_sep"],
                                        random_state=p["random_state"]))


@dataset_kind("regression", N_SAMPLES,
              Param("n_features", Num(ge=1, le=10_000, integer=True), 10, "features"),
              Param("n_informative", Num(ge=1, le=10_000, integer=True), 5, "informative features"),
              Param("noise", Num(ge=0, le=1000), 10.0, "std of noise on the target"), RANDOM_STATE,
              task="regression", size="n_samples", features="n_features", doc="scikit-learn's make_regression")
def regression(spec: Kinded) -> Samples:
    from sklearn.datasets import make_regression

    p = spec.params
    return Samples(*make_regression(p["n_samples"], n_features=p["n_features"],
                                    n_informative=min(p["n_informative"], p["n_features"]),
                                    noise=p["noise"], random_state=p["random_state"]))


# --- torchvision: image files -----------------------------------------------------------


#: reads a torchvision set's files: (spec, torchvision class name, train) -> (images, labels).
#: Reading needs torch and torchvision, which declarations never import: lrlab.core.engine.vision
#: installs its reader here when the engine loads it (lrlab.core.engine.data does, before any dataset).
IMAGE_READER: list[Callable[..., tuple[Any, Any]]] = []


def _torchvision(spec: Kinded, cls_name: str) -> Samples:
    """The training files of torchvision's ``cls_name`` and, when asked for, its test files."""
    if not IMAGE_READER:
        raise RuntimeError("image datasets are read by lrlab.core.engine.vision: load them through "
                           "lrlab.core.engine.data")
    read = IMAGE_READER[0]
    images, labels = read(spec, cls_name, train=True)
    test = read(spec, cls_name, train=False) if spec["test_eval"] else None
    return Samples(images, labels, test)


@dataset_kind("mnist", family=IMAGES, task="classification", size=60_000, image_shape=(1, 28, 28), classes=10,
              doc="70,000 28x28 handwritten digits (torchvision)")
def mnist(spec: Kinded) -> Samples:
    return _torchvision(spec, "MNIST")


@dataset_kind("fashion_mnist", family=IMAGES, task="classification", size=60_000, image_shape=(1, 28, 28),
              classes=10, doc="70,000 28x28 clothing images, 10 classes (torchvision)")
def fashion_mnist(spec: Kinded) -> Samples:
    return _torchvision(spec, "FashionMNIST")


@dataset_kind("kmnist", family=IMAGES, task="classification", size=60_000, image_shape=(1, 28, 28),
              classes=10, doc="70,000 28x28 cursive Japanese characters, 10 classes (torchvision)")
def kmnist(spec: Kinded) -> Samples:
    return _torchvision(spec, "KMNIST")


@dataset_kind("cifar10", family=IMAGES, task="classification", size=50_000, image_shape=(3, 32, 32),
              classes=10, doc="60,000 32x32 colour images, 10 classes (torchvision)")
def cifar10(spec: Kinded) -> Samples:
    return _torchvision(spec, "CIFAR10")


# --- your own code: load(seed) -> (X_train, y_train, X_val, y_val) ---------------------------

#: your data: the split is yours, so nothing is held out here
USER = Family("python", (), lambda n, fraction: 0)
#: runs a python dataset's load() (consent checked): lrlab.core.engine.usercode installs it, as
#: lrlab.core.engine.vision installs IMAGE_READER; declarations never import code
USER_DATA: list[Callable[[Kinded], Samples]] = []


@dataset_kind("python", *usercode.DATA_PARAMS, family=USER, task="classification", size="n_train",
              features="n_features", doc=usercode.DATA_DOC)
def python(spec: Kinded) -> Samples:
    if not USER_DATA:
        raise RuntimeError("your data is loaded by lrlab.core.engine.usercode: load it through lrlab.core.engine.data")
    return USER_DATA[0](spec)
@dataset_kind("cifar100", family=IMAGES, task="classification", size=50_000, image_shape=(3, 32, 32),
              classes=100, doc="60,000 32x32 colour images, 100 classes (torchvision)")
def cifar100(spec: Kinded) -> Samples:
    return _torchvision(spec, "CIFAR100")


@dataset_kind("svhn", family=IMAGES, task="classification", size=73_257, image_shape=(3, 32, 32), classes=10,
              doc="99,289 32x32 house-number digits from Street View, 10 classes (torchvision; without 'extra')")
def svhn(spec: Kinded) -> Samples:
    return _torchvision(spec, "SVHN")


@dataset_kind("stl10", family=IMAGES, task="classification", size=5_000, image_shape=(3, 96, 96), classes=10,
              doc="13,000 labelled 96x96 colour images, 10 classes (torchvision; without the unlabelled ones)")
def stl10(spec: Kinded) -> Samples:
    return _torchvision(spec, "STL10")


#: EMNIST's splits: (training images, classes); "letters" labels 1-26 (torchvision keeps class 0 unused)
EMNIST_SPLITS = {"balanced": (112_800, 47), "byclass": (697_932, 62), "bymerge": (697_932, 47),
                 "digits": (240_000, 10), "letters": (124_800, 27), "mnist": (60_000, 10)}


def _emnist_shape(params: Mapping[str, Any]) -> Probe:
    n, classes = EMNIST_SPLITS[params["split"]]
    return Probe("classification", n, 28 * 28, classes, (1, 28, 28))


@dataset_kind("emnist", Param("split", Choice(tuple(EMNIST_SPLITS)), "balanced",
                              "which of EMNIST's six splits: letters, digits, balanced (47 classes), ..."),
              family=IMAGES, task="classification", size=0, image_shape=(1, 28, 28), probe=_emnist_shape,
              doc="28x28 handwritten letters and digits, in six splits (torchvision)")
def emnist(spec: Kinded) -> Samples:
    return _torchvision(spec, "EMNIST")


#: datasets whose samples are images (the ones a CNN can take), in declaration order
IMAGE_SETS = tuple(name for name, info in DECLARED.items() if info.image_shape is not None)


# --- sequences generated from a seed (lrlab.core.decl.sequences; for the transformer) -------------

#: algorithmic tasks: every sample generated, a seeded share of them trained on
ALGORITHMIC = Family("algorithmic", (
    Param("train_fraction", Num(gt=0, lt=1), 0.5,
          "share of the samples trained on (the rest validate); the grokking task uses little"),
    Param("split_seed", Num(ge=0, le=SEED_MAX, integer=True), 0, "seed of the train/validation split"),
), lambda n, train_fraction: max(1, n - max(1, round(n * train_fraction))), fraction="train_fraction")

#: a text file: training windows from its head, validation windows from its tail
TEXT = Family("text", (
    Param("val_fraction", Num(gt=0, lt=1), 0.1, "share of the text (its end) that validation windows come from"),
    Param("split_seed", Num(ge=0, le=SEED_MAX, integer=True), 0, "seed of where the windows start"),
), _rounded_share)


def _seq(function: str, spec: Kinded, *args: Any) -> Samples:
    from lrlab.core.decl import sequences

    return Samples(*getattr(sequences, function)(spec, *args))


@dataset_kind("modular", Param("p", Num(ge=2, le=1000, integer=True), 97, "the modulus (prime for '/')"),
              Param("op", Choice(("+", "-", "*", "/")), "+", "the operation: a op b mod p"),
              family=ALGORITHMIC, task="classification", features=4,
              size=lambda q: q["p"] * (q["p"] - 1 if q["op"] == "/" else q["p"]),
              doc="modular arithmetic, 'a op b = c' mod p: every pair, the grokking task (Power et al., 2022)")
def modular(spec: Kinded) -> Samples:
    return _seq("modular", spec)


_SEQ_PARAMS = (Param("length", Num(ge=1, le=256, integer=True), 8, "symbols per sequence"),
               Param("symbols", Num(ge=2, le=1000, integer=True), 10, "size of the alphabet"),
               N_SAMPLES, RANDOM_STATE)


@dataset_kind("copy", *_SEQ_PARAMS, family=ALGORITHMIC, task="classification", size="n_samples",
              features=lambda q: 2 * q["length"],
              doc="copy a random sequence: given it, a separator and the first j symbols, predict symbol j+1")
def copy_task(spec: Kinded) -> Samples:
    return _seq("copy", spec)


@dataset_kind("reverse", *_SEQ_PARAMS, family=ALGORITHMIC, task="classification", size="n_samples",
              features=lambda q: 2 * q["length"],
              doc="reverse a random sequence: given it, a separator and the first j output symbols, predict the next")
def reverse_task(spec: Kinded) -> Samples:
    return _seq("reverse", spec)


@dataset_kind("text", Param("path", Text(), REQUIRED, "a UTF-8 text file"),
              Param("context", Num(ge=1, le=1024, integer=True), 64, "characters the model reads"),
              Param("n_samples", Num(ge=10, le=1_000_000, integer=True), 20_000,
                    "windows drawn from the text (seeded)"),
              family=TEXT, task="classification", size="n_samples", features="context",
              doc="character-level language model of any UTF-8 text file: predict the next character")
def text(spec: Kinded) -> Samples:
    from pathlib import Path

    from lrlab.core.decl import sequences
    from lrlab.core.decl.files import sha256_file

    x, y = sequences.text(spec, TEXT.held_out(spec["n_samples"], spec["val_fraction"]))
    path = Path(spec["path"]).expanduser()  # read by now: a replay on another text says "data changed"
    provenance = {"path": str(path.resolve()), "size": path.stat().st_size, "sha256": sha256_file(path)}
    return Samples(x, y, meta={"provenance": provenance})


#: datasets of token sequences (the ones the transformer takes), in declaration order
SEQUENCE_SETS = tuple(name for name, info in DECLARED.items() if info.family in (ALGORITHMIC, TEXT))
def image_sets() -> tuple[str, ...]:
    """Datasets whose samples are images, including those declared after this module (the
    user's image folders, ``lrlab.core.decl.owndata``)."""
    return tuple(name for name, info in DECLARED.items() if info.image_shape is not None)
