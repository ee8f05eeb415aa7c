"""Faults and misuse, command by command: every case exits 2 with ONE line naming the problem, and
no file the command did not create is removed or changed (snapshots of the tree before/after)."""
import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from reliability_helpers import IRIS, kept, refused, run, snapshot


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A trained spike-count model, an ANN and a converted model (iris, tiny)."""
    from analysis.cli import main

    root = tmp_path_factory.mktemp("built")
    assert main(["train", *IRIS, "--out", str(root / "snn")]) == 0
    assert main(["train-ann", "--dataset", "iris", "--arch", "4-8-3", "--epochs", "2", "--quiet",
                 "--out", str(root / "ann")]) == 0
    return root


@pytest.fixture
def tree(built, tmp_path):
    """A fresh copy of the built models plus a user's files, and its snapshot."""
    shutil.copytree(built, tmp_path / "w")
    w = tmp_path / "w"
    (w / "user").mkdir()
    (w / "user" / "notes.txt").write_text("mine")
    (w / "user" / "graph.json").write_text("{}")
    return w, snapshot(w)


# -- output safety ----------------------------------------------------------------------------
@pytest.mark.parametrize("out, needle", [
    ("snn", "holds the output of `train`, not of `export`"),
    ("user", "not empty and not an output of `export`"),
    (".", "not empty"),
    ("snn/model.json", "not a directory"),
])
def test_export_never_deletes(tree, capsys, out, needle):
    w, before = tree
    refused(["export", "--model", w / "snn", "--out", w / out], capsys, needle)
    assert not kept(before, snapshot(w))


@pytest.mark.parametrize("out, needle", [("ann", "holds the output of `train-ann`"), ("user", "not empty")])
def test_convert_never_deletes(tree, capsys, out, needle):
    w, before = tree
    refused(["convert", "--ann", w / "ann", "--norm", "model", "--out", w / out], capsys, needle)
    assert not kept(before, snapshot(w))


def test_export_and_convert_rewrite_only_their_own_output(tree, capsys):
    w, before = tree
    for _ in range(2):
        assert run(["export", "--model", w / "snn", "--out", w / "g"], capsys)[0] == 0
        assert run(["convert", "--ann", w / "ann", "--norm", "model", "--out", w / "c"], capsys)[0] == 0
    assert not kept(before, snapshot(w))
    refused(["simulate", "--model", w / "g", "--out", w / "g" / "graph.json"], capsys, "own file name")


@pytest.mark.parametrize("out, needle", [
    ("snn/model.json", "own file name"), ("snn/weights.safetensors", "own file name"),
    ("user/notes.txt", "--overwrite"), ("user", "not a regular file"), ("/dev/null", "not a regular file"),
])
def test_single_file_results_never_replace_others_files(tree, capsys, out, needle):
    w, before = tree
    refused(["evaluate", "--model", w / "snn", "--out", out if out.startswith("/") else w / out], capsys, needle)
    assert not kept(before, snapshot(w))


def test_evaluate_out_replaces_its_own_result_and_a_user_file_only_with_overwrite(tree, capsys):
    w, _ = tree
    for _ in range(2):
        assert run(["evaluate", "--model", w / "snn", "--out", w / "e.json"], capsys)[0] == 0
    assert json.loads((w / "e.json").read_text())["spikecount_output"] == "evaluate"
    assert run(["evaluate", "--model", w / "snn", "--out", w / "user/notes.txt", "--overwrite"], capsys)[0] == 0
    assert "accuracy" in json.loads((w / "user/notes.txt").read_text())


@pytest.mark.parametrize("argv, needle", [
    (["quantisation", "--model", "snn", "--out", "snn"], "holds the output of `train`"),
    (["report", "--runs", "snn", "--out", "snn"], "holds the output of `train`"),
    (["report", "--runs", "snn", "--out", "user"], "not empty"),
    (["sweep", "--dataset", "iris", "--arch", "4-8-3", "--out", "user"], "not empty"),
    (["depth-series", "--dataset", "iris", "--out", "snn"], "holds the output of `train`"),
    (["reproduce", "table1", "--out", "ann"], "holds the output of `train-ann`"),
    (["demo", "--out", "user"], "not empty"),
    (["crosscheck", "--model", "snn", "--out", "snn/metrics.json"], "own file name"),
    (["train-ann", "--dataset", "iris", "--arch", "4-8-3", "--out", "snn"], "holds the output of `train`"),
])
def test_every_writing_command_refuses_others_directories(tree, capsys, argv, needle):
    w, before = tree
    refused([w / a if a in ("snn", "ann", "user", "snn/metrics.json") else a for a in argv], capsys, needle)
    assert not kept(before, snapshot(w))


def test_a_second_train_into_a_run_is_refused_and_overwrite_removes_the_old_model_first(tree, capsys):
    from learning.train import config_from, train
    from simcore.outputs import options

    w, before = tree
    refused(["train", *IRIS, "--out", w / "snn"], capsys, "already holds a training run", "--resume")
    assert not kept(before, snapshot(w))
    with options(overwrite=True):  # a different architecture, interrupted after one epoch
        train(config_from("iris", "4-5-3", epochs=3), w / "snn", progress=False, stop_after=1)
    assert not (w / "snn/model.json").exists() and (w / "snn/checkpoint.safetensors").exists()
    refused(["evaluate", "--model", w / "snn"], capsys, "neither a model directory")


def test_locked_directory_is_refused(tree, capsys):
    import fcntl
    import os

    w, before = tree
    fd = os.open(w / "snn/.spikecount-output.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        refused(["train", *IRIS, "--out", w / "snn", "--resume"], capsys, "another spikecount run")
    finally:
        os.close(fd)
    assert not kept(before, snapshot(w))


# -- honest resume ----------------------------------------------------------------------------
@pytest.mark.parametrize("extra, name", [
    (["--max-rate", "0.5"], "max_rate"), (["--limit-train", "50"], "limit_train"), (["--lr-decay", "0.9"], "lr_decay"),
    (["--dropout", "0.1"], "dropout"), (["--output-grad", "paper"], "bounded_output"), (["--T", "7"], "T"),
    (["--seed", "3"], "seed"), (["--lr", "0.01"], "lr="),
])
def test_resume_names_the_changed_setting(tree, capsys, extra, name):
    w, before = tree
    refused(["train", *IRIS, *extra, "--out", w / "snn", "--resume"], capsys, name, "was made with")
    assert not kept(before, snapshot(w))


def test_resume_with_fewer_epochs_leaves_the_finished_run(tree, capsys):
    w, before = tree
    refused(["train", *IRIS[:-3], "--epochs", "1", "--quiet", "--out", w / "snn", "--resume"], capsys,
            "already holds 2 epochs")
    assert not kept(before, snapshot(w))


def test_resume_of_a_run_killed_before_model_json_evaluates_without_dropout(tmp_path):
    from learning.train import config_from, train

    cfg = config_from("digits", "64-40-10", T=10, epochs=2, dropout=0.5, limit_train=300, limit_test=200)
    full = train(cfg, tmp_path / "a", progress=False)
    train(cfg, tmp_path / "b", progress=False)
    for name in ("model.json", "weights.safetensors"):  # killed after the last checkpoint
        (tmp_path / "b" / name).unlink()
    resumed = train(cfg, tmp_path / "b", progress=False, resume=True)
    assert resumed["test_accuracy"] == full["test_accuracy"]


def test_replacement_data_file_is_recorded_and_checked(tmp_path, capsys):
    from learning.uci import _UCI, _packaged_uci_file

    data = tmp_path / "data"
    data.mkdir()
    original = _packaged_uci_file(_UCI["iris"].filename).read_bytes()
    (data / "iris.data").write_bytes(original.replace(b"5.1,3.5,1.4", b"5.0,3.5,1.4", 1))
    assert run(["train", *IRIS, "--data-dir", data, "--out", tmp_path / "m"], capsys)[0] == 0
    meta = json.loads((tmp_path / "m/model.json").read_text())
    assert meta["data_files"]["iris.data"]["path"] == str((data / "iris.data").resolve())
    assert run(["evaluate", "--model", tmp_path / "m", "--out", tmp_path / "a.json"], capsys)[0] == 0
    assert run(["evaluate", "--model", tmp_path / "m", "--data-dir", data, "--out", tmp_path / "b.json"], capsys)[0] == 0
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert a["accuracy"] == b["accuracy"]
    (data / "iris.data").write_bytes(original)
    refused(["evaluate", "--model", tmp_path / "m"], capsys, "iris.data", "differs from")
    refused(["train", *IRIS[:-3], "--epochs", "3", "--data-dir", data, "--out", tmp_path / "m", "--resume"],
            capsys, "was trained on")


# -- numerical faults -------------------------------------------------------------------------
def test_divergence_stops_at_the_first_step_and_writes_nothing(tmp_path, capsys):
    refused(["train", *IRIS, "--lr", "1e300", "--out", tmp_path / "m"], capsys, "epoch 1, step 1",
            "NaN or infinite", "no checkpoint written")
    assert not (tmp_path / "m").exists()


def test_divergence_mid_run_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    import learning.loop as loop
    from learning.train import config_from, train

    calls = {"n": 0}
    real = loop._finite

    def fails_at_step_30(net):
        calls["n"] += 1
        return real(net) and calls["n"] != 30

    monkeypatch.setattr(loop, "_finite", fails_at_step_30)  # iris: 23 steps per epoch, so epoch 2 step 7
    with pytest.raises(loop.Diverged, match="epoch 2, step 7.*epoch 1\\) kept"):
        train(config_from("iris", "4-8-3", epochs=3), tmp_path, progress=False)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "checkpoint.safetensors"), "numpy") as f:
        assert f.metadata()["epoch"] == "1"
        assert all(np.isfinite(f.get_tensor(k)).all() for k in f.keys())


@pytest.mark.parametrize("change, needle", [
    (lambda a: a.update({"model.layers.0.weight": np.full_like(a["model.layers.0.weight"], np.nan)}),
     "model.layers.0.weight contains NaN"),
    (lambda a: a.update({"model.layers.0.weight": np.zeros((2, 2), np.float32)}), "model.layers.0.weight has shape"),
    (lambda a: a.pop("model.layers.1.bias"), "lacks tensor model.layers.1.bias"),
])
def test_bad_checkpoints_are_named_and_kept(tree, capsys, change, needle):
    w, _ = tree
    ckpt = w / "snn/checkpoint.safetensors"
    from safetensors import safe_open

    with safe_open(str(ckpt), "numpy") as f:
        meta, arrays = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    change(arrays)
    save_file(arrays, ckpt, metadata=meta)
    before = snapshot(w)
    refused(["train", *IRIS[:-3], "--epochs", "3", "--quiet", "--out", w / "snn", "--resume"], capsys, needle)
    assert not kept(before, snapshot(w))


# -- one-line errors for files and arguments ---------------------------------------------------
def _edit_json(path, fn):
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("field, value, needle", [
    ("theta", None, "'theta' must be"), ("theta", "x", "'theta' must be"), ("T", 0, "'T' must be"),
    ("seed", -1, "'seed' must be"), ("dataset", "cifar", "'dataset' must be"), ("max_rate", 2, "'max_rate'"),
    ("kind", "weird", "this one is 'weird'"), ("arch", 7, "'arch' must be"), ("weight_bits", 1, "'weight_bits'"),
])
def test_model_json_fields(tree, capsys, field, value, needle):
    w, _ = tree
    _edit_json(w / "snn/model.json", lambda d: d.update({field: value}))
    refused(["evaluate", "--model", w / "snn"], capsys, needle)


@pytest.mark.parametrize("edit, needle", [
    (lambda d: d.pop("populations"), "lacks 'populations'"),
    (lambda d: d.update(populations=None), "malformed"),
    (lambda d: d["projections"][0].pop("delay"), "lacks 'delay'"),
    (lambda d: d["projections"][0].update(tgt="nowhere"), "nowhere"),
])
def test_graph_json_fields(tree, capsys, edit, needle):
    w, _ = tree
    assert run(["export", "--model", w / "snn", "--out", w / "g"], capsys)[0] == 0
    _edit_json(w / "g/graph.json", edit)
    refused(["simulate", "--model", w / "g", "--dataset", "iris", "--T", "5"], capsys, needle)


def test_truncated_weights_npz_and_weights_file(tree, capsys):
    w, _ = tree
    assert run(["export", "--model", w / "snn", "--out", w / "g"], capsys)[0] == 0
    data = (w / "g/weights.npz").read_bytes()
    (w / "g/weights.npz").write_bytes(data[: len(data) // 2])
    refused(["simulate", "--model", w / "g", "--dataset", "iris", "--T", "5"], capsys, "weights.npz")
    arrays = load_file(w / "snn/weights.safetensors")
    arrays["layers.0.weight"] = np.zeros((3, 3), np.float32)
    save_file(arrays, w / "snn/weights.safetensors")
    refused(["evaluate", "--model", w / "snn"], capsys, "layers.0.weight has shape")


@pytest.mark.parametrize("name, content, needle", [
    ("sweep.json", "{not json", "malformed JSON"), ("metrics.json", "[1, 2]", "unexpected content"),
    ("sweep.json", '{"rows": [{"method": 1}], "x": 1}', None), ("quantisation.json", '{"layers": 3}', "unexpected"),
])
def test_report_of_malformed_json(tmp_path, capsys, name, content, needle):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / name).write_text(content)
    if needle is None:  # well-formed enough: the report is written
        assert run(["report", "--runs", tmp_path / "runs", "--out", tmp_path / "r"], capsys)[0] == 0
    else:
        refused(["report", "--runs", tmp_path / "runs", "--out", tmp_path / "r"], capsys, name, needle)


@pytest.mark.parametrize("argv, needle", [
    (["--seed", str(2**70)], "--seed"), (["--lr", "inf"], "--lr"), (["--lr", "nan"], "--lr"),
    (["--theta", "-inf"], "--theta"), (["--T", "0"], "--T"), (["--epochs", "-1"], "--epochs"),
    (["--lr", "-1"], "lr must be"), (["--max-rate", "3"], "max_rate"), (["--dropout", "1"], "dropout"),
    (["--lr-decay", "0"], "lr_decay"), (["--theta", "0"], "theta"), (["--split-seed", "-2"], "--split-seed"),
])
def test_numeric_arguments_out_of_range(tmp_path, capsys, argv, needle):
    refused(["train", *IRIS, *argv, "--out", tmp_path / "m"], capsys, needle)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--arch", "4-4000000000-3"], "needs about"), (["--T", "1000000000", "--mode", "stepped"], "needs about"),
])
def test_memory_estimate_refuses_before_the_run(tmp_path, capsys, argv, needle):
    refused(["train", *IRIS, *argv, "--out", tmp_path / "m"], capsys, needle, "--force")
    assert not (tmp_path / "m").exists()


def test_huge_T_is_refused_before_the_run(tree, capsys):
    w, before = tree
    refused(["simulate", "--model", w / "snn", "--T", "1000000000000"], capsys, "needs about")
    refused(["evaluate", "--model", w / "snn", "--T", "1000000000000"], capsys, "would take at least", "h (drawing")
    refused(["train", *IRIS, "--T", "1000000000000", "--out", w / "x"], capsys, "would take at least")
    assert not kept(before, snapshot(w)) and not (w / "x").exists()


def test_disk_full_and_out_of_memory_are_one_line(tree, capsys, monkeypatch):
    import errno
    import os

    import learning.evaluate

    w, before = tree

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    refused(["evaluate", "--model", w / "snn", "--out", w / "e.json"], capsys, "No space left on device")
    monkeypatch.undo()

    def no_memory(*a, **k):
        raise MemoryError

    monkeypatch.setattr(learning.evaluate, "evaluate", no_memory)
    refused(["evaluate", "--model", w / "snn"], capsys, "out of memory")
    assert not kept(before, snapshot(w)) and not (w / "e.json").exists()


def test_evaluate_and_simulate_on_a_dataset_of_another_shape(tree, capsys):
    w, _ = tree
    refused(["evaluate", "--model", w / "snn", "--dataset", "digits"], capsys, "64 features")
    refused(["simulate", "--model", w / "snn", "--dataset", "digits"], capsys, "64 features")


def test_reproduce_cost_without_snntorch_fails_before_any_work(tmp_path, capsys, monkeypatch):
    import importlib.util
    import time

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "snntorch" else real(name, *a))
    t0 = time.perf_counter()
    refused(["reproduce", "cost", "--out", tmp_path / "c"], capsys, "snnTorch")
    assert time.perf_counter() - t0 < 2 and not (tmp_path / "c").exists()


@pytest.mark.parametrize("argv, needle", [
    (["evaluate", "--model", "user/notes.txt"], "notes.txt"), (["export", "--model", "user", "--out", "x"], "model"),
    (["simulate", "--model", "nowhere"], "not found"), (["convert", "--ann", "snn", "--norm", "model", "--out", "x"],
                                                        "needs a model of kind 'ann'"),
    (["train", *IRIS, "--data-dir", "nowhere", "--out", "x"], "missing file"),
    (["sweep", "--dataset", "iris", "--arch", "4-8-3", "--seeds", "-1", "--out", "x"], "--seeds"),
    (["export", "--model", "snn", "--out", "x", "--delay", "-1"], "--delay"),
])
def test_path_and_argument_errors(tree, capsys, argv, needle):
    w, before = tree
    refused([w / a if a in ("user/notes.txt", "user", "nowhere", "snn", "x") else a for a in argv], capsys, needle)
    assert not kept(before, snapshot(w)) and not (w / "x").exists()
