import os

import numpy as np
import pytest

from simcore import AvgPool2d, Conv2d, Dense, Flatten, GraphError, Network, simulate
from simcore_helpers import small_cnn


def _net(**kw):
    net = Network()
    net.add_input("input", (4,))
    args = dict(threshold=1.0, bias=np.zeros(3), bias_mode="initial", reset="subtract")
    args.update(kw)
    net.add_neurons("h", (3,), **args)
    net.add_neurons("out", (2,))
    net.connect("input", "h", [Dense(np.ones((3, 4)))])
    net.connect("h", "out", [Dense(np.ones((2, 3)))])
    return net


def _err(net, match):
    with pytest.raises(GraphError, match=match) as info:
        net.validate()
    assert "\n" not in str(info.value)


def test_valid_network_properties():
    net = _net()
    net.validate()
    assert net.populations == ["input", "h", "out"]
    assert net.input_population == "input" and net.output == "out"


def test_shape_mismatch():
    net = Network()
    net.add_input("input", (4,))
    net.add_neurons("h", (3,))
    net.connect("input", "h", [Dense(np.ones((5, 4)))])
    _err(net, r"input->h.*shape \(5,\).*'h' has shape \(3,\)")
    net = Network()
    net.add_input("input", (4,))
    net.add_neurons("h", (3,))
    net.connect("input", "h", [Dense(np.ones((3, 5)))])
    _err(net, r"input->h op 0 \(Dense\).*expects 5 inputs")
    net = Network()
    net.add_input("input", (1, 8, 8))
    net.add_neurons("c", (2, 6, 6))
    net.connect("input", "c", [Conv2d(np.ones((2, 3, 3, 3)))])
    _err(net, r"input->c op 0 \(Conv2d\)")
    net = Network()
    net.add_input("input", (1, 8, 8))
    net.add_neurons("c", (1, 4, 4))
    net.connect("input", "c", [Flatten(), AvgPool2d(2)])
    _err(net, r"AvgPool2d.*expects input \(C, H, W\)")


def test_cycle():
    net = _net()
    net.add_neurons("loop", (2,))
    net.connect("out", "loop", [Dense(np.ones((2, 2)))])
    net.connect("loop", "out", [Dense(np.ones((2, 2)))])
    _err(net, "cycle")


def test_nan_inf_weights_and_biases():
    w = np.ones((3, 4))
    w[1, 2] = np.nan
    net = Network()
    net.add_input("input", (4,))
    net.add_neurons("h", (3,))
    net.connect("input", "h", [Dense(w)])
    _err(net, r"input->h op 0 \(Dense\) weight contains NaN")
    _err(_net(bias=np.array([0.0, np.inf, 0.0])), "population 'h' bias contains NaN or infinite")
    _err(_net(threshold=np.nan), "population 'h' threshold contains NaN")


def test_threshold_bias_mode_reset():
    _err(_net(threshold=0.0), "population 'h': threshold must be > 0")
    _err(_net(threshold=-1.0), "threshold must be > 0")
    _err(_net(bias_mode="leaky"), "population 'h': unknown bias_mode 'leaky'")
    _err(_net(reset="hard"), "population 'h': unknown reset 'hard'")
    _err(_net(bias=np.zeros(5)), "population 'h': bias has shape")


def test_inputs_outputs_and_missing():
    net = _net()
    net.add_input("input2", (4,))
    net.connect("input2", "h", [Dense(np.ones((3, 4)))])
    _err(net, "exactly one input population")
    net = _net()
    net.add_neurons("out2", (2,))
    net.connect("h", "out2", [Dense(np.ones((2, 3)))])
    _err(net, "exactly one output population")
    net = _net()
    with pytest.raises(GraphError, match="population 'nope' does not exist"):
        net.connect("h", "nope", [Dense(np.ones((2, 3)))])
    with pytest.raises(GraphError, match="already exists"):
        net.add_neurons("h", (3,))
    with pytest.raises(GraphError, match="delay"):
        net.connect("input", "out", [Dense(np.ones((2, 4)))], delay=-1)
    net = _net()
    net.connect("h", "input", [Dense(np.ones((4, 3)))])
    with pytest.raises(GraphError):
        net.validate()


def test_simulate_validates_and_checks_T():
    with pytest.raises(GraphError):
        simulate(_net(threshold=0.0), np.zeros((1, 4)), T=3)
    with pytest.raises(ValueError, match="T"):
        simulate(_net(), np.zeros((1, 4)), T=0)


def test_network_change_invalidates_compiled_tables():
    net = _net()
    a = simulate(net, np.ones((1, 4)), T=5)
    net.projection("input", "h").ops[0].weight[:] = 0.0
    net._version += 1  # in-place edits of op arrays are not tracked; connect/add are
    b = simulate(net, np.ones((1, 4)), T=5)
    assert a.counts["h"].sum() > 0 and b.counts["h"].sum() == 0


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    net = small_cnn(rng, exact=False)
    net.add_neurons("extra", (5,), threshold=np.full(5, 0.5), bias=np.ones(5) * 0.1, bias_mode="current", reset="zero")
    net.connect("out", "extra", [Dense(rng.normal(size=(5, 5)))], delay=2)
    path = tmp_path / "model"
    net.save(path)
    assert sorted(os.listdir(path)) == ["graph.json", "weights.npz"]
    net.save(path)  # overwriting an existing directory is atomic too
    assert sorted(os.listdir(tmp_path)) == ["model"]
    loaded = Network.load(path)
    assert loaded.populations == net.populations and loaded.output == "extra"
    x = rng.random((3, 1, 10, 10))
    for mode in ("sync", "async"):
        a = simulate(net, x, T=8, seed=4, mode=mode)
        b = simulate(loaded, x, T=8, seed=4, mode=mode)
        assert a.steps == b.steps == 10
        for name in a.counts:
            np.testing.assert_array_equal(a.counts[name], b.counts[name])
        for name in a.membrane:
            np.testing.assert_array_equal(a.membrane[name], b.membrane[name])
        np.testing.assert_array_equal(a.prediction_trace, b.prediction_trace)
