"""The quantisation-clip-floor-shift activation (QCFS; Bu, Fang, Ding, Dai, Yu, Huang, "Optimal
ANN-SNN conversion for high-accuracy and ultra-low-latency spiking neural networks", ICLR 2022).

Forward, per hidden layer with a trainable threshold ``lambda`` (one scalar per layer, stored as shape (1,)) and ``L``
quantisation levels::

    h(z) = lambda / L * clip(floor(z * L / lambda + 1/2), 0, L)

Backward: the straight-through estimator for ``floor`` (d floor(x)/dx := 1), everything else by
autograd, exactly as the authors' code (putshua/SNN_conversion_QCFS, ``modules.py``: ``x / thresh``,
``clamp(0, 1)``, ``myfloor(x * L + 0.5) / L``, ``* thresh``), so ``dh/dz = 1`` for
``0 < z < lambda`` and 0 outside, and ``lambda`` gets the gradient of the clip and of the scale.

Conversion (:func:`baselines.convert.convert` with ``norm="qcfs"``): ``lambda_l`` is layer l's
scale factor (``W_l * lambda_{l-1} / lambda_l``, ``b_l / lambda_l``, threshold 1), reset by
subtraction, initial potential ``theta / 2``; then the IF layer's count over T = L steps equals
``L * h(z) / lambda`` for constant input (the ``+1/2`` shift is the ``theta/2`` start).
"""
from __future__ import annotations

import torch

__all__ = ["qcfs", "DEFAULT_LAMBDA"]

DEFAULT_LAMBDA = 1.0  # initial threshold of every layer (inputs are intensities in [0, 1])


class _FloorSTE(torch.autograd.Function):
    """floor forward, identity backward (the straight-through estimator)."""

    @staticmethod
    def forward(ctx, x):
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def qcfs(z: torch.Tensor, lam: torch.Tensor, levels: int) -> torch.Tensor:
    """``lam / L * clip(floor(z * L / lam + 1/2), 0, L)`` (any shape; lam a scalar tensor > 0)."""
    x = torch.clamp(z / lam, 0.0, 1.0)
    return _FloorSTE.apply(x * levels + 0.5) / levels * lam
