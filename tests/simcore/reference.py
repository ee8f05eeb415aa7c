"""Independent plain-numpy clock-driven reference for simcore (no compiled tables, no numba).

Every op of a projection chain is turned into a dense matrix with explicit loops, the chain into
their product, and the network is run with the textbook clock loop::

    for t: for population in topological order:
        V += bias (current mode); V += M @ s_src(t - delay) for each incoming projection
        s = V >= theta; V -= theta * s (or V[s] = 0)
"""
from __future__ import annotations

import numpy as np


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


def reference(net, inputs, steps=None, T=None):
    """Clock-driven run. inputs: (N, T, D) float (0/1 spikes or analog values), graded.

    Returns (counts, membrane) dicts keyed by population (input counts = non-zero events)."""
    inputs = np.asarray(inputs, dtype=np.float64)
    N, T, D = inputs.shape
    names = net.populations
    inp = net.input_population
    nodes = net.graph.nodes
    mats = {}
    for p in net.projections:
        mats[(p.src, p.tgt)] = (chain_matrix(p.ops, net.shape(p.src))[0], p.delay)
    incoming = {n: [(s, *mats[(s, n)]) for s in names if (s, n) in mats] for n in names}
    if steps is None:
        steps = T
    counts = {n: np.zeros((N, net.size(n)), dtype=np.int64) for n in names}
    membrane = {n: np.zeros((N, net.size(n))) for n in names if n != inp}
    for s in range(N):
        V, hist = {}, {n: np.zeros((steps, net.size(n))) for n in names}
        for n in names:
            if n != inp:
                a = nodes[n]
                b = np.broadcast_to(a["bias"].ravel(), (net.size(n),)).astype(np.float64)
                V[n] = b.copy() if a["bias_mode"] == "initial" else np.zeros(net.size(n))
        for t in range(steps):
            for n in names:
                if n == inp:
                    hist[n][t] = inputs[s, t] if t < T else 0.0
                    counts[n][s] += hist[n][t] != 0
                    continue
                a = nodes[n]
                th = np.broadcast_to(a["threshold"].ravel(), (net.size(n),))
                if a["bias_mode"] == "current":
                    V[n] += np.broadcast_to(a["bias"].ravel(), (net.size(n),))
                for src, m, d in incoming[n]:
                    if t - d >= 0:
                        V[n] += m @ hist[src][t - d]
                spk = V[n] >= th
                if a["reset"] == "subtract":
                    V[n] = np.where(spk, V[n] - th, V[n])
                else:
                    V[n] = np.where(spk, 0.0, V[n])
                hist[n][t] = spk
                counts[n][s] += spk
        for n in names:
            if n != inp:
                membrane[n][s] = V[n]
    return counts, membrane


def reference_async(net, inputs, steps=None):
    """Event-by-event run of the async contract, one target at a time (plain Python loops).

    Step t, population by population in topological order: bias current, carry-over check of every
    neuron (ascending), then every delivered spike (incoming projections in topological order of the
    source, each bucket in emission order) to each target in ascending index, checking the target right
    after its increment (fires once per step). Returns (counts, membrane, raster) where raster[name][s]
    is (times, indices) in emission order."""
    inputs = np.asarray(inputs, dtype=np.float64)
    N, T, D = inputs.shape
    names = net.populations
    inp = net.input_population
    nodes = net.graph.nodes
    mats = {}
    for p in net.projections:
        mats[(p.src, p.tgt)] = (chain_matrix(p.ops, net.shape(p.src))[0], p.delay)
    incoming = {n: [(s, *mats[(s, n)]) for s in names if (s, n) in mats] for n in names}
    if steps is None:
        steps = T
    counts = {n: np.zeros((N, net.size(n)), dtype=np.int64) for n in names}
    membrane = {n: np.zeros((N, net.size(n))) for n in names if n != inp}
    raster = {n: [] for n in names}
    for s in range(N):
        V, buckets = {}, {n: [[] for _ in range(steps)] for n in names}
        for n in names:
            if n != inp:
                a = nodes[n]
                b = np.broadcast_to(a["bias"].ravel(), (net.size(n),)).astype(np.float64)
                V[n] = b.copy() if a["bias_mode"] == "initial" else np.zeros(net.size(n))
        for t in range(steps):
            for n in names:
                if n == inp:
                    if t < T:
                        buckets[n][t] = [int(i) for i in np.nonzero(inputs[s, t])[0]]
                        counts[n][s] += inputs[s, t] != 0
                    continue
                a = nodes[n]
                size = net.size(n)
                th = np.broadcast_to(a["threshold"].ravel(), (size,))
                v = V[n]
                fired = np.zeros(size, dtype=bool)
                bucket = buckets[n][t]

                def fire(j):
                    v[j] = 0.0 if a["reset"] == "zero" else v[j] - th[j]
                    fired[j] = True
                    counts[n][s, j] += 1
                    bucket.append(j)

                if a["bias_mode"] == "current":
                    v += np.broadcast_to(a["bias"].ravel(), (size,))
                for j in range(size):
                    if v[j] >= th[j]:
                        fire(j)
                for src, m, d in incoming[n]:
                    if t - d < 0:
                        continue
                    for i in buckets[src][t - d]:
                        x = inputs[s, t - d, i] if src == inp else 1.0
                        for j in np.nonzero(m[:, i])[0]:
                            v[j] += x * m[j, i]
                            if v[j] >= th[j] and not fired[j]:
                                fire(j)
        for n in names:
            if n != inp:
                membrane[n][s] = V[n]
            times = np.concatenate([np.full(len(buckets[n][t]), t) for t in range(steps)]).astype(np.int32)
            idx = np.concatenate([np.asarray(buckets[n][t], dtype=np.int64) for t in range(steps)]).astype(np.int32)
            raster[n].append((times, idx))
    return counts, membrane, raster
