"""The user's own data: a table (CSV, TSV, Parquet) and a folder of images, each one declaration.

::

    {"name": "table", "path": "data.csv", "target": "label"}
    {"name": "image_folder", "path": "photos/", "size": 32, "augment": "crop_flip"}

Unlike the bundled sets, their task, size, features and classes are not known until the files
are looked at, so each declares a *probe*: a quick look (the table read and encoded with pandas,
the folder listed) that gives them and says, as a SpecError on a ``dataset`` field, what is
wrong with the files: missing, unparsable, no such target column (with the columns there), a
feature that cannot be encoded, missing values, an empty folder or a class folder without
images. Probes run before torch loads (the GUI calls :func:`~lrlab.core.decl.datasets.check_data`
on every change, the runners before anything is loaded) and are cached by the files' sizes and
modification times, so looking again costs a ``stat``.

**Relative paths** are resolved against the current working directory (as every command-line
tool does); the GUI's pickers write absolute paths. A session stores the path as written and
the data's provenance (the resolved path, its size and SHA-256), so a replay from the same
place, or on a copy of session and data moved together, reads the same data, and a replay on
changed data says so (``lrlab.core.runs.recorded.environment_differences``).

Reading images (decoding, the on-disk cache, the SHA-256 of the folder) needs numpy and
Pillow and lives in ``lrlab.core.engine.owndata``, which installs its reader in
:data:`FOLDER_READER` the way ``lrlab.core.engine.vision`` does for torchvision's sets.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lrlab.core.decl.datasets import (
    SEED_MAX,
    Family,
    Probe,
    Samples,
    _ceil_share,
    _rounded_share,
    dataset_kind,
)
from lrlab.core.decl.params import Choice, Kinded, ListOf, Num, Param, SpecError, Text

#: a target with at most this many distinct whole numbers is a class label, with more a quantity
MAX_INTEGER_CLASSES = 20
#: a text feature with more distinct values than this is an identifier or free text, not a category
MAX_CATEGORIES = 100
#: the file suffixes torchvision's ImageFolder takes as images
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "csv", ".parquet": "parquet",
                 ".pq": "parquet"}

TABLE = Family("table", (
    Param("val_fraction", Num(gt=0, lt=1), 0.2, "share of rows held out for validation"),
    Param("split_seed", Num(ge=0, le=SEED_MAX, integer=True), 0,
          "seed of the train/validation split; fixed apart from the run seed"),
), _ceil_share)

FOLDER = Family("image_folder", (
    Param("val_fraction", Num(gt=0, lt=1), 0.1, "share of the images held out for validation"),
    Param("split_seed", Num(ge=0, le=SEED_MAX, integer=True), 0, "seed of the validation split"),
), _rounded_share)


def resolve(path: str) -> Path:
    """A dataset path as the user wrote it, made absolute: ``~`` expanded, relative to the current
    working directory."""
    return Path(os.path.abspath(Path(path).expanduser()))


def parquet_missing() -> str | None:
    """Why Parquet files cannot be read, or None when they can (pyarrow is the extra ``tables``)."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        return "reading Parquet needs pyarrow: pip install 'lrlab[tables]'"
    return None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- tables ------------------------------------------------------------------------------


class Table:
    """A table read and encoded: float64 features with NaN where values are missing (``missing:
    "mean"`` fills them with the training split's means later), labels or targets, and what the
    splitter and the session need."""

    def __init__(self, x: Any, y: Any, task: str, classes: list[str] | None, scale: Any,
                 columns: list[str], provenance: dict[str, Any]):
        self.x, self.y, self.task, self.classes = x, y, task, classes
        self.scale, self.columns, self.provenance = scale, columns, provenance


_TABLES: dict[tuple[Any, ...], Table] = {}


def _stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def read_table(params: Mapping[str, Any]) -> Table:
    """The table of a ``table`` spec, read and encoded (cached by the file's size and mtime)."""
    if not params["path"]:
        raise SpecError([("dataset.path", "is required: a CSV, TSV or Parquet file")])
    path = resolve(params["path"])
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise SpecError([("dataset.path", f"{path} {what}")])
    key = (str(path), _stat_key(path), params["target"], params["task"], params["missing"],
           tuple(params["ignore"]), params["format"])
    if key not in _TABLES:
        _check_fits(path)
        if len(_TABLES) >= 2:  # the form's table and one more: a big table is not kept twice
            _TABLES.clear()
        _TABLES[key] = _encode(path, params)
    return _TABLES[key]


#: bytes in memory per byte of a table file while it is read and encoded (pandas' frame with its
#: text columns, the float64 features and their one-hot blocks): generous, as limits.py is
TABLE_MEMORY_FACTOR = 8
#: share of the available memory reading a table may take (as limits.MEMORY_SHARE for a run)
TABLE_MEMORY_SHARE = 0.5


def _check_fits(path: Path, available: int | None = None) -> None:
    """Refuse a table that would not fit in memory before pandas reads it (a 20 GB CSV read during
    the GUI's validation would freeze the desktop). The run's own estimate follows, from the rows
    and encoded features (``lrlab.core.engine.limits``)."""
    from lrlab.core.decl.machine import available_memory

    size = path.stat().st_size
    available = available_memory() if available is None else available
    if available is not None and size * TABLE_MEMORY_FACTOR > TABLE_MEMORY_SHARE * available:
        raise SpecError([("dataset.path", f"{path.name} is {size / 2**20:.3g} MiB; read and encoded it would need "
                                          f"about {size * TABLE_MEMORY_FACTOR / 2**30:.3g} GiB but "
                                          f"{available / 2**30:.3g} GiB are available; use a sample of its rows")])


def _read_frame(path: Path, fmt: str) -> Any:
    import pandas as pd

    fmt = TABLE_FORMATS.get(path.suffix.lower(), "csv") if fmt == "auto" else fmt
    if fmt == "parquet":
        reason = parquet_missing()
        if reason:
            raise SpecError([("dataset.path", f"{path.name}: {reason}")])
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",")
    except (ValueError, OSError, UnicodeDecodeError, ImportError) as err:  # pandas' ParserError is a ValueError
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SpecError([("dataset.path", f"{path.name} will not parse as {fmt.upper()}: {first}")]) from None


def _encode(path: Path, params: Mapping[str, Any]) -> Table:
    """Features: numbers as they are, booleans as 0/1, text and categories one-hot (at most
    :data:`MAX_CATEGORIES` values each). Target: classes for text, booleans or at most
    :data:`MAX_INTEGER_CLASSES` distinct whole numbers, else a regression (``task`` overrides)."""
    import numpy as np
    import pandas as pd

    frame = _read_frame(path, params["format"])
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if len(frame) == 0 or not columns:
        raise SpecError([("dataset.path", f"{path.name} has no rows")])
    target = params["target"]
    if not target:
        raise SpecError([("dataset.target", f"is required: the column to predict, one of {', '.join(columns[:30])}")])
    if target not in columns:
        shown = ", ".join(columns[:30]) + (f", … ({len(columns)} in all)" if len(columns) > 30 else "")
        raise SpecError([("dataset.target", f"no column {target!r} in {path.name}; its columns: {shown}")])
    unknown = [c for c in params["ignore"] if c not in columns]
    if unknown:
        raise SpecError([("dataset.ignore", f"no column {unknown[0]!r} in {path.name}; its columns: "
                                            f"{', '.join(columns[:30])}")])
    features = [c for c in columns if c != target and c not in params["ignore"]]
    if not features:
        raise SpecError([("dataset.target", f"{path.name} has no feature columns besides {target!r}")])
    missing = [c for c in [target, *features] if frame[c].isna().any()]
    target_gaps = target in missing
    if missing and params["missing"] == "error":
        counts = ", ".join(f"{c} ({int(frame[c].isna().sum())})" for c in missing[:10])
        raise SpecError([("dataset.missing", f"{path.name} has missing values in {counts}; set "
                                             "\"missing\": \"drop\" (drop those rows) or \"mean\" (fill "
                                             "numbers with the training mean)")])
    # "mean" fills features later; a row without a target cannot be learned from in any case
    frame = frame.dropna(subset=[target, *features] if params["missing"] == "drop" else [target])
    if len(frame) < 2:
        raise SpecError([("dataset.missing", f"{path.name} has fewer than 2 rows left after dropping "
                                             "rows with missing values")])

    blocks, scale = [], []
    for c in features:
        col = frame[c]
        if pd.api.types.is_bool_dtype(col):
            blocks.append(col.astype(float).to_numpy()[:, None])
            scale.append(False)
        elif pd.api.types.is_numeric_dtype(col):
            blocks.append(col.astype(float).to_numpy()[:, None])
            scale.append(True)
        elif pd.api.types.is_object_dtype(col) or isinstance(col.dtype, pd.CategoricalDtype) \
                or pd.api.types.is_string_dtype(col):
            values = col.astype("string")
            n = values.nunique(dropna=True)
            if n > MAX_CATEGORIES:
                raise SpecError([("dataset.ignore", f"column {c!r} of {path.name} is text with {n:,} distinct "
                                                    f"values (more than {MAX_CATEGORIES} cannot be one-hot "
                                                    f"encoded); add it to \"ignore\"")])
            hot = pd.get_dummies(values, dtype=float)
            blocks.append(hot.to_numpy())
            scale.extend([False] * hot.shape[1])
        else:
            raise SpecError([("dataset.ignore", f"column {c!r} of {path.name} holds {col.dtype} values, "
                                                "which cannot be encoded as numbers; add it to \"ignore\"")])
    x = np.concatenate(blocks, axis=1)

    y_col = frame[target]
    task = params["task"] if params["task"] != "auto" else _task_of(y_col, target_gaps)
    classes = None
    if task == "classification":
        codes, uniques = pd.factorize(y_col, sort=True)
        if len(uniques) < 2:
            raise SpecError([("dataset.target", f"column {target!r} of {path.name} has a single value; "
                                                "there is nothing to classify")])
        y = codes.astype(np.int64)
        classes = [str(u) for u in uniques]
    else:
        if not pd.api.types.is_numeric_dtype(y_col) or pd.api.types.is_bool_dtype(y_col):
            raise SpecError([("dataset.task", f"column {target!r} of {path.name} is not numeric, so it "
                                              "cannot be a regression target; use \"classification\"")])
        y = y_col.astype(float).to_numpy()
    provenance = {"path": str(path), "size": path.stat().st_size, "sha256": sha256_file(path),
                  "task": task, "rows": len(frame)}
    return Table(x, y, task, classes, np.asarray(scale, dtype=bool), columns, provenance)


def _task_of(y: Any, had_gaps: bool) -> str:
    """Text, booleans or a few integers are classes; floats and many integers are a quantity."""
    import numpy as np
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    values = y.to_numpy(dtype=float)
    # pandas reads an integer column with gaps as floats: whole numbers there are still integers
    whole = had_gaps and bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
    if (pd.api.types.is_integer_dtype(y) or whole) and y.nunique() <= MAX_INTEGER_CLASSES:
        return "classification"
    return "regression"


def table_columns(path: str) -> list[str]:
    """The column names of a table file, read from its header alone (the GUI's target chooser);
    empty when the file is missing or does not parse (validation says why)."""
    import pandas as pd

    p = resolve(path) if path else None
    if p is None or not p.is_file():
        return []
    fmt = TABLE_FORMATS.get(p.suffix.lower(), "csv")
    try:
        if fmt == "parquet":
            if parquet_missing():
                return []
            import pyarrow.parquet as pq

            return [str(c) for c in pq.read_schema(p).names]
        return [str(c) for c in pd.read_csv(p, sep="\t" if fmt == "tsv" else ",", nrows=0).columns]
    except (ValueError, OSError, UnicodeDecodeError, ImportError):
        return []


def _probe_table(params: Mapping[str, Any]) -> Probe:
    t = read_table(params)
    return Probe(t.task, len(t.y), t.x.shape[1], None if t.classes is None else len(t.classes))


@dataset_kind("table",
              Param("path", Text(), "", "a CSV, TSV or Parquet file (relative: to the working folder)"),
              Param("target", Text(), "", "the column to predict"),
              Param("task", Choice(("auto", "classification", "regression")), "auto",
                    "auto: classes for text or a few whole numbers, a regression for other numbers"),
              Param("missing", Choice(("error", "drop", "mean")), "error",
                    "rows with missing values: refuse, drop them, or fill numbers with the training mean"),
              Param("ignore", ListOf(Text()), [], "columns that are not features (identifiers, free text)"),
              Param("format", Choice(("auto", "csv", "tsv", "parquet")), "auto",
                    "auto: from the file's suffix (.csv, .tsv, .parquet)"),
              family=TABLE, task="classification", size=0, features=0, probe=_probe_table,
              doc="your own table: CSV, TSV or Parquet, one row per sample")
def table(spec: Kinded) -> Samples:
    t = read_table(spec.params)
    return Samples(t.x, t.y, meta={"scale": t.scale, "classes": t.classes, "provenance": t.provenance})


# --- image folders -----------------------------------------------------------------------


#: decodes a folder's images: (spec, listing) -> Samples. Installed by lrlab.core.engine.owndata
#: (numpy and Pillow), which lrlab.core.engine.data loads before any dataset.
FOLDER_READER: list[Callable[[Kinded, Listing], Samples]] = []


class Listing:
    """An image folder's class folders and files, in torchvision's ImageFolder order (classes
    sorted by name, files sorted within each), with each file's size and mtime."""

    def __init__(self, root: Path, classes: list[str], files: list[tuple[str, int, int, int]]):
        self.root, self.classes = root, classes
        #: (path relative to root, class index, size, mtime_ns)
        self.files = files

    def key(self) -> str:
        """A SHA-256 of the file names, sizes and mtimes: what the decoded cache is keyed by."""
        h = hashlib.sha256(str(self.root).encode())
        for rel, label, size, mtime in self.files:
            h.update(f"\0{rel}\0{label}\0{size}\0{mtime}".encode())
        return h.hexdigest()


def list_folder(params: Mapping[str, Any]) -> Listing:
    """The folder of an ``image_folder`` spec, listed; refuses a missing or empty folder and a
    class folder without images, naming it."""
    if not params["path"]:
        raise SpecError([("dataset.path", "is required: a folder with one subfolder of images per class")])
    import importlib.util

    if importlib.util.find_spec("PIL") is None:
        raise SpecError([("dataset.name", "image_folder needs Pillow (it comes with torchvision): "
                                          "pip install 'lrlab[vision]'")])
    root = resolve(params["path"])
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise SpecError([("dataset.path", f"{root} {what}")])
    try:
        classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    except OSError as err:
        raise SpecError([("dataset.path", f"cannot list {root}: {err.strerror}")]) from None
    if not classes:
        raise SpecError([("dataset.path", f"{root} has no class folders: put each class's images in a "
                                          "folder of its own (photos/cat/1.jpg, photos/dog/2.jpg)")])
    files: list[tuple[str, int, int, int]] = []
    seen = [0]
    for label, name in enumerate(classes):
        found: list[tuple[str, int, int, int]] = []
        try:
            _scan(os.path.join(root, name), name, label, found, seen)
        except OSError as err:
            raise SpecError([("dataset.path", f"cannot list {root / name}: {err.strerror}")]) from None
        if not found:
            raise SpecError([("dataset.path", f"class folder {name!r} in {root} has no images "
                                              f"({', '.join(IMAGE_SUFFIXES)})")])
        files.extend(sorted(found))
    return Listing(root, classes, files)


#: entries a folder's listing may visit: a wrong pick ("/", a home folder) or a session someone
#: sent naming one is refused quickly instead of walking the whole disk
MAX_ENTRIES = 2_000_000


def _scan(folder: str, rel: str, label: int, found: list[tuple[str, int, int, int]], seen: list[int]) -> None:
    """Images under ``folder`` (and its subfolders, not following links: no loops), as (relative
    path, label, size, mtime_ns): plain strings and ``os.scandir``, a 10,000-image folder lists in
    a few milliseconds."""
    with os.scandir(folder) as entries:
        for e in entries:
            seen[0] += 1
            if seen[0] > MAX_ENTRIES:
                raise SpecError([("dataset.path", f"more than {MAX_ENTRIES:,} files and folders under "
                                                  f"{folder}: is this the image folder you meant?")])
            if e.is_dir(follow_symlinks=False):
                _scan(e.path, f"{rel}/{e.name}", label, found, seen)
            elif e.name.lower().endswith(IMAGE_SUFFIXES):
                st = e.stat()
                found.append((f"{rel}/{e.name}", label, st.st_size, st.st_mtime_ns))


def _probe_folder(params: Mapping[str, Any]) -> Probe:
    listing = list_folder(params)
    size = params["size"]
    return Probe("classification", len(listing.files), 3 * size * size, len(listing.classes), (3, size, size))


@dataset_kind("image_folder",
              Param("path", Text(), "", "a folder with one subfolder of images per class (torchvision's "
                                        "ImageFolder layout; relative: to the working folder)"),
              Param("size", Num(ge=8, le=512, integer=True), 32,
                    "images are resized (shorter side) and centre-cropped to size x size"),
              Param("augment", Choice(("none", "crop_flip")), "none",
                    "crop_flip: a random crop after 4 pixels of padding and a random horizontal flip per "
                    "training image, on the device, seeded"),
              Param("corrupt", Choice(("error", "skip")), "error",
                    "an image that will not decode: refuse, naming it, or skip it (counted)"),
              family=FOLDER, task="classification", size=0, image_shape=(3, 32, 32), probe=_probe_folder,
              doc="your own images: one folder per class, decoded once and cached")
def image_folder(spec: Kinded) -> Samples:
    if not FOLDER_READER:
        raise RuntimeError("image folders are read by lrlab.core.engine.owndata: load them through "
                           "lrlab.core.engine.data")
    return FOLDER_READER[0](spec, list_folder(spec.params))
