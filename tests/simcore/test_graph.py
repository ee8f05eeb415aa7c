import dataclasses
import json
import os

import numpy as np
import pytest

from simcore import (AvgPool2d, Conv2d, Dense, Flatten, GraphError, Network, NeuronParams, compile_network,
                     load_network, save_network, simulate)
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


def _build_err(match, **kw):
    """Bad population parameters are rejected when the population is added (one line)."""
    with pytest.raises(GraphError, match=match) as info:
        _net(**kw)
    assert "\n" not in str(info.value)


def test_nan_inf_weights_and_biases():
    w = np.ones((3, 4))
    w[1, 2] = np.nan
    net = Network()
    net.add_input("input", (4,))
    net.add_neurons("h", (3,))
    net.connect("input", "h", [Dense(w)])
    _err(net, r"input->h op 0 \(Dense\) weight contains NaN")
    _build_err("population 'h': bias contains NaN or infinite", bias=np.array([0.0, np.inf, 0.0]))
    _build_err("population 'h': neuron threshold must be finite", threshold=np.nan)


def test_threshold_bias_mode_reset():
    _build_err("population 'h': neuron threshold must be finite and > 0", threshold=0.0)
    _build_err("threshold must be finite and > 0", threshold=-1.0)
    _build_err("population 'h': neuron bias_mode must be one of", bias_mode="leaky")
    _build_err("population 'h': neuron reset must be 'subtract', 'to_value' or 'zero', got 'hard'", reset="hard")
    _build_err("population 'h': bias has shape", bias=np.zeros(5))
    _build_err("population 'h': threshold must be one value", threshold=np.array([1.0, 2.0, 1.0]))
    _build_err("population 'h': threshold has 2 values", threshold=np.ones(2))
    _build_err("give neuron=NeuronParams", neuron=NeuronParams(), reset="zero")
    with pytest.raises(GraphError, match="population 'h': neuron must be a NeuronParams, got float"):
        Network().add_neurons("h", (3,), 0.5)


def test_neuron_params_and_legacy_keywords_agree():
    net = _net(threshold=np.full(3, 0.5), bias_mode="current", reset="zero")
    assert net.population("h").neuron == NeuronParams(threshold=0.5, bias_mode="current", reset="to_value")
    assert net.population("out").neuron == NeuronParams()
    assert net.population("h").bias.shape == (3,) and net.population("input").neuron is None


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


def test_weights_are_immutable_so_compiled_tables_never_go_stale():
    w = np.ones((3, 4))
    net = _net()
    net.connect("input", "out", [Dense(w[:2])])  # the caller's array is copied ...
    w[:] = 0.0  # ... so editing it afterwards changes nothing
    a = simulate(net, np.ones((1, 4)), T=5)
    op = net.projection("input", "h").ops[0]
    with pytest.raises(ValueError, match="read-only"):
        op.weight[:] = 0.0
    with pytest.raises(ValueError):
        op.weight.flags.writeable = True
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.weight = np.zeros((3, 4))
    with pytest.raises(ValueError, match="read-only"):
        net.population("h").bias[0] = 5.0
    assert compile_network(net) is compile_network(net)  # cached while nothing changed
    np.testing.assert_array_equal(simulate(net, np.ones((1, 4)), T=5).counts["h"], a.counts["h"])
    before = compile_network(net)
    net.add_neurons("out2", (2,))
    net.connect("out", "out2", [Dense(np.ones((2, 2)))])
    after = compile_network(net)  # adding recompiles
    assert after is not before and after.names[-1] == "out2"


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    net = small_cnn(rng, exact=False)
    net.add_neurons("extra", (5,), threshold=np.full(5, 0.5), bias=np.ones(5) * 0.1, bias_mode="current", reset="zero")
    net.connect("out", "extra", [Dense(rng.normal(size=(5, 5)))], delay=2)
    net.add_neurons("leaky", (3,), NeuronParams(0.75, ">", "to_value", -0.25, 0.5, "current"), bias=[0.5, 0.25, 1.0])
    net.connect("extra", "leaky", [Dense(rng.normal(size=(3, 5)))])
    net.add_neurons("snn", (2,), NeuronParams(0.5, ">", beta=0.75, reset_leak="unleaked"), bias=[0.25, 0.5])
    net.connect("leaky", "snn", [Dense(rng.normal(size=(2, 3)))])
    path = tmp_path / "model"
    save_network(net, path)
    assert sorted(os.listdir(path)) == ["graph.json", "weights.npz"]
    (path / "notes.txt").write_text("mine")
    save_network(net, path)  # writes the two files into the directory (each atomically), nothing else
    assert sorted(os.listdir(tmp_path)) == ["model"]
    assert sorted(os.listdir(path)) == ["graph.json", "notes.txt", "weights.npz"]
    assert json.loads((path / "graph.json").read_text())["version"] == 2
    loaded = load_network(path)
    for name in net.populations:
        assert loaded.population(name).neuron == net.population(name).neuron
    assert loaded.populations == net.populations and loaded.output == "snn"
    assert loaded.population("snn").neuron.reset_leak == "unleaked"
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


def _v1_dir(path, thresholds):
    """A version-1 graph directory as the previous simcore wrote it (per-neuron threshold arrays)."""
    path.mkdir()
    doc = {"format": "simcore-network", "version": 1, "populations": [
        {"name": "in", "kind": "input", "shape": [2]},
        {"name": "h", "kind": "neurons", "shape": [3], "bias_mode": "current", "reset": "zero"}],
        "projections": [{"src": "in", "tgt": "h", "delay": 1,
                         "ops": [{"type": "Dense", "weight": "proj0_op0_weight"}]}]}
    (path / "graph.json").write_text(json.dumps(doc))
    np.savez(path / "weights.npz", pop1_threshold=thresholds, pop1_bias=np.array([0.25, 0.5, 0.0]),
             proj0_op0_weight=np.arange(6.0).reshape(3, 2))


def test_load_version_1_files(tmp_path):
    _v1_dir(tmp_path / "v1", np.full(3, 0.75))
    net = load_network(tmp_path / "v1")
    assert net.population("h").neuron == NeuronParams(threshold=0.75, bias_mode="current", reset="zero")
    np.testing.assert_array_equal(net.population("h").bias, [0.25, 0.5, 0.0])
    assert net.projection("in", "h").delay == 1 and net.projection("in", "h").ops[0].weight[2, 1] == 5.0
    _v1_dir(tmp_path / "mixed", np.array([0.75, 1.0, 1.0]))
    with pytest.raises(GraphError, match="2 different thresholds"):
        load_network(tmp_path / "mixed")
    with pytest.raises(GraphError, match="no graph.json"):
        load_network(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "graph.json").write_text("{}")
    with pytest.raises(GraphError, match="not a simcore network"):
        load_network(tmp_path / "bad")
