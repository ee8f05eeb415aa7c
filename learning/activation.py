"""The spike-count IF activation (Wu et al. 2019, Eqs. 7, 10 and 14) as torch autograd functions.

Forward (Eq. 7), per neuron with aggregated input current ``z`` (Eq. 6, ``z = theta * W a + b``)::

    a = min(floor(z / theta) * [z > 0], r_max)

Backward (Eqs. 10, 14)::

    da/dz = (1 / theta) * [z > 0]                  # the r_max cap is not in the derivative

``bounded`` backward, the recipe used for the output layer by default (see docs/recipe.md): the
same derivative, except that a gradient that would push a count out of the range it can take is
blocked, and a gradient that pushes it back into range passes::

    da/dz = 1/theta, except 0 where (z <= 0 and dL/da > 0) or (a == r_max and dL/da < 0)

so a silent output neuron can always be driven up by its own class (the paper's rule leaves a
neuron with z <= 0 on every sample with zero gradient forever), and a saturated output neuron
is never pushed further up, only its saturated rivals down (ties at r_max resolve).
"""
from __future__ import annotations

import torch

__all__ = ["spike_count", "count_from_current", "with_count_gradient"]


def count_from_current(z: torch.Tensor, theta: float, r_max: float) -> torch.Tensor:
    """Eq. 7 without autograd: ``min(floor(z/theta) * [z > 0], r_max)``, same shape and dtype as z."""
    return torch.floor(z if theta == 1.0 else z / theta).clamp_(0.0, float(r_max))


def _count_grad(ctx, grad: torch.Tensor) -> torch.Tensor:
    """dL/dz of the count gradient (Eqs. 10-14, ``bounded`` as the module docstring says) at the saved z."""
    z, counts = ctx.saved_tensors
    if ctx.bounded:
        blocked = ((z <= 0) & (grad > 0)) | ((counts >= ctx.r_max) & (grad < 0))
        grad_z = grad.masked_fill(blocked, 0.0)
    else:  # the 0/1 mask as a product: branch-free, ~6x faster than torch.where(z > 0, grad, 0) on a
        grad_z = grad * (z > 0)  # random mask; equal to it but for the sign of zeros (no weight changes)
    return grad_z if ctx.theta == 1.0 else grad_z / ctx.theta


class _CountGradient(torch.autograd.Function):
    """Returns ``counts`` in the forward pass; the backward pass is the count gradient at ``z``."""

    @staticmethod
    def forward(ctx, z, counts, theta: float, r_max: float, bounded: bool):
        ctx.save_for_backward(z, counts)
        ctx.theta, ctx.r_max, ctx.bounded = theta, r_max, bounded
        return counts.clone()

    @staticmethod
    def backward(ctx, grad):
        return _count_grad(ctx, grad), None, None, None, None


class _SpikeCount(torch.autograd.Function):
    """Eq. 7 of ``z`` in the forward pass (computed here: no copy of the counts); the count gradient backward."""

    @staticmethod
    def forward(ctx, z, theta: float, r_max: float, bounded: bool):
        counts = count_from_current(z, theta, r_max)
        ctx.save_for_backward(z, counts)
        ctx.theta, ctx.r_max, ctx.bounded = theta, r_max, bounded
        return counts

    @staticmethod
    def backward(ctx, grad):
        return _count_grad(ctx, grad), None, None, None


def with_count_gradient(
    z: torch.Tensor, counts: torch.Tensor, theta: float, r_max: float, bounded: bool = False
) -> torch.Tensor:
    """Spike counts whose value is ``counts`` (e.g. from explicit IF dynamics) and whose gradient
    with respect to the aggregated current ``z`` is the spike-count gradient (Eqs. 10-14)."""
    return _CountGradient.apply(z, counts.detach(), float(theta), float(r_max), bool(bounded))


def spike_count(z: torch.Tensor, theta: float, r_max: float, bounded: bool = False) -> torch.Tensor:
    """The spike-count activation (Eq. 7 forward, Eqs. 10/14 backward) of aggregated currents z."""
    return _SpikeCount.apply(z, float(theta), float(r_max), bool(bounded))
