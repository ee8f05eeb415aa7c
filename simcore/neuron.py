"""The neuron model as data: one parameter record and one pure step function.

Every engine in the project (simcore's sync and async kernels, the tensor model's ``stepped``
mode, :mod:`learning.dense_if`, the Brian2 builder, the test references) follows the semantics
written here and is tested against :func:`step`.

One step of a population (discrete time, all quantities in potential units)::

    V <- beta * V                         # leak (beta = 1: integrate-and-fire, no leak)
    V <- V - threshold   where s(t-1)     # only reset "subtract" with reset_leak "unleaked" (below)
    V <- V + bias                         # only for bias_mode "current" (a constant current)
    V <- V + I(t)                         # the step's synaptic input (sum of delivered weights)
    s  = V >= threshold                   # threshold_test ">=" (Wu et al.), or V > threshold (">", NIR)
    V <- V - threshold   where s          # reset "subtract", reset_leak "leaked" (the paper's - theta * s(t-1))
    V <- v_reset         where s          # or reset "to_value" ("zero" is to_value with v_reset = 0)

At most one spike per neuron per step. Initial potential: ``V(0) = bias`` for bias_mode
"initial" (the paper's Eq. 3), else ``V(0) = 0``.

When the subtraction is taken (``reset_leak``, reset "subtract" only), in potentials before the
reset, with s(t-1) the previous step's spikes:

* "leaked" (default): at the spike, so the next step's leak scales it:
  ``V(t) = beta (V(t-1) - theta s(t-1)) + I(t)``. The potential a step ends with is after the reset.
* "unleaked": at the start of the next step, after the leak (snnTorch's ``Leaky(reset_mechanism=
  "subtract")``, NIR's ``LI -> Threshold -> Scale(-theta) -> LI`` loop):
  ``V(t) = beta V(t-1) - theta s(t-1) + I(t)``. The potential a step ends with is before the reset
  (the subtraction is still pending), so :func:`step` takes the previous step's spikes.

The two agree in spikes for beta = 1 (not in the final potential of a neuron that fired last).

Parameters and state are small typed records (:class:`NeuronParams`), the maths pure functions
(:func:`initial_potential`, :func:`integrate`, :func:`step`, :func:`run`); stateful code only wraps them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "THRESHOLD_TESTS",
    "RESETS",
    "RESET_LEAKS",
    "BIAS_MODES",
    "NeuronError",
    "NeuronParams",
    "initial_potential",
    "integrate",
    "step",
    "run",
]

THRESHOLD_TESTS = (">=", ">")
RESETS = ("subtract", "to_value")
RESET_LEAKS = ("leaked", "unleaked")
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
    reset_leak: when reset "subtract" takes the threshold off: "leaked" (at the spike, before the next
        step's leak) or "unleaked" (at the next step, after its leak; snnTorch); see the module docstring.
    """

    threshold: float = 1.0
    threshold_test: str = ">="
    reset: str = "subtract"
    v_reset: float = 0.0
    beta: float = 1.0
    bias_mode: str = "initial"
    reset_leak: str = "leaked"

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
        if self.reset_leak not in RESET_LEAKS:
            raise NeuronError(f"neuron reset_leak must be one of {RESET_LEAKS}, got {self.reset_leak!r}")
        if self.unleaked and self.reset != "subtract":
            raise NeuronError("neuron reset_leak 'unleaked' applies only to reset 'subtract', "
                              f"got reset {self.reset!r}")

    @property
    def strict(self) -> bool:
        """True for the strict test V > threshold."""
        return self.threshold_test == ">"

    @property
    def unleaked(self) -> bool:
        """True when the subtraction waits for the next step's leak (reset_leak "unleaked")."""
        return self.reset_leak == "unleaked"

    @property
    def is_paper(self) -> bool:
        """The paper's neuron: non-leaky, ``>=``, reset by subtraction at the spike (any bias mode)."""
        return self.beta == 1.0 and self.threshold_test == ">=" and self.reset == "subtract" and not self.unleaked

    def to_dict(self) -> dict:
        """The fields as a mapping; ``reset_leak`` only when "unleaked", so the records of every
        existing model (model.json, graph files, job identities) read exactly as before."""
        d = {"threshold": self.threshold, "threshold_test": self.threshold_test, "reset": self.reset,
             "v_reset": self.v_reset, "beta": self.beta, "bias_mode": self.bias_mode}
        if self.unleaked:
            d["reset_leak"] = self.reset_leak
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "NeuronParams":
        if not isinstance(d, dict):
            raise NeuronError(f"neuron parameters must be a mapping, got {type(d).__name__}")
        unknown = set(d) - {"threshold", "threshold_test", "reset", "v_reset", "beta", "bias_mode", "reset_leak"}
        if unknown:
            raise NeuronError(f"unknown neuron field(s): {', '.join(sorted(unknown))}")
        return cls(**d)


def initial_potential(params: NeuronParams, bias: np.ndarray) -> np.ndarray:
    """V(0) (float64, bias's shape): the bias for bias_mode "initial", else zeros."""
    bias = np.asarray(bias, dtype=np.float64)
    return bias.copy() if params.bias_mode == "initial" else np.zeros_like(bias)


def integrate(params: NeuronParams, V: np.ndarray, current: np.ndarray, bias: np.ndarray | float = 0.0,
              fired: np.ndarray | None = None) -> np.ndarray:
    """The potential of one step just before its threshold test (leak, pending subtraction, bias,
    input); arguments as :func:`step`. V is not modified."""
    V = params.beta * np.asarray(V, dtype=np.float64) if params.beta != 1.0 else np.array(V, dtype=np.float64)
    if params.unleaked:
        if fired is None:
            raise NeuronError("reset_leak 'unleaked' needs the previous step's spikes (step(..., fired=))")
        V = np.where(fired, V - params.threshold, V)
    if params.bias_mode == "current":
        V = V + bias
    return V + current


def step(params: NeuronParams, V: np.ndarray, current: np.ndarray, bias: np.ndarray | float = 0.0,
         fired: np.ndarray | None = None):
    """One step: returns (new potential, spikes bool), both of V's shape; V is not modified.

    V: potentials after the previous step; current: the step's synaptic input I(t); bias: per-neuron
    bias (used here only for bias_mode "current"); fired: the previous step's spikes (bool, V's
    shape), required for reset_leak "unleaked" (whose subtraction for them comes now, after the
    leak; all False at the first step), ignored otherwise.
    """
    V = integrate(params, V, current, bias, fired)
    s = V > params.threshold if params.strict else V >= params.threshold
    if params.reset == "to_value":
        V = np.where(s, params.v_reset, V)
    elif not params.unleaked:
        V = np.where(s, V - params.threshold, V)
    return V, s


def run(params: NeuronParams, currents: np.ndarray, bias: np.ndarray | float = 0.0):
    """Drive a population with synaptic inputs ``currents`` (T, *shape); returns (spikes (T, *shape)
    bool, final potential (*shape)). The reference every engine is tested against."""
    currents = np.asarray(currents, dtype=np.float64)
    bias = np.broadcast_to(np.asarray(bias, dtype=np.float64), currents.shape[1:])
    V = initial_potential(params, bias)
    spikes = np.zeros(currents.shape, dtype=bool)
    fired = np.zeros(currents.shape[1:], dtype=bool)
    for t in range(currents.shape[0]):
        V, spikes[t] = step(params, V, currents[t], bias, fired)
        fired = spikes[t]
    return spikes, V
