"""The Brian2 builder follows simcore.neuron: every combination of the neuron options on a tiny net.

Brian2 (default schedule: one step of lag per projection) runs input -> h -> o with the neuron
models given as NeuronParams; the reference is :func:`simcore.neuron.run`, layer by layer, with the
same one-step lag. Weights, biases, beta and v_reset are coarse dyadic numbers, so potentials hit
the threshold exactly (the ``>=`` / ``>`` tests differ) and every sum is exact: spike times and
final potentials must be identical. The grid uses Brian2's numpy target (no compilation); one case
runs on cython with SPIKECOUNT_TEST_CYTHON=1 (cold compilation takes minutes).
"""
from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

pytest.importorskip("brian2")

from analysis.brian2_net import run_brian2  # noqa: E402
from simcore import Dense, Network  # noqa: E402
from simcore.neuron import NeuronParams, run  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # brian2 uses old pyparsing names

RESETS = (("subtract", 0.0, "leaked"), ("subtract", 0.0, "unleaked"), ("to_value", -0.25, "leaked"),
          ("zero", 0.0, "leaked"))
GRID = [NeuronParams(threshold=1.0, threshold_test=test, reset=reset, v_reset=v_reset, beta=beta, bias_mode=bias,
                     reset_leak=leak)
        for test, (reset, v_reset, leak), beta, bias in itertools.product(
            (">=", ">"), RESETS, (1.0, 0.5), ("initial", "current"))]
K, T, SIZES = 3, 10, (5, 4, 3)


def _net(seed=3):  # seed 3: every option changes the spike trains (checked below)
    rng = np.random.default_rng(seed)
    ws = [rng.integers(-2, 5, size=(n, m)) / 4 for m, n in zip(SIZES[:-1], SIZES[1:])]
    bs = [rng.integers(-2, 5, size=n) / 8 for n in SIZES[1:]]
    net = Network()
    net.add_input("input", (SIZES[0],))
    for name, prev, w, b in zip(("h", "o"), ("input", "h"), ws, bs):
        net.add_neurons(name, (len(b),), bias=b)  # the paper's neuron; run_brian2 gets the grid's
        net.connect(prev, name, [Dense(w)])
    trains = rng.random((K, T, SIZES[0])) < 0.5
    return net, ws, bs, trains


def _reference(neuron, ws, bs, trains, steps):
    """simcore.neuron.run layer by layer; a spike at step t reaches the next layer at step t + 1."""
    spikes, out = [], []
    for k in range(K):
        s = np.zeros((steps, SIZES[0]))
        s[:T] = trains[k]
        per_layer = []
        for w, b in zip(ws, bs):
            current = np.zeros((steps, len(b)))
            current[1:] = s[:-1] @ w.T
            s, v = run(neuron, current, b)
            per_layer.append(s)
        spikes.append(per_layer)
        out.append(v)
    return spikes, np.array(out)


def _check(neuron, target, seed=3):
    net, ws, bs, trains = _net(seed)
    steps = T + 2
    res = run_brian2(net, T, steps, trains=trains, target=target, neurons={"h": neuron, "o": neuron})
    spikes, v_end = _reference(neuron, ws, bs, trains, steps)
    for layer, name in enumerate(("h", "o")):
        smp, ts, ii = res["events"][name]
        got = np.zeros((K, steps, len(bs[layer])), dtype=bool)
        got[smp, ts, ii] = True
        want = np.array([spikes[k][layer] for k in range(K)])
        assert np.array_equal(got, want), (name, neuron)
        assert np.array_equal(res["counts"][name], want.sum(1)), (name, neuron)
    assert np.array_equal(res["v_end"], v_end), neuron
    return sum(int(res["counts"][n].sum()) for n in ("h", "o"))


def test_every_option_combination_matches_simcore_neuron():
    total = [_check(neuron, "numpy") for neuron in GRID]
    assert min(total) > 0  # every case spikes: the comparison is not vacuous


def test_the_grid_tells_the_options_apart():
    """On this net every option changes the spike trains (so the grid checks each of them); the
    subtraction's timing at beta = 1 changes only the final potentials (the spikes are the same)."""
    net, ws, bs, trains = _net()
    runs = {p: _reference(p, ws, bs, trains, T + 2) for p in GRID}
    trains_of = {p: [s for per_sample in runs[p][0] for s in per_sample] for p in GRID}
    same = lambda a, b: all(np.array_equal(x, y) for x, y in zip(trains_of[a], trains_of[b]))  # noqa: E731
    for a, b in itertools.combinations(GRID, 2):
        if (a.reset, a.v_reset) != ("subtract", 0.0) or (b.reset, b.v_reset) != ("subtract", 0.0):
            continue  # the reset is compared below
        if a.beta == b.beta == 1.0 and (a.threshold_test, a.bias_mode) == (b.threshold_test, b.bias_mode):
            assert same(a, b) and not np.array_equal(runs[a][1], runs[b][1]), (a, b)
            continue
        assert not same(a, b), (a, b)
    for p in GRID:
        q = NeuronParams(p.threshold, p.threshold_test, "to_value", -0.25, p.beta, p.bias_mode)  # leaked
        trains_of[q] = [s for per_sample in _reference(q, ws, bs, trains, T + 2)[0] for s in per_sample]
        assert p.reset == "to_value" or not same(p, q), p


@pytest.mark.skipif(os.environ.get("SPIKECOUNT_TEST_CYTHON") != "1", reason="cold cython compile takes minutes")
def test_cython_target_leaky_strict_reset_to_value_and_unleaked():
    _check(NeuronParams(threshold_test=">", reset="to_value", v_reset=-0.25, beta=0.5, bias_mode="current"), "cython")
    _check(NeuronParams(threshold_test=">", beta=0.5, bias_mode="current", reset_leak="unleaked"), "cython")


def test_output_only_monitoring_gives_the_same_output():
    """monitor="output" (the timing driver of benchmarks/brian2_ratio.py) records only the output
    population, with the same counts, events and final potentials as a fully monitored run."""
    net, _, _, trains = _net()
    full, lean = (run_brian2(net, T, T + 2, trains=trains, target="numpy", monitor=m) for m in ("all", "output"))
    assert set(lean["counts"]) == set(lean["events"]) == {"o"} and set(full["counts"]) == {"input", "h", "o"}
    assert np.array_equal(lean["counts"]["o"], full["counts"]["o"]) and full["counts"]["o"].sum() > 0
    assert all(np.array_equal(a, b) for a, b in zip(lean["events"]["o"], full["events"]["o"]))
    assert np.array_equal(lean["v_end"], full["v_end"])
    with pytest.raises(ValueError, match="monitor must be"):
        run_brian2(net, T, T + 2, trains=trains, target="numpy", monitor="hidden")
