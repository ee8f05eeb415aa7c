"""A spike-rate budget in training: a penalty on the per-stage spike counts added to the loss.

A term added to the cross-entropy loss, acting on the per-stage spike counts of a
:class:`learning.model.Forward`. Those counts already carry the spike-count gradient
(Eqs. 10-14: ``da/dz = 1/theta`` where ``z > 0``), so the penalty is trained with the same
gradient as the rest of the rule. Units: spikes per neuron per sample (counts over the window
of T steps, not per step). Every hidden stage and the output stage is penalised; the input
population is not (it is fixed by the encoder).

* ``target is None``: ``lam * mean(count)``;
* ``target = r``:     ``lam * mean(relu(count - r))`` (only the excess over r is penalised).

``lam`` a float: one mean over all hidden and output neurons of all stages (each neuron weighs
the same). ``lam`` a list (one per stage): ``sum_k lam_k * mean over stage k``.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

__all__ = ["rate_penalty", "check_rate_options"]


def rate_penalty(counts: Sequence[torch.Tensor], lam: float | Sequence[float],
                 target: float | None = None) -> torch.Tensor:
    """``lam x mean(count)`` or ``lam x mean(relu(count - target))`` over the stages' counts.

    counts: per stage (B, *shape) spike counts (hidden stages and output, as in Forward.counts).
    lam: one float (mean over all neurons of all stages) or one float per stage.
    target: None, or spikes per neuron per sample above which counts are penalised.
    """
    if len(counts) == 0:
        raise ValueError("rate_penalty needs the counts of at least one stage")
    per_stage = not isinstance(lam, (int, float))
    if per_stage and len(lam) != len(counts):
        raise ValueError(f"rate lambda: {len(lam)} values for {len(counts)} stages (give one, or one per stage)")
    excess = [c if target is None else torch.relu(c - float(target)) for c in counts]
    if per_stage:
        return sum(float(l) * e.mean() for l, e in zip(lam, excess))
    total = sum(e.sum() for e in excess)
    n = sum(e.numel() for e in excess)
    return float(lam) * total / n


def check_rate_options(lam, target, n_stages: int | None = None) -> None:
    """ValueError for negative or non-finite lambdas/target, or a per-stage list of the wrong length."""
    if lam is None:
        if target is not None:
            raise ValueError("rate_target needs rate_lambda")
        return
    values = [lam] if isinstance(lam, (int, float)) else list(lam)
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        raise ValueError(f"rate_lambda must be finite and >= 0, got {lam}")
    if n_stages is not None and not isinstance(lam, (int, float)) and len(values) != n_stages:
        raise ValueError(f"rate_lambda: {len(values)} values for {n_stages} stages (give one, or one per stage)")
    if target is not None and not (math.isfinite(target) and target >= 0):
        raise ValueError(f"rate_target must be finite and >= 0 (spikes per neuron per sample), got {target}")
