"""Event-driven simulation of a :class:`simcore.graph.Network`.

Event semantics (the contract; every engine in the project is checked against it)
---------------------------------------------------------------------------------
Time is discrete, steps ``t = 0 .. steps-1``. An *event* is a spike ``(t, population, neuron)``.
Spikes are kept in a calendar queue with one bucket per (step, population): the bucket holds the
neurons the population emitted at that step, in emission order. Buckets are processed by step,
then in the graph's topological order (ties: insertion order). A projection ``src -> tgt`` with
delay ``d`` delivers the bucket (t - d, src) to ``tgt`` at step ``t``; incoming projections of a
population are delivered in topological order of their sources, each bucket in emission order,
each spike to its targets in ascending target index. Delivering a spike of source ``i`` adds the
compiled weight ``w[i, j]`` to ``V_j`` (for analog input, ``x_i * w[i, j]``).

Neurons (float64 potentials, per population):
  * ``V(0) = bias`` (bias_mode "initial", Wu et al.) or ``V(0) = 0`` (bias_mode "current", where
    ``V += bias`` at the start of every step, before that step's input).
  * a neuron fires when ``V >= threshold``, at most once per step, and is reset:
    "subtract" ``V -= threshold`` or "zero" ``V = 0``.

``mode="sync"`` (clock-equivalent): at step ``t`` a population first integrates every spike
delivered to it for that step (after the bias current), then checks its neurons in ascending
index; each one at or above threshold fires once and is reset. Its bucket therefore lists
neurons in ascending order. With zero delays a spike reaches the next population in the same
step. This equals exactly (integer counts, same float operations per neuron) the clock loop::

    for t in range(steps):
        for layer in topological order:
            V += bias (current mode);  V += W s_src(t - d) for every incoming projection
            s = V >= theta;  V -= theta * s  (or V[s] = 0)

(the only freedom is the float summation order inside ``W s``; here it is sequential in the
order above, so any weights whose sums are exact -- e.g. multiples of 2**-8 -- agree bit for bit).

``mode="async"``: at step ``t`` a population first applies its bias current, then checks every
neuron (carry-over: potentials still at/above threshold from earlier steps fire now, ascending
index), then integrates the delivered spikes one at a time, checking each target right after
its increment: a target at/above threshold that has not fired in this step fires at once (and is
appended to the bucket, so downstream populations see spikes in firing order). A neuron can thus
fire on ``+w`` before a ``-w`` of the same step arrives; a potential left above threshold fires
at the start of the next step. Deterministic.

Input population: spikes only at ``t < T``. Bernoulli input is regenerated inside the kernel
from ``(seed, sample_id, t, i)`` by :mod:`simcore.encoding` (spike iff ``uniform(key, t, i) <
clip(intensity_i * max_rate, 0, 1)``), identical to ``encoding.bernoulli_trains``; explicit
trains ``(N, T, D)`` bool are read as given; analog input delivers ``x_i`` (if non-zero) as a
graded spike every step ``t < T``. The simulation runs ``steps`` steps (default ``T`` + the
largest total delay along an input -> output path), so delayed activity can drain.

Counters: per population spike counts and final potentials; SOPs per source population =
delivered spikes (or non-zero graded inputs) x their fan-out (structural synapses in the
compiled table), counting only deliveries at ``t < steps``. The output population is decoded
after every step with the rule of :func:`simcore.decode.predict` (most spikes so far, ties by
larger potential after that step, then lower index).

Implementation note: because the graph is acyclic and a population never influences its
sources, the kernel evaluates each sample population-major (all steps of a population, in
topological order, buckets kept per step) -- it performs exactly the same float operations per
neuron in the same order as the step-major schedule above, so the results are identical. In
sync mode, dense projections can additionally be processed in blocks of target neurons (every
neuron's operation sequence is unchanged; off by default, see ``L2_BUDGET_BYTES``), and a dense
row add handles up to eight spikes per pass over V as ``((V + w_a) + w_b) + ...`` (the same
roundings, in the same order, as one pass per spike). Convolution projections (``[Conv2d]`` or
``[AvgPool2d(k, stride=k), Conv2d]``, when they reproduce the compiled table exactly) are
delivered as runs of contiguous targets: a population fed only by such projections is stored
channel-last inside the kernel, so a spike adds ``C_out``-long weight vectors at each kernel
offset; counts, potentials and buckets are in C order as documented. In async mode a dense row
or run is added first and then its targets are checked in ascending index (each target occurs
once, so this equals checking after each increment); a run's firings are sorted into ascending
C-order index. Weights are stored as float32 when every compiled weight is exactly a float32
(converting to float64 is exact; all arithmetic is float64). Samples run in parallel threads
(``numba.prange``).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numba
import numpy as np

from simcore import encoding
from simcore.decode import predict
from simcore.graph import Network

__all__ = ["simulate", "SimResult", "L2_BUDGET_BYTES"]

# Sync mode can split dense projections into target blocks of about this many weight bytes so the
# block stays in L2. Measured on the 2-core EPYC dev box (MNIST 784-800-10) it did not pay off
# (the vectorised row adds already stream well from L3), so it is off (0) by default.
L2_BUDGET_BYTES = int(os.environ.get("SIMCORE_L2_BUDGET", 0))

_BERNOULLI, _TRAINS, _ANALOG = 0, 1, 2


@dataclass
class SimResult:
    """Outputs of :func:`simulate` (arrays indexed by sample first)."""

    counts: dict  # population -> (N, n) int32 (input: delivered input events per input neuron)
    membrane: dict  # neuron population -> (N, n) float64 final potentials
    sops: dict  # source population -> (N,) int64 synaptic operations
    predictions: np.ndarray  # (N,) int64, decode.predict(counts_out, membrane_out)
    prediction_trace: np.ndarray  # (N, steps) int64, decode after every step
    raster: dict | None  # population -> list over samples of (times int32, indices int32), emission order
    output: str
    T: int
    steps: int
    mode: str
    elapsed: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def total_sops(self) -> np.ndarray:
        """(N,) SOPs summed over source populations."""
        return sum(self.sops.values())


@numba.njit(cache=True, inline="always")
def _fire(V, j, th, reset_zero):
    if reset_zero:
        V[j] = 0.0
    else:
        V[j] -= th


@numba.njit(cache=True, inline="always")
def _scan_fire(V, cnt, threshold, off, n, perm, perm_all, rzero, spk, pos, blocked, rast, t, j0, j1):
    """Sync threshold check of neurons j0..j1 (C-order positions relative to off); returns pos."""
    if perm:
        for q in range(n):
            j = perm_all[off + q]
            if V[j] >= threshold[j]:
                _fire(V, j, threshold[j], rzero)
                cnt[j] += 1
                spk[pos] = q
                pos += 1
    else:
        for j in range(j0, j1):
            if V[j] >= threshold[j]:
                _fire(V, j, threshold[j], rzero)
                cnt[j] += 1
                if blocked:
                    rast[t * n + j - off] = 1
                else:
                    spk[pos] = j - off
                    pos += 1
    return pos


@numba.njit(cache=True, parallel=True)
def _kernel(sizes, offsets, inp, outp, threshold, bias, bias_mode, reset, p_src, p_delay, p_kind,
            p_woff, p_ioff, p_poff, w_all, idx_all, ptr_all, in_ptr, block_w,
            in_kind, p_in, keys, trains, T, steps, async_mode,
            counts, membrane, sops, trace, record_raster, r_idx, r_ptr, nchunks,
            p_roff, p_rlen, run_ptr_all, run_tgt_all, run_w_all, pop_perm, perm_all, iperm_all):
    # threshold, bias, V, cnt, lastf are in the kernel layout (perm_all: C-order -> internal);
    # buckets (spk) hold C-order indices.
    n_pop = sizes.shape[0]
    total = offsets[n_pop]
    N = counts.shape[0]
    D = sizes[inp]
    max_n = 1
    for p in range(n_pop):
        if sizes[p] > max_n:
            max_n = sizes[p]
    t_in = T if T < steps else steps
    for c in numba.prange(nchunks):
        s0 = c * N // nchunks
        s1 = (c + 1) * N // nchunks
        V = np.zeros(total, dtype=np.float64)
        cnt = np.zeros(total, dtype=np.int32)
        lastf = np.full(total, -1, dtype=np.int32)
        te = np.zeros(total, dtype=np.float64)  # async: threshold, or +inf once fired this step
        spk = np.zeros(steps * total, dtype=np.int32)
        sptr = np.zeros(n_pop * (steps + 1), dtype=np.int64)
        gv = np.zeros(D, dtype=np.float64)
        nz = np.zeros(D, dtype=np.int32)
        rast = np.zeros(steps * max_n, dtype=np.uint8)
        fbuf = np.zeros(max_n, dtype=np.int32)
        for s in range(s0, s1):
            for p in range(n_pop):
                off = offsets[p]
                n = sizes[p]
                base = steps * off
                pb = p * (steps + 1)
                pos = base
                sptr[pb] = pos
                if p == inp:
                    # ---------------- input population: regenerate this sample's events ----------------
                    for j in range(n):
                        cnt[off + j] = 0
                    nnz = 0
                    if in_kind != _TRAINS:
                        for i in range(n):
                            x = p_in[s, i]
                            gv[i] = x
                            if x != 0.0:
                                nz[nnz] = i
                                nnz += 1
                    key = keys[s]
                    for t in range(steps):
                        if t < t_in:
                            if in_kind == _BERNOULLI:
                                for q in range(nnz):
                                    i = nz[q]
                                    if encoding.uniform(key, t, i) < p_in[s, i]:
                                        spk[pos] = i
                                        pos += 1
                                        cnt[off + i] += 1
                            elif in_kind == _TRAINS:
                                for i in range(n):
                                    if trains[s, t, i]:
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
                    continue
                # ---------------- neuron population ----------------
                current = bias_mode[p] == 1
                rzero = reset[p] == 1
                perm = pop_perm[p] != 0
                for j in range(off, off + n):
                    V[j] = 0.0 if current else bias[j]
                    cnt[j] = 0
                    lastf[j] = -1
                k0 = in_ptr[p]
                k1 = in_ptr[p + 1]
                if not async_mode:
                    bw = block_w[p]
                    if bw <= 0 or bw >= n:
                        bw = n
                    nblk = (n + bw - 1) // bw
                    blocked = nblk > 1
                    for b in range(nblk):
                        j0 = off + b * bw
                        j1 = off + min(n, (b + 1) * bw)
                        for t in range(steps):
                            if current:
                                for j in range(j0, j1):
                                    V[j] += bias[j]
                            for k in range(k0, k1):
                                src = p_src[k]
                                ts = t - p_delay[k]
                                if ts < 0:
                                    continue
                                e0 = sptr[src * (steps + 1) + ts]
                                e1 = sptr[src * (steps + 1) + ts + 1]
                                graded = src == inp and in_kind == _ANALOG
                                kind = p_kind[k]
                                if kind == 1:
                                    # row i, target neuron j (0-based in the population): p_woff + i*n + j.
                                    # Views indexed from 0 let LLVM drop the wraparound checks and vectorise.
                                    m = j1 - j0
                                    Vb = V[j0:j1]
                                    wb = p_woff[k] + (j0 - off)
                                    if graded:
                                        for e in range(e0, e1):
                                            i = spk[e]
                                            x = gv[i]
                                            Wr = w_all[wb + i * n:wb + i * n + m]
                                            for j in range(m):
                                                Vb[j] += x * Wr[j]
                                    else:
                                        # up to eight spikes per pass over V; ((((V + a) + b) + c) + ...) is
                                        # the same sequence of roundings as separate passes, spike by spike
                                        e = e0
                                        while e + 8 <= e1:
                                            W1 = w_all[wb + spk[e] * n:wb + spk[e] * n + m]
                                            W2 = w_all[wb + spk[e + 1] * n:wb + spk[e + 1] * n + m]
                                            W3 = w_all[wb + spk[e + 2] * n:wb + spk[e + 2] * n + m]
                                            W4 = w_all[wb + spk[e + 3] * n:wb + spk[e + 3] * n + m]
                                            W5 = w_all[wb + spk[e + 4] * n:wb + spk[e + 4] * n + m]
                                            W6 = w_all[wb + spk[e + 5] * n:wb + spk[e + 5] * n + m]
                                            W7 = w_all[wb + spk[e + 6] * n:wb + spk[e + 6] * n + m]
                                            W8 = w_all[wb + spk[e + 7] * n:wb + spk[e + 7] * n + m]
                                            for j in range(m):
                                                Vb[j] = (((((((Vb[j] + W1[j]) + W2[j]) + W3[j]) + W4[j]) + W5[j])
                                                          + W6[j]) + W7[j]) + W8[j]
                                            e += 8
                                        while e + 4 <= e1:
                                            W1 = w_all[wb + spk[e] * n:wb + spk[e] * n + m]
                                            W2 = w_all[wb + spk[e + 1] * n:wb + spk[e + 1] * n + m]
                                            W3 = w_all[wb + spk[e + 2] * n:wb + spk[e + 2] * n + m]
                                            W4 = w_all[wb + spk[e + 3] * n:wb + spk[e + 3] * n + m]
                                            for j in range(m):
                                                Vb[j] = (((Vb[j] + W1[j]) + W2[j]) + W3[j]) + W4[j]
                                            e += 4
                                        while e < e1:
                                            W1 = w_all[wb + spk[e] * n:wb + spk[e] * n + m]
                                            for j in range(m):
                                                Vb[j] += W1[j]
                                            e += 1
                                    if b == 0:
                                        sops[s, src] += (e1 - e0) * n
                                elif kind == 2:
                                    # convolution runs: contiguous target slices in the channel-last layout
                                    rp = p_poff[k]
                                    ro = p_roff[k]
                                    L = p_rlen[k]
                                    wb = p_woff[k]
                                    nrun = 0
                                    for e in range(e0, e1):
                                        i = spk[e]
                                        r0 = run_ptr_all[rp + i]
                                        r1 = run_ptr_all[rp + i + 1]
                                        nrun += r1 - r0
                                        x = gv[i] if graded else 1.0
                                        for r in range(ro + r0, ro + r1):
                                            Vr = V[off + run_tgt_all[r]:off + run_tgt_all[r] + L]
                                            Wr = w_all[wb + run_w_all[r]:wb + run_w_all[r] + L]
                                            if graded:
                                                for o in range(L):
                                                    Vr[o] += x * Wr[o]
                                            else:
                                                for o in range(L):
                                                    Vr[o] += Wr[o]
                                    sops[s, src] += nrun * L
                                else:
                                    pp = p_poff[k]
                                    ib = p_ioff[k]
                                    wb = p_woff[k]
                                    Vp = V[off:off + n]
                                    nsop = 0
                                    for e in range(e0, e1):
                                        i = spk[e]
                                        a0 = ptr_all[pp + i]
                                        a1 = ptr_all[pp + i + 1]
                                        nsop += a1 - a0
                                        Ir = idx_all[ib + a0:ib + a1]
                                        Wr = w_all[wb + a0:wb + a1]
                                        if graded:
                                            x = gv[i]
                                            for q in range(a1 - a0):
                                                Vp[Ir[q]] += x * Wr[q]
                                        else:
                                            for q in range(a1 - a0):
                                                Vp[Ir[q]] += Wr[q]
                                    sops[s, src] += nsop
                            pos = _scan_fire(V, cnt, threshold, off, n, perm, perm_all, rzero, spk, pos,
                                             blocked, rast, t, j0, j1)
                            if not blocked:
                                sptr[pb + t + 1] = pos
                                if p == outp:
                                    best = 0
                                    for q in range(1, n):
                                        if cnt[off + q] > cnt[off + best] or (
                                            cnt[off + q] == cnt[off + best] and V[off + q] > V[off + best]
                                        ):
                                            best = q
                                    trace[s, t] = best
                    if blocked:
                        for t in range(steps):
                            for j in range(n):
                                if rast[t * n + j]:
                                    rast[t * n + j] = 0
                                    spk[pos] = j
                                    pos += 1
                            sptr[pb + t + 1] = pos
                else:
                    Vp = V[off:off + n]
                    thp = threshold[off:off + n]
                    lfp = lastf[off:off + n]
                    tep = te[off:off + n]
                    for t in range(steps):
                        if current:
                            for j in range(n):
                                Vp[j] += bias[off + j]
                        for q in range(n):  # carry-over, ascending C-order index
                            j = perm_all[off + q] - off if perm else q
                            if Vp[j] >= thp[j]:
                                _fire(Vp, j, thp[j], rzero)
                                cnt[off + j] += 1
                                lfp[j] = t
                                tep[j] = np.inf
                                spk[pos] = q
                                pos += 1
                            else:
                                tep[j] = thp[j]
                        for k in range(k0, k1):
                            src = p_src[k]
                            ts = t - p_delay[k]
                            if ts < 0:
                                continue
                            e0 = sptr[src * (steps + 1) + ts]
                            e1 = sptr[src * (steps + 1) + ts + 1]
                            graded = src == inp and in_kind == _ANALOG
                            kind = p_kind[k]
                            pp = p_poff[k]
                            ib = p_ioff[k]
                            wb = p_woff[k]
                            ro = p_roff[k]
                            L = p_rlen[k]
                            nsop = 0
                            for e in range(e0, e1):
                                i = spk[e]
                                x = gv[i] if graded else 1.0
                                if kind == 1:
                                    # every target occurs once in a row, so "add, then check in ascending
                                    # order" equals "check after each add". tep is +inf for neurons that
                                    # already fired this step, so the vectorised pass flags candidates only.
                                    nsop += n
                                    Wr = w_all[wb + i * n:wb + i * n + n]
                                    fl = False
                                    if graded:
                                        for j in range(n):
                                            v = Vp[j] + x * Wr[j]
                                            Vp[j] = v
                                            fl |= v >= tep[j]
                                    else:
                                        for j in range(n):
                                            v = Vp[j] + Wr[j]
                                            Vp[j] = v
                                            fl |= v >= tep[j]
                                    if fl:
                                        for j in range(n):
                                            if Vp[j] >= thp[j] and lfp[j] != t:
                                                _fire(Vp, j, thp[j], rzero)
                                                cnt[off + j] += 1
                                                lfp[j] = t
                                                tep[j] = np.inf
                                                spk[pos] = j
                                                pos += 1
                                elif kind == 2:
                                    r0 = run_ptr_all[pp + i]
                                    r1 = run_ptr_all[pp + i + 1]
                                    nsop += (r1 - r0) * L
                                    nf = 0
                                    for r in range(ro + r0, ro + r1):
                                        tb = run_tgt_all[r]
                                        Vr = Vp[tb:tb + L]
                                        Tr = tep[tb:tb + L]
                                        Wr = w_all[wb + run_w_all[r]:wb + run_w_all[r] + L]
                                        fl = False
                                        if graded:
                                            for o in range(L):
                                                v = Vr[o] + x * Wr[o]
                                                Vr[o] = v
                                                fl |= v >= Tr[o]
                                        else:
                                            for o in range(L):
                                                v = Vr[o] + Wr[o]
                                                Vr[o] = v
                                                fl |= v >= Tr[o]
                                        if fl:
                                            for j in range(tb, tb + L):
                                                if Vp[j] >= thp[j] and lfp[j] != t:
                                                    _fire(Vp, j, thp[j], rzero)
                                                    cnt[off + j] += 1
                                                    lfp[j] = t
                                                    tep[j] = np.inf
                                                    fbuf[nf] = iperm_all[off + j] - off
                                                    nf += 1
                                    # this spike's firings in ascending C-order target index
                                    for a in range(1, nf):
                                        v1 = fbuf[a]
                                        b2 = a - 1
                                        while b2 >= 0 and fbuf[b2] > v1:
                                            fbuf[b2 + 1] = fbuf[b2]
                                            b2 -= 1
                                        fbuf[b2 + 1] = v1
                                    for a in range(nf):
                                        spk[pos] = fbuf[a]
                                        pos += 1
                                else:
                                    a0 = ptr_all[pp + i]
                                    a1 = ptr_all[pp + i + 1]
                                    nsop += a1 - a0
                                    for q in range(a0, a1):
                                        j = idx_all[ib + q]
                                        if graded:
                                            Vp[j] += x * w_all[wb + q]
                                        else:
                                            Vp[j] += w_all[wb + q]
                                        if Vp[j] >= thp[j] and lfp[j] != t:
                                            _fire(Vp, j, thp[j], rzero)
                                            cnt[off + j] += 1
                                            lfp[j] = t
                                            tep[j] = np.inf
                                            spk[pos] = j
                                            pos += 1
                            sops[s, src] += nsop
                        sptr[pb + t + 1] = pos
                        if p == outp:
                            best = 0
                            for q in range(1, n):
                                if cnt[off + q] > cnt[off + best] or (
                                    cnt[off + q] == cnt[off + best] and V[off + q] > V[off + best]
                                ):
                                    best = q
                            trace[s, t] = best
            # ---------------- write this sample's results (C order) ----------------
            for j in range(total):
                counts[s, j] = cnt[perm_all[j]]
                membrane[s, j] = V[perm_all[j]]
            if record_raster:
                for j in range(steps * total):
                    r_idx[s, j] = spk[j]
                for j in range(n_pop * (steps + 1)):
                    r_ptr[s, j] = sptr[j]


def _block_widths(comp, mode: str, budget: int) -> np.ndarray:
    """Target-block width per population for sync mode (0 = whole population)."""
    bw = np.zeros(len(comp.names), dtype=np.int64)
    if mode != "sync" or budget <= 0:
        return bw
    for q in range(len(comp.names)):
        ks = np.nonzero(comp.p_tgt == q)[0]
        if q == comp.output_index or ks.size == 0 or not np.all(comp.p_dense[ks]):
            continue
        rows = int(sum(comp.sizes[comp.p_src[k]] for k in ks))
        w = max(8, (budget // (8 * rows)) // 8 * 8)
        if w < comp.sizes[q]:
            # equal blocks, multiple of 8 wide
            nblk = -(-int(comp.sizes[q]) // w)
            w = -(-int(comp.sizes[q]) // nblk)
            bw[q] = -(-w // 8) * 8
    return bw


def simulate(net: Network, intensity=None, T: int = 50, seed: int = 0, *, trains=None,
             encoding: str = "bernoulli", max_rate: float = 1.0, sample_ids=None, mode: str = "sync",
             steps: int | None = None, record_raster: bool = False, threads: int | None = None,
             block_bytes: int | None = None) -> SimResult:
    """Simulate ``net`` on N samples (see the module docstring for the exact semantics).

    intensity: (N, D) float64 in [0, 1] for Bernoulli input (spike probability
    ``clip(intensity * max_rate, 0, 1)``, regenerated from ``seed`` and ``sample_ids``, default
    ``arange(N)``), or the analog values for ``encoding="analog"``.
    trains: (N, T, D) bool explicit input spike trains instead (then T = trains.shape[1]).
    steps: simulated steps (default T + largest input->output path delay); input only at t < T.
    threads: numba threads (default: numba's current setting). block_bytes: sync-mode weight
    block size (tuning knob; default ``L2_BUDGET_BYTES``).
    """
    t_start = time.perf_counter()
    comp = net.compile()
    if mode not in ("sync", "async"):
        raise ValueError(f"mode must be 'sync' or 'async', got {mode!r}")
    D = int(comp.sizes[comp.input_index])
    dummy_trains = np.zeros((1, 1, 1), dtype=np.bool_)
    if trains is not None:
        if intensity is not None:
            raise ValueError("give either intensity or trains, not both")
        tr = np.asarray(trains)
        if tr.ndim != 3 or tr.shape[2] != D:
            raise ValueError(f"trains must have shape (N, T, {D}), got {tr.shape}")
        tr = np.ascontiguousarray(tr, dtype=np.bool_)
        T = tr.shape[1]
        if T < 1:
            raise ValueError("trains must cover T >= 1 steps")
        N = tr.shape[0]
        in_kind, p_in, keys = _TRAINS, np.zeros((N, D)), np.zeros(N, dtype=np.uint64)
    else:
        if intensity is None:
            raise ValueError("give intensity (N, D) or trains (N, T, D)")
        if int(T) != T or T < 1:
            raise ValueError(f"T (number of time steps) must be an integer >= 1, got {T}")
        T = int(T)
        x = np.asarray(intensity, dtype=np.float64)
        if x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        x = encoding_mod.validate_intensity(x, max_rate)
        if x.shape[1] != D:
            raise ValueError(f"intensity has {x.shape[1]} features, input population '{comp.names[comp.input_index]}' has {D}")
        N = x.shape[0]
        tr = dummy_trains
        if encoding == "bernoulli":
            in_kind = _BERNOULLI
            p_in = encoding_mod.spike_probability(x, max_rate)
            keys = encoding_mod._keys(seed, encoding_mod._sample_ids(N, sample_ids))
        elif encoding == "analog":
            in_kind, p_in, keys = _ANALOG, x, np.zeros(N, dtype=np.uint64)
        else:
            raise ValueError(f"encoding must be 'bernoulli' or 'analog', got {encoding!r}")
    if steps is None:
        steps = T + comp.max_path_delay
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps}")
    steps = int(steps)
    P = len(comp.names)
    total = int(comp.offsets[-1])
    counts = np.zeros((N, total), dtype=np.int32)
    membrane = np.zeros((N, total), dtype=np.float64)
    sops = np.zeros((N, P), dtype=np.int64)
    trace = np.zeros((N, steps), dtype=np.int64)
    if record_raster:
        r_idx = np.zeros((N, steps * total), dtype=np.int32)
        r_ptr = np.zeros((N, P * (steps + 1)), dtype=np.int64)
    else:
        r_idx = np.zeros((1, 1), dtype=np.int32)
        r_ptr = np.zeros((1, 1), dtype=np.int64)
    block_w = _block_widths(comp, mode, L2_BUDGET_BYTES if block_bytes is None else int(block_bytes))
    old_threads = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        nchunks = max(1, min(N, 8 * numba.get_num_threads()))
        if N:
            iperm = np.empty_like(comp.perm_all)
            iperm[comp.perm_all] = np.arange(comp.perm_all.size)
            _kernel(comp.sizes, comp.offsets, comp.input_index, comp.output_index, comp.k_threshold, comp.k_bias,
                    comp.bias_mode, comp.reset, comp.p_src, comp.p_delay, comp.p_kind, comp.p_woff, comp.p_ioff,
                    comp.p_poff, comp.w_all, comp.idx_all, comp.ptr_all, comp.in_ptr, block_w,
                    in_kind, np.ascontiguousarray(p_in), keys, tr, T, steps, mode == "async",
                    counts, membrane, sops, trace, record_raster, r_idx, r_ptr, nchunks,
                    comp.p_roff, comp.p_rlen, comp.run_ptr_all, comp.run_tgt_all, comp.run_w_all,
                    comp.pop_perm, comp.perm_all, iperm)
    finally:
        numba.set_num_threads(old_threads)
    res_counts, res_mem, res_sops = {}, {}, {}
    for k, name in enumerate(comp.names):
        sl = slice(int(comp.offsets[k]), int(comp.offsets[k + 1]))
        res_counts[name] = counts[:, sl].copy()
        if k != comp.input_index:
            res_mem[name] = membrane[:, sl].copy()
        if np.any(comp.p_src == k):
            res_sops[name] = sops[:, k].copy()
    out = comp.names[comp.output_index]
    raster = None
    if record_raster:
        raster = {}
        for k, name in enumerate(comp.names):
            per = []
            for s in range(N):
                ptr = r_ptr[s, k * (steps + 1):(k + 1) * (steps + 1)]
                idx = r_idx[s, int(ptr[0]):int(ptr[-1])]
                times = np.repeat(np.arange(steps, dtype=np.int32), np.diff(ptr)).astype(np.int32)
                per.append((times, idx.copy()))
            raster[name] = per
    return SimResult(
        counts=res_counts, membrane=res_mem, sops=res_sops,
        predictions=predict(res_counts[out], res_mem[out]) if N else np.zeros(0, np.int64),
        prediction_trace=trace, raster=raster, output=out, T=T, steps=steps, mode=mode,
        elapsed=time.perf_counter() - t_start,
    )


encoding_mod = encoding
