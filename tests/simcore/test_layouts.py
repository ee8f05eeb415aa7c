"""Kernel-side layouts: conv run tables (channel-last populations), float32 weight storage, async order."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simcore import AvgPool2d, Conv2d, Dense, Flatten, Network, compile_network, encoding, simulate
from simcore.compiler import BIN_RUNS_PER_KEY
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
            rp, rt, rw, rl, table, key, key_tgt, key_len, key_slot, src_grp, grp_rep = cp.runs
            assert int(rl.sum()) == cp.weights.size
            # a key is one (targets, length) pair: runs share a key <=> they have the same targets
            np.testing.assert_array_equal(key_tgt[key], rt)
            np.testing.assert_array_equal(key_len[key], rl)
            assert len(set(zip(key_tgt.tolist(), key_len.tolist()))) == key_tgt.size
            # key g owns count(key == g) slots from key_slot[g]: disjoint, and together every run's
            slots = np.diff(np.append(key_slot, rt.size))
            np.testing.assert_array_equal(slots, np.bincount(key, minlength=key_tgt.size))
            # a group is the sources with the very same runs, numbered by first source (its rep)
            n_src = rp.size - 1
            runs_of = [tuple(zip(rt[rp[i]:rp[i + 1]], rw[rp[i]:rp[i + 1]], rl[rp[i]:rp[i + 1]])) for i in range(n_src)]
            first = {}
            expect = np.array([first.setdefault(r, len(first)) for r in runs_of])
            np.testing.assert_array_equal(src_grp[:n_src], expect)
            np.testing.assert_array_equal(grp_rep, [runs_of.index(r) for r in first])
    # binned only where a key averages BIN_RUNS_PER_KEY runs (the MNIST CNN's 1-channel 5x5 input conv: 5)
    for net in (odd_cnn(rng), small_cnn(rng), lenet(rng)):
        comp = compile_network(net)
        for k, cp in enumerate(comp.projections):
            if comp.p_kind[k] == 2:
                binned = cp.runs[1].size >= BIN_RUNS_PER_KEY * cp.runs[6].size
                assert comp.tables.p_nkey[k] == (cp.runs[6].size if binned else 0)
                # merged where binned and two sources with runs share them; then the table is followed
                # by its copies scaled by 2, 4, ... up to the largest such group
                src_grp, grp_rep = cp.runs[9], cp.runs[10]
                sizes = np.bincount(src_grp[:-1])[np.diff(cp.runs[0])[grp_rep] > 0]
                tb, table = comp.tables, cp.runs[4]
                assert tb.p_ngrp[k] == (grp_rep.size if binned and sizes.max() > 1 else 0)
                if tb.p_ngrp[k]:
                    assert tb.p_gbits[k] == int(sizes.max()).bit_length() and tb.p_tlen[k] == table.size
                    for b in range(tb.p_gbits[k]):
                        w = tb.w_all[tb.p_woff[k] + b * table.size:tb.p_woff[k] + (b + 1) * table.size]
                        np.testing.assert_array_equal(w, 2.0 ** b * table)


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


def lenet(rng, exact=True):
    """The trained MNIST CNN's structure in small: conv runs from a two-channel input (ten runs per
    target run: binned), pooled conv runs (fewer keys, many spikes on the same targets) into c2,
    dense output."""
    gen = dyadic if exact else (lambda r, shape, scale: r.normal(0.0, scale, shape))
    net = Network()
    net.add_input("input", (2, 14, 14))
    net.add_neurons("c1", (4, 10, 10), bias=gen(rng, (4, 10, 10), 0.1), threshold=0.75)
    net.add_neurons("c2", (6, 3, 3), threshold=0.5)
    net.add_neurons("out", (3,))
    net.connect("input", "c1", [Conv2d(gen(rng, (4, 2, 5, 5), 0.2) + 0.03125)])
    net.connect("c1", "c2", [AvgPool2d(2), Conv2d(gen(rng, (6, 4, 3, 3), 0.5))])
    net.connect("c2", "out", [Flatten(), Dense(gen(rng, (3, 54), 0.5))])
    return net


def test_binned_conv_runs_equal_reference_over_samples():
    # the sync kernel bins a step's conv runs by target (one scratch for every projection, left zeroed
    # after each): c2's projection has fewer keys than c1's, samples follow each other in one chunk, and
    # the Bernoulli input takes the complement path (the runs of likely inputs, then the surprises)
    rng = np.random.default_rng(21)
    net = lenet(rng)
    # pooled partners that spike in the same step share their rows (c1 -> c2 merged, the input's not)
    comp = compile_network(net)
    tb = comp.tables
    assert tb.p_kind.tolist() == [2, 2, 1] and 0 < tb.p_nkey[1] < tb.p_nkey[0]
    assert tb.p_ngrp.tolist() == [0, 4 * 5 * 5, 0] and tb.p_gbits[1] == 3
    x = rng.random((24, 392)) * (rng.random((24, 392)) < 0.6)  # 8 chunks a thread: 3 samples each
    trains = encoding.bernoulli_trains(x, 9, 4)
    counts, mem, raster = reference(net, trains, raster=True)
    from_trains = simulate(net, trains=trains, threads=1, record_raster=True)
    _assert_same(from_trains, counts, mem, raster)  # channel-last buckets come back in ascending order
    for res in (from_trains, simulate(net, x, T=9, seed=4, threads=1)):
        assert res.counts["c2"].sum() > 20
        _assert_same(res, counts, mem)
    # every number of partners spiking in one step occurs (1 to 4: one row, two rows for 3)
    grp = comp.projections[1].runs[9]
    together = [np.unique(t * 1000 + grp[i], return_counts=True)[1] for t, i in from_trains.raster["c1"]]
    assert set(np.concatenate(together).tolist()) == {1, 2, 3, 4}


def test_binned_conv_runs_with_float_weights_differ_only_in_rounding():
    # binning changes the order in which a target's float additions are summed (the freedom the sync
    # contract leaves): potentials agree to rounding, counts here exactly
    rng = np.random.default_rng(22)
    net = lenet(rng, exact=False)
    trains = random_trains(rng, 4, 9, 392, p=0.5)
    counts, mem = reference(net, trains)
    res = simulate(net, trains=trains)
    assert res.counts["c2"].sum() > 20
    for name, c in counts.items():
        np.testing.assert_array_equal(res.counts[name], c, err_msg=name)
    for name, m in mem.items():
        np.testing.assert_allclose(res.membrane[name], m, rtol=1e-12, atol=1e-12, err_msg=name)


def test_pooled_input_merged_through_the_complement_path():
    # a pooled conv straight from the input: the sync kernel sums the likely inputs' rows, then adds the
    # surprises and subtracts (negated copy, its scaled copies too) the likely inputs that did not spike,
    # each with pooled partners merged
    rng = np.random.default_rng(23)
    net = Network()
    net.add_input("input", (1, 16, 16))
    net.add_neurons("c1", (3, 6, 6), threshold=0.5)
    net.add_neurons("out", (2,))
    net.connect("input", "c1", [AvgPool2d(2), Conv2d(dyadic(rng, (3, 1, 3, 3), 0.4))])
    net.connect("c1", "out", [Flatten(), Dense(dyadic(rng, (2, 108), 0.5))])
    tb = compile_network(net).tables
    assert tb.p_kind[0] == 2 and tb.p_nkey[0] > 0 and tb.p_ngrp[0] == 64 and tb.p_wneg[0] >= 0
    x = rng.random((6, 256)) * (rng.random((6, 256)) < 0.8)  # likely and unlikely pixels
    res = simulate(net, x, T=12, seed=3, threads=1)
    counts, mem = reference(net, encoding.bernoulli_trains(x, 12, 3))
    assert res.counts["c1"].sum() > 20
    _assert_same(res, counts, mem)
