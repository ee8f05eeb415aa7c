"""Decision latency from a per-step prediction trace."""
from __future__ import annotations

import numpy as np

__all__ = ["decision_latency"]


def decision_latency(trace: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """First step (1-based) after which the running prediction stays correct to the end.

    trace: (N, steps) predicted class after every step (simcore's prediction_trace);
    labels: (N,). Returns int64 (N,), -1 where the final prediction is wrong.
    """
    trace = np.asarray(trace)
    labels = np.asarray(labels).reshape(-1, 1)
    wrong = trace != labels
    steps = trace.shape[1]
    # index of the last wrong step, + 1 -> first step of the final correct run (0-based), + 1 -> 1-based
    last_wrong = np.where(wrong.any(axis=1), steps - 1 - np.argmax(wrong[:, ::-1], axis=1), -1)
    latency = last_wrong + 2
    latency[wrong[:, -1]] = -1
    return latency.astype(np.int64)
