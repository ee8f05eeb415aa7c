"""The decode rule: one definition of the predicted class, used by every evaluation.

The predicted class is the output neuron with the most spikes; ties are broken by the larger
final membrane potential, then by the lower index. (Diehl's and snn_toolbox's plain argmax is the
same rule without the membrane step.)
"""
from __future__ import annotations

import numpy as np

__all__ = ["predict"]


def predict(counts: np.ndarray, membrane: np.ndarray | None = None) -> np.ndarray:
    """Predicted class per sample.

    counts: (N, C) output spike counts (any real dtype).
    membrane: (N, C) final membrane potentials, or None to break ties by index only.
    Returns int64 (N,).
    """
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise ValueError(f"counts must be 2-D (samples, classes), got shape {counts.shape}")
    top = counts == counts.max(axis=1, keepdims=True)
    if membrane is None:
        return np.argmax(top, axis=1)
    membrane = np.asarray(membrane, dtype=np.float64)
    if membrane.shape != counts.shape:
        raise ValueError(f"membrane shape {membrane.shape} does not match counts shape {counts.shape}")
    # np.argmax returns the first maximum: the lower index wins among equal potentials.
    return np.argmax(np.where(top, membrane, -np.inf), axis=1)
