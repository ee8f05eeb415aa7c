"""Hardware constraints: spike-rate penalty (learning.rate_penalty), k-bit weights (learning.quantise),
SOP accounting (simcore.sops with learning.fanout)."""
import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from learning.activation import spike_count
from learning.export import to_graph
from learning.fanout import fanouts
from learning.graph_builder import population_names
from learning.models import load
from learning.quantise import power_of_two_scale, qmax, quantise, quantise_int, quantise_ste
from learning.rate_penalty import rate_penalty
from learning.model import SpikingNet
from learning.spec import parse_spec
from learning.train import config_from, train
from simcore import compile_network, simulate
from simcore.sops import input_events, sops_from_counts

TINY = dict(epochs=2, limit_train=200, limit_test=100, T=10)


def _strip(m):
    return [{k: v for k, v in h.items() if "seconds" not in k} for h in m["history"]]


# -- rate penalty ---------------------------------------------------------------------------------
def _hand_case(theta=2.0, T=5):
    z1 = torch.tensor([[-1.0, 0.5, 3.0], [4.5, 0.0, 7.0]], dtype=torch.float64, requires_grad=True)
    z2 = torch.tensor([[2.5, -3.0], [9.0, 1.0]], dtype=torch.float64, requires_grad=True)
    counts = [spike_count(z1, theta, T), spike_count(z2, theta, T)]
    return z1, z2, counts


def test_rate_penalty_value_and_gradient_by_hand():
    theta = 2.0
    z1, z2, counts = _hand_case(theta)
    # counts floor(z/2) clipped to [0, 5]: [[0, 0, 1], [2, 0, 3]] and [[1, 0], [4, 0]]
    assert counts[0].tolist() == [[0, 0, 1], [2, 0, 3]] and counts[1].tolist() == [[1, 0], [4, 0]]
    # overall: lam * (sum of all counts) / (number of neuron-samples) = 0.3 * 11 / 10
    p = rate_penalty(counts, 0.3)
    assert p.item() == pytest.approx(0.3 * 11 / 10)
    p.backward()
    # d/dz = lam / 10 * (1/theta) * [z > 0]
    g = 0.3 / 10 / theta
    np.testing.assert_allclose(z1.grad.numpy(), [[0, g, g], [g, 0, g]], rtol=1e-12, atol=0)
    np.testing.assert_allclose(z2.grad.numpy(), [[g, 0], [g, g]], rtol=1e-12, atol=0)

    # per layer: lam_1 * mean_1 + lam_2 * mean_2, means over 6 and 4 neuron-samples
    z1, z2, counts = _hand_case(theta)
    p = rate_penalty(counts, [0.1, 1.0])
    assert p.item() == pytest.approx(0.1 * 6 / 6 + 1.0 * 5 / 4)
    p.backward()
    g1, g2 = 0.1 / 6 / theta, 1.0 / 4 / theta
    np.testing.assert_allclose(z1.grad.numpy(), [[0, g1, g1], [g1, 0, g1]], rtol=1e-12, atol=0)
    np.testing.assert_allclose(z2.grad.numpy(), [[g2, 0], [g2, g2]], rtol=1e-12, atol=0)

    # excess over target 1.5: only counts 2, 3, 4 count (excess 0.5 + 1.5 + 2.5 = 4.5)
    z1, z2, counts = _hand_case(theta)
    p = rate_penalty(counts, 0.3, target=1.5)
    assert p.item() == pytest.approx(0.3 * 4.5 / 10)
    p.backward()
    g = 0.3 / 10 / theta
    np.testing.assert_allclose(z1.grad.numpy(), [[0, 0, 0], [g, 0, g]], rtol=1e-12, atol=0)
    np.testing.assert_allclose(z2.grad.numpy(), [[0, 0], [g, 0]], rtol=1e-12, atol=0)


def test_rate_penalty_rejects_wrong_number_of_lambdas():
    _, _, counts = _hand_case()
    with pytest.raises(ValueError, match="stages"):
        rate_penalty(counts, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="stages"):
        config_from("digits", "64-20-10", rate_lambda=[0.1, 0.2, 0.3], **TINY).validate()
    with pytest.raises(ValueError):
        config_from("digits", "64-20-10", rate_lambda=-1.0, **TINY).validate()
    with pytest.raises(ValueError):
        config_from("digits", "64-20-10", weight_bits=9, **TINY).validate()


def test_lambda_zero_reproduces_the_unconstrained_run(tmp_path):
    base = train(config_from("digits", "64-20-10", **TINY), tmp_path / "a", progress=False)
    zero = train(config_from("digits", "64-20-10", rate_lambda=0.0, **TINY), tmp_path / "b", progress=False)
    assert _strip(base) == _strip(zero)
    w1, w2 = load_file(tmp_path / "a/weights.safetensors"), load_file(tmp_path / "b/weights.safetensors")
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)
    # accounting is in metrics.json, per epoch and final, and the settings are recorded
    on_disk = json.loads((tmp_path / "b/metrics.json").read_text())
    assert on_disk["config"]["rate_lambda"] == 0.0 and on_disk["config"]["weight_bits"] is None
    for entry in (on_disk, *on_disk["history"]):
        assert entry["sops_per_sample"] > 0 and len(entry["spikes_per_neuron"]) == 2
        assert set(entry["sops_per_sample_by_population"]) == {"input", "dense1"}
    # a strong budget lowers activity
    high = train(config_from("digits", "64-20-10", rate_lambda=1.0, **TINY), tmp_path / "c", progress=False)
    assert high["sops_per_sample_by_population"]["dense1"] < base["sops_per_sample_by_population"]["dense1"]


# -- weight precision -----------------------------------------------------------------------------
@pytest.mark.parametrize("bits", range(2, 9))
def test_quantised_weights_take_at_most_2_to_the_k_values(bits):
    torch.manual_seed(bits)
    w = torch.randn(50, 40) * 0.3
    q = quantise(w, bits)
    levels, scale = quantise_int(w, bits)
    assert len(torch.unique(q)) <= 2**bits - 1
    assert int(levels.abs().max()) <= qmax(bits) and int(levels.abs().max()) > qmax(bits) // 2
    assert scale == 2.0 ** np.round(np.log2(scale))  # a power of two
    assert torch.equal(q, (levels.double() * scale).float())
    assert float((w - q).abs().max()) <= scale / 2  # nearest level, nothing clipped
    assert torch.equal(quantise(q, bits), q)  # idempotent
    # straight-through: forward quantised, gradient unchanged to the float weights
    w.requires_grad_(True)
    c = torch.randn(50, 40)
    out = quantise_ste(w, bits)
    assert torch.equal(out.detach(), q)
    (out * c).sum().backward()
    assert torch.equal(w.grad, c)


def test_k_bit_training_saves_integers_and_reloads_exactly(tmp_path):
    bits = 3
    metrics = train(config_from("digits", "64-20-10", weight_bits=bits, **TINY), tmp_path, progress=False)
    arrays = load_file(tmp_path / "weights.safetensors")
    assert json.loads((tmp_path / "model.json").read_text())["weight_bits"] == bits
    assert metrics["config"]["weight_bits"] == bits
    net = load(tmp_path).net
    assert net.weight_bits == bits
    for k in range(2):
        assert f"layers.{k}.weight" not in arrays
        levels, scale = arrays[f"layers.{k}.weight_int"], arrays[f"layers.{k}.weight_scale"]
        assert levels.dtype == np.int8 and np.abs(levels).max() <= qmax(bits) and scale.dtype == np.float64
        assert len(np.unique(levels)) <= 2**bits
        assert np.array_equal(net.stage_weight(k).detach().numpy(), levels * scale[0])
        assert np.array_equal(net.layers[k].weight.detach().numpy(), levels * scale[0])


# -- simcore agreement: counts and SOPs ------------------------------------------------------------
def _quantised_net(spec, bits, seed):
    torch.manual_seed(seed)
    net = SpikingNet(parse_spec(spec), weight_bits=bits).double()
    with torch.no_grad():  # larger weights and some positive bias so every layer is active
        for m in net.layers:
            m.weight.mul_(4.0)
            m.bias.uniform_(-0.3, 0.9)
            m.bias.copy_(m.bias.float().double())  # float32-born biases, as after training
    net.eval()
    return net


@pytest.mark.parametrize("spec,bits", [("64-30-10", 4), ("64-30-20-10", 2), ("8x8-3c3-2a-4c2-10", 3),
                                       ("8x8-2a-12-10", 8)])
def test_simcore_counts_and_sops_equal_the_tensor_model_exactly(spec, bits):
    net = _quantised_net(spec, bits, seed=bits)
    rng = np.random.default_rng(bits)
    T, N = 12, 16
    trains = rng.random((N, T, 64)) < rng.uniform(0.1, 0.7, size=(N, 1, 64))
    with torch.no_grad():
        out = net.stepped(torch.from_numpy(trains.astype(np.float64)))
    res = simulate(to_graph(net), trains=trains, mode="sync")
    names = population_names(net.arch)
    for name, c in zip(names, out.counts):
        assert np.array_equal(c.numpy().reshape(N, -1), res.counts[name]), name
        assert res.counts[name].sum() > 0, name  # not trivially silent
    # SOPs: fan-outs agree with simcore's structural tables, and so do the totals per source
    comp = compile_network(to_graph(net))
    fan = fanouts(net)
    assert len(fan) == len(names)
    assert len(comp.projections) == len(names)
    for p in comp.projections:
        assert np.array_equal(p.fanout(), fan[names.index(comp.names[p.tgt])])
    events = input_events(trains, T)
    per_sample = np.stack([sops_from_counts(fan, events[i:i + 1], [c[i:i + 1].numpy() for c in out.counts])
                           for i in range(N)])
    for j, name in enumerate(["input", *names[:-1]]):
        assert np.array_equal(per_sample[:, j], res.sops[name].astype(np.float64)), name
    assert set(res.sops) == {"input", *names[:-1]}


def test_evaluate_sops_equal_simulate_on_digits(tmp_path):
    from learning.evaluate import evaluate_model
    from learning.simulate import simulate_dataset

    train(config_from("digits", "64-20-10", weight_bits=4, **TINY), tmp_path, progress=False)
    ev = evaluate_model(tmp_path, mode="stepped", limit=60)
    sim = simulate_dataset(tmp_path, limit=60, progress=False)
    assert sim["count_agreement"] == {"dense1": 1.0, "dense2": 1.0}
    assert ev["sops_per_sample"] == pytest.approx(sim["sops_per_sample"], rel=1e-12)
    for p, v in sim["sops_per_sample_by_population"].items():
        assert ev["sops_per_sample_by_population"][p] == pytest.approx(v, rel=1e-12)
    assert ev["spikes_per_neuron"] == pytest.approx(list(sim["spikes_per_neuron"].values()), rel=1e-12)


def test_cli_train_options():
    from analysis.cli import build_parser

    a = build_parser().parse_args(["train", "--dataset", "digits", "--arch", "64-20-10", "--out", "x",
                                   "--rate-lambda", "0.1", "0.2", "--rate-target", "1.5", "--weight-bits", "4"])
    assert a.rate_lambda == [0.1, 0.2] and a.rate_target == 1.5 and a.weight_bits == 4
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--dataset", "digits", "--arch", "64-20-10", "--out", "x",
                                   "--weight-bits", "1"])
