"""Fill numba's on-disk cache for every kernel signature a simulation uses (run once at install).

    python -m simcore.warmup

Without it the first :func:`simcore.simulate` after an install compiles the parallel kernel
(tens of seconds; one compilation per weight storage type). The kernels' types do not depend on
the network's shape, the mode (sync / async), the input kind or the raster option (all run-time
values), only on the dtype of the weight table (float32 when lossless, else float64): a tiny
network of each storage type, with a dense, a conv-run and a CSR projection, in both modes, fills
the cache; later processes load it (about a second) instead of compiling.
"""
from __future__ import annotations

import time

import numpy as np

from simcore import encoding
from simcore.engine import simulate
from simcore.network import Network
from simcore.ops import AvgPool2d, Conv2d, Dense, Flatten

__all__ = ["warm_up"]


def _tiny(dtype) -> Network:
    """Input (1, 6, 6) -> conv (runs) -> pooled conv (CSR) -> dense output, weights of ``dtype``."""
    rng = np.random.default_rng(0)

    def w(*shape):  # float32-exact values for float32 storage; an offset of 2**-40 breaks that
        return rng.normal(0.0, 0.5, shape).astype(np.float32).astype(np.float64) + (dtype == np.float64) * 2.0**-40

    net = Network()
    net.add_input("input", (1, 6, 6))
    net.add_neurons("c1", (2, 4, 4))
    net.add_neurons("c2", (2, 1, 1))
    net.add_neurons("out", (3,))
    net.connect("input", "c1", [Conv2d(w(2, 1, 3, 3))])
    net.connect("c1", "c2", [AvgPool2d(2), Conv2d(w(2, 2, 2, 2))])
    net.connect("c2", "out", [Flatten(), Dense(w(3, 2))])
    return net


def warm_up() -> float:
    """Compile (or load) every cached kernel of a simulation; returns the seconds it took."""
    t0 = time.perf_counter()
    x = np.random.default_rng(1).random((2, 36))
    for dtype in (np.float32, np.float64):
        net = _tiny(dtype)
        for mode in ("sync", "async"):
            simulate(net, x, T=3, seed=0, mode=mode)
    encoding.bernoulli_trains(x, 3, 0)
    encoding.bernoulli_trains(x, 3, 0, dtype=np.float32)
    encoding.bernoulli_counts(x, 3, 0)
    return time.perf_counter() - t0


if __name__ == "__main__":
    print(f"simcore kernels compiled and cached in {warm_up():.1f} s")
