"""k-bit weights: power-of-two scaled symmetric quantisation and its straight-through estimator.

k-bit (k = 2..8) symmetric uniform quantisation, one scale per layer (weight tensor), integer
levels in ``[-(2^(k-1) - 1), 2^(k-1) - 1]`` (symmetric, so 2^k - 1 values at most; the level
-2^(k-1) is never used). The scale is a POWER OF TWO::

    scale = 2 ** ceil(log2(max|W| / (2^(k-1) - 1)))     (1.0 for an all-zero W)

so ``max|W| / scale <= 2^(k-1) - 1``: nothing is clipped, rounding is to the nearest level
(ties to even). Weights ``int * scale`` are then dyadic rationals with few significant bits,
so every sum of them (and of a float32-born bias) is exact in float64: simcore's
event-by-event sums and the tensor model's matrix products give identical potentials and
therefore identical spike counts (exactly, when theta is a power of two -- the default 1.0 --
and pooling kernels are powers of two; the test checks it). Biases stay float: they are
initial membrane potentials, not synapses. Training uses a straight-through estimator: the
forward pass uses the quantised weights, the gradient goes unchanged to the float shadow
weights (which the optimiser updates and the checkpoint keeps). Quantisation is idempotent:
the quantised weights quantise to themselves.
"""
from __future__ import annotations

import math

import torch

__all__ = ["WEIGHT_BITS", "qmax", "power_of_two_scale", "quantise", "quantise_int", "quantise_ste"]

WEIGHT_BITS = range(2, 9)


def _check_bits(bits: int) -> int:
    if int(bits) != bits or bits not in WEIGHT_BITS:
        raise ValueError(f"weight_bits must be an integer in 2..8, got {bits}")
    return int(bits)


def qmax(bits: int) -> int:
    """Largest integer level: 2^(bits-1) - 1 (levels are symmetric, -qmax..qmax)."""
    return 2 ** (_check_bits(bits) - 1) - 1


def power_of_two_scale(w: torch.Tensor, bits: int) -> float:
    """2^ceil(log2(max|w| / qmax)); 1.0 for an all-zero w."""
    m = float(w.detach().abs().max()) if w.numel() else 0.0
    if m == 0.0:
        return 1.0
    e = math.ceil(math.log2(m / qmax(bits)))
    scale = math.ldexp(1.0, e)
    if m / scale > qmax(bits):  # guard against log2 rounding
        scale *= 2.0
    return scale


def quantise_int(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, float]:
    """(integer levels as int64, scale) with ``w ~ levels * scale``; no gradient."""
    scale = power_of_two_scale(w, bits)
    q = qmax(bits)
    levels = torch.clamp(torch.round(w.detach().double() / scale), -q, q).to(torch.int64)
    return levels, scale


def quantise(w: torch.Tensor, bits: int) -> torch.Tensor:
    """The quantised weights ``levels * scale`` in w's dtype (exact: few significant bits); no gradient."""
    levels, scale = quantise_int(w, bits)
    return (levels.double() * scale).to(w.dtype)


class _STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, bits: int):
        return quantise(w, bits)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def quantise_ste(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Quantised weights in the forward pass; straight-through (identity) gradient to ``w``."""
    return _STE.apply(w, _check_bits(bits))
