"""Weight normalisation for ANN-to-SNN conversion: pure functions on numpy weights and activations.

Notation. Weighted layers ``l = 1..L`` (dense ``W_l`` (out, in) or convolution ``W_l``
(C_out, C_in, k, k)), biases ``b_l``; ``a_l`` is the ANN output of layer l (ReLU for hidden layers,
the linear logits for the output layer). Average pooling and flattening sit between layers, are
linear and scale-preserving, and carry no factor. Every method here produces one scalar
*scale factor* ``lambda_l`` per layer (``lambda_0 = 1`` for the input, whose intensities are
already in [0, 1] = spikes per step), and the network is normalised by (:func:`apply_factors`)::

    W_l <- W_l * lambda_{l-1} / lambda_l,      b_l <- b_l / lambda_l

so that the normalised layer-l activation is ``a_l / lambda_l`` (by induction, ReLU being
positively homogeneous), the firing rate (spikes per step, <= 1) the converted IF layer
approximates. The per-layer divisor actually applied to ``W_l`` is ``lambda_l / lambda_{l-1}``
(Diehl's ``applied``). Biases are then applied as a constant current every step
(``bias_mode="current"``), as in Rueckauer et al. 2017 / snn_toolbox, so a constant ``b_l/lambda_l``
per step adds ``b_l/lambda_l`` to the rate -- consistent with the weights.

A factor that comes out as 0 (a dead layer with no positive weight and no positive activation)
is replaced by 1 (snn_toolbox does the same), so nothing is divided by zero.

Methods
-------
``model`` -- Diehl et al. 2015 (IJCNN), model-based normalisation (official MATLAB code
    ``normalize_nn_model.m`` / ``normalize_cnn_model.m``): per layer *independently*,
    ``s_l = max_j sum_i max(0, W_l[j, i])`` (convolution: for each output map j the sum of the
    positive kernel weights over all input maps and kernel positions) and ``W_l /= s_l``. This
    guarantees that one step in which every positively connected input spikes adds at most 1
    (= the threshold) to any potential. In the lambda form: ``lambda_l = prod_{k<=l} s_k`` (so the
    applied divisor is ``s_l``; the bias, which Diehl's bias-free nets do not have, becomes
    ``b_l / lambda_l``, the choice consistent with the weights). Diehl's CNN code has a
    ``strong_norm`` flag (divide only if ``s_l > 1`` when off); here ``only_above_one``.

``data`` -- Diehl et al. 2015, data-based normalisation (``normalize_nn_data.m`` /
    ``normalize_cnn_data.m``): forward the training data through the ANN; per layer in order
    ``scale_factor_l = max( max(0, max W_l), max(0, max a_l) )`` (one scalar per layer, maximum
    over all neurons and all samples) and ``W_l <- W_l * previous / scale_factor_l``. We use
    ``previous = scale_factor_{l-1}`` (so ``lambda_l = scale_factor_l``), the mathematically
    consistent variant used by nearly all re-implementations. **Discrepancy:** the official
    MATLAB code sets ``applied = scale_factor / previous_factor`` and then
    ``previous_factor = applied`` (not ``scale_factor``); this coincides only for two layers.
    ``previous="applied"`` reproduces the official code: ``applied_l = scale_factor_l /
    applied_{l-1}``, i.e. ``lambda_l = lambda_{l-1} * applied_l``.

``robust`` -- Rueckauer et al. 2017 (Front. Neurosci. 11:682), robust normalisation as
    snn_toolbox implements it (``conversion/utils.py::normalize_parameters``): ``lambda_l =
    np.percentile(a_l[a_l != 0], p)`` -- the p-th percentile (default 99.9; 99.99 also common) of
    the NON-ZERO ReLU activations of layer l over (a subset of) the training data, numpy's default
    linear interpolation; 1 if the layer never activates. No weight term.
    Output layer: snn_toolbox uses ``lambda = 1`` for its softmax output layer; our output layer is
    a layer of IF neurons driven by the linear logits, so we apply the same rule to its ReLU'd
    logits ``max(0, a_L)`` (non-zero = positive logits). The argmax of the logits is invariant to
    a positive scale, so lambda_L only controls saturation: logits above the percentile fire every
    step, and ties between saturated output neurons are decided by the final potential (simcore's
    decode rule), which keeps growing with the logit under reset by subtraction.

``qcfs`` -- Bu et al. 2022 (ICLR), for an ANN trained with the QCFS activation
    (:mod:`baselines.qcfs`): ``lambda_l`` = the layer's trained threshold for every hidden layer;
    the output layer (linear logits, no threshold) gets the ``robust`` rule above.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["NORMS", "RELU_NORMS", "model_based_factors", "data_based_factors", "robust_factors", "apply_factors",
           "applied_divisors", "positive_fanin_max", "nonzero_percentile", "ActivationStats"]

NORMS = ("model", "data", "robust", "qcfs")
RELU_NORMS = ("model", "data", "robust")  # the ones that apply to a ReLU ANN ("qcfs" needs a QCFS ANN)


def _safe(v: float) -> float:
    return float(v) if v > 0 and np.isfinite(v) else 1.0


def positive_fanin_max(w: np.ndarray) -> float:
    """``max_j sum_i max(0, W[j, i])``: dense (out, in) or conv (C_out, C_in, k, k) (sum over all but axis 0)."""
    w = np.asarray(w, dtype=np.float64)
    return float(np.maximum(w, 0.0).reshape(w.shape[0], -1).sum(axis=1).max())


def model_based_factors(weights: Sequence[np.ndarray], only_above_one: bool = False) -> list[float]:
    """Diehl 2015 model-based: ``s_l = max_j sum_i max(0, W_l[j,i])``, ``lambda_l = prod_{k<=l} s_k``.

    ``only_above_one``: divide layer l only where ``s_l > 1`` (Diehl's CNN code with strong_norm off).
    """
    lambdas, lam = [], 1.0
    for w in weights:
        s = _safe(positive_fanin_max(w))
        if only_above_one and s <= 1.0:
            s = 1.0
        lam *= s
        lambdas.append(lam)
    return lambdas


def data_based_factors(weights: Sequence[np.ndarray], activation_max: Sequence[float],
                       previous: str = "scale_factor") -> list[float]:
    """Diehl 2015 data-based.

    ``scale_factor_l = max(max(0, max W_l), max(0, activation_max_l))`` where activation_max_l is the
    largest layer-l ANN activation over the training data. ``previous="scale_factor"`` (default,
    consistent): ``lambda_l = scale_factor_l``. ``previous="applied"`` (Diehl's official code):
    ``applied_l = scale_factor_l / applied_{l-1}`` (applied_0 = 1), ``lambda_l = lambda_{l-1} * applied_l``.
    """
    if previous not in ("scale_factor", "applied"):
        raise ValueError(f"previous must be 'scale_factor' or 'applied', got {previous!r}")
    if len(weights) != len(activation_max):
        raise ValueError(f"{len(weights)} weight arrays but {len(activation_max)} activation maxima")
    lambdas, lam, prev_applied = [], 1.0, 1.0
    for w, amax in zip(weights, activation_max):
        sf = _safe(max(max(0.0, float(np.max(w))), max(0.0, float(amax))))
        if previous == "scale_factor":
            lam = sf
        else:
            applied = sf / prev_applied
            lam *= applied
            prev_applied = applied
        lambdas.append(lam)
    return lambdas


def nonzero_percentile(values: np.ndarray, percentile: float) -> float:
    """``np.percentile(values[values != 0], percentile)``, 1.0 if there is no non-zero value."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[v != 0]
    if v.size == 0:
        return 1.0
    return float(np.percentile(v, percentile))


def robust_factors(activations: Sequence[np.ndarray], percentile: float = 99.9) -> list[float]:
    """Rueckauer 2017 / snn_toolbox: ``lambda_l = percentile_p(non-zero max(0, a_l))`` per layer.

    ``activations[l]``: the layer's ANN activations over the normalisation data (any shape; the
    output layer's logits are ReLU'd here, hidden layers are already >= 0).
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    return [_safe(nonzero_percentile(np.maximum(np.asarray(a, dtype=np.float64), 0.0), percentile))
            for a in activations]


def applied_divisors(lambdas: Sequence[float]) -> list[float]:
    """The divisor applied to each layer's weights: ``lambda_l / lambda_{l-1}`` (lambda_0 = 1)."""
    prev, out = 1.0, []
    for lam in lambdas:
        out.append(float(lam) / prev)
        prev = float(lam)
    return out


def apply_factors(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray | None],
                  lambdas: Sequence[float]) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """``W_l * lambda_{l-1} / lambda_l`` and ``b_l / lambda_l`` (float64 copies; None biases stay None)."""
    if not (len(weights) == len(biases) == len(lambdas)):
        raise ValueError("weights, biases and lambdas must have one entry per layer")
    new_w, new_b, prev = [], [], 1.0
    for w, b, lam in zip(weights, biases, lambdas):
        lam = float(lam)
        if not (lam > 0 and np.isfinite(lam)):
            raise ValueError(f"scale factors must be finite and > 0, got {lam}")
        new_w.append(np.asarray(w, dtype=np.float64) * (prev / lam))
        new_b.append(None if b is None else np.asarray(b, dtype=np.float64) / lam)
        prev = lam
    return new_w, new_b


class ActivationStats:
    """Streaming per-layer statistics of ANN activations over batches of normalisation data.

    ``update(acts)`` with one array per layer (batch first); keeps the maximum of every layer and,
    if ``keep_nonzero``, the non-zero values of ``max(0, a)`` (for the percentile).
    """

    def __init__(self, n_layers: int, keep_nonzero: bool):
        self.max = [-np.inf] * n_layers
        self.keep_nonzero = keep_nonzero
        self._nonzero: list[list[np.ndarray]] = [[] for _ in range(n_layers)]
        self.samples = 0

    def update(self, acts: Sequence[np.ndarray]) -> None:
        for k, a in enumerate(acts):
            a = np.asarray(a, dtype=np.float64)
            if a.size:
                self.max[k] = max(self.max[k], float(a.max()))
            if self.keep_nonzero:
                r = a[a > 0]
                self._nonzero[k].append(r)
        self.samples += len(acts[0]) if len(acts) else 0

    def nonzero(self, k: int) -> np.ndarray:
        parts = self._nonzero[k]
        return np.concatenate(parts) if parts else np.zeros(0)

    def percentiles(self, percentile: float) -> list[float]:
        if not self.keep_nonzero:
            raise ValueError("ActivationStats was built without keep_nonzero")
        return robust_factors([self.nonzero(k) for k in range(len(self.max))], percentile)
