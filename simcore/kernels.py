"""Compiled kernels of the event-driven engine: the per-sample driver over one table record.

The semantics are those of :mod:`simcore.engine` (read its docstring first); the network arrives as
one :class:`simcore.compiler.KernelTables` record ``tb``, the input as :data:`KernelInput`, the
result arrays as :data:`KernelOutputs`. Each helper does one job:

* :func:`run_samples` -- ``prange`` over sample chunks (:func:`_run_chunk`: per sample, populations
  in topological order, population-major: all steps of a population, then the next -- identical
  float operations per neuron to the step-major schedule, since a population never influences its
  sources).
* :func:`_input_population` -- the input events of a sample (Bernoulli regenerated from the
  counter-based generator of :mod:`simcore.encoding`, explicit trains, or analog values), and for
  Bernoulli input in sync mode the lists of the complement delivery (:func:`_surprises`).
* :func:`_population_sync` / :func:`_population_async` -- one neuron population, step by step:
  :mod:`simcore.neuron_kernels` (the neuron record: leak and bias current at the step start, fire
  check and reset), :mod:`simcore.delivery` (a dense row, a conv run, a CSR row), and
  :func:`simcore.decode.best_index` after every step of the output population.

A new delivery layout gets a ``p_kind`` code, its tables in the compiler and a pair of
``delivery.*_sync`` / ``*_async`` helpers dispatched here.
"""
from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from simcore import decode, delivery, encoding, neuron_kernels, vector_ops
from simcore.decode import best_index
from simcore.delivery import (csr_async, csr_sync, dense_async, dense_sync, fire_reached, flag_words, run_scratch,
                              runs_async, runs_sync, sort_firings)
from simcore.neuron_kernels import fire_all, init_population, neuron, step_start
from simcore.numba_cache import key_on_sources
from simcore.vector_ops import store8_plus

__all__ = ["BERNOULLI", "TRAINS", "ANALOG", "LIKELY_ABOVE", "KernelInput", "KernelOutputs", "run_samples"]

BERNOULLI, TRAINS, ANALOG = 0, 1, 2
LIKELY_ABOVE = 0.5  # sync complement delivery: an input with spike probability above this is "likely"
_DENSE, _RUNS = 1, 2  # compiler p_kind codes (0: CSR)

# kind: BERNOULLI/TRAINS/ANALOG; p: (N, D) spike probabilities or analog values; keys: (N,) uint64
# generator keys; trains: (N, T, D) bool (TRAINS only); T: input steps.
KernelInput = namedtuple("KernelInput", ["kind", "p", "keys", "trains", "T"])
# counts (N * total,) int32 and membrane (N * total,) float64: population p's (N, n_p) C-order block
# starts at N * offsets[p] (so each population is a contiguous view, no copy); sops (N, P) int64, trace (N, steps)
# int64; r_idx (N, steps*total) int32 / r_ptr (N, P*(steps+1)) int64 when recording rasters.
KernelOutputs = namedtuple("KernelOutputs", ["counts", "membrane", "sops", "trace", "r_idx", "r_ptr"])


# ------------------------------------------------------------------ input
@numba.njit(cache=True, inline="always")
def _bernoulli_step(key, t, nz, lim, hit, nnz, spk, pos, cnt, off):
    """Step t of Bernoulli input: the draws of the nnz non-zero inputs (a vectorised pass of the
    counter hash, :func:`encoding.spikes_at`), then their events appended in ascending index
    without branches; returns pos."""
    for q in range(nnz):
        hit[q] = encoding.spikes_at(key, t, nz[q], lim[q])
    upos = np.uint64(pos)  # unsigned positions: no negative-index wraparound in this loop
    for q in range(np.uint64(0), np.uint64(nnz)):
        i = nz[q]
        h = hit[q]
        spk[upos] = i  # overwritten by the next event unless i spikes (the bucket has room: upos < its end)
        upos += h
        cnt[np.uint64(off + i)] += h
    return np.int64(upos)


@numba.njit(cache=True, inline="always")
def _surprises(nz, hit, likely, nnz, cl, hpos, mpos):
    """Step lists of the sync complement delivery (:func:`_population_sync`): the unlikely inputs
    (p <= 1/2) that spiked, appended at hpos, and the likely ones (p > 1/2) that did not, at mpos;
    both in ascending index, without branches. Returns (hpos, mpos)."""
    uh, um = np.uint64(hpos), np.uint64(mpos)
    for q in range(np.uint64(0), np.uint64(nnz)):
        i = nz[q]
        cl[uh] = i
        uh += np.uint64(hit[q] > likely[q])
        cl[um] = i
        um += np.uint64(likely[q] > hit[q])
    return np.int64(uh), np.int64(um)


@numba.njit(cache=True, inline="always")
def _input_population(tb, inp, s, steps, t_in, split, cnt, spk, sptr, gv, nz, lim, hit, likely, hl, cl, cptr,
                      pos):
    """Write sample s's input events (steps t < t_in) into the buckets of the input population. With ``split``
    (Bernoulli input, sync mode) also the likely inputs (p > 1/2, ascending) into hl and, per step
    t, the unlikely spikes into cl[cptr[t]:cptr[t+1]] and the likely non-spikes into
    cl[cptr[steps+1+t]:cptr[steps+2+t]]. Returns the number of likely inputs."""
    off = tb.offsets[tb.inp]
    n = tb.sizes[tb.inp]
    pb = tb.inp * (steps + 1)
    sptr[pb] = pos
    for j in range(n):
        cnt[off + j] = 0
    nnz = 0
    nh = 0
    if inp.kind != TRAINS:
        for i in range(n):
            x = inp.p[s, i]
            gv[i] = x
            if x != 0.0:
                nz[nnz] = i
                if inp.kind == BERNOULLI:
                    lim[nnz] = encoding.draw_limit(x)  # 0 < x <= 1
                    if split:
                        likely[nnz] = 1 if x > LIKELY_ABOVE else 0
                        if x > LIKELY_ABOVE:
                            hl[nh] = i
                            nh += 1
                nnz += 1
    key = inp.keys[s]
    hpos, mpos = 0, steps * n
    cptr[0], cptr[steps + 1] = hpos, mpos
    for t in range(steps):
        if t < t_in:
            if inp.kind == BERNOULLI:
                pos = _bernoulli_step(key, t, nz, lim, hit, nnz, spk, pos, cnt, off)
                if split:
                    hpos, mpos = _surprises(nz, hit, likely, nnz, cl, hpos, mpos)
            elif inp.kind == TRAINS:
                for i in range(n):
                    if inp.trains[s, t, i]:
                        spk[pos] = i
                        pos += 1
                        cnt[off + i] += 1
            else:
                for q in range(nnz):
                    i = nz[q]
                    spk[pos] = i
                    pos += 1
                    cnt[off + i] += 1
        sptr[pb + t + 1] = pos
        cptr[t + 1], cptr[steps + 2 + t] = hpos, mpos
    return nh


# ------------------------------------------------------------------ sync delivery
def _set_bits_table():
    """(256 * 8,) int32: row m lists the set bits of the byte m, ascending (the rest 0)."""
    table = np.zeros((256, 8), np.int32)
    for m in range(256):
        bits = [b for b in range(8) if m >> b & 1]
        table[m, :len(bits)] = bits
    return table.ravel()


_SET_BITS = _set_bits_table()
_BIT_COUNT = np.array([bin(m).count("1") for m in range(256)], np.uint64)
_GATHER_BYTES = np.uint64(0x0102040810204080)  # (w * this) >> 56: bit b = byte b (0 or 1) of the word w


@numba.njit(cache=True, inline="always")
def _fire_sync(Vp, cp, nr, ipp, off, perm, spk, pos, fb, fw, check):
    """Sync threshold check of the population, firings appended in storage order, as C-order
    indices (``ipp[j] - off`` for the channel-last kernel position j when ``perm``): when ``check``
    (the population fired nobody in the previous step), a vectorised "any at threshold" count first
    (most steps of quiet populations fire nobody); then one vectorised :func:`fire_all` pass writing
    flag bytes, read eight at a time without branches: the eight flags of a word become a byte,
    which indexes the list of its set bits; all eight entries are written in one vector store
    (:func:`simcore.vector_ops.store8_plus`) and the position advances by their number (spk has
    room for seven more after every bucket: the next bucket or population is written later, and
    spk ends with eight spare entries). fb, fw: flag scratch of len(Vp) as bytes and as words
    (``delivery.flag_words``). Returns pos."""
    n = Vp.shape[0]
    if check:
        fire_at = nr[0]
        nf = 0
        for j in range(n):
            nf += Vp[j] >= fire_at
        if nf == 0:
            return pos
    fire_all(Vp, cp, fb, nr)
    upos = np.uint64(pos)  # unsigned positions: no negative-index wraparound in these loops
    nw = np.uint64(n // 8)
    for q in range(np.uint64(0), nw):
        m = (fw[q] * _GATHER_BYTES) >> np.uint64(56)
        store8_plus(spk, upos, _SET_BITS, m * np.uint64(8), q * np.uint64(8))
        upos += _BIT_COUNT[m]
    for j in range(nw * np.uint64(8), np.uint64(n)):
        spk[upos] = j  # kept only if j fired
        upos += fb[j]
    if perm:
        for e in range(np.uint64(pos), upos):
            spk[e] = ipp[spk[e]] - off
    return np.int64(upos)


@numba.njit(cache=True, inline="always")
def _deliver_sync(Vp, tb, k, wb, spk, e0, e1, gv, graded, sc):
    """Projection k's synapses of spikes spk[e0:e1] added to Vp (weights at w_all[wb:]); returns SOPs.
    sc: the scratch of :func:`simcore.delivery.runs_sync`."""
    kind = tb.p_kind[k]
    if kind == _DENSE:
        return dense_sync(Vp, tb.w_all, wb, spk, e0, e1, gv, graded)
    if kind == _RUNS:
        return runs_sync(Vp, tb, k, wb, spk, e0, e1, gv, graded, sc)
    return csr_sync(Vp, tb, k, wb, spk, e0, e1, gv, graded)


# Deliberately separate from _population_async: sync delivery adds then fires once a step; no shared loop without cost.
@numba.njit(cache=True, _nrt=False)
def _population_sync(tb, p, s, steps, t_in, analog, V, cnt, spk, sptr, gv, fb, fw, nh, hl, cl, cptr, C, sc, pos,
                     out):
    """All steps of neuron population p (sync): integrate every delivered spike, then check; returns pos.

    Complement delivery of Bernoulli input (nh > 0 likely inputs, p > 1/2, in hl): a projection
    from the input population first sums the rows of the likely inputs once per sample (C, in
    ascending input order); at every input step it adds C, then the rows of the unlikely inputs
    that spiked, then subtracts the rows of the likely ones that did not (each list ascending).
    The sum of the rows of the spikes is the same; the additions are about sum(min(p, 1 - p)) rows
    a step instead of sum(p) (MNIST: 21 instead of 104). C: scratch for that sum (len >= len(Vp)).
    sc: the scratch of the conv runs' bins (:func:`simcore.delivery.run_scratch`).

    Compiled without reference counting, as :func:`_population_async` is (it allocates nothing):
    with it, every inlined delivery call counted the references of the table record's arrays,
    which cost more than the additions of a small population (the MLP's 10 outputs: ten times)."""
    off, n = tb.offsets[p], tb.sizes[p]
    nr = neuron(tb, p)
    Vp, cp, bp = V[off:off + n], cnt[off:off + n], tb.bias[off:off + n]
    pp, ipp = tb.perm_all[off:off + n], tb.iperm_all[off:off + n]
    perm = tb.pop_perm[p] != 0
    init_population(Vp, cp, bp, nr)
    k0, k1 = tb.in_ptr[p], tb.in_ptr[p + 1]
    Cp = C[:n]
    fan = 0
    if nh > 0:
        for k in range(k0, k1):
            if tb.p_src[k] == tb.inp:  # at most one projection per (source, target)
                Cp[:] = 0.0
                fan = _deliver_sync(Cp, tb, k, tb.p_woff[k], hl, 0, nh, gv, False, sc)
    pb = p * (steps + 1)
    sptr[pb] = pos
    for t in range(steps):
        step_start(Vp, bp, nr, spk, sptr[pb + t - 1] if t else pos, pos, pp, off, perm)
        for k in range(k0, k1):
            src = tb.p_src[k]
            ts = t - tb.p_delay[k]
            if ts < 0:
                continue
            graded = analog and src == tb.inp
            if nh > 0 and src == tb.inp:
                if ts >= t_in:
                    continue
                for j in range(n):
                    Vp[j] += Cp[j]
                nsop = fan
                nsop += _deliver_sync(Vp, tb, k, tb.p_woff[k], cl, cptr[ts], cptr[ts + 1], gv, False, sc)
                nsop -= _deliver_sync(Vp, tb, k, tb.p_wneg[k], cl, cptr[steps + 1 + ts], cptr[steps + 2 + ts], gv,
                                      False, sc)
            else:
                e0 = sptr[src * (steps + 1) + ts]
                e1 = sptr[src * (steps + 1) + ts + 1]
                nsop = _deliver_sync(Vp, tb, k, tb.p_woff[k], spk, e0, e1, gv, graded, sc)
            out.sops[s, src] += nsop
        pos = _fire_sync(Vp, cp, nr, ipp, off, perm, spk, pos, fb, fw, t == 0 or sptr[pb + t] == sptr[pb + t - 1])
        sptr[pb + t + 1] = pos
        if p == tb.outp:
            out.trace[s, t] = best_index(cp, Vp, 0, n)
    return pos


@numba.njit(cache=True, inline="always")
def _carry_over(Vp, cp, tep, nr, ipp, off, spk, fb, fw, fbuf, pos):
    """Async step start: every neuron's tep becomes fire_at, then the neurons still at/above
    threshold fire now (tep +inf), appended in ascending C-order index; returns pos."""
    fire_at = nr[0]
    hit = False
    for j in range(Vp.shape[0]):  # vectorised: most steps carry nothing over
        tep[j] = fire_at
        hit |= Vp[j] >= fire_at
    if not hit:
        return pos
    nf = fire_reached(Vp, cp, tep, nr, ipp, off, np.uint64(0), np.uint64(Vp.shape[0]), fb, fw, fbuf, 0)
    sort_firings(fbuf, nf)  # firings are independent: only the bucket order (C order) matters
    for a in range(nf):
        spk[pos] = fbuf[a]
        pos += 1
    return pos


# Deliberately separate from _population_sync: async delivery fires mid-step and threads pos through every call.
@numba.njit(cache=True, _nrt=False)
def _population_async(tb, p, s, steps, analog, V, cnt, te, spk, sptr, gv, fbuf, fb, fw, pos, out):
    """All steps of neuron population p (async): leak, bias current, carry-over check, then spike by
    spike delivery with each target checked as it is reached (at most one spike per step); returns pos.
    Compiled without reference counting (``_nrt=False``; it allocates nothing, the caller owns every
    array): see the note in :mod:`simcore.delivery`."""
    off, n = tb.offsets[p], tb.sizes[p]
    nr = neuron(tb, p)
    Vp, cp, bp, tep = V[off:off + n], cnt[off:off + n], tb.bias[off:off + n], te[off:off + n]
    pp, ipp = tb.perm_all[off:off + n], tb.iperm_all[off:off + n]
    perm = tb.pop_perm[p] != 0
    init_population(Vp, cp, bp, nr)
    pb = p * (steps + 1)
    sptr[pb] = pos
    for t in range(steps):
        step_start(Vp, bp, nr, spk, sptr[pb + t - 1] if t else pos, pos, pp, off, perm)
        pos = _carry_over(Vp, cp, tep, nr, ipp, off, spk, fb, fw, fbuf, pos)
        for k in range(tb.in_ptr[p], tb.in_ptr[p + 1]):
            src = tb.p_src[k]
            ts = t - tb.p_delay[k]
            if ts < 0:
                continue
            e0 = sptr[src * (steps + 1) + ts]
            e1 = sptr[src * (steps + 1) + ts + 1]
            graded = analog and src == tb.inp
            kind = tb.p_kind[k]
            if kind == _DENSE:
                nsop, pos = dense_async(Vp, cp, tep, nr, tb.w_all, tb.p_woff[k], spk, e0, e1, gv, graded, ipp, off,
                                        fb, fw, fbuf, pos)
            elif kind == _RUNS:
                nsop, pos = runs_async(Vp, cp, tep, nr, tb, k, ipp, off, spk, e0, e1, gv, graded, fb, fw, fbuf,
                                       pos)
            else:
                nsop, pos = csr_async(Vp, cp, tep, nr, tb, k, spk, e0, e1, gv, graded, pos)
            out.sops[s, src] += nsop
        sptr[pb + t + 1] = pos
        if p == tb.outp:
            out.trace[s, t] = best_index(cp, Vp, 0, n)
    return pos


# ------------------------------------------------------------------ driver
@numba.njit(cache=True, inline="always")
def _write_sample(tb, s, steps, V, cnt, spk, sptr, out, record_raster):
    """Copy sample s's counts and potentials (C order, population-major blocks of ``out``) and, if
    asked, its buckets."""
    N = out.trace.shape[0]
    for p in range(tb.sizes.shape[0]):
        o, n = tb.offsets[p], tb.sizes[p]
        base = N * o + s * n
        for j in range(n):
            out.counts[base + j] = cnt[tb.perm_all[o + j]]
            out.membrane[base + j] = V[tb.perm_all[o + j]]
    if record_raster:
        total = tb.offsets[tb.sizes.shape[0]]
        for j in range(steps * total):
            out.r_idx[s, j] = spk[j]
        for j in range(sptr.shape[0]):
            out.r_ptr[s, j] = sptr[j]


@numba.njit(cache=True)
def _run_chunk(tb, inp, out, steps, async_mode, record_raster, s0, s1):
    """Samples s0..s1-1, one after the other, with this chunk's scratch state."""
    n_pop = tb.sizes.shape[0]
    total = tb.offsets[n_pop]
    D = tb.sizes[tb.inp]
    analog = inp.kind == ANALOG
    V = np.zeros(total, dtype=np.float64)
    cnt = np.zeros(total, dtype=np.int32)
    te = np.zeros(total, dtype=np.float64)  # async: fire_at, or +inf once fired this step
    spk = np.zeros(steps * total + 8, dtype=np.int32)  # buckets: population p's spikes from steps*offsets[p]
    sptr = np.zeros(n_pop * (steps + 1), dtype=np.int64)
    gv = np.zeros(D, dtype=np.float64)
    nz = np.zeros(D, dtype=np.int32)
    lim = np.zeros(D, dtype=np.uint64)  # Bernoulli: draw limits of the non-zero inputs
    hit = np.zeros(D, dtype=np.uint8)
    split = inp.kind == BERNOULLI and not async_mode  # sync: complement delivery of the input
    likely = np.zeros(D if split else 0, dtype=np.uint8)  # p > 1/2, per non-zero input
    hl = np.zeros(D if split else 0, dtype=np.int32)  # the likely inputs
    cl = np.zeros(2 * steps * D if split else 0, dtype=np.int32)  # per step: unlikely spikes, likely non-spikes
    cptr = np.zeros(2 * (steps + 1), dtype=np.int64)
    t_in = inp.T if inp.T < steps else steps
    nh = 0
    C = np.zeros(tb.sizes.max() if split else 0)  # sync complement: the likely inputs' rows summed
    fbuf = np.zeros(max(1, tb.sizes.max()), dtype=np.int32)  # async: firings of one spike / batch
    fw = flag_words(max(1, tb.sizes.max()))  # flags of a pass, as words and as bytes
    fb = fw.view(np.uint8)
    sc = run_scratch(tb, not async_mode)  # sync conv runs' bins
    for s in range(s0, s1):
        for p in range(n_pop):
            pos = steps * tb.offsets[p]
            if p == tb.inp:
                nh = _input_population(tb, inp, s, steps, t_in, split, cnt, spk, sptr, gv, nz, lim, hit, likely, hl,
                                       cl, cptr, pos)
            elif async_mode:
                _population_async(tb, p, s, steps, analog, V, cnt, te, spk, sptr, gv, fbuf, fb, fw, pos, out)
            else:
                _population_sync(tb, p, s, steps, t_in, analog, V, cnt, spk, sptr, gv, fb, fw, nh, hl, cl, cptr, C,
                                 sc, pos, out)
        _write_sample(tb, s, steps, V, cnt, spk, sptr, out, record_raster)


@numba.njit(cache=True, parallel=True)
def run_samples(tb, inp, out, steps, async_mode, record_raster, nchunks):
    """Simulate every sample (rows of ``out``) for ``steps`` steps, samples split into ``nchunks``
    chunks run in parallel threads. (The chunk is a separate, not inlined, function: numba's parfor
    pass loses writes through a namedtuple's arrays made directly in a prange body.)"""
    N = out.trace.shape[0]
    for c in numba.prange(nchunks):
        _run_chunk(tb, inp, out, steps, async_mode, record_raster, c * N // nchunks, (c + 1) * N // nchunks)


# The helpers above are inlined from other modules, which numba's cache key does not cover: key the
# compiled functions on their sources too, so an edit there never runs stale machine code.
SOURCES_TAG = key_on_sources((_population_sync, _population_async, _run_chunk, run_samples),
                             (delivery, neuron_kernels, encoding, decode, vector_ops))
