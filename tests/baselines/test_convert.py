"""Converted networks: rates approach normalised ANN activations like 1/T, reset modes, bias current, errors."""
import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file

from baselines.ann import ANN, ConversionError, parse_convertible, save_ann
from baselines.convert import ann_layers, build_network, convert, convert_ann
from learning.models import ModelKindError, load
from baselines.normalise import apply_factors
from simcore import NeuronParams, simulate


def _normalised_activations(net, lambdas, x):
    w, b = apply_factors(*ann_layers(net), lambdas)
    twin = ANN(net.arch, net.bias).double()
    with torch.no_grad():
        for m, wi, bi in zip(twin.layers, w, b):
            m.weight.copy_(torch.from_numpy(wi))
            if bi is not None:
                m.bias.copy_(torch.from_numpy(bi))
        acts = twin.activations(torch.from_numpy(x))
    # a rate is in [0, 1] spikes per step; the output layer's IF neurons see the logits
    return [np.clip(a.numpy().reshape(len(x), -1), 0.0, 1.0) for a in acts]


@pytest.mark.parametrize("spec", ["6-8-5-3", "1x6x6-2c3-2a-3"])
def test_rates_approach_normalised_activations_like_one_over_T(spec):
    torch.manual_seed(0)
    net = ANN(spec).double()
    x = np.random.default_rng(0).random((20, net.arch.n_inputs))
    graph, lam = convert_ann(net, "data", x, reset="subtract")  # data max: no neuron saturates on x
    expected = _normalised_activations(net, lam, x)
    pops = [p for p in graph.populations if p != "input"]
    errors = {}
    for T in (25, 100, 400, 1600):
        res = simulate(graph, x, T, 0, encoding="analog")
        errors[T] = [np.abs(res.counts[p] / T - a).max() for p, a in zip(pops, expected)]
        # first layer: constant current, reset by subtraction -> |count - T a| < 1 exactly
        assert errors[T][0] * T < 1.0 + 1e-9
        # deeper layers: the error stays O(1/T) (measured max |err| * T about 2)
        assert max(errors[T]) * T < 4.0, (T, errors[T])
    assert max(errors[1600]) < max(errors[25]) / 10


def _one_neuron(reset, weight=0.4, bias=0.0):
    net = ANN("1-1").double()
    return build_network(net, [np.array([[weight]])], [np.array([bias])], reset=reset)


def test_reset_subtract_vs_zero_hand_case():
    x = np.ones((1, 1))
    # input 0.4 per step: subtraction keeps the surplus -> rate 0.4; reset to zero drops it ->
    # fires at steps 3, 6, 9, ... -> rate 1/3 (the rate error Rueckauer describes)
    assert simulate(_one_neuron("subtract"), x, 30, 0, encoding="analog").counts["dense1"][0, 0] == 12
    assert simulate(_one_neuron("zero"), x, 30, 0, encoding="analog").counts["dense1"][0, 0] == 10
    # 0.5 per step is exact in both modes
    for reset in ("subtract", "zero"):
        assert simulate(_one_neuron(reset, 0.5), x, 30, 0, encoding="analog").counts["dense1"][0, 0] == 15


def test_bias_is_a_current_every_step():
    g = _one_neuron("subtract", weight=0.0, bias=0.25)
    (pop,) = [p for p in g.populations if p != "input"]
    assert g.population(pop).neuron.bias_mode == "current"
    res = simulate(g, np.zeros((1, 1)), 8, 0, encoding="analog")
    assert res.counts[pop][0, 0] == 2  # 0.25 per step; as an initial potential it would never fire
    # conversion divides the bias by the layer's scale factor, and conv biases are per map
    torch.manual_seed(1)
    net = ANN("1x4x4-2c3-2").double()
    x = np.random.default_rng(1).random((5, 16))
    g, lam = convert_ann(net, "data", x)
    b = net.layers[0].bias.detach().numpy()
    assert np.allclose(g.population("conv1").bias, np.repeat(b / lam[0], 4))
    assert np.allclose(g.population("dense2").bias, net.layers[1].bias.detach().numpy() / lam[1])


@pytest.mark.parametrize("spec, words", [
    ("8x8-2m-10", "max pooling"),
    ("8x8-0a-10", "positive integer"),
    ("8x8-12c3--2a-10", "positive integer"),
    ("8x8-2a-2a-10", "two pooling"),
    ("8x8-12c3-2a", "last layer"),
    ("8x8-12z3-10", "unsupported"),
])
def test_unconvertible_specs(spec, words):
    with pytest.raises(ConversionError, match=words) as e:
        parse_convertible(spec)
    assert isinstance(e.value, ValueError) and "\n" not in str(e.value)


def _ann_dir(tmp_path, spec="8x8-4c3-2a-10", bias=True):
    torch.manual_seed(0)
    d = tmp_path / "ann"
    save_ann(d, ANN(spec, bias), {"dataset": "digits", "seed": 3, "split_seed": 0, "test_accuracy": 0.5})
    return d


def test_ann_dir_errors(tmp_path):
    d = _ann_dir(tmp_path)
    out = tmp_path / "conv"
    # weights that do not match the spec in model.json
    w = load_file(d / "weights.safetensors")
    w["layers.0.weight"] = np.zeros((5, 1, 3, 3), np.float32)
    save_file(w, d / "weights.safetensors")
    with pytest.raises(ConversionError, match="layers.0.weight has shape"):
        convert(d, "model", out_dir=out)
    # bias flag in model.json disagrees with the weights
    d = _ann_dir(tmp_path)
    meta = json.loads((d / "model.json").read_text())
    (d / "model.json").write_text(json.dumps({**meta, "bias": False}))
    with pytest.raises(ConversionError, match="unexpected"):
        convert(d, "model", out_dir=out)
    # an unsupported layer in model.json's arch
    (d / "model.json").write_text(json.dumps({**meta, "arch": "8x8-4c3-2m-10"}))
    with pytest.raises(ConversionError, match="max pooling"):
        convert(d, "model", out_dir=out)
    (d / "model.json").write_text(json.dumps({**meta, "kind": "snn"}))
    with pytest.raises(ModelKindError, match="conversion needs a model of kind 'ann', this one is 'snn'"):
        convert(d, "model", out_dir=out)
    (d / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="not an output of `convert`"):  # the ANN's own directory
        convert(d, "model", out_dir=d)
    with pytest.raises(ValueError, match="percentile"):
        convert(d, "data", percentile=99.0, out_dir=out)
    with pytest.raises(ValueError, match="reset"):
        convert(d, "model", reset="modulo", out_dir=out)
    assert not out.exists()


def test_convert_writes_model_json_and_graph(tmp_path):
    d = _ann_dir(tmp_path, bias=False)
    info = convert(d, "robust", percentile=99.99, reset="zero", input="analog", out_dir=tmp_path / "c",
                   norm_samples=50)
    loaded = load(tmp_path / "c")
    g, meta = loaded.graph, loaded.meta
    assert meta == json.loads(json.dumps(info))
    assert meta["kind"] == "converted" and meta["encoding"] == "analog" and meta["percentile"] == 99.99
    assert meta["norm_samples"] == 50 and meta["seed"] == 3 and meta["ann_test_accuracy"] == 0.5
    assert len(meta["scale_factors"]) == 2 and meta["populations"] == ["conv1", "dense2"]
    assert all(g.population(p).neuron == NeuronParams(reset="zero", bias_mode="current")
               and np.all(g.population(p).bias == 0) for p in meta["populations"])
    # re-converting into the same directory replaces it
    convert(d, "model", out_dir=tmp_path / "c")
    assert load(tmp_path / "c").meta["norm"] == "model"
