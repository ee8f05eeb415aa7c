"""The tensor model against simcore.neuron (the one neuron definition) stage by stage (exact integer counts)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from learning.model import NEURON_SUPPORT, SpikingNet
from learning.spec import parse_spec
from simcore.neuron import NeuronParams, initial_potential, step


def numpy_if_network(net: SpikingNet, trains: np.ndarray):
    """Eqs. 1-4 as :func:`simcore.neuron.step` of the model's neuron, one neuron vector per stage, float64,
    spikes reaching the next stage in the same step: returns counts and final V per stage."""
    theta, neuron = net.theta, net.neuron
    assert neuron == NeuronParams(threshold=theta)
    B, T = trains.shape[:2]
    mats, biases = [], []
    for k, module in enumerate(net.layers):
        # build the stage as a dense matrix acting on the flattened previous stage, by probing
        in_shape = net.arch.input_shape if k == 0 else out_shape
        n_in = int(np.prod(in_shape))
        eye = torch.eye(n_in, dtype=torch.float64).reshape(n_in, *in_shape)
        with torch.no_grad():
            cols = net.current(k, eye) / theta
        out_shape = tuple(cols.shape[1:])
        mats.append(cols.reshape(n_in, -1).numpy().T)
        b = module.bias.detach().numpy().astype(np.float64)
        biases.append(np.repeat(b, int(np.prod(out_shape[1:]))) if len(out_shape) == 3 else b)
    V = [initial_potential(neuron, np.tile(b, (B, 1))) for b in biases]
    counts = [np.zeros_like(v) for v in V]
    for t in range(T):
        s = trains[:, t].reshape(B, -1).astype(np.float64)
        for k in range(len(mats)):
            V[k], fired = step(neuron, V[k], theta * s @ mats[k].T)
            s = fired.astype(np.float64)
            counts[k] += s
    return counts, V


def _random_net(spec, seed, dyadic, theta=1.0):
    torch.manual_seed(seed)
    net = SpikingNet(parse_spec(spec), theta=theta).double()
    if dyadic:
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.round(p * 2**8 * 3) / 2**8)
    return net


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), dyadic=st.booleans(), theta=st.sampled_from([1.0, 0.5, 2.0]),
       spec=st.sampled_from(["6-5-3", "6-7-5-4", "1x6x6-3c3-2a-4", "2x5x5-3c2-4c2-3"]))
def test_stepped_equals_numpy_loop(seed, dyadic, theta, spec):
    net = _random_net(spec, seed, dyadic, theta)
    rng = np.random.default_rng(seed)
    T = 12
    trains = rng.random((4, T, net.arch.n_inputs)) < 0.5
    out = net.stepped(torch.from_numpy(trains.astype(np.float64)))
    counts, V = numpy_if_network(net, trains)
    for k, (c, v) in enumerate(zip(counts, V)):
        got = out.counts[k].detach().reshape(4, -1).numpy()
        if dyadic:
            assert np.array_equal(got, c), f"stage {k}"
        else:
            assert np.mean(got == c) >= 0.999
        np.testing.assert_allclose(out.membrane[k].reshape(4, -1).numpy(), v, atol=1e-9)


def test_aggregate_is_closed_form_and_membrane_is_residual():
    net = _random_net("5-4-3", 0, True)
    a0 = torch.tensor([[3.0, 0.0, 7.0, 1.0, 2.0]], dtype=torch.float64)
    out = net.aggregate(a0, T=10)
    W1, b1 = net.layers[0].weight.detach(), net.layers[0].bias.detach()
    z1 = a0 @ W1.T + b1
    a1 = torch.clamp(torch.floor(z1), 0, 10)
    assert torch.equal(out.counts[0].detach(), a1)
    assert torch.allclose(out.membrane[0], z1 - a1)


def test_modes_agree_when_input_is_excitatory_and_spread():
    # non-negative weights, bias 0, input spread evenly: Eq. 7 predicts the dynamics exactly
    net = _random_net("4-3", 1, True)
    with torch.no_grad():
        net.layers[0].weight.abs_().mul_(0.25)
        net.layers[0].bias.zero_()
    trains = torch.zeros(1, 8, 4, dtype=torch.float64)
    trains[:, ::2] = 1.0
    st_ = net.stepped(trains)
    ag = net.aggregate(trains.sum(1), T=8)
    assert torch.equal(st_.output.detach(), ag.output.detach())


def test_late_inhibition_makes_stepped_exceed_closed_form():
    net = SpikingNet(parse_spec("2-1"), theta=1.0).double()
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[1.0, -1.0]]))
        net.layers[0].bias.zero_()
    trains = torch.zeros(1, 4, 2, dtype=torch.float64)
    trains[0, 0, 0] = 1  # +1 at step 1: fires
    trains[0, 3, 1] = 1  # -1 at step 4: cannot undo the spike
    assert net.stepped(trains).output.item() == 1
    assert net.aggregate(trains.sum(1), T=4).output.item() == 0


def test_stepped_backward_uses_count_gradient_on_aggregated_current():
    net = _random_net("4-3-2", 3, False)
    trains = (torch.rand(5, 6, 4, generator=torch.Generator().manual_seed(0)) < 0.6).double()
    out = net.stepped(trains, bounded_output=False)
    out.output.sum().backward()
    g_stepped = [p.grad.clone() for p in net.parameters()]
    # the same gradient by hand: aggregate graph with the stepped counts as values
    net.zero_grad()
    z1 = trains.sum(1) @ net.layers[0].weight.T + net.layers[0].bias
    a1 = out.counts[0].detach() + (z1 - z1.detach()) * (z1 > 0)
    z2 = a1 @ net.layers[1].weight.T + net.layers[1].bias
    a2 = (z2 - z2.detach()) * (z2 > 0)
    a2.sum().backward()
    for g, p in zip(g_stepped, net.parameters()):
        assert torch.allclose(g, p.grad)


def test_bias_is_initial_potential_counted_once():
    net = SpikingNet(parse_spec("1-1"), theta=1.0).double()
    with torch.no_grad():
        net.layers[0].weight.zero_()
        net.layers[0].bias.fill_(2.5)
    out = net.stepped(torch.zeros(1, 10, 1, dtype=torch.float64))
    assert out.output.item() == 2  # not 10: the bias is V(0), not a current per step
    assert out.membrane[0].item() == pytest.approx(0.5)


@pytest.mark.parametrize("neuron", [NeuronParams(beta=0.5), NeuronParams(threshold_test=">"),
                                    NeuronParams(reset="zero"), NeuronParams(reset="zero", bias_mode="current")])
def test_neurons_the_tensor_model_cannot_train_are_one_error(neuron):
    with pytest.raises(ValueError, match="the tensor model trains only the paper's neuron") as e:
        SpikingNet(parse_spec("4-3"), neuron=neuron)
    assert "\n" not in str(e.value) and NEURON_SUPPORT in str(e.value)


def test_paper_neuron_with_bias_as_a_current_is_trained():  # train --bias current
    net = SpikingNet(parse_spec("4-3"), neuron=NeuronParams(threshold=0.5, bias_mode="current"))
    assert net.bias_mode == "current" and net.neuron == NeuronParams(threshold=0.5, bias_mode="current")


def test_paper_neuron_sets_the_threshold():
    net = SpikingNet(parse_spec("4-3"), neuron=NeuronParams(threshold=0.25))
    assert net.theta == 0.25 and net.neuron == NeuronParams(threshold=0.25)
