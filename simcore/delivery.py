"""Spike delivery helpers of the kernels (numba, inlined): one source spike's synapses added to V.

Layouts (see :mod:`simcore.compiler`): a dense row (``dense_*``), conv runs of ``C_out``
contiguous targets in a channel-last population (``runs_*``), a CSR row (``csr_*``). The sync
helpers only add (the population is checked after all deliveries of the step); the async helpers
check each target as it is reached, against ``tep`` (the population's ``fire_at``, or +inf for a
neuron that already fired this step: at most one spike per step), and append firings to ``spk``.
Every helper returns the SOPs (synapses reached); the async ones also the new bucket position.
"""
from __future__ import annotations

import numba
import numpy as np

from simcore.neuron_kernels import after_fire, fire

_CHUNK = 32  # async runs: targets per vectorised test when a flagged run is scanned

__all__ = ["dense_sync", "runs_sync", "csr_sync", "add_flag", "fire_reached", "sort_firings", "async_flag_bytes",
           "dense_async", "runs_async", "csr_async"]


@numba.njit(cache=True, inline="always")
def dense_sync(Vp, w_all, wb, spk, e0, e1, gv, graded):
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
def _same_runs(tb, a0, a1, b0, b1):
    """Runs a0:a1 and b0:b1 reach the same targets with the same weights (e.g. two sources pooled
    into one input of a conv)."""
    if a1 - a0 != b1 - b0:
        return False
    for q in range(a1 - a0):
        if (tb.run_tgt_all[a0 + q] != tb.run_tgt_all[b0 + q] or tb.run_w_all[a0 + q] != tb.run_w_all[b0 + q]
                or tb.run_len_all[a0 + q] != tb.run_len_all[b0 + q]):
            return False
    return True


# Deliberately separate from csr_sync: contiguous conv runs (slice adds) vs scattered CSR rows are distinct hot loops.
@numba.njit(cache=True, inline="always")
def runs_sync(Vp, tb, k, spk, e0, e1, gv, graded):
    """Add the conv runs of spikes spk[e0:e1] (channel-last target); returns SOPs. Two consecutive
    binary spikes with the same runs go in one pass, ``(V + w) + w`` (the same two roundings)."""
    rp, ro, wb = tb.p_poff[k], tb.p_roff[k], tb.p_woff[k]
    nsop = 0
    e = e0
    while e < e1:
        i = spk[e]
        r0 = ro + tb.run_ptr_all[rp + i]
        r1 = ro + tb.run_ptr_all[rp + i + 1]
        two = False
        if not graded and e + 1 < e1:
            i2 = spk[e + 1]
            two = _same_runs(tb, r0, r1, ro + tb.run_ptr_all[rp + i2], ro + tb.run_ptr_all[rp + i2 + 1])
        x = gv[i] if graded else 1.0
        for r in range(r0, r1):
            L = tb.run_len_all[r]
            nsop += 2 * L if two else L
            Vr = Vp[tb.run_tgt_all[r]:tb.run_tgt_all[r] + L]
            Wr = tb.w_all[wb + tb.run_w_all[r]:wb + tb.run_w_all[r] + L]
            if graded:
                for o in range(L):
                    Vr[o] += x * Wr[o]
            elif two:
                for o in range(L):
                    Vr[o] = (Vr[o] + Wr[o]) + Wr[o]
            else:
                for o in range(L):
                    Vr[o] += Wr[o]
        e += 2 if two else 1
    return nsop


# Deliberately separate from runs_sync: scattered CSR targets vs contiguous runs are distinct hot loops.
@numba.njit(cache=True, inline="always")
def csr_sync(Vp, tb, k, spk, e0, e1, gv, graded):
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
def add_flag(Vr, Wr, t, x, graded, fb):
    """Vr += x * Wr (or Wr), vectorised; fb[o] = 1 where Vr[o] >= t afterwards (t: a scalar,
    fire_at, which bounds every target's tep: a superset of the targets that fire), else 0.
    Returns the number flagged."""
    nfl = 0
    if graded:
        for o in range(Vr.shape[0]):
            v = Vr[o] + x * Wr[o]
            Vr[o] = v
            m = v >= t
            fb[o] = m
            nfl += m
    else:
        for o in range(Vr.shape[0]):
            v = Vr[o] + Wr[o]
            Vr[o] = v
            m = v >= t
            fb[o] = m
            nfl += m
    return nfl


@numba.njit(cache=True, inline="always")
def _flag8(Vp, tep, fb, W1, W2, W3, W4, W5, W6, W7, W8):
    """Eight dense rows in one vectorised pass: each neuron's running sum V + W1 + ... + W8 (the
    spike-by-spike roundings) is stored unless it reached tep (fire_at, or +inf once fired) after
    some add (its running maximum reached tep: exactly the neurons that fire in the batch); such a
    neuron keeps its V and gets fb[j] = 1 (else 0). Returns the number flagged."""
    nfl = 0
    for j in range(Vp.shape[0]):
        v0 = Vp[j]
        v = v0 + W1[j]
        mx = v
        v = v + W2[j]
        mx = v if v > mx else mx
        v = v + W3[j]
        mx = v if v > mx else mx
        v = v + W4[j]
        mx = v if v > mx else mx
        v = v + W5[j]
        mx = v if v > mx else mx
        v = v + W6[j]
        mx = v if v > mx else mx
        v = v + W7[j]
        mx = v if v > mx else mx
        v = v + W8[j]
        mx = v if v > mx else mx
        m = mx >= tep[j]
        Vp[j] = v0 if m else v
        fb[j] = m
        nfl += m
    return nfl


@numba.njit(cache=True, inline="always")
def _flagged(fb, nfl, fbuf, at):
    """The indices of the nfl non-zero bytes of fb into fbuf[at:], ascending; returns nfl. Tests
    eight bytes at a time (fb: uint8 from :func:`async_flag_bytes`, zero past the flags written)
    and stops at the last one."""
    words = fb.view(np.uint64)
    nf = 0
    for q in range(words.shape[0]):
        if words[q]:
            for j in range(8 * q, 8 * q + 8):
                if fb[j]:
                    fbuf[at + nf] = j
                    nf += 1
            if nf == nfl:
                break
    return nf


@numba.njit(cache=True, inline="always")
def _fire_flagged(Vp, cp, tep, nr, fb, nfl, fbuf, w_all, wb, spk, e, pos):
    """The nfl neurons flagged by :func:`_flag8` for spikes spk[e:e+8], spike by spike (each fires
    exactly once, at the first add that reaches its tep; later adds still count); their firings
    are appended ordered by the spike that caused them, then ascending index. Returns pos."""
    n = Vp.shape[0]
    nf = _flagged(fb, nfl, fbuf, 0)
    rows = (wb + spk[e] * n, wb + spk[e + 1] * n, wb + spk[e + 2] * n, wb + spk[e + 3] * n, wb + spk[e + 4] * n,
            wb + spk[e + 5] * n, wb + spk[e + 6] * n, wb + spk[e + 7] * n)
    for q in range(nf):
        j = fbuf[q]
        v, t = Vp[j], tep[j]
        for b in range(8):
            v += w_all[rows[b] + j]
            if v >= t:
                v = after_fire(v, nr)
                t = np.inf
                fb[j] = b
                cp[j] += 1
        Vp[j], tep[j] = v, t
    for b in range(8):
        for q in range(nf):
            if fb[fbuf[q]] == b:
                spk[pos] = fbuf[q]
                pos += 1
    return pos


@numba.njit(cache=True, inline="always")
def async_flag_bytes(n):
    """The flag bytes of the async helpers for populations of at most n neurons: zeros to a whole
    number of 8-byte words. The helpers write only the first n_p bytes of population p and need
    the bytes of the word after them zero (the caller clears them when a larger one used them)."""
    return np.zeros(8 * (n // 8 + 1), np.uint8)


@numba.njit(cache=True, inline="always")
def dense_async(Vp, cp, tep, nr, w_all, wb, spk, e0, e1, gv, graded, fb, fbuf, pos):
    """Dense rows, spike by spike; every target occurs once in a row, so "add, then check in
    ascending order" equals "check after each add". Binary spikes go eight per pass over V
    (:func:`_flag8`; the few neurons that reach threshold in the batch are redone spike by spike
    by :func:`_fire_flagged`); the rest and graded input one row at a time. fb: flag bytes from
    :func:`async_flag_bytes`; fbuf: int32 scratch of at least len(Vp).
    Returns (SOPs, pos)."""
    n = Vp.shape[0]
    e = e0
    while not graded and e + 8 <= e1:
        nfl = _flag8(Vp, tep, fb, w_all[wb + spk[e] * n:wb + spk[e] * n + n],
                     w_all[wb + spk[e + 1] * n:wb + spk[e + 1] * n + n], w_all[wb + spk[e + 2] * n:wb + spk[e + 2] * n + n],
                     w_all[wb + spk[e + 3] * n:wb + spk[e + 3] * n + n], w_all[wb + spk[e + 4] * n:wb + spk[e + 4] * n + n],
                     w_all[wb + spk[e + 5] * n:wb + spk[e + 5] * n + n], w_all[wb + spk[e + 6] * n:wb + spk[e + 6] * n + n],
                     w_all[wb + spk[e + 7] * n:wb + spk[e + 7] * n + n])
        if nfl:
            pos = _fire_flagged(Vp, cp, tep, nr, fb, nfl, fbuf, w_all, wb, spk, e, pos)
        e += 8
    for e in range(e, e1):
        i = spk[e]
        nfl = add_flag(Vp, w_all[wb + i * n:wb + i * n + n], nr[0], gv[i] if graded else 1.0, graded, fb)
        for q in range(_flagged(fb, nfl, fbuf, 0) if nfl else 0):
            j = fbuf[q]
            if Vp[j] >= tep[j]:
                fire(Vp, cp, j, nr)
                tep[j] = np.inf
                spk[pos] = j
                pos += 1
    return (e1 - e0) * n, pos


@numba.njit(cache=True, inline="always")
def fire_reached(Vr, cr, Tr, nr, ipr, off, fbuf, nf):
    """Fire the targets of a run (already added) at or above their tep (+inf for a target that
    fired in this step), appending their C-order index to fbuf[nf:]; chunks of _CHUNK targets are
    tested vectorised first. Returns nf."""
    for c in range(0, Vr.shape[0], _CHUNK):
        hit = False
        for j in range(c, min(c + _CHUNK, Vr.shape[0])):
            hit |= Vr[j] >= Tr[j]
        if hit:
            for j in range(c, min(c + _CHUNK, Vr.shape[0])):
                if Vr[j] >= Tr[j]:
                    fire(Vr, cr, j, nr)
                    Tr[j] = np.inf
                    fbuf[nf] = ipr[j] - off
                    nf += 1
    return nf


@numba.njit(cache=True, inline="always")
def sort_firings(fbuf, nf):
    """Sort fbuf[:nf] ascending: insertion sort for the usual few, the library sort for many (one
    input pixel can fire hundreds of conv targets at once: quadratic there)."""
    if nf > 24:
        fbuf[:nf].sort()
        return
    for a in range(1, nf):
        v1 = fbuf[a]
        b = a - 1
        while b >= 0 and fbuf[b] > v1:
            fbuf[b + 1] = fbuf[b]
            b -= 1
        fbuf[b + 1] = v1


@numba.njit(cache=True, inline="always")
def runs_async(Vp, cp, tep, nr, tb, k, ipp, off, spk, e0, e1, gv, graded, fb, fbuf, pos):
    """Conv runs, spike by spike; a spike's firings are appended in ascending C-order index."""
    rp, ro, wb = tb.p_poff[k], tb.p_roff[k], tb.p_woff[k]
    nsop = 0
    for e in range(e0, e1):
        i = spk[e]
        x = gv[i] if graded else 1.0
        r0 = tb.run_ptr_all[rp + i]
        r1 = tb.run_ptr_all[rp + i + 1]
        nf = 0
        for r in range(ro + r0, ro + r1):
            L = tb.run_len_all[r]
            nsop += L
            t0 = tb.run_tgt_all[r]
            w0 = wb + tb.run_w_all[r]
            nfl = add_flag(Vp[t0:t0 + L], tb.w_all[w0:w0 + L], nr[0], x, graded, fb)
            if nfl:
                fb[L:L + 7] = 0  # clear what a longer run left in the last word
            for a in range(nf, nf + _flagged(fb, nfl, fbuf, nf) if nfl else nf):
                j = t0 + fbuf[a]  # compacted in place: nf <= a
                if Vp[j] >= tep[j]:
                    fire(Vp, cp, j, nr)
                    tep[j] = np.inf
                    fbuf[nf] = ipp[j] - off
                    nf += 1
        sort_firings(fbuf, nf)
        for a in range(nf):
            spk[pos] = fbuf[a]
            pos += 1
    return nsop, pos


@numba.njit(cache=True, inline="always")
def csr_async(Vp, cp, tep, nr, tb, k, spk, e0, e1, gv, graded, pos):
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
                fire(Vp, cp, j, nr)
                tep[j] = np.inf
                spk[pos] = j
                pos += 1
    return nsop, pos
