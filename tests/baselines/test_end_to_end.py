"""Digits end to end: train the ANN twin, convert, simulate; accuracy vs T from one run; resume."""
import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from baselines.convert import convert
from learning.models import load
from baselines.evaluate import accuracy_vs_T
from baselines.train_ann import ann_accuracy, ann_config_from, train_ann
from learning.datasets import load_dataset
from simcore import simulate

N_TEST = 300


@pytest.fixture(scope="module")
def ann_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ann")
    metrics = train_ann(ann_config_from("digits", "64-40-10", epochs=8, seed=1, batch_size=32), d, progress=False)
    assert metrics["complete"] and metrics["test_accuracy"] >= 0.85
    return d


def test_ann_model_dir(ann_dir):
    meta = json.loads((ann_dir / "model.json").read_text())
    assert meta["kind"] == "ann" and meta["arch"] == "64-40-10" and meta["bias"] is True
    assert meta["dataset"] == "digits" and meta["seed"] == 1 and meta["split_seed"] == 0
    assert sorted(load_file(ann_dir / "weights.safetensors")) == [
        "layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight"]
    metrics = json.loads((ann_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] == meta["test_accuracy"] and len(metrics["history"]) == 8


@pytest.mark.parametrize("norm, inp", [("robust", "poisson"), ("data", "analog"), ("model", "poisson")])
def test_converted_accuracy_close_to_ann(ann_dir, tmp_path, norm, inp):
    convert(ann_dir, norm, reset="subtract", input=inp, out_dir=tmp_path / "c")
    net = load(ann_dir).net
    test = load_dataset("digits", "test", limit=N_TEST)
    ann_acc = ann_accuracy(net, test.x.astype(np.float64), test.y)
    rows = accuracy_vs_T(tmp_path / "c", Ts=(5, 20, 100), limit=N_TEST)
    acc = {r["T"]: r["accuracy"] for r in rows}
    assert abs(acc[100] - ann_acc) <= 0.04, (norm, inp, acc, ann_acc)
    assert acc[100] >= acc[5] - 0.02


@pytest.mark.parametrize("inp", ["poisson", "analog"])
def test_trace_equals_separate_runs(ann_dir, tmp_path, inp):
    convert(ann_dir, "robust", input=inp, out_dir=tmp_path / "c")
    rows = accuracy_vs_T(tmp_path / "c", Ts=(1, 3, 10, 40), limit=60, seed=7)
    loaded = load(tmp_path / "c")
    graph, meta = loaded.graph, loaded.meta
    test = load_dataset("digits", "test", limit=60)
    for r in rows:
        res = simulate(graph, test.x.astype(np.float64), r["T"], 7, encoding=meta["encoding"])
        assert r["accuracy"] == float(np.mean(res.predictions == test.y))
    full = simulate(graph, test.x.astype(np.float64), 40, 7, encoding=meta["encoding"])
    short = simulate(graph, test.x.astype(np.float64), 10, 7, encoding=meta["encoding"])
    assert np.array_equal(full.prediction_trace[:, 9], short.predictions)


def test_resume_gives_same_weights(tmp_path):
    cfg = ann_config_from("digits", "8x8-4c3-2a-10", epochs=2, seed=2, limit_train=300, limit_test=100,
                          batch_size=32)
    train_ann(cfg, tmp_path / "full", progress=False)
    part = train_ann(cfg, tmp_path / "cut", progress=False, stop_after=1)
    assert not part["complete"] and part["test_accuracy"] is None
    assert not (tmp_path / "cut" / "model.json").exists()
    with pytest.raises(ValueError, match="bias"):
        train_ann(ann_config_from("digits", "8x8-4c3-2a-10", epochs=2, seed=2, limit_train=300, limit_test=100,
                                  batch_size=32, bias=False), tmp_path / "cut", resume=True, progress=False)
    done = train_ann(cfg, tmp_path / "cut", resume=True, progress=False)
    assert done["complete"]
    a, b = load_file(tmp_path / "full/weights.safetensors"), load_file(tmp_path / "cut/weights.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)
