"""simcore.kernels: the sync kernel's complement delivery of Bernoulli input (the likely inputs'
rows summed once, then the surprises added or subtracted) against plain delivery of the same trains."""
import numpy as np
import pytest

from simcore import Conv2d, Dense, Flatten, Network, compile_network, encoding, simulate
from simcore.compiler import CSR, DENSE, RUNS
from simcore_helpers import dyadic, mlp, small_cnn


def two_input_paths(rng, exact=True):
    """Two projections from the input: a 1x1 conv into g (runs, delay 2) and a 3x3 conv straight into
    the output (CSR: the output stays in C order), which g feeds too."""
    gen = dyadic if exact else (lambda r, shape, scale: r.normal(0.0, scale, shape))
    net = Network()
    net.add_input("input", (1, 8, 8))
    net.add_neurons("g", (2, 8, 8), bias=gen(rng, (2, 8, 8), 0.1))
    net.add_neurons("out", (2, 6, 6), bias=gen(rng, (2, 6, 6), 0.1), threshold=0.75)
    net.connect("input", "g", [Conv2d(gen(rng, (2, 1, 1, 1), 0.8))], delay=2)
    net.connect("input", "out", [Conv2d(gen(rng, (2, 1, 3, 3), 0.6))])
    net.connect("g", "out", [Conv2d(gen(rng, (2, 2, 3, 3), 0.4))])
    return net


NETS = {"mlp": lambda rng, exact: mlp(rng, [30, 20, 5], exact=exact, delays=[0, 1]),
        "cnn": lambda rng, exact: small_cnn(rng, exact=exact),
        "two_input_paths": two_input_paths}


def intensities(rng, N, D):
    """Every kind of input: zero, certain, likely (p > 1/2) and unlikely, and samples with none likely / all likely."""
    x = rng.random((N, D))
    x[:, ::7] = 0.0
    x[:, 1::5] = 1.0
    x[0, :] = 0.9
    x[1, :] = 0.2
    x[2, :] = 0.5  # p = 1/2 is unlikely (plain delivery)
    return x


def plain_and_complement(net, x, T, steps, max_rate):
    """(complement, plain): Bernoulli input regenerated in the kernel, and the same trains given explicitly."""
    trains = encoding.bernoulli_trains(x, T, 3, max_rate=max_rate)
    return (simulate(net, x, T=T, seed=3, max_rate=max_rate, steps=steps, mode="sync"),
            simulate(net, trains=trains, steps=steps, mode="sync"))


@pytest.mark.parametrize("make", sorted(NETS))
@pytest.mark.parametrize("max_rate, extra_steps", [(1.0, 0), (0.7, 3), (1.0, -4)])  # -4: stops before T
def test_complement_delivery_equals_plain_delivery_exactly(make, max_rate, extra_steps):
    rng = np.random.default_rng(5)
    net = NETS[make](rng, True)
    comp = compile_network(net)
    from_input = comp.p_kind[comp.p_src == comp.input_index].tolist()
    assert from_input == {"mlp": [DENSE], "cnn": [RUNS], "two_input_paths": [RUNS, CSR]}[make]
    x = intensities(rng, 7, int(comp.sizes[comp.input_index]))
    T = 13
    a, b = plain_and_complement(net, x, T, T + comp.max_path_delay + extra_steps, max_rate)
    assert (x * max_rate > 0.5).any(axis=1).sum() >= 5  # most samples take the complement path
    for name in b.counts:
        np.testing.assert_array_equal(a.counts[name], b.counts[name], err_msg=name)
    for name in b.membrane:  # dyadic weights: every sum exact, so any order gives the same value (a zero
        # may come out as -0.0 in one order and +0.0 in the other)
        np.testing.assert_array_equal(a.membrane[name], b.membrane[name], err_msg=name)
    for name in b.sops:
        np.testing.assert_array_equal(a.sops[name], b.sops[name], err_msg=name)
    np.testing.assert_array_equal(a.prediction_trace, b.prediction_trace)
    assert sum(int(c.sum()) for name, c in a.counts.items() if name != "input") > 0


@pytest.mark.parametrize("make", sorted(NETS))
def test_complement_delivery_with_float_weights_differs_only_in_rounding(make):
    rng = np.random.default_rng(8)
    net = NETS[make](rng, False)
    comp = compile_network(net)
    x = intensities(rng, 7, int(comp.sizes[comp.input_index]))
    a, b = plain_and_complement(net, x, 11, 11 + comp.max_path_delay, 1.0)
    total = same = 0
    for name in b.counts:
        total += b.counts[name].size
        same += int((a.counts[name] == b.counts[name]).sum())
    assert same / total >= 0.999
    for name in b.membrane:  # a count may flip on a tie broken by rounding; the potentials stay that close
        close = np.isclose(a.membrane[name], b.membrane[name], rtol=0.0, atol=1e-9)
        assert close.mean() >= 0.99, name
