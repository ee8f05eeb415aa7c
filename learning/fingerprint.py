"""Content hashes of the data files a data set is read from (results record them, so a result is
tied to the data that produced it, wherever the files lie)."""
from __future__ import annotations

import functools
import hashlib
import importlib.resources
import os
from pathlib import Path

from learning.datasets import (DATASETS, DatasetError, _MNIST_FILES, _UCI, _find_file, _resolve_mnist_dir,
                               _uci_bytes)

__all__ = ["data_fingerprint"]


def data_fingerprint(name: str, data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """sha256 of every file ``load_dataset(name, ..., data_dir)`` reads, keyed by file name.

    MNIST: the four IDX files as stored (raw or .gz); UCI: the replacement file in ``data_dir`` or the
    packaged copy; digits: scikit-learn's embedded ``digits.csv.gz``. Identifies the data a result
    was produced from, independently of where the files lie."""
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    if name == "mnist":
        found, _, searched = _resolve_mnist_dir(data_dir)
        paths = [_find_file(found, base) if found else None for pair in _MNIST_FILES.values() for base in pair]
        if None in paths:
            raise DatasetError(f"MNIST not found (looked in {', '.join(str(d) for d in searched)}); pass --data-dir")
        return {p.name: _sha256_file(p) for p in paths}
    if name == "digits":
        res = importlib.resources.files("sklearn.datasets").joinpath("data", "digits.csv.gz")
        return {"digits.csv.gz": hashlib.sha256(res.read_bytes()).hexdigest()}
    spec = _UCI[name]
    return {spec.filename: hashlib.sha256(_uci_bytes(spec, data_dir)[0]).hexdigest()}


@functools.lru_cache(maxsize=16)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sha256_file(path: Path) -> str:
    st = path.stat()
    return _sha256_cached(str(path.resolve()), st.st_mtime_ns, st.st_size)
