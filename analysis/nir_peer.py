"""A peer engine for NIR files: nirtorch's interpreter with Sinabs neurons set to the paper's neuron.

:func:`sinabs_harness` builds, from the ``.nir`` file alone, a torch module in which every ``IF`` is a
Sinabs ``IAF(SingleSpike, MembraneSubtract(), min_v_mem=None)`` (``>=``, reset by subtraction, one
spike per step, no floor) and ``Affine``/``Linear``/``Conv2d``/``Flatten`` are mapped here
(nirtorch 2.6's default ``Affine`` map keeps torch's random bias; ``SumPool2d``/``AvgPool2d`` use
nirtorch's own map). It is the independent check of an export (``docs/results.md`` section 13):
``../shared/reference/nir-notes.md`` section 1.6 describes it. Needs the ``nir-peers`` extra.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["sinabs_harness"]


def sinabs_harness(path: str | os.PathLike, T: int):
    """The NIR file at ``path`` as a torch module; input (batch*T, *shape) float spikes, time-major per
    sample (sample b's steps are rows b*T .. b*T+T-1); output the output population's spikes, same
    layout. Each call starts from the neurons' initial state."""
    import nir
    import nirtorch
    import sinabs.layers as sl
    import torch
    from sinabs.activation import MembraneSubtract, SingleSpike

    class IAF(torch.nn.Module):
        def __init__(self, theta):
            super().__init__()
            self.iaf = sl.IAF(spike_threshold=float(theta), spike_fn=SingleSpike, reset_fn=MembraneSubtract(),
                              min_v_mem=None)

        def forward(self, x):
            self.iaf.reset_states()
            return self.iaf(x.view(-1, T, *x.shape[1:])).flatten(0, 1)

    def dense(n):
        bias = getattr(n, "bias", None)
        m = torch.nn.Linear(n.weight.shape[1], n.weight.shape[0], bias=bias is not None)
        m.weight.data = torch.as_tensor(n.weight).float()
        if bias is not None:
            m.bias.data = torch.as_tensor(bias).float()
        return m

    def conv(n):
        w = torch.as_tensor(n.weight).float()
        m = torch.nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=int(np.ravel(n.stride)[0]),
                            padding=int(np.ravel(n.padding)[0]))
        m.weight.data, m.bias.data = w, torch.as_tensor(n.bias).float()
        return m

    node_map = {nir.IF: lambda n: IAF(n.v_threshold.flat[0]), nir.Affine: dense, nir.Linear: dense,
                nir.Conv2d: conv,  # +1 below: the leading batch*time axis
                nir.Flatten: lambda n: torch.nn.Flatten(n.start_dim + 1, n.end_dim)}
    return nirtorch.nir_to_torch(nir.read(str(path)), node_map)
