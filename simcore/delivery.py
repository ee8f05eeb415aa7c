"""Spike delivery helpers of the kernels (numba, inlined): one source spike's synapses added to V.

Layouts (see :mod:`simcore.compiler`): a dense row (``dense_*``), conv runs of ``C_out``
contiguous targets in a channel-last population (``runs_*``), a CSR row (``csr_*``). The sync
helpers only add (the population is checked after all deliveries of the step); the async helpers
check each target as it is reached, against ``tep`` (the population's ``fire_at``, or +inf for a
neuron that already fired this step: at most one spike per step), and append firings to ``spk``.
Every helper returns the SOPs (synapses reached); the async ones also the new bucket position.
"""
from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from simcore.neuron_kernels import after_fire, fire

__all__ = ["RunScratch", "run_scratch", "run_scratch_bytes", "dense_sync", "runs_sync", "csr_sync", "fire_reached",
           "sort_firings", "flag_words", "dense_async", "runs_async", "csr_async"]


@numba.njit(cache=True, inline="always")
def _add8(Vp, t0, uL, w_all, o1, o2, o3, o4, o5, o6, o7, o8):
    """Vp[t0 + o] += eight rows (w_all at uint64 offsets o1..o8), o < uL, in one pass:
    ((((V + a) + b) + c) + ...) is the same sequence of roundings as one pass per row."""
    for o in range(np.uint64(0), uL):
        j = t0 + o
        Vp[j] = (((((((Vp[j] + w_all[o1 + o]) + w_all[o2 + o]) + w_all[o3 + o]) + w_all[o4 + o]) + w_all[o5 + o])
                  + w_all[o6 + o]) + w_all[o7 + o]) + w_all[o8 + o]


@numba.njit(cache=True, inline="always")
def _add4(Vp, t0, uL, w_all, o1, o2, o3, o4):
    """:func:`_add8` for four rows (a separate straight-line body: LLVM vectorises only those)."""
    for o in range(np.uint64(0), uL):
        j = t0 + o
        Vp[j] = (((Vp[j] + w_all[o1 + o]) + w_all[o2 + o]) + w_all[o3 + o]) + w_all[o4 + o]


@numba.njit(cache=True, inline="always")
def _add7(Vp, t0, uL, w_all, o1, o2, o3, o4, o5, o6, o7):
    """:func:`_add8` for seven rows (a short key's rows in one pass, not three)."""
    for o in range(np.uint64(0), uL):
        j = t0 + o
        Vp[j] = ((((((Vp[j] + w_all[o1 + o]) + w_all[o2 + o]) + w_all[o3 + o]) + w_all[o4 + o]) + w_all[o5 + o])
                 + w_all[o6 + o]) + w_all[o7 + o]


@numba.njit(cache=True, inline="always")
def _add6(Vp, t0, uL, w_all, o1, o2, o3, o4, o5, o6):
    """:func:`_add8` for six rows."""
    for o in range(np.uint64(0), uL):
        j = t0 + o
        Vp[j] = (((((Vp[j] + w_all[o1 + o]) + w_all[o2 + o]) + w_all[o3 + o]) + w_all[o4 + o]) + w_all[o5 + o]) \
            + w_all[o6 + o]


@numba.njit(cache=True, inline="always")
def _add5(Vp, t0, uL, w_all, o1, o2, o3, o4, o5):
    """:func:`_add8` for five rows."""
    for o in range(np.uint64(0), uL):
        j = t0 + o
        Vp[j] = ((((Vp[j] + w_all[o1 + o]) + w_all[o2 + o]) + w_all[o3 + o]) + w_all[o4 + o]) + w_all[o5 + o]


@numba.njit(cache=True, inline="always")
def _add3(Vp, t0, uL, w_all, o1, o2, o3):
    """:func:`_add8` for three rows."""
    for o in range(np.uint64(0), uL):
        j = t0 + o
        Vp[j] = ((Vp[j] + w_all[o1 + o]) + w_all[o2 + o]) + w_all[o3 + o]


@numba.njit(cache=True, inline="always")
def _add2(Vp, t0, uL, w_all, o1, o2):
    """:func:`_add8` for two rows."""
    for o in range(np.uint64(0), uL):
        j = t0 + o
        Vp[j] = (Vp[j] + w_all[o1 + o]) + w_all[o2 + o]


@numba.njit(cache=True, inline="always")
def _add1(Vp, t0, uL, w_all, o1):
    """:func:`_add8` for one row."""
    for o in range(np.uint64(0), uL):
        Vp[t0 + o] += w_all[o1 + o]


@numba.njit(cache=True, inline="always")
def _add1x(Vp, t0, uL, w_all, o1, x):
    """One row scaled by x (a graded spike): Vp[t0 + o] += x * w_all[o1 + o], o < uL."""
    for o in range(np.uint64(0), uL):
        Vp[t0 + o] += x * w_all[o1 + o]


@numba.njit(cache=True, inline="always")
def dense_sync(Vp, w_all, wb, spk, e0, e1, gv, graded):
    """Add the dense rows of spikes spk[e0:e1] (row i at w_all[wb + i*n:]), eight per pass over V,
    the last one to seven in one pass, in bucket order; returns SOPs."""
    n = Vp.shape[0]
    un, z = np.uint64(n), np.uint64(0)
    if graded:
        for e in range(e0, e1):
            _add1x(Vp, z, un, w_all, np.uint64(wb + spk[e] * n), gv[spk[e]])
        return (e1 - e0) * n
    e = e0
    while e + 8 <= e1:
        _add8(Vp, z, un, w_all, np.uint64(wb + spk[e] * n), np.uint64(wb + spk[e + 1] * n),
              np.uint64(wb + spk[e + 2] * n), np.uint64(wb + spk[e + 3] * n), np.uint64(wb + spk[e + 4] * n),
              np.uint64(wb + spk[e + 5] * n), np.uint64(wb + spk[e + 6] * n), np.uint64(wb + spk[e + 7] * n))
        e += 8
    r = e1 - e
    if r:
        last = e1 - 1  # spikes past the r-th are not added: read in bounds
        _add_upto7(Vp, z, un, w_all, r, np.uint64(wb + spk[e] * n), np.uint64(wb + spk[min(e + 1, last)] * n),
                   np.uint64(wb + spk[min(e + 2, last)] * n), np.uint64(wb + spk[min(e + 3, last)] * n),
                   np.uint64(wb + spk[min(e + 4, last)] * n), np.uint64(wb + spk[min(e + 5, last)] * n),
                   np.uint64(wb + spk[min(e + 6, last)] * n))
    return (e1 - e0) * n


@numba.njit(cache=True, inline="always")
def _add_upto7(Vp, t0, uL, w_all, r, o1, o2, o3, o4, o5, o6, o7):
    """The first r (0 to 7) of the rows at o1..o7 added in one pass (:func:`_add8`'s roundings)."""
    if r >= 4:
        if r == 7:
            _add7(Vp, t0, uL, w_all, o1, o2, o3, o4, o5, o6, o7)
        elif r == 6:
            _add6(Vp, t0, uL, w_all, o1, o2, o3, o4, o5, o6)
        elif r == 5:
            _add5(Vp, t0, uL, w_all, o1, o2, o3, o4, o5)
        else:
            _add4(Vp, t0, uL, w_all, o1, o2, o3, o4)
    elif r == 3:
        _add3(Vp, t0, uL, w_all, o1, o2, o3)
    elif r == 2:
        _add2(Vp, t0, uL, w_all, o1, o2)
    elif r == 1:
        _add1(Vp, t0, uL, w_all, o1)


@numba.njit(cache=True, inline="always")
def _add_rows(Vp, t0, uL, w_all, rows, a0, a1):
    """Vp[t0:t0 + uL] += the rows at uint64 offsets rows[a0:a1] of w_all, in that order, eight per
    pass (:func:`_add8`), the last one to seven in one pass."""
    a = a0
    while a + 8 <= a1:
        _add8(Vp, t0, uL, w_all, rows[a], rows[a + 1], rows[a + 2], rows[a + 3], rows[a + 4], rows[a + 5],
              rows[a + 6], rows[a + 7])
        a += 8
    r = a1 - a
    if r:
        last = a1 - 1  # rows past the r-th are not added: read in bounds
        _add_upto7(Vp, t0, uL, w_all, r, rows[a], rows[min(a + 1, last)], rows[min(a + 2, last)],
                   rows[min(a + 3, last)], rows[min(a + 4, last)], rows[min(a + 5, last)], rows[min(a + 6, last)])


# The scratch of the sync conv-run delivery (:func:`runs_sync`), one per thread, made by
# :func:`run_scratch`: kcnt, int64 (2 x the largest tb.p_nkey): rows per key, then the keys reached;
# rows, uint64 (the number of runs): the rows' weight offsets in their keys' slots; gcnt, int64 (the
# largest tb.p_ngrp): spikes per group of pooled partners; glist, int64 ((1 + largest tb.p_gbits) x
# the largest tb.p_ngrp + 1): the groups reached, then their (group, digit) pairs. Counters are
# left zero after each use.
RunScratch = namedtuple("RunScratch", ["kcnt", "rows", "gcnt", "glist"])


@numba.njit(cache=True)
def run_scratch(tb, used):
    """A zeroed :data:`RunScratch` for the tables tb (empty arrays when not ``used``: async mode)."""
    nk, ng, nb = (tb.p_nkey.max(), tb.p_ngrp.max(), tb.p_gbits.max()) if used else (0, 0, 0)
    return RunScratch(np.zeros(2 * nk, np.int64), np.zeros(tb.run_tgt_all.size if used else 0, np.uint64),
                      np.zeros(ng, np.int64), np.zeros(ng * (1 + nb) + 1 if used else 0, np.int64))


def run_scratch_bytes(tb) -> int:
    """Bytes of one :func:`run_scratch` (sync mode), measured on one."""
    return sum(a.nbytes for a in run_scratch(tb, True))


@numba.njit(cache=True, _nrt=False)
def _merge_groups(src_grp, grp_rep, run_ptr, run_key, run_w, run_len, key_slot, spk, e0, e1, wb, tl, nbits, kcnt,
                  rows, gcnt, gl):
    """Bin the runs of spikes spk[e0:e1] of a merged projection (``tb.p_ngrp[k] > 0``) by target run,
    pooled partners merged: count the spikes of each group of sources with the same runs, list
    each reached group once per binary digit b of its count, then put the group's runs into their
    keys' slots from the table copy scaled by 2**b (m w as a sum of exact rows; copies tl apart,
    nbits of them). The projection's tables come as views from its offsets (``src_grp``/``run_ptr``
    per source, ``grp_rep`` per group, ``run_*`` per run, ``key_slot`` per key). Returns (keys
    reached, listed in the second half of kcnt; SOPs). kcnt, rows, gcnt: :data:`RunScratch`; gl: its
    glist (the groups reached, then from ng on their (group << 8 | digit) pairs). Not inlined: its own
    registers (inlined into the population's loop, its values lived on the stack)."""
    kl = kcnt[kcnt.shape[0] // 2:]
    ng = 0
    for e in range(e0, e1):
        g = np.uint64(src_grp[spk[e]])
        c = gcnt[g]
        gcnt[g] = c + 1
        gl[np.uint64(ng)] = g  # kept only if g is new (branch-free)
        ng += c == 0
    nd = ng  # then at most nbits digits per group reached (and one write past them)
    for q in range(np.uint64(0), np.uint64(ng)):
        g = gl[q]
        m = gcnt[g]
        gcnt[g] = 0
        for b in range(nbits):
            gl[np.uint64(nd)] = g << 8 | b  # kept only if digit b of m is 1
            nd += (m >> b) & 1
    nk = 0
    nsop = 0
    for q in range(np.uint64(ng), np.uint64(nd)):
        b = gl[q] & 255
        i = grp_rep[np.uint64(gl[q] >> 8)]
        wo = wb + b * tl
        for r in range(np.uint64(run_ptr[i]), np.uint64(run_ptr[i + 1])):
            nsop += np.int64(run_len[r]) << b
            h = np.uint64(run_key[r])
            c = kcnt[h]
            rows[np.uint64(key_slot[h] + c)] = np.uint64(wo + run_w[r])
            kcnt[h] = c + 1
            kl[np.uint64(nk)] = h
            nk += c == 0
    return nk, nsop


# Deliberately separate from csr_sync: contiguous conv runs (slice adds) vs scattered CSR rows are distinct hot loops.
@numba.njit(cache=True, inline="always")
def runs_sync(Vp, tb, k, wb, spk, e0, e1, gv, graded, sc):
    """Add the conv runs of projection k for spikes spk[e0:e1] (channel-last target; weights at
    w_all[wb:], ``tb.p_woff[k]`` or the negated copy ``tb.p_wneg[k]``); returns SOPs.

    Binary spikes of a binned projection (``tb.p_nkey[k] > 0``) are binned by target run first (the
    projection's keys, ``tb.p_koff``: every run with the same targets, from any source): each run's
    weight offset goes to its key's slots in ``rows``, then each key's rows are added over its
    targets up to eight per pass (:func:`_add_rows`), keys in the order first reached, a key's rows
    in bucket order. Pooled and overlapping kernels put several spikes on the same targets, so a
    pass carries many rows (the trained CNN's c1 -> c2: ten on average) instead of one. In a merged
    projection (``tb.p_ngrp[k] > 0``) pooled partners that spike in the same step share their
    rows (:func:`_merge_groups`). sc: :data:`RunScratch`. Graded spikes, and all of a projection not
    binned, go spike by spike, run by run."""
    rp, ro = tb.p_poff[k], np.uint64(tb.p_roff[k])
    w_all = tb.w_all
    nsop = 0
    if graded or tb.p_nkey[k] == 0:
        for e in range(e0, e1):
            i = spk[e]
            x = gv[i] if graded else 1.0
            for r in range(ro + np.uint64(tb.run_ptr_all[rp + i]), ro + np.uint64(tb.run_ptr_all[rp + i + 1])):
                L = tb.run_len_all[r]
                nsop += L
                t0 = np.uint64(tb.run_tgt_all[r])
                w0 = np.uint64(wb + tb.run_w_all[r])
                if graded:
                    _add1x(Vp, t0, np.uint64(L), w_all, w0, x)
                else:
                    _add1(Vp, t0, np.uint64(L), w_all, w0)
        return nsop
    ko = np.uint64(tb.p_koff[k])
    kcnt, rows = sc.kcnt, sc.rows
    kl = kcnt[kcnt.shape[0] // 2:]
    merged = tb.p_ngrp[k] > 0
    if merged:
        n_src = tb.sizes[tb.p_src[k]]
        nk, nsop = _merge_groups(tb.src_grp_all[rp:rp + n_src], tb.grp_rep_all[tb.p_goff[k]:],
                                 tb.run_ptr_all[rp:rp + n_src + 1], tb.run_key_all[ro:], tb.run_w_all[ro:],
                                 tb.run_len_all[ro:], tb.key_slot_all[ko:], spk, e0, e1, wb, tb.p_tlen[k],
                                 tb.p_gbits[k], kcnt, rows, sc.gcnt, sc.glist)
    else:
        nk = 0  # keys reached, listed in order of first reach in the second half of kcnt
        for e in range(e0, e1):
            i = spk[e]
            for r in range(ro + np.uint64(tb.run_ptr_all[rp + i]), ro + np.uint64(tb.run_ptr_all[rp + i + 1])):
                g = np.uint64(tb.run_key_all[r])
                c = kcnt[g]
                rows[np.uint64(tb.key_slot_all[ko + g] + c)] = np.uint64(wb + tb.run_w_all[r])
                kcnt[g] = c + 1
                kl[np.uint64(nk)] = g  # kept only if g is new (branch-free)
                nk += c == 0
    for q in range(np.uint64(0), np.uint64(nk)):
        g = np.uint64(kl[q])
        c = kcnt[g]
        kcnt[g] = 0
        L = tb.key_len_all[ko + g]
        if not merged:
            nsop += c * L
        a0 = tb.key_slot_all[ko + g]
        _add_rows(Vp, np.uint64(tb.key_tgt_all[ko + g]), np.uint64(L), w_all, rows, a0, a0 + c)
    return nsop


# Deliberately separate from runs_sync: scattered CSR targets vs contiguous runs are distinct hot loops.
@numba.njit(cache=True, inline="always")
def csr_sync(Vp, tb, k, wb, spk, e0, e1, gv, graded):
    """Add the CSR rows of projection k for spikes spk[e0:e1] (weights at w_all[wb:], as in
    :func:`runs_sync`); returns SOPs."""
    pp, ib = tb.p_poff[k], tb.p_ioff[k]
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


# Async helpers, all inlined into kernels._population_async, which is compiled without numba's
# reference counting (_nrt=False; nothing there allocates): with it, every slice and every array
# passed to an inlined helper was counted with atomic increments and decrements that LLVM could not
# remove around the tests and rarely taken branches of these loops; they took half the trained
# CNN's async run and a fifth of the MLP's (measured with perf). The passes index whole arrays at
# uint64 positions: unsigned, so numba adds no negative-index wraparound and LLVM vectorises them
# as it does a loop over a slice.


def _debruijn_table():
    """Position of the single set bit b of a uint64 word from ((b * _DEBRUIJN) >> 58)."""
    table = np.full(64, -1, np.int64)
    for i in range(64):
        table[((1 << i) * _DEBRUIJN) % 2**64 >> 58] = i
    assert (table >= 0).all()
    return table


_DEBRUIJN = 0x03F79D71B4CB0A89
_BIT_AT = _debruijn_table()


@numba.njit(cache=True, inline="always")
def _flagged(fb, fw, n, nfl, fbuf, at):
    """The indices of the nfl (> 0) non-zero bytes of fb[:n] into fbuf[at:], ascending; returns nfl.
    Skips zero bytes 32 at a time, then takes the set bits of each non-zero word lowest first (fw:
    the same memory as uint64 words, from :func:`flag_words`; flag bytes are 0 or 1, the bytes
    from n on are ignored), and stops at the last one."""
    nf = 0
    q = 0
    q4 = (n + 7) // 8 - 3  # a group of four words starting below q4 lies within fb[:n] (rounded up)
    while nf < nfl:
        while q < q4 and (fw[q] | fw[q + 1] | fw[q + 2] | fw[q + 3]) == 0:
            q += 4
        w = fw[q]
        while w:
            b = w & (~w + np.uint64(1))  # the lowest set bit
            j = 8 * q + (_BIT_AT[(b * np.uint64(_DEBRUIJN)) >> np.uint64(58)] >> 3)
            if j < n:
                fbuf[at + nf] = j
                nf += 1
            w ^= b
        q += 1
    return nf


@numba.njit(cache=True, inline="always")
def fire_reached(Vp, cp, tep, nr, ipp, off, t0, L, fb, fw, out, nf):
    """Fire the targets t0..t0+L-1 (uint64; already added) at or above their tep (+inf for a
    target that fired in this step), appending their C-order index ipp[j] - off to out[nf:] in
    ascending j: one vectorised pass writes a flag byte per target (fb, fw: from
    :func:`flag_words`), the flags are found eight at a time (:func:`_flagged`). Returns nf."""
    nfl = 0
    for o in range(np.uint64(0), L):
        m = Vp[t0 + o] >= tep[t0 + o]
        fb[o] = m
        nfl += m
    n0 = nf
    nf += _flagged(fb, fw, np.int64(L), nfl, out, n0) if nfl else 0
    for a in range(n0, nf):
        j = t0 + np.uint64(out[a])
        Vp[j] = after_fire(Vp[j], nr)
        cp[j] += 1
        tep[j] = np.inf
        out[a] = ipp[j] - off
    return nf


@numba.njit(cache=True, inline="always")
def _fire_rows(Vp, cp, tep, nr, fb, fw, nfl, fbuf, w_all, wb, spk, e, nb, pos):
    """The nfl neurons flagged (fb[j] = 1) by a pass of the dense rows of spikes spk[e:e+nb] that
    kept their V, spike by spike (each fires exactly once, at the first add that reaches its tep;
    later adds still count); their firings are appended ordered by the spike that caused them, then
    ascending index. Returns pos."""
    n = Vp.shape[0]
    nf = _flagged(fb, fw, n, nfl, fbuf, 0)
    for q in range(nf):
        j = fbuf[q]
        v, t = Vp[j], tep[j]
        for b in range(nb):
            v += w_all[wb + spk[e + b] * n + j]
            if v >= t:
                v = after_fire(v, nr)
                t = np.inf
                fb[j] = b
                cp[j] += 1
        Vp[j], tep[j] = v, t
    for b in range(nb):
        for q in range(nf):
            if fb[fbuf[q]] == b:
                spk[pos] = fbuf[q]
                pos += 1
    return pos


@numba.njit(cache=True, inline="always")
def flag_words(n):
    """The flag words of the async helpers and of the sync firing list (``kernels._fire_sync``) for
    populations of at most n neurons, zeros; the helpers get them twice, as uint64 words ``fw`` and
    as flag bytes ``fb = fw.view(np.uint8)``, both made once by the caller. A pass over n targets
    writes fb[:n]; the bytes after them are ignored."""
    return np.zeros(n // 8 + 1, np.uint64)


@numba.njit(cache=True, inline="always")
def _pass8(Vp, tep, fb, w_all, r1, r2, r3, r4, r5, r6, r7, r8):
    """Eight dense rows (at uint64 offsets r1..r8 of w_all) in one vectorised pass: each neuron's
    running sum V + W1 + ... + W8 (the spike-by-spike roundings) is stored unless its running maximum
    reached tep (fire_at, or +inf once fired: exactly the neurons that fire in the batch); such a
    neuron keeps its V and gets fb[j] = 1 (else 0). Returns the number flagged."""
    nfl = 0
    for j in range(np.uint64(0), np.uint64(Vp.shape[0])):
        v0 = Vp[j]
        v = v0 + w_all[r1 + j]
        mx = v
        v = v + w_all[r2 + j]
        mx = v if v > mx else mx
        v = v + w_all[r3 + j]
        mx = v if v > mx else mx
        v = v + w_all[r4 + j]
        mx = v if v > mx else mx
        v = v + w_all[r5 + j]
        mx = v if v > mx else mx
        v = v + w_all[r6 + j]
        mx = v if v > mx else mx
        v = v + w_all[r7 + j]
        mx = v if v > mx else mx
        v = v + w_all[r8 + j]
        mx = v if v > mx else mx
        m = mx >= tep[j]
        Vp[j] = v0 if m else v
        fb[j] = m
        nfl += m
    return nfl


@numba.njit(cache=True, inline="always")
def _pass4(Vp, tep, fb, w_all, r1, r2, r3, r4):
    """:func:`_pass8` for four rows (a separate straight-line body: LLVM vectorises only those)."""
    nfl = 0
    for j in range(np.uint64(0), np.uint64(Vp.shape[0])):
        v0 = Vp[j]
        v = v0 + w_all[r1 + j]
        mx = v
        v = v + w_all[r2 + j]
        mx = v if v > mx else mx
        v = v + w_all[r3 + j]
        mx = v if v > mx else mx
        v = v + w_all[r4 + j]
        mx = v if v > mx else mx
        m = mx >= tep[j]
        Vp[j] = v0 if m else v
        fb[j] = m
        nfl += m
    return nfl


@numba.njit(cache=True, inline="always")
def dense_async(Vp, cp, tep, nr, w_all, wb, spk, e0, e1, gv, graded, ipp, off, fb, fw, fbuf, pos):
    """Dense rows, spike by spike; every target occurs once in a row, so "add, then check in
    ascending order" equals "check after each add". Binary spikes go eight, then four, per pass over
    V (:func:`_pass8`, :func:`_pass4`); the neurons that reach threshold in the batch keep their V
    and are redone spike by spike by :func:`_fire_rows`. The last 0-3 rows and graded input go one
    row per pass: add, with one vectorised "reached fire_at" test (fire_at bounds every tep), and
    :func:`fire_reached` when it hit. fb, fw: from :func:`flag_words`; fbuf: int32 scratch of at least len(Vp).
    Returns (SOPs, pos)."""
    n = Vp.shape[0]
    un = np.uint64(n)
    fire_at = nr[0]
    e = e0
    while not graded and e + 8 <= e1:
        r1, r2 = np.uint64(wb + spk[e] * n), np.uint64(wb + spk[e + 1] * n)
        r3, r4 = np.uint64(wb + spk[e + 2] * n), np.uint64(wb + spk[e + 3] * n)
        r5, r6 = np.uint64(wb + spk[e + 4] * n), np.uint64(wb + spk[e + 5] * n)
        r7, r8 = np.uint64(wb + spk[e + 6] * n), np.uint64(wb + spk[e + 7] * n)
        nfl = _pass8(Vp, tep, fb, w_all, r1, r2, r3, r4, r5, r6, r7, r8)
        if nfl:
            pos = _fire_rows(Vp, cp, tep, nr, fb, fw, nfl, fbuf, w_all, wb, spk, e, 8, pos)
        e += 8
    if not graded and e + 4 <= e1:
        r1, r2 = np.uint64(wb + spk[e] * n), np.uint64(wb + spk[e + 1] * n)
        r3, r4 = np.uint64(wb + spk[e + 2] * n), np.uint64(wb + spk[e + 3] * n)
        nfl = _pass4(Vp, tep, fb, w_all, r1, r2, r3, r4)
        if nfl:
            pos = _fire_rows(Vp, cp, tep, nr, fb, fw, nfl, fbuf, w_all, wb, spk, e, 4, pos)
        e += 4
    for e in range(e, e1):
        i = spk[e]
        r1 = np.uint64(wb + i * n)
        x = gv[i] if graded else 1.0
        hit = False
        for j in range(np.uint64(0), un):
            v = Vp[j] + x * w_all[r1 + j] if graded else Vp[j] + w_all[r1 + j]
            Vp[j] = v
            hit |= v >= fire_at
        if hit:  # a dense target is never channel-last: ipp[j] - off == j
            pos = fire_reached(Vp, cp, tep, nr, ipp, off, np.uint64(0), un, fb, fw, spk, pos)
    return (e1 - e0) * n, pos


@numba.njit(cache=True, inline="always")
def _sift_down(a, root, end):
    """Heap order for a[root:end] below root (max-heap)."""
    v = a[root]
    while 2 * root + 1 < end:
        c = 2 * root + 1
        if c + 1 < end and a[c + 1] > a[c]:
            c += 1
        if a[c] <= v:
            break
        a[root] = a[c]
        root = c
    a[root] = v


@numba.njit(cache=True, inline="always")
def sort_firings(fbuf, nf):
    """Sort fbuf[:nf] ascending in place: insertion sort for the usual few, heapsort for many (one
    input pixel can fire hundreds of conv targets at once: quadratic there). No library sort: the
    async kernels run without numba's reference counting, which that sort needs."""
    if nf > 24:
        for root in range(nf // 2 - 1, -1, -1):
            _sift_down(fbuf, root, nf)
        for end in range(nf - 1, 0, -1):
            fbuf[0], fbuf[end] = fbuf[end], fbuf[0]
            _sift_down(fbuf, 0, end)
        return
    for a in range(1, nf):
        v1 = fbuf[a]
        b = a - 1
        while b >= 0 and fbuf[b] > v1:
            fbuf[b + 1] = fbuf[b]
            b -= 1
        fbuf[b + 1] = v1


@numba.njit(cache=True, inline="always")
def runs_async(Vp, cp, tep, nr, tb, k, ipp, off, spk, e0, e1, gv, graded, fb, fw, fbuf, pos):
    """Conv runs, spike by spike; every target occurs once in a spike's runs, so each run is added
    with one vectorised "reached fire_at" test (fire_at bounds every tep) and only a run that hit
    is searched (:func:`fire_reached`); a spike's firings are appended in ascending C-order index."""
    rp, ro, wb = tb.p_poff[k], tb.p_roff[k], tb.p_woff[k]
    w_all = tb.w_all
    fire_at = nr[0]
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
            t0 = np.uint64(tb.run_tgt_all[r])
            w0 = np.uint64(wb + tb.run_w_all[r])
            uL = np.uint64(L)
            hit = False
            for o in range(np.uint64(0), uL):
                v = Vp[t0 + o] + x * w_all[w0 + o] if graded else Vp[t0 + o] + w_all[w0 + o]
                Vp[t0 + o] = v
                hit |= v >= fire_at
            if hit:
                nf = fire_reached(Vp, cp, tep, nr, ipp, off, t0, uL, fb, fw, fbuf, nf)
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
