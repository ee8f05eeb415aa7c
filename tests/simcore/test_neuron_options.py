"""Every neuron option of simcore.neuron in both kernels, against the references, exact.

Random small networks (conv, pooled conv, dense, a skip projection; zero and nonzero delays) with
dyadic weights, for EVERY combination of threshold_test x reset (subtract leaked / unleaked, to a
value) x beta x bias_mode, sync (reference:
``simcore.neuron.step`` layer by layer) and async (the event-by-event reference): spike counts,
final potentials and rasters must be identical.
"""
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simcore import AvgPool2d, Conv2d, Dense, Flatten, Network, NeuronParams, simulate
from simcore_helpers import dyadic
from simcore_reference import reference, reference_async

RESETS = [("subtract", "leaked"), ("subtract", "unleaked"), ("to_value", "leaked")]
COMBOS = [(test, reset, leak, beta, bias) for test, (reset, leak), beta, bias
          in itertools.product([">=", ">"], RESETS, [1.0, 0.75, 0.5], ["initial", "current"])]
FEW = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_same(res, counts, mem, raster):
    for name, c in counts.items():
        np.testing.assert_array_equal(res.counts[name], c, err_msg=name)
    for name, m in mem.items():
        np.testing.assert_array_equal(res.membrane[name], m, err_msg=name)
    for name, per in raster.items():
        for s, (t, i) in enumerate(per):
            np.testing.assert_array_equal(res.raster[name][s][0], t, err_msg=f"{name} times, sample {s}")
            np.testing.assert_array_equal(res.raster[name][s][1], i, err_msg=f"{name} order, sample {s}")


def random_net(rng, neuron: NeuronParams, delays) -> Network:
    """input (2, 7, 6) -> conv (strided/padded) -> [pool 2, conv] -> dense out, plus a pooled skip
    input -> out; every population with the given neuron options (thresholds and v_reset vary)."""
    def params():
        thr = 0.5 + rng.integers(0, 4) / 4
        return NeuronParams(thr, neuron.threshold_test, neuron.reset, rng.integers(-2, 2) / 4, neuron.beta,
                            neuron.bias_mode, neuron.reset_leak)

    stride, pad = int(rng.integers(1, 3)), int(rng.integers(0, 2))
    h1, w1 = (7 + 2 * pad - 3) // stride + 1, (6 + 2 * pad - 3) // stride + 1
    net = Network()
    net.add_input("input", (2, 7, 6))
    net.add_neurons("c1", (3, h1, w1), params(), bias=dyadic(rng, (3, h1, w1), 0.25, bits=4))
    net.connect("input", "c1", [Conv2d(dyadic(rng, (3, 2, 3, 3), 0.6, bits=6), stride=stride, padding=pad)],
                delay=delays[0])
    p1, q1 = h1 // 2, w1 // 2
    net.add_neurons("c2", (2, p1, q1), params(), bias=dyadic(rng, (2 * p1 * q1,), 0.25, bits=4))
    net.connect("c1", "c2", [AvgPool2d(2), Conv2d(dyadic(rng, (2, 3, 1, 1), 1.0, bits=6))], delay=delays[1])
    net.add_neurons("out", (4,), params(), bias=dyadic(rng, (4,), 0.25, bits=4))
    net.connect("c2", "out", [Flatten(), Dense(dyadic(rng, (4, 2 * p1 * q1), 0.8, bits=6))], delay=delays[2])
    net.connect("input", "out", [AvgPool2d(2), Flatten(), Dense(dyadic(rng, (4, 18), 0.5, bits=6))], delay=delays[3])
    return net


@pytest.mark.parametrize("test, reset, leak, beta, bias_mode", COMBOS)
@FEW
@given(seed=st.integers(0, 2**16), delays=st.lists(st.integers(0, 2), min_size=4, max_size=4))
def test_every_neuron_option_sync_and_async_equal_references(test, reset, leak, beta, bias_mode, seed, delays):
    rng = np.random.default_rng(seed)
    net = random_net(rng, NeuronParams(1.0, test, reset, 0.0, beta, bias_mode, leak), delays)
    trains = rng.random((2, 6, net.size("input"))) < 0.5
    res = simulate(net, trains=trains, mode="sync", record_raster=True)
    _assert_same(res, *reference(net, trains, steps=res.steps, raster=True))
    res = simulate(net, trains=trains, mode="async", record_raster=True)
    _assert_same(res, *reference_async(net, trains, steps=res.steps))


def _one(neuron, weight, steps=6, bias=0.0):
    net = Network()
    net.add_input("in", (1,))
    net.add_neurons("out", (1,), neuron, bias=[bias])
    net.connect("in", "out", [Dense([[weight]])])
    trains = np.ones((1, steps, 1), dtype=bool)
    return {mode: simulate(net, trains=trains, mode=mode, record_raster=True) for mode in ("sync", "async")}


def test_hand_cases_strict_test_reset_value_and_leak():
    for r in _one(NeuronParams(1.0, ">="), 0.5).values():  # V = .5, 1 -> fires every second step
        np.testing.assert_array_equal(r.raster["out"][0][0], [1, 3, 5])
    for r in _one(NeuronParams(1.0, ">"), 0.5).values():  # V = 1 does not fire; 1.5 does (-> .5)
        np.testing.assert_array_equal(r.raster["out"][0][0], [2, 4])
        assert r.membrane["out"][0, 0] == 1.0
    for r in _one(NeuronParams(1.0, reset="to_value", v_reset=-0.5), 1.0).values():  # 1 -> -.5, .5, 1.5 -> -.5, ...
        np.testing.assert_array_equal(r.raster["out"][0][0], [0, 2, 4])
    for r in _one(NeuronParams(1.0, beta=0.5), 0.75).values():  # .75, 1.125 -> .125, .8125, 1.15625 -> ...
        np.testing.assert_array_equal(r.raster["out"][0][0], [1, 3, 5])
    # unleaked: .75, 1.125 (fires, kept), .5625 - 1 + .75 = .3125, .90625, 1.203125 (fires), .6015625 - 1 + .75
    for r in _one(NeuronParams(1.0, beta=0.5, reset_leak="unleaked"), 0.75).values():
        np.testing.assert_array_equal(r.raster["out"][0][0], [1, 4])
        assert r.membrane["out"][0, 0] == 0.3515625


def test_async_leak_comes_before_the_carry_over_check():
    # V(0) = 2.25 (initial bias), no input: step 0 leak -> 1.125 fires (-> .125); the kernel must not
    # check 2.25 before the leak (which would leave 1.25 -> .625 after step 1's leak, a different state)
    for mode, r in _one(NeuronParams(1.0, beta=0.5), 0.0, steps=3, bias=2.25).items():
        np.testing.assert_array_equal(r.raster["out"][0][0], [0], err_msg=mode)
        assert r.membrane["out"][0, 0] == 0.125 / 4, mode


@pytest.mark.parametrize("test, reset, leak, beta, bias_mode", COMBOS)
@FEW
@given(seed=st.integers(0, 2**16))
def test_async_dense_batches_of_eight_equal_the_reference(test, reset, leak, beta, bias_mode, seed):
    """Many input spikes a step (the eight-row passes of async dense delivery, with neurons that
    reach threshold inside a batch, fire on an early row and keep integrating): counts, potentials,
    and the firing order in the buckets equal the event-by-event reference."""
    rng = np.random.default_rng(seed)
    net = Network()
    net.add_input("input", (37,))
    nr = NeuronParams(1.0, test, reset, rng.integers(-2, 2) / 4, beta, bias_mode, leak)
    net.add_neurons("h", (23,), nr, bias=rng.integers(-4, 4, 23) / 8)
    net.add_neurons("out", (5,), nr)
    net.connect("input", "h", [Dense(dyadic(rng, (23, 37), 0.6, bits=6))])
    net.connect("h", "out", [Dense(dyadic(rng, (5, 23), 0.6, bits=6))])
    trains = rng.random((3, 7, 37)) < 0.7
    res = simulate(net, trains=trains, mode="async", record_raster=True)
    _assert_same(res, *reference_async(net, trains, steps=res.steps))


@pytest.mark.parametrize("test, reset, leak, beta, bias_mode", COMBOS[::3])
@FEW
@given(seed=st.integers(0, 2**16))
def test_async_conv_runs_with_many_firings_per_spike_equal_the_reference(test, reset, leak, beta, bias_mode, seed):
    """Strong conv weights: one input spike fires dozens of targets at once (the library-sort
    path of the bucket order), fired targets stay at or above threshold (flagged again by the
    fire_at bound, they must not fire twice) and carry over into the next step (channel-last
    population: the carry-over firings sorted into C order); a dense projection that reaches
    threshold repeatedly in one eight-row batch. Counts, potentials and every bucket's order
    equal the event-by-event reference."""
    rng = np.random.default_rng(seed)
    nr = NeuronParams(1.0, test, reset, rng.integers(-2, 2) / 4, beta, bias_mode, leak)
    net = Network()
    net.add_input("input", (1, 8, 9))
    net.add_neurons("c1", (16, 6, 7), nr, bias=rng.integers(-8, 4, 16 * 6 * 7) / 8)
    net.add_neurons("out", (6,), nr)
    net.connect("input", "c1", [Conv2d(dyadic(rng, (16, 1, 3, 3), 1.0, bits=5) + 0.25)])
    net.connect("c1", "out", [Flatten(), Dense(dyadic(rng, (6, 16 * 6 * 7), 0.25, bits=6) - 0.03125)])
    trains = rng.random((2, 5, 72)) < 0.3
    res = simulate(net, trains=trains, mode="async", record_raster=True)
    assert np.bincount(res.raster["c1"][0][0]).max() > 24  # more firings in a step than the small sort takes
    _assert_same(res, *reference_async(net, trains, steps=res.steps))
