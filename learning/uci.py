"""The four UCI sets (Dua & Graff, UCI ML Repository, CC BY 4.0; splits of Wu et al. 2019, Table I).

The original files ship in ``learning/data/uci/`` (see the README there) and are read with
``importlib.resources``; their sha256 is checked on every load. ``data_dir`` (a directory holding
the same file names, or a ``uci/`` subfolder holding them) replaces the packaged copies; those
files are parsed just as strictly but their checksum is not enforced.

* ``iris`` (``iris.data``): 4 features (cm), 3 classes (sorted names: setosa 0, versicolor 1,
  virginica 2); 150 rows -> 90 train / 60 test.
* ``wbc`` (``breast-cancer-wisconsin.data``): the sample-id column is dropped, the 16 rows with
  '?' are dropped (683 left), 9 integer features 1..10; class 2 (benign) -> 0, 4 (malignant) -> 1;
  455 train / 228 test.
* ``abalone`` (``abalone.data``): the 7 numeric measurements (length, diameter, height, whole,
  shucked, viscera and shell weight); the categorical Sex attribute is dropped, because the paper
  reports 7 input features. 3 classes by rings, the standard grouping of UCI's abalone.names
  (Clark et al. 1996): 1-8 -> 0, 9-10 -> 1, >= 11 -> 2. 4177 rows -> 2000 train / 2177 test.
  (The paper's architecture string "8-50-2" contradicts its own 7 features / 3 classes; we follow
  the features and class count.)
* ``yeast`` (``yeast.data``, whitespace separated): the sequence name is dropped, 8 features,
  10 classes numbered by sorted class name (CYT ERL EXC ME1 ME2 ME3 MIT NUC POX VAC);
  1484 rows -> 990 train / 494 test.

Splits: ``train_test_split(train_size=<count>, test_size=<rest>, stratify=y,
random_state=split_seed)`` on the row indices (both splits come out shuffled). A replacement file
with another row count is split in the same train fraction. Features are min-max scaled with the
min and max of the *train* split only; test features are then clipped to [0, 1]. A column that
is constant on the train split maps to 0.
"""
from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from learning.dataset_record import Dataset, DatasetError

__all__ = ["load_uci", "minmax_train"]


@dataclass(frozen=True)
class _UciSpec:
    filename: str
    sha256: str
    n_train: int
    n_test: int
    n_features: int
    n_classes: int


_UCI: dict[str, _UciSpec] = {
    "iris": _UciSpec("iris.data", "6f608b71a7317216319b4d27b4d9bc84e6abd734eda7872b71a458569e2656c0",
                     90, 60, 4, 3),
    "wbc": _UciSpec("breast-cancer-wisconsin.data",
                    "402c585309c399237740f635ef9919dc512cca12cbeb20de5e563a4593f22b64", 455, 228, 9, 2),
    "abalone": _UciSpec("abalone.data", "de37cdcdcaaa50c309d514f248f7c2302a5f1f88c168905eba23fe2fbc78449f",
                        2000, 2177, 7, 3),
    "yeast": _UciSpec("yeast.data", "7cf61776fc04f527f93bf57a327b863893a1225d82df02d457e8950173218258",
                      990, 494, 8, 10),
}
_IRIS_CLASSES = ("Iris-setosa", "Iris-versicolor", "Iris-virginica")
_YEAST_CLASSES = ("CYT", "ERL", "EXC", "ME1", "ME2", "ME3", "MIT", "NUC", "POX", "VAC")


def _packaged_uci_file(filename: str):
    """The packaged copy of ``filename`` (an importlib.resources Traversable)."""
    try:
        res = importlib.resources.files(__package__ or "learning").joinpath("data", "uci", filename)
        if res.is_file():
            return res
    except (OSError, TypeError, ValueError):
        # e.g. a stale editable install that turned the package into a namespace package whose
        # MultiplexedPath refuses non-directory entries; the file still sits next to this module.
        pass
    return Path(__file__).resolve().parent / "data" / "uci" / filename


def _uci_bytes(spec: _UciSpec, data_dir) -> tuple[bytes, str]:
    """Raw file content and a display name; packaged files are sha256-checked."""
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        for p in (root / spec.filename, root / "uci" / spec.filename):
            if p.is_file():
                try:
                    return p.read_bytes(), str(p)
                except OSError as e:
                    raise DatasetError(f"{p}: cannot read: {e.strerror or e}") from None
        raise DatasetError(f"{root / spec.filename}: missing file (also looked in {root / 'uci'}); "
                           "omit data_dir to use the packaged copy")
    res = _packaged_uci_file(spec.filename)
    shown = str(res)
    try:
        data = res.read_bytes()
    except OSError as e:
        raise DatasetError(f"{shown}: cannot read packaged file: {e}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise DatasetError(f"{shown}: sha256 mismatch: got {digest}, expected {spec.sha256}")
    return data, shown


def _num(tok: str, where: str, col: int) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise DatasetError(f"{where}: cannot parse {tok!r} as a number (column {col})") from None
    if not np.isfinite(v):
        raise DatasetError(f"{where}: non-finite value {tok!r} (column {col})")
    return v


def _parse_uci(name: str, data: bytes, shown: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse one UCI file into raw float64 features and int64 labels (no scaling)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        raise DatasetError(f"{shown}: not an ASCII text file ({e.reason} at byte {e.start})") from None
    xs: list[list[float]] = []
    ys: list[int] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{shown}: line {lineno}"
        toks = line.split() if name == "yeast" else [t.strip() for t in line.split(",")]
        ncols = {"iris": 5, "wbc": 11, "abalone": 9, "yeast": 10}[name]
        if len(toks) != ncols:
            raise DatasetError(f"{where}: expected {ncols} columns, got {len(toks)}")
        if name == "iris":
            feats = [_num(t, where, i + 1) for i, t in enumerate(toks[:4])]
            if toks[4] not in _IRIS_CLASSES:
                raise DatasetError(f"{where}: unknown class {toks[4]!r}")
            label = _IRIS_CLASSES.index(toks[4])
        elif name == "wbc":
            if "?" in toks[1:10]:
                continue  # the 16 rows with a missing Bare Nuclei value
            feats = [_num(t, where, i + 2) for i, t in enumerate(toks[1:10])]
            if toks[10] not in ("2", "4"):
                raise DatasetError(f"{where}: unknown class {toks[10]!r}, expected 2 or 4")
            label = 0 if toks[10] == "2" else 1
        elif name == "abalone":
            if toks[0] not in ("M", "F", "I"):
                raise DatasetError(f"{where}: unknown Sex {toks[0]!r}, expected M, F or I")
            feats = [_num(t, where, i + 2) for i, t in enumerate(toks[1:8])]
            rings = _num(toks[8], where, 9)
            if rings != int(rings) or rings < 1:
                raise DatasetError(f"{where}: rings must be a positive integer, got {toks[8]!r}")
            label = 0 if rings <= 8 else (1 if rings <= 10 else 2)
        else:  # yeast
            feats = [_num(t, where, i + 2) for i, t in enumerate(toks[1:9])]
            if toks[9] not in _YEAST_CLASSES:
                raise DatasetError(f"{where}: unknown class {toks[9]!r}")
            label = _YEAST_CLASSES.index(toks[9])
        xs.append(feats)
        ys.append(label)
    if not ys:
        raise DatasetError(f"{shown}: no data rows")
    return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.int64)


def _uci_raw(name: str, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Unscaled features and labels of a UCI set, in file order (after dropping rows)."""
    spec = _UCI[name]
    data, shown = _uci_bytes(spec, data_dir)
    return _parse_uci(name, data, shown)


def _uci_split_indices(name: str, y: np.ndarray, split_seed: int, shown: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, test) row indices with the paper's train count."""
    from sklearn.model_selection import train_test_split

    spec = _UCI[name]
    n = len(y)
    total = spec.n_train + spec.n_test
    n_train = spec.n_train if n == total else int(round(n * spec.n_train / total))
    try:
        return train_test_split(np.arange(n), train_size=n_train, test_size=n - n_train,
                                stratify=y, random_state=split_seed)
    except ValueError as e:
        raise DatasetError(f"{shown or spec.filename}: cannot split {n} rows {n_train}/{n - n_train}: {e}") from None


def minmax_train(x_train: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Scale ``x`` with the column min/max of ``x_train``; clip to [0, 1]; constant columns -> 0."""
    lo = x_train.min(axis=0)
    span = x_train.max(axis=0) - lo
    const = span == 0
    out = (x - lo) / np.where(const, 1.0, span)
    out[:, const] = 0.0
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def load_uci(name: str, split: str, data_dir, split_seed: int, *, limit: int | None) -> Dataset:
    spec = _UCI[name]
    data, shown = _uci_bytes(spec, data_dir)
    x_raw, y = _parse_uci(name, data, shown)
    idx_train, idx_test = _uci_split_indices(name, y, split_seed, shown)
    idx = idx_train if split == "train" else idx_test
    if limit is not None:
        idx = idx[:limit]
    x = minmax_train(x_raw[idx_train], x_raw[idx])
    return Dataset(name, split, x, y[idx], (spec.n_features,), spec.n_classes)
