"""The neuron record in compiled form: numba helpers that follow :mod:`simcore.neuron` exactly.

A population's record is the tuple ``(fire_at, threshold, reset_to, v_reset, beta, bias_current)``
read from :class:`simcore.compiler.KernelTables` by :func:`neuron`. The threshold test is always
``V >= fire_at``: ``fire_at`` is the threshold for ">=" and the next float above it for ">" (for
finite floats ``V > th`` iff ``V >= nextafter(th, +inf)``: exact, one comparison form for both).
A new neuron option goes into the record (``compiler._neuron_arrays``, :func:`neuron`) and into
:func:`step_start` / :func:`fire` / :func:`fire_all`.
"""
from __future__ import annotations

import numba

__all__ = ["neuron", "init_population", "step_start", "fire", "fire_all"]


@numba.njit(cache=True, inline="always")
def neuron(tb, p):
    """Population p's neuron record: (fire_at, threshold, reset_to, v_reset, beta, bias_current)."""
    return (tb.fire_at[p], tb.threshold[p], tb.reset_to[p] != 0, tb.v_reset[p], tb.beta[p],
            tb.bias_current[p] != 0)


@numba.njit(cache=True, inline="always")
def init_population(Vp, cp, bp, nr):
    """V(0) = bias (bias_mode "initial") or 0; counts 0."""
    for j in range(Vp.shape[0]):
        Vp[j] = 0.0 if nr[5] else bp[j]
        cp[j] = 0


@numba.njit(cache=True, inline="always")
def step_start(Vp, bp, nr):
    """Start of a step: V <- beta * V (only when beta != 1), then V += bias (bias_mode "current")."""
    beta = nr[4]
    if beta != 1.0:
        for j in range(Vp.shape[0]):
            Vp[j] *= beta
    if nr[5]:
        for j in range(Vp.shape[0]):
            Vp[j] += bp[j]


@numba.njit(cache=True, inline="always")
def fire(Vp, cp, j, nr):
    """Neuron j fires: reset (subtract the threshold, or set v_reset) and count the spike."""
    if nr[2]:
        Vp[j] = nr[3]
    else:
        Vp[j] -= nr[1]
    cp[j] += 1


@numba.njit(cache=True, inline="always")
def fire_all(Vp, cp, fl, nr):
    """Sync check of a whole population in one vectorised pass: every neuron with V >= fire_at
    fires (the reset and count of :func:`fire`, as a select); fl[j] = 1 if j fired, else 0.
    Returns the number fired."""
    fire_at, th, to_value, v_reset = nr[0], nr[1], nr[2], nr[3]
    nf = 0
    for j in range(Vp.shape[0]):
        v = Vp[j]
        f = v >= fire_at
        Vp[j] = (v_reset if to_value else v - th) if f else v
        cp[j] += f
        fl[j] = f
        nf += f
    return nf
