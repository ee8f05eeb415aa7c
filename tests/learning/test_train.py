"""Training on the embedded digits set: accuracy, determinism, resume, metrics."""
import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from learning.models import load
from learning.train import TrainConfig, config_from, train

FAST = dict(limit_train=600, limit_test=300, batch_size=32)


def _cfg(**kw):
    base = dict(T=10, epochs=3, seed=1, **FAST)
    base.update(kw)
    return config_from("digits", "64-40-10", **base)


def test_digits_mlp_reaches_accuracy_in_seconds(tmp_path):
    metrics = train(_cfg(epochs=6, limit_train=None, limit_test=None), tmp_path, progress=False)
    assert metrics["test_accuracy"] >= 0.90
    assert metrics["complete"] and metrics["epochs_done"] == 6
    assert metrics["wall_seconds"] < 120  # about 2 s on an idle 2-core machine
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert 0 <= on_disk["test_accuracy"] <= 1
    assert on_disk["config"]["arch"] == "64-40-10" and on_disk["seed"] == 1
    assert on_disk["versions"]["torch"] and len(on_disk["history"]) == 6
    for key in ("loss", "train_accuracy", "val_accuracy", "val_loss", "seconds"):
        assert key in on_disk["history"][0]
    assert "test_accuracy" not in on_disk["history"][0]  # the test split is evaluated once, at the end
    assert on_disk["samples"] == {"train": 1212, "val": 135}  # 10% of digits' 1347 held out, stratified
    best = min(on_disk["history"], key=lambda e: (e["val_loss"], e["epoch"]))
    assert on_disk["best_epoch"] == best["epoch"] and on_disk["val_accuracy"] == best["val_accuracy"]
    assert 0 <= on_disk["counts_only_test_accuracy"] <= 1 and 0 <= on_disk["test_tie_fraction"] <= 1


def test_validation_split_is_stratified_disjoint_and_early_stopping_restores_the_best(tmp_path):
    from learning.datasets import load_dataset
    from learning.validation import split_validation

    train_set = load_dataset("digits", "train")
    fit_set, val_set = split_validation(train_set, 0.1, 0)
    assert len(val_set) == 135 and len(fit_set) + len(val_set) == len(train_set)
    assert np.all(np.abs(np.bincount(val_set.y) - 13.5) <= 1)
    assert np.array_equal(np.sort(np.concatenate([fit_set.y, val_set.y])), np.sort(train_set.y))
    m = train(_cfg(epochs=40, patience=1, lr=0.05), tmp_path, progress=False)
    assert m["complete"] and m["history"][-1].get("early_stop") and m["epochs_done"] < 40
    assert m["best_epoch"] == m["epochs_done"] - 1
    with pytest.raises(ValueError, match="validation split"):
        _cfg(val_fraction=0.0, patience=3).validate()
    with pytest.raises(ValueError, match="select_on must be one of loss, accuracy"):
        _cfg(select_on="val").validate()


def test_best_epoch_by_validation_loss_or_accuracy():
    from learning.validation import best_epoch

    h = [{"epoch": 1, "val_loss": 0.30, "val_accuracy": 0.90}, {"epoch": 2, "val_loss": 0.20, "val_accuracy": 0.93},
         {"epoch": 3, "val_loss": 0.25, "val_accuracy": 0.95}, {"epoch": 4, "val_loss": 0.24, "val_accuracy": 0.95},
         {"epoch": 5, "val_loss": 0.20, "val_accuracy": 0.94}]
    assert best_epoch(h) == best_epoch(h, "loss") == 2  # lowest loss, the first of equals
    assert best_epoch(h, "accuracy") == 4  # highest accuracy, the lower loss of equals
    assert best_epoch([{"epoch": 1, "val_loss": None}, {"epoch": 2, "val_loss": None}], "accuracy") == 2
    assert best_epoch([]) is None


def test_selection_on_accuracy_keeps_the_most_accurate_epoch_and_stops_from_it(tmp_path):
    m = train(_cfg(epochs=12, patience=3, select_on="accuracy", lr=0.05), tmp_path, progress=False)
    h = m["history"]
    top = max(e["val_accuracy"] for e in h)
    assert m["val_accuracy"] == top and h[m["best_epoch"] - 1]["val_accuracy"] == top
    assert m["config"]["select_on"] == "accuracy"
    if m["epochs_done"] < 12:  # stopped early: three epochs without a better one after the best
        assert m["epochs_done"] - m["best_epoch"] == 3 and h[-1]["early_stop"]


def test_a_checkpoint_from_before_select_on_resumes(tmp_path):
    import safetensors
    from safetensors.numpy import save_file

    train(_cfg(epochs=4), tmp_path, progress=False, stop_after=2)
    ckpt = tmp_path / "checkpoint.safetensors"
    with safetensors.safe_open(str(ckpt), framework="numpy") as f:
        meta, arrays = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    config = json.loads(meta["config"])
    del config["select_on"]  # what a checkpoint written before the setting existed holds
    save_file(arrays, str(ckpt), metadata={**meta, "config": json.dumps(config)})
    m = train(_cfg(epochs=4), tmp_path, resume=True, progress=False)
    assert m["complete"] and m["epochs_done"] == 4
    with pytest.raises(ValueError, match="select_on='loss'"):  # but not into another setting
        train(_cfg(epochs=5, select_on="accuracy"), tmp_path, resume=True, progress=False)


def test_every_class_is_predicted_after_training(tmp_path):
    from learning.datasets import load_dataset
    from learning.evaluate import evaluate

    train(_cfg(epochs=4, limit_train=None, limit_test=None), tmp_path, progress=False)
    loaded = load(tmp_path)
    net, meta = loaded.net, loaded.meta
    test = load_dataset("digits", "test")
    res = evaluate(net, test.x, test.y, meta["T"], "aggregate", meta["seed"])
    assert set(np.unique(res.predictions)) == set(range(10))


def test_same_seed_same_metrics(tmp_path):
    m1 = train(_cfg(), tmp_path / "a", progress=False)
    m2 = train(_cfg(), tmp_path / "b", progress=False)
    strip = lambda m: [{k: v for k, v in h.items() if "seconds" not in k} for h in m["history"]]
    assert strip(m1) == strip(m2)
    w1, w2 = load_file(tmp_path / "a/weights.safetensors"), load_file(tmp_path / "b/weights.safetensors")
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)
    m3 = train(_cfg(seed=2), tmp_path / "c", progress=False)
    assert strip(m3) != strip(m1)


@pytest.mark.parametrize("mode", ["aggregate", "stepped"])
def test_resume_gives_same_final_weights(tmp_path, mode):
    cfg = _cfg(mode=mode)
    train(cfg, tmp_path / "full", progress=False)
    partial = train(cfg, tmp_path / "cut", progress=False, stop_after=1)
    assert not partial["complete"] and partial["test_accuracy"] is None
    assert not (tmp_path / "cut/weights.safetensors").exists()
    resumed = train(cfg, tmp_path / "cut", progress=False, resume=True)
    assert resumed["complete"]
    w1, w2 = load_file(tmp_path / "full/weights.safetensors"), load_file(tmp_path / "cut/weights.safetensors")
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)


def test_resume_refuses_other_config(tmp_path):
    train(_cfg(), tmp_path, progress=False, stop_after=1)
    with pytest.raises(ValueError, match="checkpoint.safetensors was made with T=10, this run has T=11"):
        train(_cfg(T=11), tmp_path, progress=False, resume=True)


def test_bad_config_errors():
    with pytest.raises(ValueError, match="T"):
        TrainConfig(dataset="digits", arch="64-10", T=0, epochs=1).validate()
    with pytest.raises(ValueError, match="mode"):
        TrainConfig(dataset="digits", arch="64-10", T=5, epochs=1, mode="x").validate()
    with pytest.raises(ValueError, match="layer"):
        TrainConfig(dataset="digits", arch="64-1x-10", T=5, epochs=1).validate()


def test_arch_must_fit_dataset(tmp_path):
    with pytest.raises(ValueError, match="inputs"):
        train(config_from("digits", "784-10", epochs=1), tmp_path, progress=False)
    with pytest.raises(ValueError, match="classes"):
        train(config_from("digits", "64-3", epochs=1), tmp_path, progress=False)


def test_resume_with_dropout_gives_same_final_weights(tmp_path):
    cfg = _cfg(dropout=0.3)
    train(cfg, tmp_path / "full", progress=False)
    train(cfg, tmp_path / "cut", progress=False, stop_after=2)
    train(cfg, tmp_path / "cut", progress=False, resume=True)
    w1, w2 = load_file(tmp_path / "full/weights.safetensors"), load_file(tmp_path / "cut/weights.safetensors")
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_finite_weights_check_finds_one_bad_value_and_passes_huge_finite_ones(bad):
    import torch

    from learning.loop import _finite

    net = torch.nn.Sequential(torch.nn.Linear(300, 200), torch.nn.Linear(200, 3))
    with torch.no_grad():
        net[0].weight.fill_(3e38)  # finite; a float32 sum of these overflows
    assert _finite(net)
    with torch.no_grad():
        net[1].bias[2] = bad
    assert not _finite(net)


def test_calling_thread_only_restores_numba_threads_on_errors():
    import numba

    from learning.inputs import calling_thread_only

    before = numba.get_num_threads()
    with pytest.raises(RuntimeError):
        with calling_thread_only():
            assert numba.get_num_threads() == 1
            raise RuntimeError("inside")
    assert numba.get_num_threads() == before
