"""Dask worker set-up (imported only when Dask is used): one torch thread per worker process."""
from __future__ import annotations

from distributed import WorkerPlugin

__all__ = ["PinThreads"]


class PinThreads(WorkerPlugin):
    """Pins torch to one intra-op thread in the worker (numba/BLAS are pinned by its environment)."""

    name = "spikecount-pin-threads"

    def setup(self, worker) -> None:
        import torch

        torch.set_num_threads(1)
