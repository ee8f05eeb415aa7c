"""Kernel-side layouts: conv run tables (channel-last populations), float32 weight storage, async order."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simcore import AvgPool2d, Conv2d, Dense, Flatten, Network, compile_network, simulate
from simcore_helpers import dyadic, mlp, random_trains, small_cnn
from simcore_reference import reference, reference_async

FAST = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_same(res, counts, mem, raster=None):
    for name, c in counts.items():
        np.testing.assert_array_equal(res.counts[name], c, err_msg=name)
    for name, m in mem.items():
        np.testing.assert_array_equal(res.membrane[name], m, err_msg=name)
    if raster is not None:
        for name, per in raster.items():
            for s, (t, i) in enumerate(per):
                np.testing.assert_array_equal(res.raster[name][s][0], t, err_msg=f"{name} times, sample {s}")
                np.testing.assert_array_equal(res.raster[name][s][1], i, err_msg=f"{name} order, sample {s}")


def odd_cnn(rng, exact=True, pool_stride=None):
    """Strided/padded conv, a pool that drops an edge column (or overlaps), two input channels.

    Pools are 2x2 so every composed weight stays dyadic (sums exact in any order)."""
    gen = dyadic if exact else (lambda r, shape, scale: r.normal(0.0, scale, shape))
    net = Network()
    net.add_input("input", (2, 11, 9))
    net.add_neurons("c1", (5, 6, 5), bias=gen(rng, (5, 6, 5), 0.1), threshold=0.75)
    c2 = (3, 3, 2) if pool_stride is None else (3, 5, 4)
    net.add_neurons("c2", c2, reset="zero")
    net.add_neurons("out", (4,), bias_mode="current", bias=gen(rng, (4,), 0.1))
    net.connect("input", "c1", [Conv2d(gen(rng, (5, 2, 3, 3), 0.6), stride=2, padding=1)])
    if pool_stride is None:  # (5, 6, 5) -> pool 2 drops the last column: (5, 3, 2)
        net.connect("c1", "c2", [AvgPool2d(2), Conv2d(gen(rng, (3, 5, 1, 1), 1.0))])
    else:  # overlapping pool (5, 5, 4), conv 1x1 -> (3, 5, 4)
        net.connect("c1", "c2", [AvgPool2d(2, stride=pool_stride), Conv2d(gen(rng, (3, 5, 1, 1), 1.0))])
    net.connect("c2", "out", [Flatten(), Dense(gen(rng, (4, int(np.prod(c2))), 1.0))])
    net.connect("input", "out", [AvgPool2d(2), Flatten(), Dense(gen(rng, (4, 40), 0.5))], delay=1)
    return net


def test_compiled_layouts():
    rng = np.random.default_rng(0)
    comp = compile_network(small_cnn(rng))
    assert list(comp.p_kind) == [2, 1, 1]  # c1 -> c2 composes to > 50% of all pairs: dense
    assert list(comp.pop_perm) == [0, 1, 0, 0]
    assert comp.w_all.dtype == np.float32  # dyadic weights: float32 storage is lossless
    assert compile_network(small_cnn(rng, exact=False)).w_all.dtype == np.float64
    tb = comp.tables  # the input's projection also stored negated (the sync complement delivery), no other
    size = comp.projections[0].runs[4].size
    assert tb.p_wneg.tolist()[1:] == [-1, -1] and tb.p_wneg[0] >= 0
    np.testing.assert_array_equal(tb.w_all[tb.p_wneg[0]:tb.p_wneg[0] + size], -tb.w_all[tb.p_woff[0]:tb.p_woff[0] + size])
    # overlapping pooling sums weights: stays CSR, target population in C order
    comp = compile_network(odd_cnn(rng, pool_stride=1))
    assert comp.p_kind[comp.p_tgt == comp.names.index("c2")].tolist() == [0]
    assert comp.pop_perm[comp.names.index("c2")] == 0 and comp.pop_perm[comp.names.index("c1")] == 1
    comp = compile_network(odd_cnn(rng))
    assert comp.pop_perm[comp.names.index("c2")] == 1  # pooled conv runs
    assert comp.p_kind.tolist() == [2, 2, 1, 1]
    for cp in comp.projections:  # the run tables expand to the CSR table
        if cp.runs is not None:
            rp, rt, rw, rl, table, grp = cp.runs
            assert int(rl.sum()) == cp.weights.size
            for i in range(cp.n_src):  # equal group ids <=> identical runs
                for i2 in range(i + 1, min(i + 12, cp.n_src)):
                    same = all(np.array_equal(a[rp[i]:rp[i + 1]], a[rp[i2]:rp[i2 + 1]]) for a in (rt, rw, rl))
                    assert (grp[i] == grp[i2]) == same


@FAST
@given(seed=st.integers(0, 2**16), pool_stride=st.sampled_from([None, 1]),
       reset=st.sampled_from(["subtract", "zero"]))
def test_odd_cnn_sync_and_async_equal_references(seed, pool_stride, reset):
    rng = np.random.default_rng(seed)
    net = odd_cnn(rng, pool_stride=pool_stride)
    trains = random_trains(rng, 2, 6, net.size("input"), p=0.5)
    res = simulate(net, trains=trains, mode="sync")
    _assert_same(res, *reference(net, trains, steps=res.steps))
    res = simulate(net, trains=trains, mode="async", record_raster=True)
    _assert_same(res, *reference_async(net, trains, steps=res.steps))


@pytest.mark.parametrize("bias_mode", ["initial", "current"])
def test_async_cnn_equals_reference_with_order(bias_mode):
    rng = np.random.default_rng(12)
    net = small_cnn(rng, bias_mode=bias_mode)
    trains = random_trains(rng, 3, 8, 100, p=0.4)
    res = simulate(net, trains=trains, mode="async", record_raster=True)
    assert res.counts["c1"].sum() > 0 and res.counts["c2"].sum() > 0
    _assert_same(res, *reference_async(net, trains))


@pytest.mark.parametrize("exact", [True, False])
def test_async_mlp_equals_reference_with_order(exact):
    rng = np.random.default_rng(13)
    net = mlp(rng, [40, 70, 30, 5], exact=exact, reset="zero")
    trains = random_trains(rng, 3, 10, 40, p=0.4)
    res = simulate(net, trains=trains, mode="async", record_raster=True)
    assert res.counts["l1"].sum() > 0
    _assert_same(res, *reference_async(net, trains))


def test_analog_cnn_runs_equal_reference():
    rng = np.random.default_rng(14)
    net = small_cnn(rng)
    x = np.round(rng.random((3, 100)) * 8) / 8
    res = simulate(net, x, T=6, encoding="analog")
    inputs = np.broadcast_to(x[:, None, :], (3, 6, 100))
    _assert_same(res, *reference(net, inputs))
    res = simulate(net, x, T=6, encoding="analog", mode="async", record_raster=True)
    _assert_same(res, *reference_async(net, inputs))


def test_pooled_pairs_in_one_pass_keep_the_rounding_order():
    # c1 neurons pooled into one input that fire in the same step are delivered in one pass,
    # (V + w) + w; with float weights (sums depend on the order) the conv runs into a channel-last c2
    # must equal the CSR delivery (c2 as the output population: C order, synapse by synapse)
    rng = np.random.default_rng(21)
    w1 = rng.normal(0.0, 1.0, (4, 1, 3, 3)) + 1.5
    w2 = rng.normal(0.0, 0.3, (3, 4, 3, 3))
    w3 = rng.normal(0.0, 1.0, (2, 108))

    def build(with_out: bool) -> Network:
        net = Network()
        net.add_input("input", (1, 18, 18))
        net.add_neurons("c1", (4, 16, 16))
        net.add_neurons("c2", (3, 6, 6), threshold=3.0)
        net.connect("input", "c1", [Conv2d(w1)])
        net.connect("c1", "c2", [AvgPool2d(2), Conv2d(w2)])
        if with_out:
            net.add_neurons("out", (2,))
            net.connect("c2", "out", [Flatten(), Dense(w3)])
        return net

    runs, csr = build(True), build(False)
    assert compile_network(runs).p_kind[1] == 2 and compile_network(csr).p_kind[1] == 0
    trains = random_trains(rng, 3, 12, 324, p=0.7)
    a, b = simulate(runs, trains=trains), simulate(csr, trains=trains)
    assert a.counts["c1"].sum() > 500
    for name in ("c1", "c2"):
        np.testing.assert_array_equal(a.counts[name], b.counts[name])
        np.testing.assert_array_equal(a.membrane[name].view(np.int64), b.membrane[name].view(np.int64))
