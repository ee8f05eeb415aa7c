"""Fill numba's on-disk cache for the kernels the CLI's simulate / evaluate paths use (run at install).

    python -m learning.warmup

:func:`simcore.warmup.warm_up` covers the simulator; this adds the data-set path of a trained
model (``learning.simulate.simulate_dataset`` on a tiny untrained "snn" model and the embedded
digits data, in both modes) and the tensor model's evaluation (dense and conv, float32 as in
training and float64, aggregate and stepped: the input encoders and the fused stepped kernel of
:mod:`learning.dense_if`). Writes only to a temporary directory. The Dask runner calls it before
starting workers (the parts that write no file), so they load the cache instead of compiling the
same kernels at once.
"""
from __future__ import annotations

import tempfile
import time

import numpy as np
import torch

from learning.evaluate import evaluate
from learning.io import save_model
from learning.model import SpikingNet
from learning.simulate import simulate_dataset
from learning.spec import parse_spec
from simcore.warmup import warm_up as warm_up_simcore

__all__ = ["warm_up", "warm_up_tensor"]


def warm_up_tensor() -> None:
    """The tensor model's evaluation kernels (dense and conv, float32 and float64, both modes); writes
    nothing, so it may run inside a command that holds an output directory (the Dask runner)."""
    torch.manual_seed(0)
    x, y = np.random.default_rng(0).random((2, 16)), np.zeros(2, dtype=np.int64)
    for spec in ("16-3-2", "4x4-2c3-2a-2"):
        tiny = SpikingNet(parse_spec(spec))
        for dtype in (torch.float32, torch.float64):
            for mode in ("aggregate", "stepped"):
                evaluate(tiny, x, y, 3, mode, 0, dtype=dtype)


def warm_up() -> float:
    """Compile (or load) the cached kernels of a simulation and of a model's data-set run; seconds."""
    t0 = time.perf_counter()
    warm_up_simcore()
    warm_up_tensor()
    net = SpikingNet(parse_spec("64-16-10"))
    with tempfile.TemporaryDirectory() as tmp:
        save_model(tmp, net, {"T": 3, "dataset": "digits"})
        for mode in ("sync", "async"):
            simulate_dataset(tmp, "digits", T=3, mode=mode, limit=4, progress=False)
    return time.perf_counter() - t0


if __name__ == "__main__":
    print(f"spikecount kernels compiled and cached in {warm_up():.1f} s")
