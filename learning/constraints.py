"""Hardware constraints in training: a spike-rate budget, limited weight precision, SOP accounting.

Spike-rate budget (:func:`rate_penalty`)
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

Weight precision (:func:`quantise`, :func:`quantise_ste`)
    k-bit (k = 2..8) symmetric uniform quantisation, one scale per layer (weight tensor), integer
    levels in ``[-(2^(k-1) - 1), 2^(k-1) - 1]`` (symmetric, so 2^k - 1 values at most; the level
    -2^(k-1) is never used). The scale is a POWER OF TWO::

        scale = 2 ** ceil(log2(max|W| / (2^(k-1) - 1)))     (1.0 for an all-zero W)

    so ``max|W| / scale <= 2^(k-1) - 1``: nothing is clipped, rounding is to the nearest level
    (ties to even). Weights ``int * scale`` are then dyadic rationals with few significant bits,
    so every sum of them (and of a float32-born bias) is exact in float64: simcore's
    event-by-event sums and the tensor model's matrix products give identical potentials and
    therefore identical spike counts (exactly, when theta is a power of two -- the default 1.0 --
    and pooling kernels are powers of two; the test checks it). Biases stay float: they are
    initial membrane potentials, not synapses. Training uses a straight-through estimator: the
    forward pass uses the quantised weights, the gradient goes unchanged to the float shadow
    weights (which the optimiser updates and the checkpoint keeps). Quantisation is idempotent:
    the quantised weights quantise to themselves.

SOP accounting (:func:`fanouts`, :func:`sops_from_counts`)
    Synaptic operations per sample = sum over source populations (the input and every stage that
    feeds another) of ``spikes x fan-out``, where the fan-out of a source neuron is the number of
    structural synapses it has (dense: out_features; convolution, possibly after pooling: the
    targets it reaches), exactly what ``simcore`` counts. Input events are the input spikes for
    Bernoulli input, and ``T x [x != 0]`` graded events for analog input (as in simcore).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from learning.model import SpikingNet

__all__ = [
    "WEIGHT_BITS", "rate_penalty", "check_rate_options", "qmax", "power_of_two_scale", "quantise",
    "quantise_int", "quantise_ste", "fanouts", "input_events", "sops_from_counts", "population_labels",
]

WEIGHT_BITS = range(2, 9)


# -- spike-rate budget ------------------------------------------------------------------------------
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


# -- weight precision -------------------------------------------------------------------------------
def _check_bits(bits: int) -> int:
    if int(bits) != bits or bits not in WEIGHT_BITS:
        raise ValueError(f"weight_bits must be an integer in 2..8, got {bits}")
    return int(bits)


def qmax(bits: int) -> int:
    """Largest integer level: 2^(bits-1) - 1 (levels are symmetric, -qmax..qmax)."""
    return 2 ** (_check_bits(bits) - 1) - 1


def power_of_two_scale(w: torch.Tensor, bits: int) -> float:
    """2^ceil(log2(max|w| / qmax)); 1.0 for an all-zero w."""
    m = float(w.detach().abs().max()) if w.numel() else 0.0
    if m == 0.0:
        return 1.0
    e = math.ceil(math.log2(m / qmax(bits)))
    scale = math.ldexp(1.0, e)
    if m / scale > qmax(bits):  # guard against log2 rounding
        scale *= 2.0
    return scale


def quantise_int(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, float]:
    """(integer levels as int64, scale) with ``w ~ levels * scale``; no gradient."""
    scale = power_of_two_scale(w, bits)
    q = qmax(bits)
    levels = torch.clamp(torch.round(w.detach().double() / scale), -q, q).to(torch.int64)
    return levels, scale


def quantise(w: torch.Tensor, bits: int) -> torch.Tensor:
    """The quantised weights ``levels * scale`` in w's dtype (exact: few significant bits); no gradient."""
    levels, scale = quantise_int(w, bits)
    return (levels.double() * scale).to(w.dtype)


class _STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, bits: int):
        return quantise(w, bits)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def quantise_ste(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Quantised weights in the forward pass; straight-through (identity) gradient to ``w``."""
    return _STE.apply(w, _check_bits(bits))


# -- SOP accounting ---------------------------------------------------------------------------------
def population_labels(net: "SpikingNet") -> list[str]:
    """``input`` then simcore's population names of the stages (``dense1``, ``conv1``, ...)."""
    from learning.export import population_names

    return ["input", *population_names(net)]


def fanouts(net: "SpikingNet") -> list[torch.Tensor]:
    """Per weighted stage k, the fan-out (float64, flattened) of every neuron of its source population
    (the input for k = 0, else stage k-1): the number of stage-k neurons it has a synapse to.

    Computed with the stage's own ops on all-ones weights: the column sums of the composed map are
    ``fan-out / pool^2`` (every path source -> pooled cell -> target is unique at stride 1)."""
    from learning.model import stage_input  # model imports this module

    shapes = [tuple(net.arch.input_shape)]
    with torch.no_grad():
        probe = net.aggregate(torch.zeros(1, net.arch.n_inputs, dtype=next(net.parameters()).dtype), T=1)
    shapes += [tuple(c.shape[1:]) for c in probe.counts[:-1]]
    out = []
    for k, (stage, module, shape) in enumerate(zip(net.stages, net.layers, shapes)):
        x = torch.zeros(1, *shape, dtype=torch.float64, requires_grad=True)
        y = stage_input(stage, x)
        ones = torch.ones_like(module.weight, dtype=torch.float64)
        y = F.linear(y, ones) if stage.kind == "dense" else F.conv2d(y, ones)
        y.sum().backward()
        pool2 = (stage.pool or 1) ** 2
        out.append(torch.round(x.grad.flatten() * pool2))
    return out


def input_events(inp: torch.Tensor, T: int, encoding: str = "bernoulli") -> torch.Tensor:
    """Events per input neuron (B, D) of a batch of tensor-model inputs: counts (B, D) or trains (B, T, D).

    Bernoulli: the spikes; analog: one graded event per step for each non-zero intensity."""
    if encoding == "analog":
        x = inp[:, 0] if inp.dim() == 3 else inp
        return (x != 0).to(torch.float64) * T
    return (inp.sum(1) if inp.dim() == 3 else inp).to(torch.float64)


def sops_from_counts(fan: Sequence[torch.Tensor], events: torch.Tensor,
                     counts: Sequence[torch.Tensor]) -> np.ndarray:
    """SOPs of a batch, summed over samples, per source population (input, stage 1, ..., last = 0):
    ``sum_i events_i x fan-out_i``. fan: from :func:`fanouts`; events: input events (B, D);
    counts: per stage (B, *shape) spike counts."""
    sources = [events, *counts[:-1]]
    sops = [float((s.detach().reshape(s.shape[0], -1).double() * f).sum()) for s, f in zip(sources, fan)]
    return np.asarray([*sops, 0.0])
