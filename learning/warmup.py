"""Fill numba's on-disk cache for the kernels the CLI's simulate / evaluate paths use (run at install).

    python -m learning.warmup

:func:`simcore.warmup.warm_up` covers the simulator; this adds the data-set path of a trained
model (``learning.simulate.simulate_dataset`` on a tiny untrained "snn" model and the embedded
digits data: input encoders in the dtypes the tensor twin uses, the fused stepped kernel of
:mod:`learning.dense_if`), in both modes. Writes only to a temporary directory.
"""
from __future__ import annotations

import tempfile
import time

import torch

from learning.io import save_model
from learning.model import SpikingNet
from learning.simulate import simulate_dataset
from learning.spec import parse_spec
from simcore.warmup import warm_up as warm_up_simcore

__all__ = ["warm_up"]


def warm_up() -> float:
    """Compile (or load) the cached kernels of a simulation and of a model's data-set run; seconds."""
    t0 = time.perf_counter()
    warm_up_simcore()
    torch.manual_seed(0)
    net = SpikingNet(parse_spec("64-16-10"))
    with tempfile.TemporaryDirectory() as tmp:
        save_model(tmp, net, {"T": 3, "dataset": "digits"})
        for mode in ("sync", "async"):
            simulate_dataset(tmp, "digits", T=3, mode=mode, limit=4, progress=False)
    return time.perf_counter() - t0


if __name__ == "__main__":
    print(f"spikecount kernels compiled and cached in {warm_up():.1f} s")
