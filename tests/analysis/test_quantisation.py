"""Quantisation-error figures on hand-made networks with known residuals and counts."""
import json

import numpy as np
import pytest
import torch

from analysis.latency import decision_latency
from analysis.quantisation import compare_counts, network_layer_errors, summarise_residual
from learning.export import to_graph
from learning.model import SpikingNet
from learning.spec import parse_spec
from simcore import NeuronParams, simulate


def _net(spec, weights, biases):
    net = SpikingNet(parse_spec(spec), theta=1.0).double()
    with torch.no_grad():
        for layer, w, b in zip(net.layers, weights, biases):
            layer.weight.copy_(torch.tensor(w, dtype=torch.float64))
            layer.bias.copy_(torch.tensor(b, dtype=torch.float64))
    return net


def test_known_residuals_and_exact_closed_form():
    # one input spiking every step; w = 3/8 over 8 steps plus bias 1/4 -> 3.25 -> 3 spikes, residual 1/4
    net = _net("1-2", [[[0.375], [0.125]]], [[0.25, 0.0]])
    trains = np.ones((1, 8, 1), dtype=bool)
    res = simulate(to_graph(net), trains=trains)
    layers = network_layer_errors(net, res, T=8)
    (layer,) = layers
    assert res.counts["dense1"].tolist() == [[3, 1]]
    np.testing.assert_allclose(res.membrane["dense1"], [[0.25, 0.0]])
    assert layer["residual_mean"] == 0.125  # mean of 0.25 and 0.0
    assert layer["residual_mean_spiking"] == 0.125
    assert layer["local"] == {"mean_abs_diff": 0.0, "differ_fraction": 0.0}


def test_late_inhibition_shows_as_closed_form_error_and_propagates():
    # hidden neuron fires on +1 at step 1, then -1 at step 4: Eq. 7 says 0 spikes, events say 1;
    # the output copies the hidden neuron, so the error propagates one layer up
    net = _net("2-1-1", [[[1.0, -1.0]], [[1.0]]], [[0.0], [0.0]])
    trains = np.zeros((1, 4, 2), dtype=bool)
    trains[0, 0, 0] = trains[0, 3, 1] = True
    res = simulate(to_graph(net), trains=trains)
    hidden, out = network_layer_errors(net, res, T=4)
    assert hidden["local"]["differ_fraction"] == 1.0 and hidden["propagated"]["mean_abs_diff"] == 1.0
    assert out["local"]["differ_fraction"] == 0.0  # given the simulated hidden count, the output is exact
    assert out["propagated"]["differ_fraction"] == 1.0  # the closed form from the input is not


def test_summaries_by_hand():
    s = summarise_residual(np.array([[0.5, -1.0, 1.5]]), np.array([[1, 0, 2]]), theta=1.0)
    assert s == {"residual_mean": (0.5 + 0 + 1.5) / 3, "residual_mean_spiking": 1.0,
                 "above_threshold_fraction": 1 / 3}
    c = compare_counts(np.array([[1, 2], [3, 4]]), np.array([[1, 0], [3, 5]]))
    assert c == {"mean_abs_diff": 0.75, "differ_fraction": 0.5}


def test_decision_latency():
    trace = np.array([[1, 1, 1], [0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 0]])
    assert decision_latency(trace, np.ones(5, dtype=int)).tolist() == [1, 2, 3, -1, -1]


def test_depth_series_on_digits(tmp_path):
    from analysis.quantisation import depth_series

    results = depth_series(tmp_path, "digits", hidden=12, depths=(1, 2), T=5, epochs=1, limit=50)
    assert [len(r["layers"]) for r in results] == [2, 3]
    assert (tmp_path / "depth_series.png").is_file() and (tmp_path / "depth_series.json").is_file()
    for r in results:
        for layer in r["layers"]:
            assert 0 <= layer["propagated"]["differ_fraction"] <= 1


def _dyadic_twin(spec, seed, bias_mode="current"):
    """A SpikingNet with random dyadic weights (multiples of 2**-6): every closed-form sum is exact."""
    rng = np.random.default_rng(seed)
    net = SpikingNet(parse_spec(spec), neuron=NeuronParams(threshold=1.0, bias_mode=bias_mode)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.from_numpy(np.round(rng.normal(0.0, 0.4, tuple(p.shape)) * 64) / 64))
    return net


@pytest.mark.parametrize("spec", ["64-12-10", "8x8-3c3-2a-10"])
@pytest.mark.parametrize("bias_mode", ["current", "initial"])
def test_graph_closed_form_of_an_imported_network_equals_the_twin(tmp_path, spec, bias_mode):
    """issue 13: a SpikingNet exported to NIR and read back (recorded semantics) has no tensor twin; the
    closed form computed from the graph alone equals the twin's, local and propagated, exactly."""
    pytest.importorskip("nir")
    from analysis.quantisation import graph_closed_form, graph_layer_errors
    from learning.graph_builder import population_names
    from learning.models import load
    from simcore.nir_export import write_nir

    net = _dyadic_twin(spec, 3, bias_mode)
    write_nir(to_graph(net), tmp_path / "net.nir")
    graph = load(tmp_path / "net.nir", semantics="recorded").graph
    T = 8
    res = simulate(graph, np.random.default_rng(1).random((20, 64)), T, 0, mode="sync")
    assert graph_layer_errors(graph, res, T) == network_layer_errors(net, res, T)
    with torch.no_grad():
        twin = net.aggregate(torch.from_numpy(res.counts["input"].astype(np.float64)), T)
    closed = graph_closed_form(graph, res.counts["input"], T)
    for k, name in enumerate(population_names(net.arch)):
        np.testing.assert_array_equal(closed[name], twin.counts[k].reshape(20, -1).numpy())
    assert all(res.counts[p].sum() > 0 for p in graph.populations)  # not vacuous: every layer spikes


def test_cli_quantisation_of_a_nir_file(tmp_path, capsys):
    pytest.importorskip("nir")
    from analysis.cli import main
    from simcore.nir_export import write_nir

    write_nir(to_graph(_dyadic_twin("64-12-10", 4)), tmp_path / "net.nir")
    argv = ["quantisation", "--model", str(tmp_path / "net.nir"), "--dataset", "digits", "--T", "6", "--limit", "20"]
    assert main(argv + ["--out", str(tmp_path / "a")]) != 0  # NIR's own neuron: '>' and reset to zero
    err = capsys.readouterr().err
    assert "closed form (Eq. 7) applies only to the paper's neuron" in err and "Traceback" not in err
    assert not (tmp_path / "a" / "quantisation.json").exists()
    assert main(argv + ["--semantics", "recorded", "--out", str(tmp_path / "b")]) == 0
    doc = json.loads((tmp_path / "b" / "quantisation.json").read_text())
    assert [l["population"] for l in doc["layers"]] == ["dense1", "dense2"] and doc["samples"] == 20
