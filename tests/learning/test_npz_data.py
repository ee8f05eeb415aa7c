"""Your own data: npz files and arrays, validated line by line, scaled with training statistics."""
import numpy as np
import pytest

from learning.datasets import DatasetError, load_dataset
from learning.npz_data import check_recorded, from_arrays, load_npz, npz_name, provenance


def _arrays(n=20, m=10, d=6, c=3, scale=1.0):
    rng = np.random.default_rng(0)
    return dict(x_train=rng.random((n, d)) * scale, y_train=np.arange(n) % c,
                x_test=rng.random((m, d)) * scale, y_test=np.arange(m) % c)


def test_unit_range_used_as_is_and_flattened_images():
    a = _arrays()
    a["x_train"] = a["x_train"].reshape(20, 2, 3)
    a["x_test"] = a["x_test"].reshape(10, 2, 3)
    train, test, info = from_arrays(**a)
    assert info.scaling == "as-is" and info.n_classes == 3
    assert train.input_shape == (1, 2, 3) and train.x.shape == (20, 6) and train.x.dtype == np.float32
    np.testing.assert_allclose(test.x, a["x_test"].reshape(10, 6), rtol=1e-6)


def test_minmax_with_training_statistics():
    a = _arrays(scale=10.0)
    a["x_test"][0, 0] = 99.0  # beyond the training range: clipped
    train, test, info = from_arrays(**a)
    assert info.scaling == "minmax-train"
    lo, hi = a["x_train"].min(0), a["x_train"].max(0)
    np.testing.assert_allclose(train.x, (a["x_train"] - lo) / (hi - lo), rtol=1e-6, atol=1e-7)
    assert test.x[0, 0] == 1.0 and train.x.min() == 0.0 and train.x.max() == 1.0


@pytest.mark.parametrize("change, message", [
    (dict(x_train=np.zeros((20,))), "x_train has shape (20,)"),
    (dict(x_test=np.zeros((10, 5))), "x_train samples have shape (6,), x_test (5,)"),
    (dict(y_train=np.arange(19) % 3), "y_train has 19 labels but x_train has 20 samples"),
    (dict(y_test=np.full(10, 0.5)), "y_test holds non-integer values"),
    (dict(y_test=np.array([0] * 9 + [7])), "y_test has label 7, out of range for 3 classes"),
    (dict(y_train=-(np.arange(20) % 3)), "negative label"),
    (dict(x_train=np.zeros((0, 6)), y_train=np.zeros(0, int)), "x_train is empty"),
    (dict(y_train=np.array(["a"] * 20)), "dtype <U1"),
])
def test_bad_arrays_give_one_line(change, message):
    a = {**_arrays(), **change}
    with pytest.raises(DatasetError, match=None) as e:
        from_arrays(**a)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_nan_and_object_arrays(tmp_path):
    a = _arrays()
    a["x_test"][3, 2] = np.nan
    with pytest.raises(DatasetError, match="x_test contains NaN or infinite values"):
        from_arrays(**a)
    path = tmp_path / "obj.npz"
    b = _arrays()
    b["y_train"] = np.array(list(b["y_train"]), dtype=object)
    np.savez(path, **b)
    with pytest.raises(DatasetError, match="object \\(pickled\\) array; only plain numeric arrays"):
        load_npz(path)


def test_npz_missing_keys_and_not_a_file(tmp_path):
    path = tmp_path / "d.npz"
    a = _arrays()
    del a["y_test"]
    np.savez(path, **a)
    with pytest.raises(DatasetError, match="missing array\\(s\\) y_test"):
        load_npz(path)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable .npz file"):
        load_npz(bad)


def test_load_dataset_name_limit_provenance_and_check(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, **_arrays(), n_classes=np.int64(4))
    name = npz_name(path)
    test = load_dataset(name, "test", limit=4)
    assert test.name == name and len(test) == 4 and test.n_classes == 4
    meta = provenance(name)
    assert meta["data_path"] == str(path.resolve()) and len(meta["data_sha256"]) == 64
    check_recorded(meta, name)  # unchanged: fine
    np.savez(path, **_arrays(scale=2.0))
    with pytest.raises(DatasetError, match="differs from the .* recorded by model"):
        check_recorded(meta, name)


def test_cli_train_evaluate_on_npz_and_errors(tmp_path, monkeypatch, capsys):
    from analysis.cli import main

    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "d.npz", **_arrays(n=60, m=20))
    out = tmp_path / "m"
    assert main(["train", "--dataset", "npz:d.npz", "--arch", "6-8-3", "--epochs", "1", "--T", "5",
                 "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(out)]) == 0 and '"samples": 20' in capsys.readouterr().out
    np.savez(tmp_path / "d.npz", **_arrays(n=60, m=20, scale=3.0))
    assert main(["evaluate", "--model", str(out)]) == 2
    err = capsys.readouterr().err
    assert "recorded by" in err and len(err.strip().splitlines()) == 1
    assert main(["train", "--dataset", "npz:none.npz", "--arch", "6-8-3", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip().endswith("npz file not found")
