"""Synaptic operations (SOPs) from spike counts: the accounting simcore's engine does event by event.

SOPs of a sample = sum over source populations of ``events_i x fan-out_i``: every event of source
neuron i is delivered along each of its structural synapses (fan-out: the number of target neurons
it reaches, over all its outgoing projections). Events are spikes; an analog input neuron sends one
graded event per step while its intensity is non-zero (``T x [x != 0]``), as the engine counts it.
A network's own fan-outs are ``CompiledProjection.fanout()``; an engine that only has counts (the
tensor model) supplies its own and gets the engine's numbers.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["input_events", "sops_from_counts"]


def input_events(inp: np.ndarray, T: int, encoding: str = "bernoulli") -> np.ndarray:
    """Events per input neuron (B, D) float64 from input counts (B, D) or trains (B, T, D).

    bernoulli: the spikes; analog: T graded events for each non-zero intensity (first step's value)."""
    inp = np.asarray(inp)
    if encoding == "analog":
        x = inp[:, 0] if inp.ndim == 3 else inp
        return (x != 0).astype(np.float64) * T
    return (inp.sum(1) if inp.ndim == 3 else inp).astype(np.float64)


def sops_from_counts(fanouts: Sequence[np.ndarray], events: np.ndarray,
                     counts: Sequence[np.ndarray]) -> np.ndarray:
    """SOPs of a batch summed over samples, per source population: (input, stage 1, ..., last = 0).

    fanouts[k]: (n_k,) fan-out of source k (the input, then every stage but the last); events: the
    input's events (B, D); counts: per stage (B, *shape) spike counts (the last stage sends none)."""
    sources = [events, *counts[:-1]]
    sops = [float((np.asarray(s, dtype=np.float64).reshape(len(s), -1) * f).sum()) for s, f in zip(sources, fanouts)]
    return np.asarray([*sops, 0.0])
