"""Compiled kernels of the event-driven engine: small numba helpers over one table record.

The semantics are those of :mod:`simcore.engine` (read its docstring first); the network arrives as
one :class:`simcore.compiler.KernelTables` record ``tb``, the input as :data:`KernelInput`, the
result arrays as :data:`KernelOutputs`. Structure (each helper does one job):

* :func:`run_samples` -- ``prange`` over sample chunks; per sample, populations in topological
  order (population-major: all steps of a population, then the next; identical float operations
  per neuron to the step-major schedule, since a population never influences its sources).
* :func:`_input_population` -- the input events of a sample (Bernoulli regenerated from the
  counter-based generator of :mod:`simcore.encoding`, explicit trains, or analog values).
* :func:`_population_sync` / :func:`_population_async` -- one neuron population, step by step.
* delivery: ``_dense_sync`` (a dense row, up to eight spikes per pass over V), ``_runs_sync`` (a
  conv run: ``C_out`` contiguous targets of a channel-last population), ``_csr_sync`` (a CSR row),
  and the async variants that check targets as they are reached.
* neuron: ``_neuron`` (the population's record as a tuple), ``_step_start`` (leak, then bias
  current), ``_fire`` (reset following the record, count). The threshold test is always
  ``V >= fire_at``, with ``fire_at`` the threshold (">=") or the next float above it (">"): exact.
* decode: :func:`simcore.decode.best_index` after every step of the output population.

A new neuron option goes into the record (:mod:`simcore.neuron`, ``compiler._neuron_arrays``,
``_neuron``) and ``_step_start``/``_fire``; a new delivery layout gets a ``p_kind`` code, its
tables in the compiler and a pair of ``_..._sync``/``_..._async`` helpers.
"""
from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from simcore import encoding
from simcore.decode import best_index

__all__ = ["BERNOULLI", "TRAINS", "ANALOG", "KernelInput", "KernelOutputs", "run_samples"]

BERNOULLI, TRAINS, ANALOG = 0, 1, 2
_DENSE, _RUNS = 1, 2  # compiler p_kind codes (0: CSR)

# kind: BERNOULLI/TRAINS/ANALOG; p: (N, D) spike probabilities or analog values; keys: (N,) uint64
# generator keys; trains: (N, T, D) bool (TRAINS only); T: input steps.
KernelInput = namedtuple("KernelInput", ["kind", "p", "keys", "trains", "T"])
# counts (N, total) int32, membrane (N, total) float64 (C order), sops (N, P) int64, trace (N, steps)
# int64; r_idx (N, steps*total) int32 / r_ptr (N, P*(steps+1)) int64 when recording rasters.
KernelOutputs = namedtuple("KernelOutputs", ["counts", "membrane", "sops", "trace", "r_idx", "r_ptr"])


# ------------------------------------------------------------------ neuron
@numba.njit(cache=True, inline="always")
def _neuron(tb, p):
    """Population p's neuron record: (fire_at, threshold, reset_to, v_reset, beta, bias_current)."""
    return (tb.fire_at[p], tb.threshold[p], tb.reset_to[p] != 0, tb.v_reset[p], tb.beta[p],
            tb.bias_current[p] != 0)


@numba.njit(cache=True, inline="always")
def _init_population(Vp, cp, bp, nr):
    """V(0) = bias (bias_mode "initial") or 0; counts 0."""
    for j in range(Vp.shape[0]):
        Vp[j] = 0.0 if nr[5] else bp[j]
        cp[j] = 0


@numba.njit(cache=True, inline="always")
def _step_start(Vp, bp, nr):
    """Start of a step: V <- beta * V (only when beta != 1), then V += bias (bias_mode "current")."""
    beta = nr[4]
    if beta != 1.0:
        for j in range(Vp.shape[0]):
            Vp[j] *= beta
    if nr[5]:
        for j in range(Vp.shape[0]):
            Vp[j] += bp[j]


@numba.njit(cache=True, inline="always")
def _fire(Vp, cp, j, nr):
    """Neuron j fires: reset (subtract the threshold, or set v_reset) and count the spike."""
    if nr[2]:
        Vp[j] = nr[3]
    else:
        Vp[j] -= nr[1]
    cp[j] += 1


# ------------------------------------------------------------------ input
@numba.njit(cache=True, inline="always")
def _input_population(tb, inp, s, steps, cnt, spk, sptr, gv, nz, pos):
    """Write sample s's input events into the buckets of the input population; returns pos."""
    off = tb.offsets[tb.inp]
    n = tb.sizes[tb.inp]
    pb = tb.inp * (steps + 1)
    sptr[pb] = pos
    for j in range(n):
        cnt[off + j] = 0
    nnz = 0
    if inp.kind != TRAINS:
        for i in range(n):
            x = inp.p[s, i]
            gv[i] = x
            if x != 0.0:
                nz[nnz] = i
                nnz += 1
    key = inp.keys[s]
    t_in = inp.T if inp.T < steps else steps
    for t in range(steps):
        if t < t_in:
            if inp.kind == BERNOULLI:
                for q in range(nnz):
                    i = nz[q]
                    if encoding.uniform(key, t, i) < inp.p[s, i]:
                        spk[pos] = i
                        pos += 1
                        cnt[off + i] += 1
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
    return pos


# ------------------------------------------------------------------ sync delivery
@numba.njit(cache=True, inline="always")
def _dense_sync(Vp, w_all, wb, spk, e0, e1, gv, graded):
    """Add the dense rows of spikes spk[e0:e1] (row i at w_all[wb + i*n:]); returns SOPs."""
    n = Vp.shape[0]
    if graded:
        for e in range(e0, e1):
            i = spk[e]
            x = gv[i]
            Wr = w_all[wb + i * n:wb + i * n + n]
            for j in range(n):
                Vp[j] += x * Wr[j]
        return (e1 - e0) * n
    # up to eight spikes per pass over V; ((((V + a) + b) + c) + ...) is the same sequence of
    # roundings as separate passes, spike by spike
    e = e0
    while e + 8 <= e1:
        W1 = w_all[wb + spk[e] * n:wb + spk[e] * n + n]
        W2 = w_all[wb + spk[e + 1] * n:wb + spk[e + 1] * n + n]
        W3 = w_all[wb + spk[e + 2] * n:wb + spk[e + 2] * n + n]
        W4 = w_all[wb + spk[e + 3] * n:wb + spk[e + 3] * n + n]
        W5 = w_all[wb + spk[e + 4] * n:wb + spk[e + 4] * n + n]
        W6 = w_all[wb + spk[e + 5] * n:wb + spk[e + 5] * n + n]
        W7 = w_all[wb + spk[e + 6] * n:wb + spk[e + 6] * n + n]
        W8 = w_all[wb + spk[e + 7] * n:wb + spk[e + 7] * n + n]
        for j in range(n):
            Vp[j] = (((((((Vp[j] + W1[j]) + W2[j]) + W3[j]) + W4[j]) + W5[j]) + W6[j]) + W7[j]) + W8[j]
        e += 8
    while e + 4 <= e1:
        W1 = w_all[wb + spk[e] * n:wb + spk[e] * n + n]
        W2 = w_all[wb + spk[e + 1] * n:wb + spk[e + 1] * n + n]
        W3 = w_all[wb + spk[e + 2] * n:wb + spk[e + 2] * n + n]
        W4 = w_all[wb + spk[e + 3] * n:wb + spk[e + 3] * n + n]
        for j in range(n):
            Vp[j] = (((Vp[j] + W1[j]) + W2[j]) + W3[j]) + W4[j]
        e += 4
    while e < e1:
        W1 = w_all[wb + spk[e] * n:wb + spk[e] * n + n]
        for j in range(n):
            Vp[j] += W1[j]
        e += 1
    return (e1 - e0) * n


@numba.njit(cache=True, inline="always")
def _runs_sync(Vp, tb, k, spk, e0, e1, gv, graded):
    """Add the conv runs of spikes spk[e0:e1] (channel-last target); returns SOPs."""
    rp, ro, L, wb = tb.p_poff[k], tb.p_roff[k], tb.p_rlen[k], tb.p_woff[k]
    nrun = 0
    for e in range(e0, e1):
        i = spk[e]
        r0 = tb.run_ptr_all[rp + i]
        r1 = tb.run_ptr_all[rp + i + 1]
        nrun += r1 - r0
        x = gv[i] if graded else 1.0
        for r in range(ro + r0, ro + r1):
            Vr = Vp[tb.run_tgt_all[r]:tb.run_tgt_all[r] + L]
            Wr = tb.w_all[wb + tb.run_w_all[r]:wb + tb.run_w_all[r] + L]
            if graded:
                for o in range(L):
                    Vr[o] += x * Wr[o]
            else:
                for o in range(L):
                    Vr[o] += Wr[o]
    return nrun * L


@numba.njit(cache=True, inline="always")
def _csr_sync(Vp, tb, k, spk, e0, e1, gv, graded):
    """Add the CSR rows of spikes spk[e0:e1]; returns SOPs."""
    pp, ib, wb = tb.p_poff[k], tb.p_ioff[k], tb.p_woff[k]
    nsop = 0
    for e in range(e0, e1):
        i = spk[e]
        a0 = tb.ptr_all[pp + i]
        a1 = tb.ptr_all[pp + i + 1]
        nsop += a1 - a0
        Ir = tb.idx_all[ib + a0:ib + a1]
        Wr = tb.w_all[wb + a0:wb + a1]
        if graded:
            x = gv[i]
            for q in range(a1 - a0):
                Vp[Ir[q]] += x * Wr[q]
        else:
            for q in range(a1 - a0):
                Vp[Ir[q]] += Wr[q]
    return nsop


@numba.njit(cache=True, inline="always")
def _fire_sync(Vp, cp, nr, perm, pp, off, spk, pos):
    """Sync threshold check of the population in ascending C-order index; appends spikes, returns pos."""
    fire_at = nr[0]
    if perm:
        for q in range(Vp.shape[0]):
            j = pp[q] - off
            if Vp[j] >= fire_at:
                _fire(Vp, cp, j, nr)
                spk[pos] = q
                pos += 1
    else:
        for j in range(Vp.shape[0]):
            if Vp[j] >= fire_at:
                _fire(Vp, cp, j, nr)
                spk[pos] = j
                pos += 1
    return pos


@numba.njit(cache=True)
def _population_sync(tb, p, s, steps, analog, V, cnt, spk, sptr, gv, pos, out):
    """All steps of neuron population p (sync): integrate every delivered spike, then check; returns pos."""
    off, n = tb.offsets[p], tb.sizes[p]
    nr = _neuron(tb, p)
    Vp, cp, bp, pp = V[off:off + n], cnt[off:off + n], tb.bias[off:off + n], tb.perm_all[off:off + n]
    perm = tb.pop_perm[p] != 0
    _init_population(Vp, cp, bp, nr)
    pb = p * (steps + 1)
    sptr[pb] = pos
    for t in range(steps):
        _step_start(Vp, bp, nr)
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
                nsop = _dense_sync(Vp, tb.w_all, tb.p_woff[k], spk, e0, e1, gv, graded)
            elif kind == _RUNS:
                nsop = _runs_sync(Vp, tb, k, spk, e0, e1, gv, graded)
            else:
                nsop = _csr_sync(Vp, tb, k, spk, e0, e1, gv, graded)
            out.sops[s, src] += nsop
        pos = _fire_sync(Vp, cp, nr, perm, pp, off, spk, pos)
        sptr[pb + t + 1] = pos
        if p == tb.outp:
            out.trace[s, t] = best_index(cp, Vp, 0, n)
    return pos


# ------------------------------------------------------------------ async delivery
@numba.njit(cache=True, inline="always")
def _add_flag(Vr, Wr, Tr, x, graded):
    """Vr += x * Wr (or Wr); True if some Vr >= Tr afterwards (vectorised candidate flag)."""
    fl = False
    if graded:
        for o in range(Vr.shape[0]):
            v = Vr[o] + x * Wr[o]
            Vr[o] = v
            fl |= v >= Tr[o]
    else:
        for o in range(Vr.shape[0]):
            v = Vr[o] + Wr[o]
            Vr[o] = v
            fl |= v >= Tr[o]
    return fl


@numba.njit(cache=True, inline="always")
def _dense_async(Vp, cp, tep, nr, w_all, wb, spk, e0, e1, gv, graded, pos):
    """Dense rows, spike by spike; every target occurs once in a row, so "add, then check in
    ascending order" equals "check after each add". Returns (SOPs, pos)."""
    n = Vp.shape[0]
    for e in range(e0, e1):
        i = spk[e]
        x = gv[i] if graded else 1.0
        if _add_flag(Vp, w_all[wb + i * n:wb + i * n + n], tep, x, graded):
            for j in range(n):
                if Vp[j] >= tep[j]:
                    _fire(Vp, cp, j, nr)
                    tep[j] = np.inf
                    spk[pos] = j
                    pos += 1
    return (e1 - e0) * n, pos


@numba.njit(cache=True, inline="always")
def _runs_async(Vp, cp, tep, nr, tb, k, ipp, off, spk, e0, e1, gv, graded, fbuf, pos):
    """Conv runs, spike by spike; a spike's firings are appended in ascending C-order index."""
    rp, ro, L, wb = tb.p_poff[k], tb.p_roff[k], tb.p_rlen[k], tb.p_woff[k]
    nsop = 0
    for e in range(e0, e1):
        i = spk[e]
        x = gv[i] if graded else 1.0
        r0 = tb.run_ptr_all[rp + i]
        r1 = tb.run_ptr_all[rp + i + 1]
        nsop += (r1 - r0) * L
        nf = 0
        for r in range(ro + r0, ro + r1):
            tb0 = tb.run_tgt_all[r]
            w0 = wb + tb.run_w_all[r]
            if _add_flag(Vp[tb0:tb0 + L], tb.w_all[w0:w0 + L], tep[tb0:tb0 + L], x, graded):
                for j in range(tb0, tb0 + L):
                    if Vp[j] >= tep[j]:
                        _fire(Vp, cp, j, nr)
                        tep[j] = np.inf
                        fbuf[nf] = ipp[j] - off
                        nf += 1
        for a in range(1, nf):  # insertion sort: few firings per spike
            v1 = fbuf[a]
            b = a - 1
            while b >= 0 and fbuf[b] > v1:
                fbuf[b + 1] = fbuf[b]
                b -= 1
            fbuf[b + 1] = v1
        for a in range(nf):
            spk[pos] = fbuf[a]
            pos += 1
    return nsop, pos


@numba.njit(cache=True, inline="always")
def _csr_async(Vp, cp, tep, nr, tb, k, spk, e0, e1, gv, graded, pos):
    """CSR rows, synapse by synapse, each target checked right after its increment."""
    pp, ib, wb = tb.p_poff[k], tb.p_ioff[k], tb.p_woff[k]
    nsop = 0
    for e in range(e0, e1):
        i = spk[e]
        x = gv[i] if graded else 1.0
        a0 = tb.ptr_all[pp + i]
        a1 = tb.ptr_all[pp + i + 1]
        nsop += a1 - a0
        for q in range(a0, a1):
            j = tb.idx_all[ib + q]
            if graded:
                Vp[j] += x * tb.w_all[wb + q]
            else:
                Vp[j] += tb.w_all[wb + q]
            if Vp[j] >= tep[j]:
                _fire(Vp, cp, j, nr)
                tep[j] = np.inf
                spk[pos] = j
                pos += 1
    return nsop, pos


@numba.njit(cache=True, inline="always")
def _carry_over(Vp, cp, tep, nr, perm, pp, off, spk, pos):
    """Async step start: neurons still at/above threshold fire now (ascending C-order index); every
    neuron's tep becomes +inf (fired this step) or fire_at."""
    fire_at = nr[0]
    for q in range(Vp.shape[0]):
        j = pp[q] - off if perm else q
        if Vp[j] >= fire_at:
            _fire(Vp, cp, j, nr)
            tep[j] = np.inf
            spk[pos] = q
            pos += 1
        else:
            tep[j] = fire_at
    return pos


@numba.njit(cache=True)
def _population_async(tb, p, s, steps, analog, V, cnt, te, spk, sptr, gv, fbuf, pos, out):
    """All steps of neuron population p (async): leak, bias current, carry-over check, then spike by
    spike delivery with each target checked as it is reached (at most one spike per step); returns pos."""
    off, n = tb.offsets[p], tb.sizes[p]
    nr = _neuron(tb, p)
    Vp, cp, bp, tep = V[off:off + n], cnt[off:off + n], tb.bias[off:off + n], te[off:off + n]
    pp, ipp = tb.perm_all[off:off + n], tb.iperm_all[off:off + n]
    perm = tb.pop_perm[p] != 0
    _init_population(Vp, cp, bp, nr)
    pb = p * (steps + 1)
    sptr[pb] = pos
    for t in range(steps):
        _step_start(Vp, bp, nr)
        pos = _carry_over(Vp, cp, tep, nr, perm, pp, off, spk, pos)
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
                nsop, pos = _dense_async(Vp, cp, tep, nr, tb.w_all, tb.p_woff[k], spk, e0, e1, gv, graded, pos)
            elif kind == _RUNS:
                nsop, pos = _runs_async(Vp, cp, tep, nr, tb, k, ipp, off, spk, e0, e1, gv, graded, fbuf, pos)
            else:
                nsop, pos = _csr_async(Vp, cp, tep, nr, tb, k, spk, e0, e1, gv, graded, pos)
            out.sops[s, src] += nsop
        sptr[pb + t + 1] = pos
        if p == tb.outp:
            out.trace[s, t] = best_index(cp, Vp, 0, n)
    return pos


# ------------------------------------------------------------------ driver
@numba.njit(cache=True, inline="always")
def _write_sample(tb, s, steps, V, cnt, spk, sptr, out, record_raster):
    """Copy sample s's counts and potentials (C order) and, if asked, its buckets."""
    total = tb.offsets[tb.sizes.shape[0]]
    for j in range(total):
        out.counts[s, j] = cnt[tb.perm_all[j]]
        out.membrane[s, j] = V[tb.perm_all[j]]
    if record_raster:
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
    spk = np.zeros(steps * total, dtype=np.int32)  # buckets: population p's spikes from steps*offsets[p]
    sptr = np.zeros(n_pop * (steps + 1), dtype=np.int64)
    gv = np.zeros(D, dtype=np.float64)
    nz = np.zeros(D, dtype=np.int32)
    fbuf = np.zeros(max(1, tb.sizes.max()), dtype=np.int32)
    for s in range(s0, s1):
        for p in range(n_pop):
            pos = steps * tb.offsets[p]
            if p == tb.inp:
                _input_population(tb, inp, s, steps, cnt, spk, sptr, gv, nz, pos)
            elif async_mode:
                _population_async(tb, p, s, steps, analog, V, cnt, te, spk, sptr, gv, fbuf, pos, out)
            else:
                _population_sync(tb, p, s, steps, analog, V, cnt, spk, sptr, gv, pos, out)
        _write_sample(tb, s, steps, V, cnt, spk, sptr, out, record_raster)


@numba.njit(cache=True, parallel=True)
def run_samples(tb, inp, out, steps, async_mode, record_raster, nchunks):
    """Simulate every sample (rows of ``out``) for ``steps`` steps, samples split into ``nchunks``
    chunks run in parallel threads. (The chunk is a separate, not inlined, function: numba's parfor
    pass loses writes through a namedtuple's arrays made directly in a prange body.)"""
    N = out.counts.shape[0]
    for c in numba.prange(nchunks):
        _run_chunk(tb, inp, out, steps, async_mode, record_raster, c * N // nchunks, (c + 1) * N // nchunks)
