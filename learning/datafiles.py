"""Which data files a model was trained on, by content: recorded at training, checked on reuse.

``data_files(dataset, data_dir)`` -> ``{file name: {"path": ..., "sha256": ...}}`` for the files
``load_dataset`` reads: the MNIST IDX files (raw or .gz, as found), a UCI file (a replacement
given with ``data_dir``, or the packaged copy, shown as its path); ``{}`` for digits
(scikit-learn's packaged copy); the .npz file of an ``npz:PATH`` set. Training records it in the checkpoint, ``metrics.json`` and
``model.json`` (with ``data_dir``); :func:`resolve_data_dir` makes a later evaluation read the
same files or refuse with one line. :func:`data_fingerprint` (``{file name: sha256}``, digits
included; an ``npz:`` file by its sha256) is the same record without paths: it names the data in a job's identity
(``analysis.runner``), wherever the files lie.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.resources
import os
from pathlib import Path

from learning.dataset_record import Dataset
from learning.datasets import DATASETS, DatasetError, _MNIST_MD5, _find_file, _resolve_mnist_dir, load_dataset
from learning.npz_data import check_recorded, npz_path
from learning.uci import _UCI, _uci_bytes

__all__ = ["data_files", "data_fingerprint", "resolve_data_dir", "sha256_file"]


@functools.lru_cache(maxsize=16)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    """sha256 of a file, computed once per (path, mtime, size): a grid of jobs hashes MNIST once."""
    st = path.stat()
    return _sha256_cached(str(path.resolve()), st.st_mtime_ns, st.st_size)


def data_files(dataset: str, data_dir: str | os.PathLike | None = None) -> dict[str, dict]:
    """The files ``load_dataset(dataset, ..., data_dir)`` reads, with their sha256 (see the module docstring)."""
    if dataset == "mnist":
        found, _, _ = _resolve_mnist_dir(data_dir)
        files = [] if found is None else [_find_file(found, base) for base in _MNIST_MD5]
        return {p.name.removesuffix(".gz"): {"path": str(p.resolve()), "sha256": sha256_file(p)}
                for p in files if p is not None}
    npz = npz_path(dataset)
    if npz is not None:  # the user's own file: recorded by content like the others
        if not npz.is_file():
            raise DatasetError(f"{npz}: no such .npz file")
        return {npz.name: {"path": str(npz.resolve()), "sha256": sha256_file(npz)}}
    if dataset in _UCI:
        data, shown = _uci_bytes(_UCI[dataset], data_dir)
        path = str(Path(shown).resolve()) if data_dir is not None else shown
        return {_UCI[dataset].filename: {"path": path, "sha256": hashlib.sha256(data).hexdigest()}}
    return {}


def data_fingerprint(dataset: str, data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """sha256 of every file ``load_dataset(dataset, ..., data_dir)`` reads, keyed by file name: the
    :func:`data_files` record without paths, plus scikit-learn's packaged ``digits.csv.gz`` for
    digits. DatasetError (one line) for an unknown name or MNIST files that are not there."""
    if dataset not in DATASETS and npz_path(dataset) is None:
        raise DatasetError(f"unknown dataset {dataset!r}; valid names: {', '.join(DATASETS)} or npz:PATH")
    if dataset == "digits":
        res = importlib.resources.files("sklearn.datasets").joinpath("data", "digits.csv.gz")
        return {"digits.csv.gz": hashlib.sha256(res.read_bytes()).hexdigest()}
    files = data_files(dataset, data_dir)
    if dataset == "mnist" and len(files) < len(_MNIST_MD5):
        _, _, searched = _resolve_mnist_dir(data_dir)
        raise DatasetError(f"MNIST not found (looked in {', '.join(str(d) for d in searched)}); pass --data-dir")
    return {name: f["sha256"] for name, f in files.items()}


def resolve_data_dir(meta: dict, dataset: str, data_dir, where) -> str | os.PathLike | None:
    """The data directory to evaluate a model on ``dataset`` with: ``data_dir`` if given, else the one
    recorded at training. ValueError (one line) when a file the model was trained on now differs."""
    recorded = meta.get("data_files")
    if dataset != meta.get("dataset") or not isinstance(recorded, dict) or not recorded:
        return data_dir
    if data_dir is None:
        data_dir = meta.get("data_dir")
    for name, now in data_files(dataset, data_dir).items():
        then = recorded.get(name)
        if isinstance(then, dict) and then.get("sha256") != now["sha256"]:
            raise ValueError(f"{now['path']}: differs from the {name} that {where} was trained on "
                             f"({then.get('path')}, sha256 {str(then.get('sha256'))[:12]}...); "
                             "pass --data-dir with the original file")
    return data_dir


def recorded_split(meta: dict, source: str, dataset: str | None, split: str, T: int | None, seed: int | None,
                   split_seed: int | None, data_dir, limit: int | None, no_dataset: str, no_T: str
                   ) -> tuple[str, int, int, Dataset]:
    """Given options first, then the model's ``meta`` (its model.json), then defaults: returns
    (dataset name, T in time steps, encoding seed, the loaded split). ``no_dataset`` / ``no_T``: the
    error text (after ``source: ``) when neither names a dataset / a T >= 1."""
    dataset = dataset or meta.get("dataset")
    if dataset is None:
        raise ValueError(f"{source}: {no_dataset}")
    T = int(T or meta.get("T") or 0)
    if T < 1:
        raise ValueError(f"{source}: {no_T}")
    seed = int(meta.get("seed", 0) if seed is None else seed)
    split_seed = int(meta.get("split_seed", 0) if split_seed is None else split_seed)
    check_recorded(meta, dataset, source)
    data_dir = resolve_data_dir(meta, dataset, data_dir, source)
    return dataset, T, seed, load_dataset(dataset, split, data_dir, split_seed=split_seed, limit=limit)
