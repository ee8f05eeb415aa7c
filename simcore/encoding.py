"""The seeded input encoder: one definition shared by every engine.

Rate coding (Wu et al. 2019, Sec. III): input neuron ``i`` of sample ``n`` spikes at step ``t``
(0-based, ``t < T``) with probability ``p_i = clip(intensity_i * max_rate, 0, 1)``, where
``intensity`` is the feature normalised to [0, 1] and ``max_rate`` is spikes per step at
intensity 1 (default 1.0).

The random numbers come from a counter-based generator, so a spike is a pure function of
``(seed, sample_id, t, i)`` and any engine (numpy, numba, torch, Brian2 input tables) regenerates
exactly the same trains without sharing generator state::

    MASK = 2**64 - 1
    mix(z)  = splitmix64 finaliser:  z += 0x9E3779B97F4A7C15
                                     z  = (z ^ z >> 30) * 0xBF58476D1CE4E5B9
                                     z  = (z ^ z >> 27) * 0x94D049BB133111EB
                                     z  =  z ^ z >> 31            (all mod 2**64)
    key     = mix(mix(seed) ^ sample_id)
    u(t, i) = (mix(key ^ (t << 32 | i)) >> 11) * 2**-53          (uniform in [0, 1), exact float64)
    spike   = u(t, i) < p_i

Consequences: the train for ``T`` steps is a prefix of the train for any longer window; a
sample's train does not depend on which other samples are encoded with it or in what order
(``sample_id`` is the sample's index in its split, or any integer the caller chooses).

``analog`` input (Rueckauer et al. 2017) is not random: the intensity itself is injected every
step as a graded input ("a spike of size x_i"), see :func:`analog_trains`.
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "spike_probability",
    "sample_key",
    "uniform",
    "bernoulli_trains",
    "bernoulli_counts",
    "analog_trains",
    "validate_intensity",
]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_S11 = np.uint64(11)
_TWO_M53 = 2.0**-53
_LOW11 = np.uint64(0x7FF)


@numba.njit(cache=True, inline="always")
def _mix(z):
    z = z + _GAMMA
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(cache=True, inline="always")
def sample_key(seed, sample_id):
    """Per-sample generator key (uint64) from the run seed and the sample's id."""
    return _mix(_mix(np.uint64(seed)) ^ np.uint64(sample_id))


@numba.njit(cache=True, inline="always")
def uniform(key, t, i):
    """The uniform number in [0, 1) that decides input ``i`` at step ``t`` (both 0-based)."""
    counter = (np.uint64(t) << _S32) | np.uint64(i)
    return np.float64(_mix(key ^ counter) >> _S11) * _TWO_M53


@numba.njit(cache=True, inline="always")
def draw_limit(p):
    """Integer form of ``uniform(key, t, i) < p`` for ``0 < p <= 1``: the same draw is a spike iff
    ``mix(key ^ counter) <= draw_limit(p)`` (one integer comparison per draw, no conversion).

    Exact: ``uniform = m * 2**-53`` with the integer ``m = mix(...) >> 11 < 2**53`` (exact float64).
    ``p * 2**53`` is exact (a power-of-two scaling of a float64 in (0, 1]), so with the integer
    ``c = ceil(p * 2**53)`` (``1 <= c <= 2**53``): ``m * 2**-53 < p`` iff ``m < p * 2**53`` iff
    ``m <= c - 1`` iff ``mix(...) <= (c - 1) * 2**11 + (2**11 - 1)`` (the low 11 bits are free), the
    returned limit, below 2**64 (p = 1 gives 2**64 - 1: always a spike, as ``u < 1`` always)."""
    return (np.uint64(np.ceil(p * 9007199254740992.0) - 1.0) << _S11) | _LOW11


@numba.njit(cache=True, inline="always")
def spikes_at(key, t, i, limit):
    """Input ``i`` spikes at step ``t`` (``limit = draw_limit(p_i)``; same draw as :func:`uniform`)."""
    return _mix(key ^ ((np.uint64(t) << _S32) | np.uint64(i))) <= limit


def validate_intensity(intensity: np.ndarray, max_rate: float = 1.0) -> np.ndarray:
    """Check a (N, D) intensity array and return it C-contiguous, float32 or float64 (others become float64)."""
    x = np.asarray(intensity)
    if x.ndim != 2:
        raise ValueError(f"intensity must be a 2-D array (samples, inputs), got shape {x.shape}")
    x = np.ascontiguousarray(x, dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("intensity contains NaN or infinite values")
    if not np.isfinite(max_rate) or max_rate < 0:
        raise ValueError(f"max_rate must be a finite number >= 0, got {max_rate}")
    return x


def spike_probability(intensity: np.ndarray, max_rate: float = 1.0) -> np.ndarray:
    """Per-step spike probability ``clip(intensity * max_rate, 0, 1)`` (float64, same shape)."""
    return np.clip(np.asarray(intensity, dtype=np.float64) * float(max_rate), 0.0, 1.0)


def _sample_ids(n: int, sample_ids) -> np.ndarray:
    if sample_ids is None:
        return np.arange(n, dtype=np.uint64)
    ids = np.asarray(sample_ids)
    if ids.shape != (n,):
        raise ValueError(f"sample_ids must have shape ({n},), got {ids.shape}")
    if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0):
        raise ValueError("sample_ids must be non-negative integers")
    return ids.astype(np.uint64)


def _check_T(T: int) -> int:
    if int(T) != T or T < 1:
        raise ValueError(f"T (number of time steps) must be an integer >= 1, got {T}")
    return int(T)


@numba.njit(cache=True, inline="always")
def _probability(x, max_rate):
    """spike_probability of one intensity, in float64."""
    return min(max(np.float64(x) * max_rate, 0.0), 1.0)


# Deliberately separate from _counts_kernel: writes the (n, T, d) trains; the counts twin sums the same draws.
@numba.njit(cache=True, parallel=True)
def _trains_kernel(x, max_rate, keys, T, out):
    n, d = x.shape
    for s in numba.prange(n):
        key = keys[s]
        for i in range(d):
            pi = _probability(x[s, i], max_rate)
            if pi >= 1.0:  # u < 1 always: no draw needed
                for t in range(T):
                    out[s, t, i] = 1
            elif pi > 0.0:
                limit = draw_limit(pi)
                for t in range(T):
                    if spikes_at(key, t, i, limit):
                        out[s, t, i] = 1


# Deliberately separate from _trains_kernel: sums the same draws into (n, d) counts without materialising trains.
@numba.njit(cache=True, parallel=True)
def _counts_kernel(x, max_rate, keys, T, out):
    n, d = x.shape
    for s in numba.prange(n):
        key = keys[s]
        for i in range(d):
            pi = _probability(x[s, i], max_rate)
            if pi >= 1.0:
                out[s, i] = T
            elif pi > 0.0:
                limit = draw_limit(pi)
                c = 0
                for t in range(T):
                    c += spikes_at(key, t, i, limit)
                out[s, i] = c


@numba.njit(cache=True)
def _keys_kernel(seed, ids):
    out = np.empty(ids.shape[0], dtype=np.uint64)
    for k in range(ids.shape[0]):
        out[k] = sample_key(seed, ids[k])
    return out


def _keys(seed: int, ids: np.ndarray) -> np.ndarray:
    """Per-sample keys (uint64, like ids) for sample ids (uint64)."""
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return _keys_kernel(np.uint64(seed), np.ascontiguousarray(ids, dtype=np.uint64))


def bernoulli_trains(
    intensity: np.ndarray, T: int, seed: int, max_rate: float = 1.0, sample_ids=None, dtype=np.bool_
) -> np.ndarray:
    """Spike trains (N, T, D) for intensities (N, D) in [0, 1]: bool, or 0/1 in ``dtype`` (e.g. float32)."""
    x = validate_intensity(intensity, max_rate)
    T = _check_T(T)
    out = np.zeros((x.shape[0], T, x.shape[1]), dtype=dtype)
    _trains_kernel(x, float(max_rate), _keys(seed, _sample_ids(x.shape[0], sample_ids)), T, out)
    return out


def bernoulli_counts(
    intensity: np.ndarray, T: int, seed: int, max_rate: float = 1.0, sample_ids=None, dtype=np.int32
) -> np.ndarray:
    """Spike counts (N, D) in ``dtype``: exactly ``bernoulli_trains(...).sum(axis=1)``, without the trains."""
    x = validate_intensity(intensity, max_rate)
    T = _check_T(T)
    out = np.zeros(x.shape, dtype=dtype)
    _counts_kernel(x, float(max_rate), _keys(seed, _sample_ids(x.shape[0], sample_ids)), T, out)
    return out


def analog_trains(intensity: np.ndarray, T: int) -> np.ndarray:
    """Analog input as graded 'spikes': float64 (N, T, D), the intensity repeated every step."""
    x = validate_intensity(intensity)
    T = _check_T(T)
    return np.broadcast_to(x[:, None, :], (x.shape[0], T, x.shape[1]))
