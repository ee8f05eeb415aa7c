"""The decode rule: one definition of the predicted class, used by every evaluation.

The predicted class is the output neuron with the most spikes; ties are broken by the larger
final membrane potential, then by the lower index. (Diehl's and snn_toolbox's plain argmax is the
same rule without the membrane step.) :func:`best_index` is the rule for one sample; simcore's
kernels call it after every step (the prediction trace) and :func:`predict` calls it per sample.
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["predict", "best_index"]


@numba.njit(cache=True, inline="always")
def best_index(counts, membrane, off, n):
    """Decoded class of one sample: index ``q`` in ``0..n-1`` of ``counts[off + q]`` (spikes) and
    ``membrane[off + q]`` (potentials): most spikes, then larger potential, then lower index."""
    best = 0
    for q in range(1, n):
        c = counts[off + q]
        cb = counts[off + best]
        if c > cb or (c == cb and membrane[off + q] > membrane[off + best]):
            best = q
    return best


@numba.njit(cache=True)
def _predict_rows(counts, membrane, out):
    n = counts.shape[1]
    for s in range(counts.shape[0]):
        out[s] = best_index(counts[s], membrane[s], 0, n)


def predict(counts: np.ndarray, membrane: np.ndarray | None = None) -> np.ndarray:
    """Predicted class per sample.

    counts: (N, C) output spike counts (any real dtype).
    membrane: (N, C) final membrane potentials, or None to break ties by index only.
    Returns int64 (N,).
    """
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise ValueError(f"counts must be 2-D (samples, classes), got shape {counts.shape}")
    if membrane is None:
        membrane = np.zeros(counts.shape)
    membrane = np.asarray(membrane, dtype=np.float64)
    if membrane.shape != counts.shape:
        raise ValueError(f"membrane shape {membrane.shape} does not match counts shape {counts.shape}")
    out = np.zeros(counts.shape[0], dtype=np.int64)
    if counts.shape[1]:
        _predict_rows(np.ascontiguousarray(counts, dtype=np.float64), np.ascontiguousarray(membrane), out)
    return out
