"""Async delivery passes against the event-by-event reference, with float weights (sums depend on
the order of the additions, so any regrouping of a neuron's adds shows in the potentials).

Dense rows go eight, then four per pass, the last 0-3 one per pass (binary spikes), graded input one
per pass; conv runs are added with one "reached fire_at" test per run, a run that hit searched by
flag bytes; many firings of one spike are sorted by heapsort (``simcore.delivery``)."""
import itertools

import numba
import numpy as np
import pytest

from simcore import AvgPool2d, Conv2d, Dense, Network, NeuronParams, simulate
from simcore.delivery import sort_firings
from simcore_reference import reference_async

NEURONS = [NeuronParams(1.0, ">=", "subtract", 0.0, 1.0, "initial", "leaked"),
           NeuronParams(0.75, ">", "to_value", -0.25, 0.75, "current", "leaked"),
           NeuronParams(1.0, ">=", "subtract", 0.0, 0.5, "initial", "unleaked")]


def _assert_same(res, counts, mem, raster):
    """Counts, final potentials bit for bit, and every bucket's firing order."""
    for name, c in counts.items():
        np.testing.assert_array_equal(res.counts[name], c, err_msg=name)
    for name, m in mem.items():
        np.testing.assert_array_equal(res.membrane[name].view(np.int64), m.view(np.int64), err_msg=name)
    for name, per in raster.items():
        for s, (t, i) in enumerate(per):
            np.testing.assert_array_equal(res.raster[name][s][0], t, err_msg=f"{name} times, sample {s}")
            np.testing.assert_array_equal(res.raster[name][s][1], i, err_msg=f"{name} order, sample {s}")


def _dense_net(rng, nr: NeuronParams) -> Network:
    net = Network()
    net.add_input("input", (29,))
    net.add_neurons("h", (45,), nr, bias=rng.normal(0.0, 0.2, 45))
    net.add_neurons("out", (7,), nr)
    net.connect("input", "h", [Dense(rng.normal(0.12, 0.35, (45, 29)))])
    net.connect("h", "out", [Dense(rng.normal(0.05, 0.3, (7, 45)))])
    return net


@pytest.mark.parametrize("nr", NEURONS)
def test_async_dense_every_batch_size_with_float_weights_equals_the_reference(nr):
    """Step t of sample s carries exactly k = 0..27 input spikes (every mix of eight-row, four-row
    and single-row passes), with neurons crossing threshold inside each kind of pass."""
    rng = np.random.default_rng(31)
    net = _dense_net(rng, nr)
    trains = np.zeros((2, 28, 29), dtype=bool)
    for s, t in itertools.product(range(2), range(28)):
        trains[s, t, rng.permutation(29)[:27 - t if s else t]] = True
    res = simulate(net, trains=trains, mode="async", record_raster=True)
    assert res.counts["h"].sum() > 200 and res.counts["out"].sum() > 0
    _assert_same(res, *reference_async(net, trains, steps=res.steps))


def test_async_dense_graded_input_with_float_weights_equals_the_reference():
    """Analog input: one graded row per pass (V + x * w)."""
    rng = np.random.default_rng(32)
    net = _dense_net(rng, NEURONS[0])
    x = rng.random((3, 29)) * (rng.random((3, 29)) < 0.6)
    res = simulate(net, x, T=9, encoding="analog", mode="async", record_raster=True)
    assert res.counts["h"].sum() > 50
    _assert_same(res, *reference_async(net, np.broadcast_to(x[:, None, :], (3, 9, 29)), steps=res.steps))


@pytest.mark.parametrize("nr", NEURONS)
def test_async_conv_runs_with_float_weights_equal_the_reference(nr):
    """Conv runs (and pooled conv runs, merged across kernel columns) into channel-last
    populations: runs that reach fire_at, targets that fired and stay above it, many firings of one
    spike (heapsort), carry-over."""
    rng = np.random.default_rng(33)
    net = Network()
    net.add_input("input", (2, 10, 10))
    net.add_neurons("c1", (6, 8, 8), nr, bias=rng.normal(0.0, 0.2, 6 * 64))
    net.add_neurons("c2", (5, 2, 2), nr)
    net.add_neurons("out", (3,), nr)
    net.connect("input", "c1", [Conv2d(rng.normal(0.25, 0.4, (6, 2, 3, 3)))])
    net.connect("c1", "c2", [AvgPool2d(2), Conv2d(rng.normal(0.1, 0.5, (5, 6, 3, 3)))])
    net.connect("c2", "out", [Dense(rng.normal(0.2, 0.4, (3, 20)))])
    trains = rng.random((2, 8, 200)) < 0.35
    res = simulate(net, trains=trains, mode="async", record_raster=True)
    assert res.counts["c1"].sum() > 500 and res.counts["c2"].sum() > 20
    _assert_same(res, *reference_async(net, trains, steps=res.steps))


@numba.njit
def _sorted(a, n):
    sort_firings(a, n)
    return a


@pytest.mark.parametrize("n", [*range(0, 40), 100, 257, 1000])
def test_sort_firings_sorts_the_prefix_only(n):
    """Insertion sort up to 24 values, heapsort above; values after the first n stay."""
    rng = np.random.default_rng(n)
    a = rng.integers(0, 50 if n % 2 else 5000, n + 4).astype(np.int32)  # with and without repeats
    out = _sorted(a.copy(), n)
    np.testing.assert_array_equal(out[:n], np.sort(a[:n]))
    np.testing.assert_array_equal(out[n:], a[n:])


def test_async_pooled_pairs_with_float_weights_equal_the_reference():
    """c1 neurons pooled into one c2 input that fire from the same input spike are consecutive in
    c1's bucket and reach c2 through the same runs, c2 targets reaching threshold on the first or
    the second of them (the case a two-spike pass, as sync has, must keep: its (V + w) + w rounding
    and the first spike's firings first; such a pass was measured and not kept, 17.9)."""
    rng = np.random.default_rng(34)
    net = Network()
    net.add_input("input", (1, 7, 7))
    net.add_neurons("c1", (2, 6, 6), NEURONS[0])
    net.add_neurons("c2", (4, 2, 2), NeuronParams(0.9, ">=", "subtract", 0.0, 1.0, "initial", "leaked"))
    net.add_neurons("out", (2,))
    net.connect("input", "c1", [Conv2d(rng.normal(1.2, 0.3, (2, 1, 2, 2)))])
    net.connect("c1", "c2", [AvgPool2d(2), Conv2d(rng.normal(0.35, 0.3, (4, 2, 2, 2)))])
    net.connect("c2", "out", [Dense(rng.normal(0.3, 0.2, (2, 16)))])
    trains = rng.random((3, 10, 49)) < 0.3
    res = simulate(net, trains=trains, mode="async", record_raster=True)
    assert res.counts["c2"].sum() > 100
    _assert_same(res, *reference_async(net, trains, steps=res.steps))
