"""Tests for learning.datasets: UCI/digits shapes and splits, MNIST IDX parsing and directory lookup."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest

from learning import datasets as ds_mod
from learning import uci as uci_mod
from learning.datasets import DATASETS, Dataset, DatasetError, load_dataset
from tests.shared_data import shared_path


# name -> (n_train, n_test, n_features, class counts over train+test)
UCI_EXPECTED = {
    "iris": (90, 60, 4, [50, 50, 50]),
    "wbc": (455, 228, 9, [444, 239]),
    "abalone": (2000, 2177, 7, [1407, 1323, 1447]),
    "yeast": (990, 494, 8, [463, 5, 35, 44, 51, 163, 244, 429, 20, 30]),  # sorted names: CYT ERL EXC ME1 ...
}


def test_dataset_names():
    assert DATASETS == ("mnist", "digits", "iris", "wbc", "abalone", "yeast")


@pytest.mark.parametrize("name", sorted(UCI_EXPECTED))
def test_uci_shapes_counts_and_range(name):
    n_train, n_test, n_feat, counts = UCI_EXPECTED[name]
    tr = load_dataset(name, "train")
    te = load_dataset(name, "test")
    assert isinstance(tr, Dataset) and (tr.name, tr.split, te.split) == (name, "train", "test")
    assert (len(tr), len(te)) == (n_train, n_test)
    assert tr.x.shape == (n_train, n_feat) and te.x.shape == (n_test, n_feat)
    assert tr.input_shape == te.input_shape == (n_feat,)
    assert tr.n_classes == len(counts)
    for d in (tr, te):
        assert d.x.dtype == np.float32 and d.y.dtype == np.int64
        assert d.x.min() >= 0.0 and d.x.max() <= 1.0
    all_counts = np.bincount(np.concatenate([tr.y, te.y]), minlength=len(counts))
    assert all_counts.tolist() == counts
    # stratified: every class's train share is close to the overall train fraction
    frac = n_train / (n_train + n_test)
    train_counts = np.bincount(tr.y, minlength=len(counts))
    assert np.all(np.abs(train_counts - frac * np.asarray(counts)) <= 1.0)
    # train split spans [0, 1] exactly in every (non-constant) column
    np.testing.assert_allclose(tr.x.min(axis=0), 0.0)
    np.testing.assert_allclose(tr.x.max(axis=0), 1.0)


@pytest.mark.parametrize("name", ["abalone", "yeast"])
def test_uci_scaling_uses_train_stats_only(name):
    seed = 3
    x_raw, y_raw = uci_mod._uci_raw(name)
    idx_tr, idx_te = uci_mod._uci_split_indices(name, y_raw, seed)
    te = load_dataset(name, "test", split_seed=seed)
    np.testing.assert_array_equal(te.y, y_raw[idx_te])
    lo, hi = x_raw[idx_tr].min(axis=0), x_raw[idx_tr].max(axis=0)
    expected = np.clip((x_raw[idx_te] - lo) / (hi - lo), 0.0, 1.0)
    np.testing.assert_allclose(te.x, expected, rtol=1e-6, atol=1e-6)
    # one value by hand
    i, j = 7, 2
    assert te.x[i, j] == pytest.approx(min(max((x_raw[idx_te[i], j] - lo[j]) / (hi[j] - lo[j]), 0), 1), abs=1e-6)
    # the statistics are not those of the full data set (else the check above would be vacuous)
    all_scaled = (x_raw[idx_te] - x_raw.min(axis=0)) / (x_raw.max(axis=0) - x_raw.min(axis=0))
    assert not np.allclose(te.x, all_scaled, atol=1e-6)


def test_uci_wbc_drops_id_and_missing_rows():
    x_raw, y = uci_mod._uci_raw("wbc")
    assert x_raw.shape == (683, 9)
    assert x_raw.min() == 1 and x_raw.max() == 10  # the sample id column (values ~1e6) is gone


def test_abalone_class_grouping():
    x_raw, y = uci_mod._uci_raw("abalone")
    rings = np.loadtxt(uci_mod._packaged_uci_file("abalone.data"),
                       delimiter=",", usecols=8)
    np.testing.assert_array_equal(y, np.digitize(rings, [8.5, 10.5]))
    assert x_raw.shape == (4177, 7)


@pytest.mark.parametrize("name", ["digits", "iris", "yeast"])
def test_split_seed_determinism(name):
    a = load_dataset(name, "train", split_seed=5)
    b = load_dataset(name, "train", split_seed=5)
    c = load_dataset(name, "train", split_seed=6)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


def test_splits_are_disjoint_and_cover_everything():
    _, y = uci_mod._uci_raw("iris")
    idx_tr, idx_te = uci_mod._uci_split_indices("iris", y, 0)
    assert sorted(np.concatenate([idx_tr, idx_te]).tolist()) == list(range(150))


def test_digits():
    tr = load_dataset("digits", "train")
    te = load_dataset("digits", "test")
    assert (len(tr), len(te)) == (1347, 450)
    assert tr.x.shape == (1347, 64) and tr.input_shape == (1, 8, 8) and tr.n_classes == 10
    assert tr.x.dtype == np.float32 and tr.y.dtype == np.int64
    assert tr.x.min() == 0.0 and tr.x.max() == 1.0
    assert np.all(np.isin(np.round(tr.x * 16, 4), np.arange(17)))  # values are k/16
    counts = np.bincount(np.concatenate([tr.y, te.y]))
    assert counts.sum() == 1797 and np.all(np.abs(np.bincount(te.y) - counts / 4) <= 1)


def test_limit():
    d = load_dataset("yeast", "train", limit=10)
    full = load_dataset("yeast", "train")
    assert len(d) == 10
    np.testing.assert_array_equal(d.x, full.x[:10])
    assert len(load_dataset("iris", "test", limit=1000)) == 60
    with pytest.raises(DatasetError):
        load_dataset("iris", limit=-1)


def test_unknown_name_and_split():
    with pytest.raises(DatasetError, match="cifar.*valid names: mnist, digits, iris, wbc, abalone, yeast"):
        load_dataset("cifar")
    with pytest.raises(DatasetError, match="valid splits: train, test"):
        load_dataset("iris", "val")
    assert issubclass(DatasetError, ValueError)


# --------------------------------------------------------------------------------- UCI file problems

def _copy_uci(tmp_path: Path, fname: str) -> Path:
    src = uci_mod._packaged_uci_file(fname)
    dst = tmp_path / fname
    dst.write_bytes(src.read_bytes())
    return dst


def test_uci_data_dir_override(tmp_path):
    _copy_uci(tmp_path, "iris.data")
    a = load_dataset("iris", "train", data_dir=tmp_path)
    b = load_dataset("iris", "train")
    np.testing.assert_array_equal(a.x, b.x)


def test_uci_bad_column_count(tmp_path):
    p = _copy_uci(tmp_path, "iris.data")
    lines = p.read_text().splitlines()
    lines[4] = "5.0,3.6,1.4,Iris-setosa"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"iris\.data: line 5: expected 5 columns, got 4"):
        load_dataset("iris", data_dir=tmp_path)


def test_uci_unparsable_number(tmp_path):
    p = _copy_uci(tmp_path, "yeast.data")
    lines = p.read_text().splitlines()
    lines[9] = lines[9].replace("0.", "x.", 1)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"yeast\.data: line 10: cannot parse"):
        load_dataset("yeast", data_dir=tmp_path)


def test_uci_missing_override_file(tmp_path):
    with pytest.raises(DatasetError, match=r"abalone\.data: missing file"):
        load_dataset("abalone", data_dir=tmp_path)


def test_uci_packaged_sha256_checked(monkeypatch):
    spec = uci_mod._UCI["iris"]
    monkeypatch.setitem(uci_mod._UCI, "iris", uci_mod._UciSpec(spec.filename, "0" * 64, 90, 60, 4, 3))
    with pytest.raises(DatasetError, match=r"iris\.data: sha256 mismatch"):
        load_dataset("iris")


# ------------------------------------------------------------------------------- MNIST fixtures (IDX)

def _idx_images(n: int, rows: int = 28, cols: int = 28, magic: int = 2051, seed: int = 0) -> tuple[bytes, np.ndarray]:
    pix = np.random.default_rng(seed).integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    head = b"".join(v.to_bytes(4, "big") for v in (magic, n, rows, cols))
    return head + pix.tobytes(), pix


def _idx_labels(n: int, magic: int = 2049, seed: int = 1) -> tuple[bytes, np.ndarray]:
    lab = np.random.default_rng(seed).integers(0, 10, size=n, dtype=np.uint8)
    return magic.to_bytes(4, "big") + n.to_bytes(4, "big") + lab.tobytes(), lab


def _write(path: Path, data: bytes, gz: bool) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def _mnist_fixture(d: Path, gz: bool, n_train: int = 5, n_test: int = 3) -> dict:
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        img, pix = _idx_images(n, seed=n)
        lab, lbl = _idx_labels(n, seed=n + 100)
        _write(d / f"{prefix}-images-idx3-ubyte", img, gz)
        _write(d / f"{prefix}-labels-idx1-ubyte", lab, gz)
        out[split] = (pix, lbl)
    return out


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_mnist_fixture_good(tmp_path, gz):
    ref = _mnist_fixture(tmp_path, gz)
    for split in ("train", "test"):
        d = load_dataset("mnist", split, data_dir=tmp_path)
        pix, lbl = ref[split]
        assert d.x.shape == (len(lbl), 784) and d.input_shape == (1, 28, 28) and d.n_classes == 10
        assert d.x.dtype == np.float32 and d.y.dtype == np.int64
        np.testing.assert_array_equal(d.x, pix.reshape(len(lbl), -1).astype(np.float32) / np.float32(255))
        np.testing.assert_array_equal(d.y, lbl)
    assert len(load_dataset("mnist", "train", data_dir=tmp_path, limit=2)) == 2


def test_mnist_returned_arrays_do_not_corrupt_cache(tmp_path):
    _mnist_fixture(tmp_path, gz=True)
    a = load_dataset("mnist", data_dir=tmp_path)
    before = a.x.copy()
    a.x[:] = 7.0
    a.y[:] = 9
    b = load_dataset("mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(b.x, before)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_mnist_truncated(tmp_path, gz):
    _mnist_fixture(tmp_path, gz)
    img, _ = _idx_images(5, seed=5)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    (tmp_path / name).unlink()
    _write(tmp_path / "train-images-idx3-ubyte", img[:1000], gz)
    with pytest.raises(DatasetError, match=rf"{name}: truncated: expected {16 + 5 * 784} bytes, got 1000"):
        load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_mnist_wrong_magic(tmp_path, gz):
    _mnist_fixture(tmp_path, gz)
    lab, _ = _idx_labels(3, magic=2051)
    name = "t10k-labels-idx1-ubyte" + (".gz" if gz else "")
    _write(tmp_path / "t10k-labels-idx1-ubyte", lab, gz)
    with pytest.raises(DatasetError, match=rf"{name}: bad magic number 2051, expected 2049"):
        load_dataset("mnist", "test", data_dir=tmp_path)


def test_mnist_trailing_bytes(tmp_path):
    _mnist_fixture(tmp_path, gz=False)
    p = tmp_path / "train-labels-idx1-ubyte"
    p.write_bytes(p.read_bytes() + b"\0")
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte: trailing data"):
        load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("how", ["cut", "garbage"])
def test_mnist_corrupt_gzip(tmp_path, how):
    _mnist_fixture(tmp_path, gz=True)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    blob = p.read_bytes()
    p.write_bytes(blob[: len(blob) // 2] if how == "cut" else b"\x1f\x8b\x08\x00garbage-not-deflate")
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz: corrupt gzip"):
        load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_mnist_count_mismatch(tmp_path, gz):
    _mnist_fixture(tmp_path, gz)
    lab, _ = _idx_labels(4)
    _write(tmp_path / "train-labels-idx1-ubyte", lab, gz)
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.*5 images.*train-labels-idx1-ubyte.*4 labels"):
        load_dataset("mnist", data_dir=tmp_path)


def test_mnist_missing_file(tmp_path, monkeypatch):
    monkeypatch.setattr(ds_mod.urllib.request, "urlopen", _no_network)
    _mnist_fixture(tmp_path, gz=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte.*missing file"):
        load_dataset("mnist", "test", data_dir=tmp_path)
    load_dataset("mnist", "train", data_dir=tmp_path)  # the train split is complete


def _no_network(*args, **kwargs):
    raise AssertionError("network access attempted")


def test_mnist_missing_dir_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setattr(ds_mod.urllib.request, "urlopen", _no_network)
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError) as ei:
        load_dataset("mnist", data_dir=missing)
    msg = str(ei.value)
    assert str(missing) in msg and "--download" in msg and "--data-dir" in msg and "\n" not in msg
    assert not missing.exists()


def test_mnist_env_var_and_parent_dir(tmp_path, monkeypatch):
    _mnist_fixture(tmp_path / "flat", gz=False)
    _mnist_fixture(tmp_path / "root" / "mnist", gz=True, n_train=4)
    monkeypatch.setenv("SPIKECOUNT_DATA_DIR", str(tmp_path / "flat"))
    assert len(load_dataset("mnist")) == 5
    monkeypatch.setenv("SPIKECOUNT_DATA_DIR", str(tmp_path / "root"))
    assert len(load_dataset("mnist")) == 4
    # an explicit data_dir wins over the env var, and may be the parent of mnist/
    assert len(load_dataset("mnist", data_dir=tmp_path / "flat")) == 5
    monkeypatch.setenv("SPIKECOUNT_DATA_DIR", str(tmp_path / "flat"))
    assert len(load_dataset("mnist", data_dir=tmp_path / "root")) == 4


def test_mnist_xdg_cache_default(tmp_path, monkeypatch):
    monkeypatch.setattr(ds_mod.urllib.request, "urlopen", _no_network)
    monkeypatch.delenv("SPIKECOUNT_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DatasetError, match=r"cache/spikecount/mnist"):
        load_dataset("mnist")
    _mnist_fixture(tmp_path / "cache" / "spikecount" / "mnist", gz=True)
    assert len(load_dataset("mnist", "test")) == 3


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_mnist_download_path_offline(tmp_path, monkeypatch):
    """The download code path with a fake urlopen: md5 of the uncompressed bytes, atomic write."""
    img, pix = _idx_images(3, seed=3)
    lab, lbl = _idx_labels(3, seed=4)
    served = {"t10k-images-idx3-ubyte.gz": gzip.compress(img), "t10k-labels-idx1-ubyte.gz": gzip.compress(lab)}
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        if url.startswith(ds_mod._MNIST_MIRRORS[0]):
            raise OSError("mirror down")
        return _FakeResponse(served[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(ds_mod.urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setitem(ds_mod._MNIST_MD5, "t10k-images-idx3-ubyte", hashlib.md5(img).hexdigest())
    monkeypatch.setitem(ds_mod._MNIST_MD5, "t10k-labels-idx1-ubyte", hashlib.md5(lab).hexdigest())
    target = tmp_path / "dl"
    d = load_dataset("mnist", "test", data_dir=target, download=True)
    np.testing.assert_array_equal(d.y, lbl)
    assert sorted(os.listdir(target)) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert len(calls) == 4  # each file: first mirror failed, second served it
    # files present now: no further network use
    monkeypatch.setattr(ds_mod.urllib.request, "urlopen", _no_network)
    load_dataset("mnist", "test", data_dir=target, download=True)


def test_mnist_download_md5_mismatch_leaves_nothing(tmp_path, monkeypatch):
    img, _ = _idx_images(3, seed=3)
    monkeypatch.setattr(ds_mod.urllib.request, "urlopen", lambda url, timeout=None: _FakeResponse(gzip.compress(img)))
    target = tmp_path / "dl"
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte\.gz: download failed: .*md5"):
        load_dataset("mnist", "test", data_dir=target, download=True)
    assert os.listdir(target) == []


# ------------------------------------------------------------------------------------ real MNIST files

def test_mnist_real_files():
    mnist = shared_path("data", "mnist")
    tr = load_dataset("mnist", "train", data_dir=mnist)
    te = load_dataset("mnist", "test", data_dir=mnist.parent)  # parent holding mnist/
    assert tr.x.shape == (60000, 784) and te.x.shape == (10000, 784)
    assert tr.x.dtype == np.float32 and tr.x.min() == 0.0 and tr.x.max() == 1.0
    assert np.bincount(tr.y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(te.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # uncompressed content matches the published md5 (README of shared/data/mnist)
    raw = gzip.decompress((mnist / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert hashlib.md5(raw).hexdigest() == ds_mod._MNIST_MD5["t10k-labels-idx1-ubyte"]
    np.testing.assert_array_equal(te.y, np.frombuffer(raw, np.uint8, offset=8))
    small = load_dataset("mnist", "train", data_dir=mnist, limit=100)
    np.testing.assert_array_equal(small.x, tr.x[:100])
