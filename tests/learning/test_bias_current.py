"""Bias as a per-step current (``--bias current``): the tensor model's two modes against simcore."""
import numpy as np
import pytest
import torch

from learning.export import to_graph
from learning.model import SpikingNet
from learning.spec import parse_spec
from learning.train import config_from
from simcore import NeuronParams, simulate

CURRENT = NeuronParams(1.0, bias_mode="current")


def _dyadic_net(spec, seed):
    torch.manual_seed(seed)
    net = SpikingNet(parse_spec(spec), neuron=CURRENT).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.round(p * 2**8 * 3) / 2**8)
    return net


@pytest.mark.parametrize("spec", ["6-7-5-4", "1x6x6-3c3-2a-4"])
def test_stepped_equals_simcore_with_per_step_bias(spec):
    net = _dyadic_net(spec, 3)
    rng = np.random.default_rng(3)
    trains = rng.random((6, 15, net.arch.n_inputs)) < 0.5
    out = net.stepped(torch.from_numpy(trains.astype(np.float64)))
    graph = to_graph(net)
    assert all(graph.population(p).neuron.bias_mode == "current" for p in graph.populations[1:])
    res = simulate(graph, trains=trains, steps=15)
    for k, pop in enumerate(graph.populations[1:]):
        np.testing.assert_array_equal(out.counts[k].detach().reshape(6, -1).numpy(), res.counts[pop], err_msg=pop)
    assert res.counts[graph.output].sum() > 0


def test_aggregate_closed_form_is_theta_W_a_plus_T_b():
    """No input: a bias b per step gives floor(T b / theta) spikes, and dz/db = T."""
    net = SpikingNet(parse_spec("3-2"), neuron=CURRENT).double()
    assert net.neuron == CURRENT
    with torch.no_grad():
        net.layers[0].weight.zero_()
        net.layers[0].bias.copy_(torch.tensor([0.375, 0.125], dtype=torch.float64))
    T = 10
    agg = net.aggregate(torch.zeros(1, 3, dtype=torch.float64), T)
    step = net.stepped(torch.zeros(1, T, 3, dtype=torch.float64))
    assert agg.output.tolist() == [[3.0, 1.0]] == step.output.tolist()
    torch.testing.assert_close(agg.currents[0], torch.tensor([[3.75, 1.25]], dtype=torch.float64))
    agg.currents[0].sum().backward()
    assert net.layers[0].bias.grad.tolist() == [T, T]


def test_initial_bias_is_unchanged_and_bad_mode_rejected():
    net = SpikingNet(parse_spec("3-2"), theta=1.0).double()
    with torch.no_grad():
        net.layers[0].weight.zero_()
        net.layers[0].bias.fill_(0.75)
    assert net.aggregate(torch.zeros(1, 3, dtype=torch.float64), 10).output.tolist() == [[0.0, 0.0]]
    with pytest.raises(ValueError, match="bias"):
        config_from("digits", "64-10", bias="sometimes").validate()
    with pytest.raises(ValueError, match="tensor model trains only"):  # bias current, but a leak
        SpikingNet(parse_spec("3-2"), neuron=NeuronParams(1.0, beta=0.5, bias_mode="current"))


def test_training_with_bias_current_records_the_neuron(tmp_path):
    """train(--bias current): model.json's neuron says bias_mode current; the model loads as it was saved."""
    import json

    from learning.models import load
    from learning.train import train

    cfg = config_from("iris", "4-6-3", T=6, epochs=1, bias="current")
    train(cfg, tmp_path / "m", progress=False)
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["neuron"] == CURRENT.to_dict() and meta["bias_mode"] == "current"
    loaded = load(tmp_path / "m")
    assert loaded.net.neuron == CURRENT
    assert all(loaded.graph.population(p).neuron.bias_mode == "current" for p in loaded.graph.populations[1:])
