"""Push into simcore: export, and data-set runs that agree exactly with the tensor model's stepped mode."""
import numpy as np
import pytest

from analysis.cli import main
from learning.simulate import simulate_dataset
from learning.train import config_from, train


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cnn")
    train(config_from("digits", "8x8-4c3-2a-10", T=8, epochs=2, limit_train=300, limit_test=60), d, progress=False)
    return d


def test_simcore_agrees_with_tensor_stepped_mode(model_dir):
    res = simulate_dataset(model_dir, limit=60, progress=False)
    assert res["prediction_agreement"] == 1.0
    assert res["count_agreement"] == {"conv1": 1.0, "dense2": 1.0}
    assert res["accuracy"] == res["tensor_stepped_accuracy"]
    assert res["samples"] == 60 and res["sops_per_sample"] > 0 and res["wall_seconds"] > 0


def test_export_then_simulate_graph_dir(model_dir, tmp_path, capsys):
    graph_dir = tmp_path / "graph"
    assert main(["export", "--model", str(model_dir), "--out", str(graph_dir)]) == 0
    assert (graph_dir / "graph.json").is_file() and (graph_dir / "weights.npz").is_file()
    from_model = simulate_dataset(model_dir, limit=60, progress=False)
    from_graph = simulate_dataset(graph_dir, "digits", T=8, limit=60, progress=False)
    assert from_graph["accuracy"] == from_model["accuracy"]
    assert from_graph["prediction_agreement"] is None  # a bare graph has no tensor twin
    with pytest.raises(ValueError, match="no T recorded"):
        simulate_dataset(graph_dir, "digits", limit=5, progress=False)


def test_async_mode_runs_and_is_deterministic(model_dir):
    a = simulate_dataset(model_dir, limit=30, mode="async", progress=False)
    b = simulate_dataset(model_dir, limit=30, mode="async", progress=False)
    assert a["accuracy"] == b["accuracy"] and a["sops_per_sample"] == b["sops_per_sample"]
    assert np.isfinite(a["sops_per_sample"])
