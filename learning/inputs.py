"""Input encoding for the tensor model, through simcore's seeded encoder (one definition everywhere).

``bernoulli``: rate-coded spike trains (see :mod:`simcore.encoding`), per-step probability
intensity x max_rate. ``analog``: the intensity injected every step as a graded input.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numba
import numpy as np
import torch

from learning.choices import ENCODINGS
from simcore import encoding

__all__ = ["input_counts", "input_trains", "calling_thread_only"]


def _check(name: str) -> None:
    if name not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {name!r}")


def _numpy(dtype: torch.dtype) -> np.dtype:
    return torch.empty(0, dtype=dtype).numpy().dtype


def input_counts(
    x: np.ndarray, T: int, seed: int, encoding_name: str = "bernoulli", max_rate: float = 1.0,
    sample_ids: np.ndarray | None = None, dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Aggregate input a_0 (N, D): spike counts of the trains, or T x intensity for analog input."""
    _check(encoding_name)
    if encoding_name == "analog":
        x = encoding.validate_intensity(x).astype(np.float64, copy=False)
        if int(T) != T or T < 1:
            raise ValueError(f"T (number of time steps) must be an integer >= 1, got {T}")
        return torch.from_numpy(x * T).to(dtype)
    return torch.from_numpy(encoding.bernoulli_counts(x, T, seed, max_rate, sample_ids, dtype=_numpy(dtype)))


def input_trains(
    x: np.ndarray, T: int, seed: int, encoding_name: str = "bernoulli", max_rate: float = 1.0,
    sample_ids: np.ndarray | None = None, dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Input per step s_0 (N, T, D): 0/1 spikes, or the intensity repeated for analog input."""
    _check(encoding_name)
    if encoding_name == "analog":
        return torch.from_numpy(np.ascontiguousarray(encoding.analog_trains(x, T))).to(dtype)
    return torch.from_numpy(encoding.bernoulli_trains(x, T, seed, max_rate, sample_ids, dtype=_numpy(dtype)))


@contextmanager
def calling_thread_only() -> Iterator[None]:
    """Run numba's parallel kernels (the encoder's) on the calling thread inside the block.

    For one training batch in ``aggregate`` mode: 128 MNIST samples encode as fast on one thread, and
    waking numba's pool costs more than it saves: its workers (a second OpenMP runtime beside torch's)
    keep spinning after the kernel and take a core from torch's next matrix products."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(threads)
