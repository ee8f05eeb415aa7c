"""The neuron model as data: one parameter record and one pure step function.

Every engine in the project (simcore's sync and async kernels, the tensor model's ``stepped``
mode, :mod:`learning.dense_if`, the Brian2 builder, the test references) follows the semantics
written here and is tested against :func:`step`.

One step of a population (discrete time, all quantities in potential units)::

    V <- beta * V                         # leak (beta = 1: integrate-and-fire, no leak)
    V <- V + bias                         # only for bias_mode "current" (a constant current)
    V <- V + I(t)                         # the step's synaptic input (sum of delivered weights)
    s  = V >= threshold                   # threshold_test ">=" (Wu et al.), or V > threshold (">", NIR)
    V <- V - threshold   where s          # reset "subtract" (the paper's - theta * s(t-1) term)
    V <- v_reset         where s          # or reset "to_value" ("zero" is to_value with v_reset = 0)

At most one spike per neuron per step. Initial potential: ``V(0) = bias`` for bias_mode
"initial" (the paper's Eq. 3), else ``V(0) = 0``.

Parameters and state are small typed records (:class:`NeuronParams`), the maths pure functions
(:func:`initial_potential`, :func:`step`, :func:`run`); stateful code only wraps them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "THRESHOLD_TESTS",
    "RESETS",
    "BIAS_MODES",
    "NeuronError",
    "NeuronParams",
    "initial_potential",
    "step",
    "run",
]

THRESHOLD_TESTS = (">=", ">")
RESETS = ("subtract", "to_value")
BIAS_MODES = ("initial", "current")
_RESET_ALIASES = {"zero": ("to_value", 0.0)}


class NeuronError(ValueError):
    """Invalid neuron parameters (one-line message naming the field)."""


@dataclass(frozen=True)
class NeuronParams:
    """Parameters of one population's neurons (scalars shared by the population).

    threshold: firing threshold (> 0, potential units).
    threshold_test: ">=" (fire when V >= threshold; Wu et al.) or ">" (strict; NIR's IF/LIF).
    reset: "subtract" (V -= threshold) or "to_value" (V = v_reset); "zero" is accepted and stored
        as "to_value" with v_reset 0.
    v_reset: reset potential for reset "to_value" (ignored for "subtract").
    beta: leak factor per step in (0, 1]; V <- beta * V before the step's input (1: no leak).
    bias_mode: "initial" (V(0) = bias) or "current" (V += bias every step, before the input).
    """

    threshold: float = 1.0
    threshold_test: str = ">="
    reset: str = "subtract"
    v_reset: float = 0.0
    beta: float = 1.0
    bias_mode: str = "initial"

    def __post_init__(self):
        if isinstance(self.reset, str) and self.reset in _RESET_ALIASES:
            reset, v_reset = _RESET_ALIASES[self.reset]
            object.__setattr__(self, "reset", reset)
            object.__setattr__(self, "v_reset", v_reset)
        for name in ("threshold", "v_reset", "beta"):
            v = getattr(self, name)
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise NeuronError(f"neuron {name} must be a number, got {v!r}") from None
            object.__setattr__(self, name, v)
        if not np.isfinite(self.threshold) or self.threshold <= 0:
            raise NeuronError(f"neuron threshold must be finite and > 0, got {self.threshold}")
        if not np.isfinite(self.v_reset):
            raise NeuronError(f"neuron v_reset must be finite, got {self.v_reset}")
        if not (0.0 < self.beta <= 1.0):
            raise NeuronError(f"neuron beta (leak factor per step) must be in (0, 1], got {self.beta}")
        if self.threshold_test not in THRESHOLD_TESTS:
            raise NeuronError(f"neuron threshold_test must be one of {THRESHOLD_TESTS}, got {self.threshold_test!r}")
        if self.reset not in RESETS:
            raise NeuronError(f"neuron reset must be 'subtract', 'to_value' or 'zero', got {self.reset!r}")
        if self.bias_mode not in BIAS_MODES:
            raise NeuronError(f"neuron bias_mode must be one of {BIAS_MODES}, got {self.bias_mode!r}")

    @property
    def strict(self) -> bool:
        """True for the strict test V > threshold."""
        return self.threshold_test == ">"

    @property
    def is_paper(self) -> bool:
        """The paper's neuron: non-leaky, ``>=``, reset by subtraction (any bias mode)."""
        return self.beta == 1.0 and self.threshold_test == ">=" and self.reset == "subtract"

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "threshold_test": self.threshold_test, "reset": self.reset,
                "v_reset": self.v_reset, "beta": self.beta, "bias_mode": self.bias_mode}

    @classmethod
    def from_dict(cls, d: dict) -> "NeuronParams":
        if not isinstance(d, dict):
            raise NeuronError(f"neuron parameters must be a mapping, got {type(d).__name__}")
        unknown = set(d) - {"threshold", "threshold_test", "reset", "v_reset", "beta", "bias_mode"}
        if unknown:
            raise NeuronError(f"unknown neuron field(s): {', '.join(sorted(unknown))}")
        return cls(**d)


def initial_potential(params: NeuronParams, bias: np.ndarray) -> np.ndarray:
    """V(0) (float64, bias's shape): the bias for bias_mode "initial", else zeros."""
    bias = np.asarray(bias, dtype=np.float64)
    return bias.copy() if params.bias_mode == "initial" else np.zeros_like(bias)


def step(params: NeuronParams, V: np.ndarray, current: np.ndarray, bias: np.ndarray | float = 0.0):
    """One step: returns (new potential, spikes bool), both of V's shape; V is not modified.

    V: potentials before the step; current: the step's synaptic input I(t); bias: per-neuron bias
    (used here only for bias_mode "current").
    """
    V = params.beta * np.asarray(V, dtype=np.float64) if params.beta != 1.0 else np.array(V, dtype=np.float64)
    if params.bias_mode == "current":
        V = V + bias
    V = V + current
    s = V > params.threshold if params.strict else V >= params.threshold
    if params.reset == "subtract":
        V = np.where(s, V - params.threshold, V)
    else:
        V = np.where(s, params.v_reset, V)
    return V, s


def run(params: NeuronParams, currents: np.ndarray, bias: np.ndarray | float = 0.0):
    """Drive a population with synaptic inputs ``currents`` (T, *shape); returns (spikes (T, *shape)
    bool, final potential (*shape)). The reference every engine is tested against."""
    currents = np.asarray(currents, dtype=np.float64)
    bias = np.broadcast_to(np.asarray(bias, dtype=np.float64), currents.shape[1:])
    V = initial_potential(params, bias)
    spikes = np.zeros(currents.shape, dtype=bool)
    for t in range(currents.shape[0]):
        V, spikes[t] = step(params, V, currents[t], bias)
    return spikes, V
