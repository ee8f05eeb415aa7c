"""Explicit IF dynamics of a dense stage, fused with its sparse spike input (numba, no autograd).

The stepped mode's forward pass of a dense stage is ``V(0) = b``; per step
``V += theta * W s(t)``, ``s_out = [V >= theta]``, ``V -= theta * s_out``. Its input ``s`` is a
spike train, mostly zeros (MNIST: about 13% of input neurons spike in a step, hidden neurons
far fewer), so instead of a dense (B*T, D) x (D, O) product the kernel adds the weight rows of
the inputs that spiked, one step at a time, and integrates at once: no (B, T, O) current tensor
is built. Graded inputs (analog input, dropout-scaled spikes) are multiplied in; a dense input
falls back to the same loop and is still exact.

The neuron is :mod:`simcore.neuron`'s paper neuron (``NeuronParams(threshold=theta)``: no leak,
``>=``, reset by subtraction, bias as V(0)); :class:`learning.model.SpikingNet` admits no other.
This is the arithmetic of :func:`simcore.neuron.step` and of
:func:`learning.model._integrate_and_fire` on ``theta * W s`` (the per-step current is summed
first, then scaled by theta); only the order of the sum over inputs differs, so results agree
exactly for dyadic weights and to rounding otherwise (``tests/learning/test_dense_if.py``).
"""
from __future__ import annotations

import numba
import numpy as np
import torch

__all__ = ["dense_integrate_and_fire"]


@numba.njit(cache=True, parallel=True)
def _kernel(s, wt, bias, theta, spikes, v_out):
    """s (B, T, D), wt = W^T (D, O), bias (O,) -> spikes (B, T, O) (zero-initialised), v_out (B, O)."""
    B, T, D = s.shape
    O = wt.shape[1]
    for b in numba.prange(B):
        # inputs that carry one constant value in more than half of the steps ("mostly on") enter a
        # base current once; per step only their silent steps are subtracted (MNIST: ~21 weight
        # rows a step instead of ~102; analog input: none)
        count = np.zeros(D, dtype=np.int64)
        lo = np.full(D, np.inf, dtype=s.dtype)
        hi = np.full(D, -np.inf, dtype=s.dtype)
        for t in range(T):
            for i in range(D):
                x = s[b, t, i]
                count[i] += x != 0.0
                lo[i] = min(lo[i], x if x != 0.0 else np.inf)
                hi[i] = max(hi[i], x if x != 0.0 else -np.inf)
        value = np.zeros(D, dtype=s.dtype)
        base = np.zeros(O, dtype=wt.dtype)
        for i in range(D):
            if 2 * count[i] > T and lo[i] == hi[i]:
                value[i] = hi[i]
                for o in range(O):
                    base[o] += hi[i] * wt[i, o]
        rows = np.empty(D, dtype=np.int64)
        coef = np.empty(D, dtype=s.dtype)
        v = bias.copy()
        cur = np.empty(O, dtype=wt.dtype)
        for t in range(T):
            n = 0  # branch-free list of this step's weight rows and their coefficients
            for i in range(D):
                x = s[b, t, i]
                c = x if value[i] == 0.0 else (-value[i] if x == 0.0 else 0.0)
                rows[n] = i
                coef[n] = c
                n += c != 0.0
            cur[:] = base
            for j in range(n):
                i, c = rows[j], coef[j]
                for o in range(O):
                    cur[o] += c * wt[i, o]
            for o in range(O):
                v[o] += theta * cur[o]
                if v[o] >= theta:
                    spikes[b, t, o] = 1.0
                    v[o] -= theta
        v_out[b] = v


def dense_integrate_and_fire(s: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, theta: float):
    """Spikes (B, T, O) and final potential (B, O) of IF neurons driven by trains s (B, T, D).

    weight (O, D) in units of theta, bias (O,) the initial potential; all tensors CPU, one float
    dtype (float32 or float64). No gradient flows (the stepped mode's backward uses counts).
    """
    dtype = s.dtype
    s_np = s.detach().contiguous().numpy()
    wt = weight.detach().to(dtype).t().contiguous().numpy()
    b = bias.detach().to(dtype).contiguous().numpy()
    B, T, _ = s_np.shape
    spikes = np.zeros((B, T, wt.shape[1]), dtype=s_np.dtype)
    v = np.empty((B, wt.shape[1]), dtype=s_np.dtype)
    _kernel(s_np, wt, b, s_np.dtype.type(theta), spikes, v)
    return torch.from_numpy(spikes), torch.from_numpy(v)
