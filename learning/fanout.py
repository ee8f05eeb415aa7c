"""Fan-outs of a SpikingNet's source populations, for SOP accounting with :mod:`simcore.sops`."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from learning.model import SpikingNet, stage_input

__all__ = ["fanouts"]


def fanouts(net: SpikingNet) -> list[np.ndarray]:
    """Per weighted stage k, the fan-out (float64, flattened) of every neuron of its source population
    (the input for k = 0, else stage k-1): the number of stage-k neurons it has a synapse to.

    Computed with the stage's own ops on all-ones weights: the column sums of the composed map are
    ``fan-out / pool^2`` (every path source -> pooled cell -> target is unique at stride 1)."""
    out = []
    for stage, module in zip(net.stages, net.layers):
        x = torch.zeros(1, *stage.in_shape, dtype=torch.float64, requires_grad=True)
        y = stage_input(stage, x)
        ones = torch.ones_like(module.weight, dtype=torch.float64)
        y = F.linear(y, ones) if stage.kind == "dense" else F.conv2d(y, ones)
        y.sum().backward()
        out.append(torch.round(x.grad.flatten() * (stage.pool or 1) ** 2).numpy())
    return out
