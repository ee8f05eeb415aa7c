"""Compile a :class:`~simcore.network.Network` into the flat fan-out tables the kernels consume.

Every projection's op chain is composed into ONE table (:func:`simcore.ops.chain_coo`): for every
source neuron its targets and weights. Layouts: a projection whose composed map connects at least
:data:`DENSE_FRACTION` of all (source, target) pairs is a dense ``(n_src, n_tgt)`` row table, so
delivering a spike is one contiguous vector add; everything else is CSR (``indptr``, ``indices``,
``weights``; targets ascending within a row). Composed weights are kept even when exactly zero, so
a projection's fan-out is structural (it is what SOPs count).

Convolution-structured projections (``[Conv2d]`` or ``[AvgPool2d(k, stride=k), Conv2d]``) whose
run table reproduces the composed table bit for bit are delivered as runs of consecutive targets
(``C_out`` per kernel position; with stride 1 the kernel columns' runs join into one); a
population fed only by such projections (and not the output) is stored channel-last inside the
kernel. Weights are stored as float32 when every weight is exactly a float32.

The result (:class:`Compiled`) is cached per network and :attr:`Network.version`; records and op
weights are immutable, so a cached table is never stale. The kernels get ``Compiled.tables``, one
:class:`KernelTables` record (a namedtuple of arrays, which numba passes as one argument).
"""
from __future__ import annotations

import weakref
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from simcore.network import Network
from simcore.neuron import NeuronParams
from simcore.ops import AvgPool2d, Conv2d, chain_coo

__all__ = ["DENSE_FRACTION", "Compiled", "CompiledProjection", "KernelTables", "compile_network"]

DENSE_FRACTION = 0.5
DENSE, CSR, RUNS = 1, 0, 2  # p_kind codes

# The kernels' view of a network. Per population (P,): sizes, offsets (P+1,), neuron record
# (fire_at: V >= fire_at fires -- the threshold for ">=", the next float above it for ">", exact --
# threshold, reset_to 0 subtract / 1 to_value, v_reset, beta, bias_current 0/1, unleaked 0/1: reset_leak
# "unleaked"), in_ptr (P+1,:
# incoming projections of q are in_ptr[q]:in_ptr[q+1]), pop_perm (1: channel-last). Per neuron in
# kernel layout: bias; perm_all (C order -> kernel position), iperm_all (its inverse). Per
# projection: p_src, p_delay, p_kind, offsets p_woff/p_ioff/p_poff/p_roff into the shared arrays, and
# p_wneg: for a projection from the input population, the offset in w_all of its weights negated (same
# layout as at p_woff; the sync kernel subtracts the rows of likely inputs that did not spike), else -1.
# p_koff: offset of a conv-run projection's keys (the bins of its runs by target, :func:`_run_keys`),
# p_nkey: their number, 0 where not binned (fewer than BIN_RUNS_PER_KEY runs per key).
# p_goff: offset of a binned projection's groups of sources with the same runs (pooled partners,
# :func:`_run_groups`), p_ngrp: their number, 0 where not merged (no two sources share their runs);
# p_tlen: the length of its weight table; a merged projection's table is followed by copies scaled
# by 2, 4, ..., 2**(p_gbits - 1) (exact), at multiples of p_tlen.
# Shared: w_all (float32 or float64), idx_all, ptr_all, run_ptr_all and src_grp_all (per source, the
# group; indexed alike), run_tgt_all, run_w_all, run_len_all and run_key_all (per run, indexed like
# run_tgt_all), key_tgt_all, key_len_all, key_slot_all (per key), grp_rep_all (per group: one of its
# sources). inp / outp: input and output population indices.
KernelTables = namedtuple("KernelTables", [
    "sizes", "offsets", "inp", "outp", "fire_at", "threshold", "reset_to", "v_reset", "beta", "bias_current",
    "unleaked", "bias", "in_ptr", "pop_perm", "perm_all", "iperm_all", "p_src", "p_delay", "p_kind", "p_woff",
    "p_ioff", "p_poff", "p_roff", "p_wneg", "p_koff", "p_nkey", "p_goff", "p_ngrp", "p_tlen", "p_gbits", "w_all",
    "idx_all", "ptr_all", "run_ptr_all", "src_grp_all", "run_tgt_all", "run_w_all", "run_len_all", "run_key_all",
    "key_tgt_all", "key_len_all", "key_slot_all", "grp_rep_all",
])


@dataclass
class CompiledProjection:
    """One projection's composed table (population indices ``src``/``tgt``)."""

    src: int
    tgt: int
    delay: int
    dense: bool
    n_src: int
    n_tgt: int
    weights: np.ndarray  # dense: (n_src, n_tgt); csr: (nnz,)
    indptr: np.ndarray | None  # csr only (n_src + 1,)
    indices: np.ndarray | None  # csr only (nnz,)
    # conv run table (used by the kernel instead of the CSR, same synapses and weights): source i's
    # targets are runs[0][i]..runs[0][i+1] runs of runs[3][r] consecutive neurons of the target's
    # channel-last layout starting at runs[1][r], weights table[runs[2][r] : runs[2][r] + runs[3][r]];
    # runs[5:9] bin the runs by their targets (:func:`_run_keys`), runs[9:] group the sources with the
    # same runs (:func:`_run_groups`).
    runs: tuple | None = None  # (run_ptr int64 (n_src+1,), run_tgt int32, run_w int32, run_len int32, table,
    #                             run_key int32, key_tgt int32, key_len int32, key_slot int64,
    #                             src_grp int32 (n_src+1,), grp_rep int32)

    def fanout(self) -> np.ndarray:
        """(n_src,) int64 structural fan-out of every source neuron."""
        if self.dense:
            return np.full(self.n_src, self.n_tgt, dtype=np.int64)
        return np.diff(self.indptr)

    def matrix(self) -> np.ndarray:
        """The composed map as a dense (n_tgt, n_src) matrix (for inspection and tests)."""
        if self.dense:
            return self.weights.T.copy()
        m = np.zeros((self.n_tgt, self.n_src))
        rows = np.repeat(np.arange(self.n_src), np.diff(self.indptr))
        m[self.indices, rows] = self.weights
        return m


@dataclass
class Compiled:
    """A validated network as flat arrays (C order per population; see :class:`KernelTables`)."""

    names: list
    sizes: np.ndarray
    offsets: np.ndarray
    input_index: int
    output_index: int
    neurons: list  # per population: NeuronParams, or None for the input
    threshold: np.ndarray  # per neuron (the population's threshold; input entries 1)
    bias: np.ndarray  # per neuron (input entries 0)
    bias_mode: np.ndarray  # per population: 0 initial, 1 current
    reset: np.ndarray  # per population: 0 subtract, 1 to_value
    projections: list
    p_src: np.ndarray
    p_tgt: np.ndarray
    p_delay: np.ndarray
    p_kind: np.ndarray  # per projection: 0 CSR, 1 dense, 2 conv runs
    pop_perm: np.ndarray  # per population: 1 = stored channel-last inside the kernel
    w_all: np.ndarray
    max_path_delay: int  # longest total delay from the input to the output
    tables: KernelTables


def _conv_runs(ops, src_shape, src, tgt, w):
    """Run table of a convolution-structured chain (``[Conv2d]`` or ``[AvgPool2d(k, stride=k), Conv2d]``).

    Returns ``(run_ptr, run_tgt, run_w, run_len, table, run_key, key_tgt, key_len, key_slot, src_grp,
    grp_rep)`` (see
    :class:`CompiledProjection`), or None when the chain has another form or the runs do not
    reproduce the composed COO table ``(src, tgt, w)`` (sorted by (src, tgt)) exactly, synapse for
    synapse and bit for bit.
    """
    if len(src_shape) != 3 or not ops or not isinstance(ops[-1], Conv2d) or len(ops) > 2:
        return None
    C, H, W = (int(v) for v in src_shape)
    scale = None
    ph, pw = H, W
    if len(ops) == 2:
        pool = ops[0]
        if not isinstance(pool, AvgPool2d) or pool.stride != pool.kernel:
            return None
        k = pool.kernel
        ph, pw = (H - k) // k + 1, (W - k) // k + 1
        scale = np.full(1, 1.0 / (k * k))[0]  # the value AvgPool2d.coo uses
    conv = ops[-1]
    co, ci, kh, kw = conv.weight.shape
    st, pad = conv.stride, conv.padding
    ho, wo = (ph + 2 * pad - kh) // st + 1, (pw + 2 * pad - kw) // st + 1
    # weight table (c, i, kw-1-j, o): o contiguous, j reversed so that (stride 1) the runs of
    # neighbouring j are contiguous in both target and table and merge; the COO composition's values
    wt = np.ascontiguousarray(conv.weight[:, :, :, ::-1].transpose(1, 2, 3, 0))
    table = (scale * wt if scale is not None else wt).ravel().copy()
    c, y, x, i, j = np.meshgrid(np.arange(C), np.arange(H), np.arange(W), np.arange(kh), np.arange(kw), indexing="ij")
    if scale is not None:
        k = ops[0].kernel
        py, px = y // k, x // k
        ok = (py < ph) & (px < pw)
    else:
        py, px = y, x
        ok = np.ones(py.shape, dtype=bool)
    ny, nx_ = py + pad - i, px + pad - j
    ty, tx = ny // st, nx_ // st
    ok &= (ny >= 0) & (nx_ >= 0) & (ny % st == 0) & (nx_ % st == 0) & (ty < ho) & (tx < wo)
    run_src = ((c * H + y) * W + x)[ok].astype(np.int64)  # C-order meshgrid: ascending source, then (i, j)
    run_tgt = ((ty * wo + tx) * co)[ok].astype(np.int64)
    run_w = (((c * kh + i) * kw + (kw - 1 - j)) * co)[ok].astype(np.int64)
    n_src = C * H * W
    # exact cross-check against the composed table
    if run_src.size * co != src.size:
        return None
    o = np.arange(co)
    e_src = np.repeat(run_src, co)
    e_tgt = (o[None, :] * (ho * wo) + (run_tgt[:, None] // co)).ravel()  # C-order target index
    e_w = table[(run_w[:, None] + o).ravel()]
    order = np.argsort(e_src * (co * ho * wo) + e_tgt, kind="stable")
    if not (np.array_equal(e_src[order], src) and np.array_equal(e_tgt[order], tgt)
            and np.array_equal(e_w[order].view(np.int64), np.asarray(w, dtype=np.float64).view(np.int64))):
        return None
    run_src, run_tgt, run_w, run_len = _merge_runs(run_src, run_tgt, run_w, co)
    if run_tgt.size and (run_tgt.max() + run_len.max() > 2**31 - 1 or run_w.max() + run_len.max() > 2**31 - 1):
        return None
    run_ptr = np.zeros(n_src + 1, dtype=np.int64)
    np.cumsum(np.bincount(run_src, minlength=n_src), out=run_ptr[1:])
    run_tgt, run_w, run_len = run_tgt.astype(np.int32), run_w.astype(np.int32), run_len.astype(np.int32)
    return (run_ptr, run_tgt, run_w, run_len, table) + _run_keys(run_tgt, run_len) + _run_groups(run_ptr, run_tgt,
                                                                                                  run_w, run_len)


BIN_RUNS_PER_KEY = 8  # sync: bin a conv-run projection's runs by target when this many share a key on average


def _run_keys(run_tgt, run_len):
    """The sync kernel's bins of a run table: runs with the same targets (start and length) share a
    key, numbered in ascending (start, length). Returns (run_key int32 per run, key_tgt int32,
    key_len int32, key_slot int64 per key), where ``key_slot[g]`` is the first of the ``count(run_key
    == g)`` slots of key g in a per-step list of row offsets (each source spikes at most once a step,
    so that many always suffice)."""
    pairs = np.stack([run_tgt.astype(np.int64), run_len.astype(np.int64)], axis=1)
    uniq, run_key = np.unique(pairs, axis=0, return_inverse=True)
    run_key = run_key.ravel()
    key_slot = np.zeros(len(uniq), dtype=np.int64)
    np.cumsum(np.bincount(run_key, minlength=len(uniq))[:-1], out=key_slot[1:])
    return run_key.astype(np.int32), uniq[:, 0].astype(np.int32), uniq[:, 1].astype(np.int32), key_slot


def _run_groups(run_ptr, run_tgt, run_w, run_len):
    """Sources with exactly the same runs (targets, weights, lengths), such as the k x k partners of
    a pooled position: the sync kernel adds their shared rows once per step, scaled by how many of
    them spiked. Returns (src_grp int32 (n_src + 1,), the group of each source, numbered by first
    source, last entry 0; grp_rep int32, the first source of each group)."""
    n_src = run_ptr.size - 1
    nr = np.diff(run_ptr)
    width = int(nr.max()) if n_src else 0
    sig = np.full((n_src, 1 + 3 * width), -1, dtype=np.int64)  # run count, then each run's fields
    sig[:, 0] = nr
    pos = np.arange(run_tgt.size) - np.repeat(run_ptr[:-1], nr)
    row = np.repeat(np.arange(n_src), nr)
    for f, a in enumerate((run_tgt, run_w, run_len)):
        sig[row, 1 + 3 * pos + f] = a
    _, first, grp = np.unique(sig, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    src_grp = np.zeros(n_src + 1, dtype=np.int32)
    src_grp[:n_src] = rank[grp.ravel()]
    return src_grp, np.sort(first).astype(np.int32)


def _merge_runs(run_src, run_tgt, run_w, co: int):
    """Join runs of ``co`` targets of one source that continue each other in target and in weight
    table (the same synapses, fewer and longer runs). Returns (run_src, run_tgt, run_w, run_len),
    runs sorted by (source, target)."""
    order = np.lexsort((run_tgt, run_src))
    src, tgt, w = run_src[order], run_tgt[order], run_w[order]
    cont = np.zeros(src.size, dtype=bool)
    cont[1:] = (src[1:] == src[:-1]) & (tgt[1:] == tgt[:-1] + co) & (w[1:] == w[:-1] + co)
    start = np.flatnonzero(~cont)
    return src[start], tgt[start], w[start], np.diff(np.append(start, src.size)) * co


def _compile_projection(net: Network, p, index: dict) -> CompiledProjection:
    src, tgt, w = chain_coo(p.ops, net.shape(p.src))
    n_src, n_tgt = net.size(p.src), net.size(p.tgt)
    if src.size >= DENSE_FRACTION * n_src * n_tgt:
        dense = np.zeros((n_src, n_tgt))
        dense[src, tgt] = w  # (src, tgt) pairs are unique after composition
        return CompiledProjection(index[p.src], index[p.tgt], p.delay, True, n_src, n_tgt, dense, None, None)
    order = np.lexsort((tgt, src))
    src, tgt, w = src[order], tgt[order], w[order]
    indptr = np.zeros(n_src + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n_src), out=indptr[1:])
    cp = CompiledProjection(index[p.src], index[p.tgt], p.delay, False, n_src, n_tgt,
                            np.ascontiguousarray(w), indptr, tgt.astype(np.int32))
    runs = _conv_runs(p.ops, net.shape(p.src), src, tgt, w)
    if runs is not None:
        cp.runs = runs
    return cp


def _layout(net: Network, names, offsets, cps, out_idx):
    """(pop_perm, perm_all): channel-last storage for populations fed only by conv runs (not the output)."""
    pop_perm = np.zeros(len(names), dtype=np.int64)
    for q in range(len(names)):
        inc = [cp for cp in cps if cp.tgt == q]
        if q != out_idx and inc and all(cp.runs is not None for cp in inc):
            pop_perm[q] = 1
    perm_all = np.arange(int(offsets[-1]), dtype=np.int64)
    for q in np.nonzero(pop_perm)[0]:
        co, ho, wo = net.shape(names[q])
        o, y, x = np.meshgrid(np.arange(co), np.arange(ho), np.arange(wo), indexing="ij")
        perm_all[offsets[q]:offsets[q + 1]] = offsets[q] + ((y * wo + x) * co + o).ravel()
    return pop_perm, perm_all


def _scaled_tables(run_ptr, table, src_grp, grp_rep):
    """A binned projection's weight table followed by its copies scaled by 2, 4, ..., up to the
    largest power of two not above its largest group of sources with runs (:func:`_run_groups`), or
    None when no two such sources share their runs or a copy overflows. Scaling by a power of two is
    exact, so ``m`` partners' rows are ``m``'s binary digits' rows: ``2w + w`` is ``(w + w) + w``."""
    with_runs = np.diff(run_ptr)[grp_rep] > 0
    largest = int(np.bincount(src_grp[:-1], minlength=grp_rep.size)[with_runs].max(initial=0))
    if largest < 2:
        return None
    copies = np.concatenate([np.asarray(table, dtype=np.float64) * 2.0 ** b for b in range(largest.bit_length())])
    return copies if np.isfinite(copies).all() else None


def _flatten(cps, p_kind, inp: int) -> dict:
    """Concatenate the projections' tables into shared arrays with per-projection offsets; the
    weights of the input population's projections are appended once more, negated (``p_wneg``)."""
    n = len(cps)
    off = {k: np.zeros(n, dtype=np.int64) for k in ("p_woff", "p_ioff", "p_poff", "p_roff", "p_koff", "p_nkey",
                                                     "p_goff", "p_ngrp", "p_tlen", "p_gbits")}
    off["p_wneg"] = np.full(n, -1, dtype=np.int64)
    negated = []
    parts = {k: [] for k in ("w_all", "idx_all", "ptr_all", "run_ptr_all", "src_grp_all", "run_tgt_all", "run_w_all",
                             "run_len_all", "run_key_all", "key_tgt_all", "key_len_all", "key_slot_all", "grp_rep_all")}
    size = {k: 0 for k in parts}
    for k, cp in enumerate(cps):
        off["p_woff"][k], off["p_ioff"][k], off["p_poff"][k] = size["w_all"], size["idx_all"], size["ptr_all"]
        if p_kind[k] == RUNS:
            off["p_roff"][k], off["p_poff"][k] = size["run_tgt_all"], size["run_ptr_all"]
            keys = ("run_ptr_all", "run_tgt_all", "run_w_all", "run_len_all", "w_all", "run_key_all", "key_tgt_all",
                    "key_len_all", "key_slot_all", "src_grp_all", "grp_rep_all")
            new = dict(zip(keys, cp.runs))
            table, nkey, ngrp = new["w_all"].size, new["key_tgt_all"].size, new["grp_rep_all"].size
            off["p_koff"][k], off["p_goff"][k], off["p_tlen"][k] = size["key_tgt_all"], size["grp_rep_all"], table
            if new["run_tgt_all"].size >= BIN_RUNS_PER_KEY * nkey:  # else delivered spike by spike
                off["p_nkey"][k] = nkey
                scaled = _scaled_tables(new["run_ptr_all"], new["w_all"], new["src_grp_all"], new["grp_rep_all"])
                if scaled is not None:
                    new["w_all"] = scaled
                    off["p_ngrp"][k], off["p_gbits"][k] = ngrp, scaled.size // table
        elif cp.dense:
            new = {"w_all": cp.weights.ravel()}
        else:
            new = {"w_all": cp.weights, "idx_all": cp.indices, "ptr_all": cp.indptr}
        for key, arr in new.items():
            parts[key].append(arr)
            size[key] += arr.size
        if cp.src == inp:
            negated.append((k, new["w_all"]))
    for k, w in negated:  # -w is exact, and exactly a float32 whenever w is
        off["p_wneg"][k] = size["w_all"]
        parts["w_all"].append(-np.asarray(w, dtype=np.float64))
        size["w_all"] += w.size
    dtypes = {"w_all": np.float64, "idx_all": np.int32, "ptr_all": np.int64, "run_ptr_all": np.int64,
              "src_grp_all": np.int32, "run_tgt_all": np.int32, "run_w_all": np.int32, "run_len_all": np.int32,
              "run_key_all": np.int32, "key_tgt_all": np.int32, "key_len_all": np.int32, "key_slot_all": np.int64,
              "grp_rep_all": np.int32}
    flat = {k: np.concatenate([np.asarray(a, dtype=dtypes[k]) for a in v]) if size[k] else np.zeros(1, dtypes[k])
            for k, v in parts.items()}
    # float32 storage when it is lossless (halves the weight traffic; float64 arithmetic unchanged)
    w32 = flat["w_all"].astype(np.float32)
    if np.array_equal(w32.astype(np.float64).view(np.int64), flat["w_all"].view(np.int64)):
        flat["w_all"] = w32
    return dict(off, **flat)


def _neuron_arrays(neurons: list) -> dict:
    """Per-population neuron record for the kernels (input population: defaults, unused)."""
    ps = [nr if nr is not None else NeuronParams() for nr in neurons]
    fire_at = [np.nextafter(p.threshold, np.inf) if p.strict else p.threshold for p in ps]
    return dict(fire_at=np.array(fire_at, dtype=np.float64), threshold=np.array([p.threshold for p in ps]),
                reset_to=np.array([p.reset == "to_value" for p in ps], dtype=np.int64),
                v_reset=np.array([p.v_reset for p in ps]), beta=np.array([p.beta for p in ps]),
                bias_current=np.array([p.bias_mode == "current" for p in ps], dtype=np.int64),
                unleaked=np.array([p.unleaked for p in ps], dtype=np.int64))


def _longest_delay(cps, n_pop: int, inp: int, out: int) -> int:
    longest = np.full(n_pop, -1, dtype=np.int64)
    longest[inp] = 0
    for cp in cps:  # sorted by target topological position: sources are final when reached
        if longest[cp.src] >= 0:
            longest[cp.tgt] = max(longest[cp.tgt], longest[cp.src] + cp.delay)
    return int(max(longest[out], 0))


def _compile(net: Network) -> Compiled:
    net.validate()
    names = net.populations
    index = {n: k for k, n in enumerate(names)}
    pops = [net.population(n) for n in names]
    sizes = np.array([p.size for p in pops], dtype=np.int64)
    offsets = np.zeros(len(names) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    neurons = [p.neuron for p in pops]
    na = _neuron_arrays(neurons)
    bias = np.concatenate([np.zeros(p.size) if p.is_input else p.bias for p in pops])
    cps = [_compile_projection(net, p, index) for p in net.projections]
    inp, out = index[net.input_population], index[net.output]
    pop_perm, perm_all = _layout(net, names, offsets, cps, out)
    p_kind = np.array([DENSE if cp.dense else (RUNS if pop_perm[cp.tgt] else CSR) for cp in cps], dtype=np.int64)
    flat = _flatten(cps, p_kind, inp)
    k_bias = np.empty_like(bias)
    k_bias[perm_all] = bias
    iperm_all = np.empty_like(perm_all)
    iperm_all[perm_all] = np.arange(perm_all.size)
    p_src = np.array([cp.src for cp in cps], dtype=np.int64)
    p_tgt = np.array([cp.tgt for cp in cps], dtype=np.int64)
    p_delay = np.array([cp.delay for cp in cps], dtype=np.int64)
    in_ptr = np.zeros(len(names) + 1, dtype=np.int64)
    np.cumsum(np.bincount(p_tgt, minlength=len(names)), out=in_ptr[1:])  # projections sorted by target
    tables = KernelTables(sizes=sizes, offsets=offsets, inp=inp, outp=out, bias=k_bias, in_ptr=in_ptr,
                          pop_perm=pop_perm, perm_all=perm_all, iperm_all=iperm_all, p_src=p_src, p_delay=p_delay,
                          p_kind=p_kind, **na, **flat)
    return Compiled(
        names=names, sizes=sizes, offsets=offsets, input_index=inp, output_index=out, neurons=neurons,
        threshold=np.repeat(na["threshold"], sizes), bias=bias, bias_mode=na["bias_current"], reset=na["reset_to"],
        projections=cps, p_src=p_src, p_tgt=p_tgt, p_delay=p_delay, p_kind=p_kind, pop_perm=pop_perm,
        w_all=flat["w_all"], max_path_delay=_longest_delay(cps, len(names), inp, out), tables=tables,
    )


_CACHE: "weakref.WeakKeyDictionary[Network, tuple[int, Compiled]]" = weakref.WeakKeyDictionary()


def compile_network(net: Network) -> Compiled:
    """Validate ``net`` and build its tables; cached until a population or projection is added
    (records and weights are immutable, so the cache cannot go stale)."""
    hit = _CACHE.get(net)
    if hit is not None and hit[0] == net.version:
        return hit[1]
    comp = _compile(net)
    _CACHE[net] = (net.version, comp)
    return comp
