"""Dataset loaders: MNIST, scikit-learn's 8x8 digits and four UCI sets (:mod:`learning.uci`), as
``float32`` in [0, 1].

``load_dataset(name, split)`` returns a :class:`Dataset` with

* ``x``: ``float32`` of shape ``(N, D)``, every feature in [0, 1] (the inputs are used as spike
  probabilities / rates); images are flattened in C*H*W order, and ``input_shape`` gives the
  un-flattened shape: ``(1, 28, 28)`` for MNIST, ``(1, 8, 8)`` for digits, ``(D,)`` for tabular sets;
* ``y``: ``int64`` of shape ``(N,)``, class ids ``0 .. n_classes-1``.

``limit=k`` keeps the first ``k`` samples of the split (after splitting). Any problem with a file
(missing, truncated, corrupt, wrong checksum, unparsable line) raises :class:`DatasetError`, a
``ValueError`` whose one-line message names the file and the problem.

MNIST (LeCun et al.)
    The four IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each raw or gzip-compressed (``.gz``; if
    both exist the raw file is used). Standard split: 60000 train / 10000 test (``split_seed`` is
    ignored). ``x = pixel / 255``. Directory lookup, first match wins:

    1. ``data_dir`` if given: the directory itself, else its ``mnist/`` subfolder;
    2. ``$SPIKECOUNT_DATA_DIR``: the directory itself, else its ``mnist/`` subfolder;
    3. ``$XDG_CACHE_HOME/spikecount/mnist`` (default ``~/.cache/spikecount/mnist``).

    A directory "holds MNIST" if any of the four files (raw or .gz) is in it. The IDX files are parsed
    strictly (magic 2051 / 2049, 28 x 28 images, exact byte length, labels 0..9, equal image and label
    counts). Parsed pixels and labels are cached per process (keyed by path, mtime and size) as
    read-only arrays; every call returns freshly converted, writable arrays.

    ``download=True`` (and only then) fetches missing files of the requested split over HTTPS from
    public mirrors, checks the md5 of the *uncompressed* bytes against the table published with the
    data, and writes the ``.gz`` atomically (temporary file + ``os.replace``). Target: ``data_dir``
    itself, else ``$SPIKECOUNT_DATA_DIR/mnist``, else the cache directory above.

digits
    ``sklearn.datasets.load_digits``: 1797 8x8 images, values 0..16, ``x = value / 16``, 10 classes.
    Stratified split with ``train_test_split(test_size=0.25, stratify=y, random_state=split_seed)``:
    1347 train / 450 test.

UCI sets (iris, wbc, abalone, yeast): :mod:`learning.uci`.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from learning.dataset_record import Dataset, DatasetError
from learning.uci import load_uci

__all__ = ["load_dataset", "Dataset", "DatasetError", "DATASETS"]

DATASETS: tuple[str, ...] = ("mnist", "digits", "iris", "wbc", "abalone", "yeast")
SPLITS: tuple[str, ...] = ("train", "test")

ENV_DATA_DIR = "SPIKECOUNT_DATA_DIR"


def load_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    split_seed: int = 0,
    download: bool = False,
    limit: int | None = None,
) -> Dataset:
    """Load one split of a data set (see the module docstring for every data set's details;
    ``npz:PATH`` names your own arrays, see :mod:`learning.npz_data`).

    ``data_dir`` overrides where the files are read from; ``split_seed`` seeds the stratified split
    of digits and the UCI sets; ``download`` allows fetching missing MNIST files; ``limit`` keeps the
    first ``limit`` samples of the split.
    """
    if isinstance(name, str) and name.startswith("npz:"):  # your own data: learning.npz_data
        from learning.npz_data import load_npz
    elif name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}, or npz:PATH")
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r} for dataset {name!r}; valid splits: {', '.join(SPLITS)}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0):
        raise DatasetError(f"limit must be a non-negative integer or None, got {limit!r}")
    n = None if limit is None else int(limit)
    if name.startswith("npz:"):
        data = load_npz(name[4:])[SPLITS.index(split)]
        return data if n is None else Dataset(data.name, split, data.x[:n], data.y[:n], data.input_shape, data.n_classes)
    if name == "mnist":
        return _load_mnist(split, data_dir, download=download, limit=n)
    if name == "digits":
        return _load_digits(split, split_seed, limit=n)
    return load_uci(name, split, data_dir, split_seed, limit=n)


# ----------------------------------------------------------------------------------------------- MNIST

_MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# md5 of the uncompressed IDX bytes (same table as shared/data/mnist/README.md).
_MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
_MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_IDX_IMAGES_MAGIC = 2051
_IDX_LABELS_MAGIC = 2049
_MNIST_SIDE = 28
_DOWNLOAD_TIMEOUT_S = 60.0


def _default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "spikecount" / "mnist"


def _holds_mnist(d: Path) -> bool:
    return any((d / f).is_file() or (d / (f + ".gz")).is_file() for f in _MNIST_MD5)


def _resolve_mnist_dir(data_dir: str | os.PathLike | None) -> tuple[Path | None, Path, list[Path]]:
    """Return (directory holding MNIST or None, download target, directories searched)."""
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        candidates, target = [root, root / "mnist"], root
    elif os.environ.get(ENV_DATA_DIR):
        root = Path(os.environ[ENV_DATA_DIR]).expanduser()
        candidates, target = [root, root / "mnist"], root / "mnist"
    else:
        target = _default_cache_dir()
        candidates = [target]
    for d in candidates:
        if _holds_mnist(d):
            return d, d, candidates
    return None, target, candidates


def _find_file(d: Path, base: str) -> Path | None:
    for p in (d / base, d / (base + ".gz")):
        if p.is_file():
            return p
    return None


def _read_uncompressed(path: Path) -> bytes:
    """Bytes of an IDX file; gunzipped if the name ends in .gz or the content starts with the gzip magic."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DatasetError(f"{path}: cannot read: {e.strerror or e}") from None
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetError(f"{path}: corrupt gzip: {e}") from None
    return data


def _parse_idx(path: Path, magic: int, data: bytes) -> np.ndarray:
    """Parse IDX ubyte data with the expected magic number; returns a read-only uint8 array."""
    ndim = 3 if magic == _IDX_IMAGES_MAGIC else 1
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path}: truncated: expected a {header}-byte IDX header, got {len(data)} bytes")
    got_magic = int.from_bytes(data[0:4], "big")
    if got_magic != magic:
        kind = "images" if magic == _IDX_IMAGES_MAGIC else "labels"
        raise DatasetError(f"{path}: bad magic number {got_magic}, expected {magic} (IDX ubyte {kind})")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if ndim == 3 and dims[1:] != (_MNIST_SIDE, _MNIST_SIDE):
        raise DatasetError(f"{path}: images are {dims[1]}x{dims[2]}, expected {_MNIST_SIDE}x{_MNIST_SIDE}")
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) < expected:
        raise DatasetError(f"{path}: truncated: expected {expected} bytes, got {len(data)}")
    if len(data) > expected:
        raise DatasetError(f"{path}: trailing data: expected {expected} bytes, got {len(data)}")
    arr = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
    arr.flags.writeable = False
    if ndim == 1 and arr.size and int(arr.max()) > 9:
        raise DatasetError(f"{path}: label {int(arr.max())} out of range 0..9")
    return arr


@functools.lru_cache(maxsize=8)
def _cached_idx(path_str: str, magic: int, mtime_ns: int, size: int) -> np.ndarray:
    path = Path(path_str)
    return _parse_idx(path, magic, _read_uncompressed(path))


def _read_idx(path: Path, magic: int) -> np.ndarray:
    try:
        st = path.stat()
    except OSError as e:
        raise DatasetError(f"{path}: cannot read: {e.strerror or e}") from None
    return _cached_idx(str(path.resolve()), magic, st.st_mtime_ns, st.st_size)


def _download_mnist_file(base: str, target_dir: Path) -> Path:
    """Fetch ``base``.gz from the mirrors into ``target_dir``, md5-checked, written atomically."""
    target_dir.mkdir(parents=True, exist_ok=True)
    dest = target_dir / (base + ".gz")
    errors = []
    for mirror in _MNIST_MIRRORS:
        url = mirror + base + ".gz"
        try:
            with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as resp:
                payload = resp.read()
            raw = gzip.decompress(payload)
        except (OSError, EOFError, zlib.error, ValueError) as e:
            errors.append(f"{url}: {e}")
            continue
        md5 = hashlib.md5(raw).hexdigest()
        if md5 != _MNIST_MD5[base]:
            errors.append(f"{url}: md5 {md5} of the uncompressed content, expected {_MNIST_MD5[base]}")
            continue
        fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=f".{base}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, dest)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return dest
    raise DatasetError(f"{dest}: download failed: " + "; ".join(errors))


def _load_mnist(split: str, data_dir, *, download: bool, limit: int | None) -> Dataset:
    found, target, searched = _resolve_mnist_dir(data_dir)
    img_base, lbl_base = _MNIST_FILES[split]
    if found is None and not download:
        where = ", ".join(str(d) for d in searched)
        raise DatasetError(
            f"MNIST not found: no {img_base}[.gz] etc. in {where}; pass --data-dir DIR (data_dir=...), "
            f"set {ENV_DATA_DIR}, or use --download (download=True) to fetch it into {target}")
    d = found if found is not None else target
    paths = []
    for base in (img_base, lbl_base):
        p = _find_file(d, base)
        if p is None:
            if not download:
                raise DatasetError(f"{d / base}[.gz]: missing file (use --download / download=True to fetch it)")
            p = _download_mnist_file(base, d)
        paths.append(p)
    images = _read_idx(paths[0], _IDX_IMAGES_MAGIC)
    labels = _read_idx(paths[1], _IDX_LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(f"{paths[0]}: {images.shape[0]} images but {paths[1]} has {labels.shape[0]} labels")
    n = images.shape[0] if limit is None else min(limit, images.shape[0])
    x = images[:n].reshape(n, -1).astype(np.float32) / np.float32(255.0)
    y = labels[:n].astype(np.int64)
    return Dataset("mnist", split, x, y, (1, _MNIST_SIDE, _MNIST_SIDE), 10)


# ---------------------------------------------------------------------------------------------- digits

def _load_digits(split: str, split_seed: int, *, limit: int | None) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x_all = (np.asarray(bunch.data, dtype=np.float64) / 16.0).astype(np.float32)
    y_all = np.asarray(bunch.target, dtype=np.int64)
    idx_train, idx_test = train_test_split(
        np.arange(len(y_all)), test_size=0.25, stratify=y_all, random_state=split_seed)
    idx = idx_train if split == "train" else idx_test
    if limit is not None:
        idx = idx[:limit]
    return Dataset("digits", split, np.ascontiguousarray(x_all[idx]), y_all[idx], (1, 8, 8), 10)
