"""Independent plain-numpy clock-driven reference for simcore (no compiled tables, no numba).

Every op of a projection chain is turned into a dense matrix with explicit loops, the chain into
their product, and the network is run with the textbook clock loop::

    for t: for population in topological order:
        V, s = simcore.neuron.step(params, V, sum of M @ s_src(t - delay), bias, s(t - 1))
"""
from __future__ import annotations

import numpy as np

from simcore import neuron


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def op_matrix(op, in_shape):
    """(matrix (n_out, n_in), out_shape) of one op, built with explicit loops."""
    kind = type(op).__name__
    n_in = _prod(in_shape)
    if kind == "Flatten":
        return np.eye(n_in), (n_in,)
    if kind == "Dense":
        w = np.asarray(op.weight, dtype=np.float64)
        assert w.shape[1] == n_in
        return w.copy(), (w.shape[0],)
    if kind == "AvgPool2d":
        c, h, wd = in_shape
        k, s = op.kernel, op.stride
        ho, wo = (h - k) // s + 1, (wd - k) // s + 1
        m = np.zeros((c * ho * wo, n_in))
        for ch in range(c):
            for y in range(ho):
                for x in range(wo):
                    for i in range(k):
                        for j in range(k):
                            m[(ch * ho + y) * wo + x, (ch * h + y * s + i) * wd + x * s + j] += 1.0 / (k * k)
        return m, (c, ho, wo)
    if kind == "Conv2d":
        w = np.asarray(op.weight, dtype=np.float64)
        co, ci, kh, kw = w.shape
        c, h, wd = in_shape
        assert c == ci
        s, pad = op.stride, op.padding
        ho, wo = (h + 2 * pad - kh) // s + 1, (wd + 2 * pad - kw) // s + 1
        m = np.zeros((co * ho * wo, n_in))
        for o in range(co):
            for y in range(ho):
                for x in range(wo):
                    for cc in range(ci):
                        for i in range(kh):
                            for j in range(kw):
                                iy, ix = y * s + i - pad, x * s + j - pad
                                if 0 <= iy < h and 0 <= ix < wd:
                                    m[(o * ho + y) * wo + x, (cc * h + iy) * wd + ix] += w[o, cc, i, j]
        return m, (co, ho, wo)
    raise ValueError(kind)


def chain_matrix(ops, in_shape):
    m = np.eye(_prod(in_shape))
    shape = tuple(in_shape)
    for op in ops:
        mo, shape = op_matrix(op, shape)
        m = mo @ m
    return m, shape


def _incoming(net):
    names = net.populations
    mats = {(p.src, p.tgt): (chain_matrix(p.ops, net.shape(p.src))[0], p.delay) for p in net.projections}
    return {n: [(s, *mats[(s, n)]) for s in names if (s, n) in mats] for n in names}


def reference(net, inputs, steps=None, T=None, raster=False):
    """Clock-driven run: every population, step by step in topological order, is advanced by
    :func:`simcore.neuron.step` with the current ``sum of M @ s_src(t - delay)``.
    inputs: (N, T, D) float (0/1 spikes or analog values), graded.

    Returns (counts, membrane) dicts keyed by population (input counts = non-zero events), and with
    ``raster=True`` also raster[name][s] = (times, indices): every step's spikes in ascending index."""
    inputs = np.asarray(inputs, dtype=np.float64)
    N, T, D = inputs.shape
    names = net.populations
    inp = net.input_population
    incoming = _incoming(net)
    if steps is None:
        steps = T
    counts = {n: np.zeros((N, net.size(n)), dtype=np.int64) for n in names}
    membrane = {n: np.zeros((N, net.size(n))) for n in names if n != inp}
    rasters = {n: [] for n in names}
    for s in range(N):
        V, hist = {}, {n: np.zeros((steps, net.size(n))) for n in names}
        for n in names:
            if n != inp:
                pop = net.population(n)
                V[n] = neuron.initial_potential(pop.neuron, pop.bias)
        for t in range(steps):
            for n in names:
                if n == inp:
                    hist[n][t] = inputs[s, t] if t < T else 0.0
                    counts[n][s] += hist[n][t] != 0
                    continue
                pop = net.population(n)
                current = np.zeros(net.size(n))
                for src, m, d in incoming[n]:
                    if t - d >= 0:
                        current = current + m @ hist[src][t - d]
                fired = hist[n][t - 1] != 0 if t else np.zeros(net.size(n), dtype=bool)
                V[n], spk = neuron.step(pop.neuron, V[n], current, pop.bias, fired)
                hist[n][t] = spk
                counts[n][s] += spk
        for n in names:
            if n != inp:
                membrane[n][s] = V[n]
            times, idx = np.nonzero(hist[n])
            rasters[n].append((times.astype(np.int32), idx.astype(np.int32)))
    return (counts, membrane, rasters) if raster else (counts, membrane)


def reference_async(net, inputs, steps=None):
    """Event-by-event run of the async contract, one target at a time (plain Python loops).

    Step t, population by population in topological order: leak (V <- beta V), for reset_leak
    "unleaked" the threshold off the neurons that fired at t - 1, bias current, carry-over check of every neuron (ascending), then every delivered spike (incoming projections in
    topological order of the source, each bucket in emission order) to each target in ascending
    index, checking the target right after its increment (fires once per step). The threshold test
    and reset follow the population's NeuronParams. Returns (counts, membrane, raster) where
    raster[name][s] is (times, indices) in emission order."""
    inputs = np.asarray(inputs, dtype=np.float64)
    N, T, D = inputs.shape
    names = net.populations
    inp = net.input_population
    incoming = _incoming(net)
    if steps is None:
        steps = T
    counts = {n: np.zeros((N, net.size(n)), dtype=np.int64) for n in names}
    membrane = {n: np.zeros((N, net.size(n))) for n in names if n != inp}
    raster = {n: [] for n in names}
    for s in range(N):
        V, buckets = {}, {n: [[] for _ in range(steps)] for n in names}
        for n in names:
            if n != inp:
                pop = net.population(n)
                V[n] = neuron.initial_potential(pop.neuron, pop.bias)
        for t in range(steps):
            for n in names:
                if n == inp:
                    if t < T:
                        buckets[n][t] = [int(i) for i in np.nonzero(inputs[s, t])[0]]
                        counts[n][s] += inputs[s, t] != 0
                    continue
                pop = net.population(n)
                nr = pop.neuron
                v = V[n]
                fired = np.zeros(pop.size, dtype=bool)
                bucket = buckets[n][t]

                def crossed(j):
                    return v[j] > nr.threshold if nr.threshold_test == ">" else v[j] >= nr.threshold

                def fire(j):
                    if nr.reset == "to_value":
                        v[j] = nr.v_reset
                    elif not nr.unleaked:  # unleaked: taken off at the next step, after its leak
                        v[j] = v[j] - nr.threshold
                    fired[j] = True
                    counts[n][s, j] += 1
                    bucket.append(j)

                v *= nr.beta
                if nr.unleaked and t:
                    for j in buckets[n][t - 1]:
                        v[j] -= nr.threshold
                if nr.bias_mode == "current":
                    v += pop.bias
                for j in range(pop.size):
                    if crossed(j):
                        fire(j)
                for src, m, d in incoming[n]:
                    if t - d < 0:
                        continue
                    for i in buckets[src][t - d]:
                        x = inputs[s, t - d, i] if src == inp else 1.0
                        for j in np.nonzero(m[:, i])[0]:
                            v[j] += x * m[j, i]
                            if crossed(j) and not fired[j]:
                                fire(j)
        for n in names:
            if n != inp:
                membrane[n][s] = V[n]
            times = np.concatenate([np.full(len(buckets[n][t]), t) for t in range(steps)]).astype(np.int32)
            idx = np.concatenate([np.asarray(buckets[n][t], dtype=np.int64) for t in range(steps)]).astype(np.int32)
            raster[n].append((times, idx))
    return counts, membrane, raster
