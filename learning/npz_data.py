"""Your own data: a ``.npz`` file or four numpy arrays as a pair of :class:`~learning.datasets.Dataset`.

Arrays (the names of the ``.npz`` members)::

    x_train  (N, D) | (N, H, W) | (N, C, H, W)   finite numbers (any real dtype)
    y_train  (N,)                                 integer class ids 0 .. n_classes-1
    x_test   (M, ...)                             same per-sample shape as x_train
    y_test   (M,)
    n_classes  ()  optional integer; default max(y_train) + 1

Scaling (recorded as ``scaling`` in :class:`NpzInfo`, in ``model.json`` of a trained model as
``data_scaling``): if every feature of ``x_train`` and ``x_test`` lies in [0, 1] the arrays are used
as they are (``"as-is"``); otherwise each feature is min-max scaled with the *training* split's
minimum and maximum (``"minmax-train"``): ``(x - min) / (max - min)``, clipped to [0, 1] (test
values outside the training range), a feature constant on the training split maps to 0.
Images are flattened in C*H*W order; ``input_shape`` keeps the un-flattened shape ((1, H, W) for
(N, H, W) arrays).

The file is read with ``np.load(..., allow_pickle=False)``: nothing is ever unpickled, and an
object array is refused. Every problem is one :class:`~learning.datasets.DatasetError` line.
The data set name of a file is ``npz:<absolute path>``; its sha256 is recorded beside trained
models so later commands can check they read the same file (:func:`check_recorded`).
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from learning.choices import SCALINGS
from learning.dataset_record import Dataset, DatasetError
from learning.uci import minmax_train

__all__ = ["PREFIX", "NpzInfo", "from_arrays", "load_npz", "npz_name", "npz_path", "provenance", "check_recorded"]

PREFIX = "npz:"
KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class NpzInfo:
    """Where a pair came from and how it was scaled."""

    path: str | None  # absolute path of the .npz, None for in-memory arrays
    sha256: str | None
    scaling: str  # "as-is" | "minmax-train"
    n_classes: int


def npz_name(path: str | os.PathLike) -> str:
    """The data set name of an .npz file: ``npz:`` + its absolute path."""
    return PREFIX + os.path.abspath(os.path.expanduser(path))


def npz_path(name: str) -> Path | None:
    """The path inside an ``npz:PATH`` data set name, None for any other name."""
    return Path(name[len(PREFIX):]).expanduser() if isinstance(name, str) and name.startswith(PREFIX) else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _features(x, key: str, where: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype == object:
        raise DatasetError(f"{where}: {key} is an object array; store plain numeric arrays")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        raise DatasetError(f"{where}: {key} has dtype {a.dtype}, expected real numbers")
    if a.ndim not in (2, 3, 4):
        raise DatasetError(f"{where}: {key} has shape {a.shape}; expected (N, D), (N, H, W) or (N, C, H, W)")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise DatasetError(f"{where}: {key} contains NaN or infinite values")
    return a


def _labels(y, key: str, n: int, where: str) -> np.ndarray:
    a = np.asarray(y)
    if a.dtype == object:
        raise DatasetError(f"{where}: {key} is an object array; store integer class ids")
    if a.ndim != 1:
        raise DatasetError(f"{where}: {key} has shape {a.shape}; expected ({n},), one class id per sample")
    if len(a) != n:
        raise DatasetError(f"{where}: {key} has {len(a)} labels but x_{key[2:]} has {n} samples")
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise DatasetError(f"{where}: {key} holds non-integer values; labels must be class ids 0, 1, ...")
    elif not np.issubdtype(a.dtype, np.integer):
        raise DatasetError(f"{where}: {key} has dtype {a.dtype}; labels must be integer class ids")
    a = a.astype(np.int64)
    if len(a) and a.min() < 0:
        raise DatasetError(f"{where}: {key} has a negative label {int(a.min())}; class ids start at 0")
    return a


def _input_shape(x: np.ndarray) -> tuple[int, ...]:
    return (1, *x.shape[1:]) if x.ndim == 3 else tuple(x.shape[1:])


def from_arrays(x_train, y_train, x_test, y_test, *, n_classes: int | None = None, name: str = "arrays",
                where: str = "arrays", path: str | None = None, sha256: str | None = None,
                ) -> tuple[Dataset, Dataset, NpzInfo]:
    """(train, test, info) from numpy arrays (see the module docstring for shapes and scaling).

    DatasetError (one line) for wrong shapes, NaN/inf, non-integer or out-of-range labels,
    mismatched lengths or empty splits.
    """
    xs = [_features(x_train, "x_train", where), _features(x_test, "x_test", where)]
    if xs[0].shape[1:] != xs[1].shape[1:]:
        raise DatasetError(f"{where}: x_train samples have shape {xs[0].shape[1:]}, x_test {xs[1].shape[1:]}")
    for x, split in zip(xs, ("train", "test")):
        if len(x) == 0:
            raise DatasetError(f"{where}: x_{split} is empty (0 samples)")
    ys = [_labels(y_train, "y_train", len(xs[0]), where), _labels(y_test, "y_test", len(xs[1]), where)]
    top = int(max(ys[0].max(), ys[1].max()))
    if n_classes is None:
        n_classes = int(ys[0].max()) + 1
    elif int(n_classes) != n_classes or n_classes < 2:
        raise DatasetError(f"{where}: n_classes must be an integer >= 2, got {n_classes}")
    n_classes = int(n_classes)
    if top >= n_classes:
        split = "y_test" if ys[1].max() == top else "y_train"
        raise DatasetError(f"{where}: {split} has label {top}, out of range for {n_classes} classes (0..{n_classes - 1})")
    shape = _input_shape(xs[0])
    flat = [x.reshape(len(x), -1) for x in xs]
    if all(x.min() >= 0.0 and x.max() <= 1.0 for x in flat):
        scaling, scaled = SCALINGS[0], [x.astype(np.float32) for x in flat]
    else:
        scaling, scaled = SCALINGS[1], [minmax_train(flat[0], x) for x in flat]
    info = NpzInfo(path, sha256, scaling, n_classes)
    pair = tuple(Dataset(name, split, np.ascontiguousarray(x), y, shape, n_classes)
                 for split, x, y in zip(("train", "test"), scaled, ys))
    return pair[0], pair[1], info


def load_npz(path: str | os.PathLike) -> tuple[Dataset, Dataset, NpzInfo]:
    """(train, test, info) of an .npz file, never unpickling (see the module docstring)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DatasetError(f"{p}: npz file not found")
    if not zipfile.is_zipfile(p):
        raise DatasetError(f"{p}: not a readable .npz file (not a zip archive of .npy arrays)")
    try:
        with np.load(p, allow_pickle=False) as f:
            missing = [k for k in KEYS if k not in f.files]
            if missing:
                raise DatasetError(f"{p}: missing array(s) {', '.join(missing)}; an npz data set needs "
                                   f"{', '.join(KEYS)} (found {', '.join(f.files) or 'none'})")
            arrays = {k: f[k] for k in KEYS}
            n_classes = f["n_classes"] if "n_classes" in f.files else None
    except DatasetError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            raise DatasetError(f"{p}: holds an object (pickled) array; only plain numeric arrays are read") from None
        raise DatasetError(f"{p}: not a readable .npz file ({e})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise DatasetError(f"{p}: not a readable .npz file ({e})") from None
    if n_classes is not None:
        if n_classes.shape != () or not np.issubdtype(n_classes.dtype, np.integer):
            raise DatasetError(f"{p}: n_classes must be a scalar integer array")
        n_classes = int(n_classes)
    resolved = p.resolve()
    return from_arrays(*(arrays[k] for k in KEYS), n_classes=n_classes, name=npz_name(resolved), where=str(p),
                       path=str(resolved), sha256=_sha256(resolved))


def provenance(dataset: str) -> dict:
    """Fields a model records about an ``npz:`` data set (path, sha256, scaling); {} for built-in sets."""
    path = npz_path(dataset)
    if path is None:
        return {}
    info = load_npz(path)[2]
    return {"data_path": info.path, "data_sha256": info.sha256, "data_scaling": info.scaling}


def check_recorded(meta: dict, dataset: str, source: str = "model") -> None:
    """DatasetError if ``dataset`` is the npz file a model recorded but its content changed since."""
    path = npz_path(dataset)
    recorded = meta.get("data_sha256")
    if path is None or not recorded or meta.get("data_path") != str(path.resolve()):
        return
    if not path.is_file():
        raise DatasetError(f"{path}: the npz file {source} was trained on is missing; pass --dataset npz:PATH")
    digest = _sha256(path)
    if digest != recorded:
        raise DatasetError(f"{path}: sha256 {digest[:12]}... differs from the {recorded[:12]}... recorded by {source}; "
                           "the file changed since training")
