"""The neuron record in compiled form: numba helpers that follow :mod:`simcore.neuron` exactly.

A population's record is the tuple ``(fire_at, threshold, reset_to, v_reset, beta, bias_current,
unleaked)`` read from :class:`simcore.compiler.KernelTables` by :func:`neuron`. The threshold test is
always ``V >= fire_at``: ``fire_at`` is the threshold for ">=" and the next float above it for ">"
(for finite floats ``V > th`` iff ``V >= nextafter(th, +inf)``: exact, one comparison form for
both). With ``unleaked`` (reset_leak "unleaked") a firing neuron keeps its potential and the
threshold comes off at the next step's start, after the leak: the neurons it applies to are the
population's previous bucket (the spikes it emitted at step t - 1), so no extra state is kept.
A new neuron option goes into the record (``compiler._neuron_arrays``, :func:`neuron`) and into
:func:`step_start` / :func:`after_fire` / :func:`fire_all`.
"""
from __future__ import annotations

import numba

__all__ = ["neuron", "init_population", "step_start", "after_fire", "fire", "fire_all"]


@numba.njit(cache=True, inline="always")
def neuron(tb, p):
    """Population p's neuron record: (fire_at, threshold, reset_to, v_reset, beta, bias_current, unleaked)."""
    return (tb.fire_at[p], tb.threshold[p], tb.reset_to[p] != 0, tb.v_reset[p], tb.beta[p],
            tb.bias_current[p] != 0, tb.unleaked[p] != 0)


@numba.njit(cache=True, inline="always")
def init_population(Vp, cp, bp, nr):
    """V(0) = bias (bias_mode "initial") or 0; counts 0."""
    for j in range(Vp.shape[0]):
        Vp[j] = 0.0 if nr[5] else bp[j]
        cp[j] = 0


@numba.njit(cache=True, inline="always")
def step_start(Vp, bp, nr, spk, e0, e1, pp, off, perm):
    """Start of a step: V <- beta * V (only when beta != 1); for ``unleaked``, V -= threshold for the
    neurons of spk[e0:e1] (the previous step's bucket, C-order indices; kernel position pp[q] - off
    when ``perm``); then V += bias (bias_mode "current")."""
    beta = nr[4]
    if beta != 1.0:
        for j in range(Vp.shape[0]):
            Vp[j] *= beta
    if nr[6]:
        for e in range(e0, e1):
            q = spk[e]
            j = pp[q] - off if perm else q
            Vp[j] -= nr[1]
    if nr[5]:
        for j in range(Vp.shape[0]):
            Vp[j] += bp[j]


@numba.njit(cache=True, inline="always")
def after_fire(v, nr):
    """The potential right after a spike at v: v_reset, v - threshold, or v (``unleaked``: pending)."""
    if nr[2]:
        return nr[3]
    if nr[6]:
        return v
    return v - nr[1]


@numba.njit(cache=True, inline="always")
def fire(Vp, cp, j, nr):
    """Neuron j fires: reset (:func:`after_fire`) and count the spike."""
    Vp[j] = after_fire(Vp[j], nr)
    cp[j] += 1


@numba.njit(cache=True, inline="always")
def fire_all(Vp, cp, fl, nr):
    """Sync check of a whole population in one vectorised pass: every neuron with V >= fire_at
    fires (:func:`after_fire` and the count of :func:`fire`, as a select); fl[j] = 1 if j fired, else 0.
    Returns the number fired."""
    fire_at = nr[0]
    nf = 0
    for j in range(Vp.shape[0]):
        v = Vp[j]
        f = v >= fire_at
        Vp[j] = after_fire(v, nr) if f else v
        cp[j] += f
        fl[j] = f
        nf += f
    return nf
