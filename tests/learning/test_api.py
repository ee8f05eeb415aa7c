"""The notebook API: in-memory training without global side effects, eval-mode evaluation, layouts."""
import numpy as np
import pytest
import torch

import learning
from learning import build_net, evaluate_net, from_arrays, simulate_net, spike_trains, train_net
from learning.evaluate import evaluate


@pytest.fixture(scope="module")
def digits():
    train, test = learning.load_dataset("digits", "train"), learning.load_dataset("digits", "test")
    return train, test


def test_train_in_memory_leaves_global_random_state(digits, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(123)
    np.random.seed(7)
    t_state, n_state = torch.random.get_rng_state(), np.random.get_state()
    net, metrics = train_net("64-30-10", digits, T=10, epochs=2, seed=3, dropout=0.1)
    assert torch.equal(torch.random.get_rng_state(), t_state)
    after = np.random.get_state()
    assert np.array_equal(after[1], n_state[1]) and after[2] == n_state[2]
    assert metrics["test_accuracy"] > 0.5 and metrics["epochs_done"] == 2
    assert list(tmp_path.iterdir()) == []  # nothing written without out_dir
    again, _ = train_net("64-30-10", digits, T=10, epochs=2, seed=3, dropout=0.1)
    for a, b in zip(net.parameters(), again.parameters()):
        assert torch.equal(a, b)  # reproducible from the seed alone


def test_train_with_out_dir_writes_model(digits, tmp_path):
    net, metrics = train_net(build_net("64-20-10", seed=1), digits, T=5, epochs=1, out_dir=tmp_path / "m")
    loaded = learning.load(tmp_path / "m", kinds=("snn",))
    assert loaded.meta["dataset"] == "digits" and (tmp_path / "m" / "metrics.json").is_file()
    assert torch.equal(loaded.net.layers[0].weight.float(), net.layers[0].weight)  # loaded as float64


def test_evaluate_in_eval_mode_and_restores_mode(digits):
    _, test = digits
    net = build_net("64-30-10", dropout=0.5)
    net.train()
    a = evaluate(net, test.x, test.y, 8, "aggregate", 0)
    b = evaluate(net, test.x, test.y, 8, "aggregate", 0)
    assert np.array_equal(a.counts, b.counts) and net.training  # no dropout, mode restored
    net.eval()
    c = evaluate_net(net, test.x, test.y, 8)
    assert np.array_equal(a.counts, c.counts) and not net.training


def test_layouts_are_checked(digits):
    _, test = digits
    net = build_net("64-10")
    with pytest.raises(ValueError, match=r"x must be intensities of shape \(N, 64\)"):
        evaluate_net(net, test.x[:, :10], test.y, 5)
    with pytest.raises(ValueError, match=r"y must have shape \(5,\)"):
        evaluate_net(net, test.x[:5], test.y[:4], 5)
    trains = spike_trains(net, test.x[:3], 7)["input"]
    with pytest.raises(ValueError, match=r"batch first, shape \(N, 7, 64\); got \(7, 3, 64\) \(time-first"):
        simulate_net(net, trains=trains.transpose(1, 0, 2), T=7)
    with pytest.raises(ValueError, match=r"batch-first input trains \(B, T=7, D=64\), got \(7, 3, 64\)"):
        net(torch.from_numpy(trains.transpose(1, 0, 2)).float(), "stepped", 7)


def test_spike_trains_match_simcore_spike_by_spike(digits):
    _, test = digits
    net, _ = train_net("8x8-4c3-2a-10", digits, T=6, epochs=1)
    trains = spike_trains(net.double(), test.x[:4], 6, seed=5)
    assert trains["conv1"].shape == (4, 6, 4, 6, 6) and trains["dense2"].shape == (4, 6, 10)
    res = simulate_net(net, test.x[:4], 6, seed=5, record_raster=True)
    for pop, s in trains.items():
        flat = s.reshape(4, 6, -1)
        for k in range(4):
            times, idx = res.raster[pop][k]
            dense = np.zeros_like(flat[k])
            dense[times, idx] = 1
            assert np.array_equal(dense, flat[k]), pop
    res2 = simulate_net(net, trains=trains["input"], T=6)
    assert np.array_equal(res2.counts["dense2"], res.counts["dense2"])


def test_from_arrays_feeds_train(digits):
    train, test = digits
    tr, te, info = from_arrays(train.x * 16, train.y, test.x * 16, test.y)
    assert info.scaling == "minmax-train"
    _, metrics = train_net("64-10", (tr, te), T=10, epochs=2, batch_size=32)
    assert metrics["test_accuracy"] > 0.5


def test_package_exports_are_lazy_and_complete():
    import subprocess
    import sys

    code = ("import sys, learning, baselines, analysis; assert 'torch' not in sys.modules; "
            "[getattr(m, n) for m in (learning, baselines, analysis) for n in m.__all__]")
    subprocess.run([sys.executable, "-c", code], check=True)
