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

from simcore.neuron_kernels import fire

__all__ = ["dense_sync", "runs_sync", "csr_sync", "add_flag", "dense_async", "runs_async", "csr_async"]


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
def runs_sync(Vp, tb, k, spk, e0, e1, gv, graded):
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
def add_flag(Vr, Wr, Tr, x, graded):
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
def dense_async(Vp, cp, tep, nr, w_all, wb, spk, e0, e1, gv, graded, pos):
    """Dense rows, spike by spike; every target occurs once in a row, so "add, then check in
    ascending order" equals "check after each add". Returns (SOPs, pos)."""
    n = Vp.shape[0]
    for e in range(e0, e1):
        i = spk[e]
        x = gv[i] if graded else 1.0
        if add_flag(Vp, w_all[wb + i * n:wb + i * n + n], tep, x, graded):
            for j in range(n):
                if Vp[j] >= tep[j]:
                    fire(Vp, cp, j, nr)
                    tep[j] = np.inf
                    spk[pos] = j
                    pos += 1
    return (e1 - e0) * n, pos


@numba.njit(cache=True, inline="always")
def runs_async(Vp, cp, tep, nr, tb, k, ipp, off, spk, e0, e1, gv, graded, fbuf, pos):
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
            if add_flag(Vp[tb0:tb0 + L], tb.w_all[w0:w0 + L], tep[tb0:tb0 + L], x, graded):
                for j in range(tb0, tb0 + L):
                    if Vp[j] >= tep[j]:
                        fire(Vp, cp, j, nr)
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
