"""The tensor model: a feed-forward network of non-leaky IF neurons evaluated on spike counts.

A network is a list of *stages*. Each stage applies parameter-free linear ops (average pooling,
flatten) to the previous stage's spikes, then a weighted op (dense or 2-D convolution, stride 1,
no padding), then a population of IF neurons with threshold ``theta``. Average pooling is linear,
so it acts on counts and on per-step spikes alike and has no neurons of its own. This is exactly
the projection chain of a ``simcore`` edge.

Two execution modes give the spike counts of every stage for the same input:

``aggregate`` (closed form, Eqs. 6-7)
    ``z = theta * W a_prev + b``, ``a = min(floor(z/theta) * [z > 0], T)``, layer by layer on the
    input counts ``a_0`` (B, D).

``stepped`` (explicit IF dynamics, Eqs. 1-4)
    ``V(0) = b``; ``V(t) = V(t-1) + theta * W s_prev(t) - theta * s(t-1)``; ``s(t) = [V(t) >= theta]``,
    for t = 1..T, spikes reaching the next stage in the same step, on input trains (B, T, D). The
    backward pass is the spike-count gradient (Eqs. 10-14) at the aggregated currents
    ``z = theta * W a_prev + b`` computed from the stepped counts of the previous stage.

Where the two modes differ (the dynamics are exact; the closed form is an approximation):

* Timing of negative input. Eq. 7 assumes the potential never dips below a level it already
  crossed. If excitatory input arrives early and inhibitory input late, the neuron fires early
  and cannot "unfire": stepped counts exceed ``floor(z/theta)`` (z may even be <= 0 while the
  neuron spiked). The reverse (inhibition first) gives equal counts.
* One spike per step. A neuron that receives more than ``theta`` of net input in one step still
  fires once; the surplus carries over and fires in later steps only while steps remain. So a
  burst of input at the end of the window is under-counted by the dynamics.
* Both effects grow with depth, because a hidden stage's spike *timing* feeds the next stage.

Units: potentials and thresholds are in the same (arbitrary) unit; ``W`` is dimensionless
(a spike adds ``theta * w`` to the target's potential); biases are potentials.

Bias (``bias_mode``): "initial" is the paper's ``V(0) = b`` (Eq. 3). "current" adds ``b`` at every
step instead (``V(0) = 0``; per step ``V += b + theta * W s_prev(t)``), the form NIR's ``Affine``
expresses exactly. Over the window the neuron then receives ``theta * W a_prev + T b`` in total, and
the closed form's reasoning (count = floor(total input / theta) while the potential never dips
below a level it already crossed) gives ``z = theta * W a_prev + T * b`` with ``dz/db = T``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from learning.activation import spike_count, with_count_gradient
from learning.choices import MODES
from learning.dense_if import dense_integrate_and_fire
from learning.quantise import qmax, quantise_ste
from learning.spec import Arch, Stage
from simcore.neuron import NeuronParams

__all__ = ["SpikingNet", "Forward", "NEURON_SUPPORT", "BIAS_MODES", "check_neuron", "build_stages", "stage_input"]

BIAS_MODES = ("initial", "current")
NEURON_SUPPORT = ("the paper's neuron (no leak, threshold test '>=', reset by subtraction), "
                  "bias as the initial potential or as a per-step current")


@dataclass
class Forward:
    """Result of a forward pass: per stage counts (with gradient), aggregated currents, final potentials."""

    counts: list[torch.Tensor]  # per stage (B, *shape), the last is the output layer (B, C)
    currents: list[torch.Tensor]  # per stage aggregated current z (B, *shape)
    membrane: list[torch.Tensor]  # per stage final potential V(T) (B, *shape)
    trains: list[torch.Tensor] | None = None  # stepped with return_trains: per stage spikes (B, T, *shape)

    @property
    def output(self) -> torch.Tensor:
        return self.counts[-1]


def build_stages(arch: Arch, bias: bool = True) -> tuple[list[Stage], nn.ModuleList]:
    """The stages of a spec (:meth:`Arch.stages`) and their weighted torch modules (nn.Linear /
    nn.Conv2d, torch's init). Shared by :class:`SpikingNet` and the ANN twin of :mod:`baselines`."""
    stages, layers = arch.stages(), nn.ModuleList()
    for stage in stages:
        shape = stage.pooled_shape
        if stage.kind == "dense":
            layers.append(nn.Linear(math.prod(shape), stage.out_shape[0], bias=bias))
        else:
            layers.append(nn.Conv2d(shape[0], stage.out_shape[0], stage.kernel, bias=bias))
    return stages, layers


def check_neuron(neuron: NeuronParams) -> None:
    """ValueError unless the tensor model can train ``neuron`` (see :data:`NEURON_SUPPORT`)."""
    if not neuron.is_paper:  # either bias mode
        raise ValueError(f"the tensor model trains only {NEURON_SUPPORT}; got {neuron}")


def stage_input(stage: Stage, x: torch.Tensor) -> torch.Tensor:
    """The parameter-free ops of a stage (average pooling, then flatten) on a batch x (B, *shape)."""
    if stage.pool:
        x = F.avg_pool2d(x, stage.pool)
    if stage.flatten:
        x = x.flatten(1)
    return x


class SpikingNet(nn.Module):
    """IF network of an architecture spec; weights in units of theta (a spike adds theta * w).

    init: "default" (torch's own layer init, the paper's MNIST setting) or "normal" (N(0, init_std),
    the paper's UCI setting, biases included). dropout: in training only, each hidden neuron's
    spikes are dropped for the whole sample with this probability (the survivors scaled by
    1/(1-p)); the output layer is never dropped. weight_bits: k-bit quantisation-aware training
    (see learning.quantise; biases stay float). neuron: the neuron model as
    :class:`simcore.neuron.NeuronParams`, instead of ``theta``; the tensor model trains only the
    paper's neuron (:data:`NEURON_SUPPORT`), anything else is a ValueError.
    """

    def __init__(self, arch: Arch, theta: float = 1.0, init: str = "default", init_std: float = 0.05,
                 dropout: float = 0.0, weight_bits: int | None = None, neuron: NeuronParams | None = None):
        super().__init__()
        if neuron is not None:
            check_neuron(neuron)
            if theta not in (1.0, neuron.threshold):
                raise ValueError(f"give theta or neuron, not both (theta {theta}, neuron threshold {neuron.threshold})")
            theta = neuron.threshold
        # k-bit weights (learning.quantise): the forward pass uses quantised weights, the gradient
        self.bias_mode = "initial" if neuron is None else neuron.bias_mode
        # goes straight through to the float parameters; None: float weights
        self.weight_bits = None if weight_bits is None else int(weight_bits)
        if self.weight_bits is not None:
            qmax(self.weight_bits)  # validates 2..8
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = float(dropout)
        self.generator: torch.Generator | None = None  # dropout's random source (None: torch's global)
        if not theta > 0:
            raise ValueError(f"theta (threshold) must be > 0, got {theta}")
        if init not in ("default", "normal"):
            raise ValueError(f"init must be 'default' or 'normal', got {init!r}")
        self.arch, self.theta = arch, float(theta)
        self.stages, self.layers = build_stages(arch)
        if init == "normal":
            for module in self.layers:
                nn.init.normal_(module.weight, 0.0, init_std)
                nn.init.normal_(module.bias, 0.0, init_std)

    @property
    def neuron(self) -> NeuronParams:
        """The neuron model of every stage (the paper's: threshold theta; bias as V(0) or a per-step current)."""
        return NeuronParams(threshold=self.theta, bias_mode=self.bias_mode)

    # -- the linear part of a stage --------------------------------------------------------------
    def stage_weight(self, k: int) -> torch.Tensor:
        """Stage k's weights as the forward pass uses them (quantised if weight_bits is set)."""
        w = self.layers[k].weight
        return w if self.weight_bits is None else quantise_ste(w, self.weight_bits)

    def _times_theta(self, x: torch.Tensor) -> torch.Tensor:
        """theta * x; x itself for theta 1 (the same values, one pass over x less, forward and backward)."""
        return x if self.theta == 1.0 else self.theta * x

    def _weighted(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """theta * W x for a batch x of the stage's (pooled, flattened) input; no bias."""
        w = self.stage_weight(k)
        if self.stages[k].kind == "dense":
            return self._times_theta(F.linear(x, w))
        return self._times_theta(F.conv2d(x, w))

    def current(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """Input to stage k's neurons from a batch x (B, *in_shape) of previous-stage spikes or counts."""
        return self._weighted(k, stage_input(self.stages[k], x))

    def _bias(self, k: int, like: torch.Tensor) -> torch.Tensor:
        b = self.layers[k].bias
        return b.view(1, -1, 1, 1) if like.dim() == 4 else b.view(1, -1)

    def aggregated_current(self, k: int, a: torch.Tensor, T: int) -> torch.Tensor:
        """Eq. 6 for stage k: z = theta * W a + b (bias "current": + T * b) from previous-stage counts
        a (B, *in_shape) over a window of T steps."""
        scale = T if self.bias_mode == "current" else 1
        if self.stages[k].kind == "dense":  # one fused product-and-add
            x = stage_input(self.stages[k], a)
            return torch.addmm(self.layers[k].bias, x, self.stage_weight(k).t(), beta=scale, alpha=self.theta)
        z = self.current(k, a)
        return z + scale * self._bias(k, z)

    def _input(self, x: torch.Tensor, steps: bool) -> torch.Tensor:
        shape = self.arch.input_shape
        lead = x.shape[:2] if steps else x.shape[:1]
        return x.reshape(*lead, *shape)

    def _drop_mask(self, a: torch.Tensor) -> torch.Tensor:
        """Per (sample, neuron) dropout mask, constant over the window (training with dropout only)."""
        keep = torch.rand(a.shape, dtype=a.dtype, generator=self.generator) >= self.dropout
        return keep.to(a.dtype) / (1.0 - self.dropout)

    # -- the two modes ---------------------------------------------------------------------------
    def aggregate(self, a0: torch.Tensor, T: int, bounded_output: bool = True) -> Forward:
        """Counts by the closed form (Eqs. 6-7) from input counts a0 (B, D); r_max = T."""
        a = self._input(a0, steps=False)
        out = Forward([], [], [])
        for k in range(len(self.layers)):
            z = self.aggregated_current(k, a, T)
            last = k == len(self.layers) - 1
            a = spike_count(z, self.theta, T, bounded=bounded_output and last)
            out.counts.append(a)
            out.currents.append(z)
            with torch.no_grad():
                out.membrane.append(z - self._times_theta(a))
            if not last and self.training and self.dropout:
                a = a * self._drop_mask(a)
        return out

    def stepped(self, s0: torch.Tensor, bounded_output: bool = True, return_trains: bool = False) -> Forward:
        """Counts by explicit IF dynamics from input trains s0 (B, T, D) (0/1 spikes or analog values).

        ``return_trains``: also keep every stage's spike trains (B, T, *shape) in ``Forward.trains``."""
        B, T = s0.shape[:2]
        s = self._input(s0, steps=True)
        a = s.sum(1)
        out = Forward([], [], [], [] if return_trains else None)
        for k in range(len(self.layers)):
            with torch.no_grad():
                s, v = self._stage_dynamics(k, s, B, T)
            if return_trains:
                out.trains.append(s)
            z = self.aggregated_current(k, a, T)
            last = k == len(self.layers) - 1
            a = with_count_gradient(z, s.sum(1), self.theta, T, bounded=bounded_output and last)
            out.counts.append(a)
            if not last and self.training and self.dropout:
                mask = self._drop_mask(a)
                a, s = a * mask, s * mask.unsqueeze(1)
            out.currents.append(z)
            out.membrane.append(v)
        return out

    def _stage_dynamics(self, k: int, s: torch.Tensor, B: int, T: int):
        """Spikes (B, T, *shape) and final potential of stage k driven by previous-stage trains s.

        A dense stage on the CPU with the initial bias runs the fused sparse kernel of
        :mod:`learning.dense_if`; otherwise a batched product over all steps, then the IF scan.
        """
        x = stage_input(self.stages[k], s.flatten(0, 1))
        if self.stages[k].kind == "dense" and x.device.type == "cpu" and self.bias_mode == "initial":
            return dense_integrate_and_fire(x.view(B, T, -1), self.stage_weight(k), self.layers[k].bias,
                                            self.theta)
        step_in = self._weighted(k, x)
        step_in = step_in.view(B, T, *step_in.shape[1:])
        bias = self._bias(k, step_in[:, 0])
        if self.bias_mode == "current":  # b joins every step's input; V(0) = 0
            return _integrate_and_fire(step_in + bias.unsqueeze(1), torch.zeros_like(bias), self.theta)
        return _integrate_and_fire(step_in, bias, self.theta)

    def forward(self, x: torch.Tensor, mode: str, T: int, bounded_output: bool = True,
                return_trains: bool = False) -> Forward:
        """x: input counts (B, D) for ``aggregate``; input trains (B, T, D), batch first, for ``stepped``.

        ``return_trains`` (stepped only): ``Forward.trains`` holds every stage's spikes (B, T, *shape)."""
        if mode == "aggregate":
            if return_trains:
                raise ValueError("return_trains needs mode 'stepped' (aggregate mode has counts, not trains)")
            return self.aggregate(x, T, bounded_output)
        if mode == "stepped":
            D = self.arch.n_inputs
            if x.dim() != 3 or x.shape[1] != T or x.shape[2] != D:
                hint = " (time-first? pass x.transpose(0, 1))" if x.dim() == 3 and x.shape[0] == T else ""
                raise ValueError(f"stepped mode needs batch-first input trains (B, T={T}, D={D}), "
                                 f"got {tuple(x.shape)}{hint}")
            return self.stepped(x, bounded_output, return_trains)
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def _integrate_and_fire(step_in: torch.Tensor, bias: torch.Tensor, theta: float):
    """:func:`simcore.neuron.run` of the paper's neuron (``NeuronParams(threshold=theta)``) over the
    time axis 1 of step_in (B, T, ...): V(0) = bias; per step V += input; s = V >= theta;
    V -= theta * s. Returns spikes (B, T, ...) in step_in's dtype and the final potential (B, ...).
    """
    v = bias.expand_as(step_in[:, 0]).clone()
    spikes = torch.empty_like(step_in)
    for t in range(step_in.shape[1]):
        v += step_in[:, t]
        s = v >= theta
        spikes[:, t] = s
        v -= theta * s.to(v.dtype)
    return spikes, v

