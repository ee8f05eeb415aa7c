"""The neutral form both NIR translations share: populations with their neuron model, projections.

A :class:`Plan` is a simcore network written out as plain data (numpy arrays, simcore ops,
:class:`~simcore.neuron.NeuronParams`): what :mod:`simcore.nir_export` reads from a
:class:`~simcore.Network` and writes as NIR nodes, and what :mod:`simcore.nir_import` builds
from a NIR graph before it becomes a Network. :meth:`Plan.from_network` and :meth:`Plan.network`
are the only code here that touches the Network's storage.

Also here: the lattice step of a set of values (the largest power of two dividing them all), which
makes NIR's strict ``v > threshold`` test exact for the paper's ``V >= theta`` on quantised
networks, and the action of a simcore op on a vector (a bias pushed through pooling/convolution).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simcore import AvgPool2d, Conv2d, Dense, GraphError, Network
from simcore.neuron import NeuronParams

__all__ = ["NirError", "Population", "Projection", "Plan", "lattice_step", "apply_op", "require_nir",
           "MIN_LATTICE_EXPONENT", "RUN_FIELDS"]

# Run settings a model carries (model.json) that travel in the NIR graph's metadata.
RUN_FIELDS = {"dataset": str, "T": int, "seed": int, "split_seed": int, "encoding": str, "max_rate": float}

# A lattice finer than 2**-30 is not "quantised": rounding in any float engine would blur it.
MIN_LATTICE_EXPONENT = -30


class NirError(GraphError):
    """A NIR graph or network that cannot be translated (one line naming the node and why)."""


def require_nir():
    """The ``nir`` package, or NirError with the install line (it is an optional extra)."""
    try:
        import nir
    except ImportError:
        raise NirError("NIR support needs the 'nir' package: pip install 'nir>=1.0.6,<1.1' "
                       "(or the spikecount[nir] extra)") from None
    return nir


@dataclass
class Population:
    """name, shape; neuron None for the input population; bias (n,) float64 (per-neuron, flat)."""

    name: str
    shape: tuple
    neuron: NeuronParams | None = None
    bias: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Projection:
    """src -> tgt through a chain of simcore ops, delivered ``delay`` steps later."""

    src: str
    tgt: str
    ops: list
    delay: int = 0


@dataclass
class Plan:
    """Populations (input first, then topological order) and projections of a feed-forward network."""

    populations: list = field(default_factory=list)
    projections: list = field(default_factory=list)

    def population(self, name: str) -> Population:
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def input(self) -> Population:
        return next(p for p in self.populations if p.neuron is None)

    def incoming(self, name: str) -> list:
        return [pr for pr in self.projections if pr.tgt == name]

    @classmethod
    def from_network(cls, net: Network) -> "Plan":
        """The plan of a simcore Network (validated first)."""
        net.validate()
        plan = cls()
        for name in net.populations:
            params, bias = _stored_neuron(net.population(name))
            plan.populations.append(Population(name, tuple(net.shape(name)), params, bias))
        plan.projections = [Projection(p.src, p.tgt, list(p.ops), p.delay) for p in net.projections]
        return plan

    def network(self) -> Network:
        """A simcore Network of this plan (every population through ``add_neurons(..., neuron=)``)."""
        net = Network()
        for p in self.populations:
            if p.neuron is None:
                net.add_input(p.name, p.shape)
            else:
                net.add_neurons(p.name, p.shape, neuron=p.neuron, bias=p.bias)
        for pr in self.projections:
            net.connect(pr.src, pr.tgt, pr.ops, delay=pr.delay)
        net.validate()
        return net


def _stored_neuron(record) -> tuple[NeuronParams | None, np.ndarray | None]:
    """(NeuronParams, flat float64 bias) of a Network's population record; (None, None) for the input."""
    if record.neuron is None:
        return None, None
    return record.neuron, np.asarray(record.bias, dtype=np.float64).ravel().copy()


def lattice_step(*arrays) -> float | None:
    """Largest power of two 2**e (e >= MIN_LATTICE_EXPONENT) dividing every value, or None.

    All zeros give 1.0 (any lattice). Non-finite values give None.
    """
    e_min = None
    for a in arrays:
        v = np.asarray(a, dtype=np.float64).ravel()
        if not np.all(np.isfinite(v)):
            return None
        v = v[v != 0]
        if v.size == 0:
            continue
        mant, exp = np.frexp(np.abs(v))  # |v| = mant * 2**exp, mant in [0.5, 1), 53-bit mantissa
        ints = (mant * 2.0**53).astype(np.int64)
        tz = _trailing_zeros(ints)
        e = int((exp - 53 + tz).min())
        e_min = e if e_min is None else min(e_min, e)
    if e_min is None:
        return 1.0
    if e_min < MIN_LATTICE_EXPONENT:
        return None
    return math.ldexp(1.0, e_min)


def _trailing_zeros(ints: np.ndarray) -> np.ndarray:
    low = ints & -ints  # lowest set bit
    return np.round(np.log2(low.astype(np.float64))).astype(np.int64)


def apply_op(op, in_shape: tuple, vec: np.ndarray) -> np.ndarray:
    """op applied to a flat vector of in_shape (the composed map's action), flat result."""
    src, tgt, w = op.coo(tuple(in_shape))
    n_out = int(np.prod(op.out_shape(tuple(in_shape), "apply_op")))
    return np.bincount(tgt, weights=w * np.asarray(vec, dtype=np.float64).ravel()[src], minlength=n_out)


def weighted(op) -> bool:
    return isinstance(op, (Dense, Conv2d))


def pool_factor(op) -> float:
    return 1.0 / (op.kernel * op.kernel) if isinstance(op, AvgPool2d) else 1.0


def chain_lattice(ops) -> float | None:
    """Lattice step of the composed weights of an op chain (products of the ops' steps), or None."""
    step = 1.0
    for op in ops:
        if weighted(op):
            s = lattice_step(op.weight)
            if s is None:
                return None
            step *= s
        step *= pool_factor(op)
    return step
