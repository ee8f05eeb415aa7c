"""The network as data: typed population and projection records in a DAG (NIR-like).

A :class:`Network` holds :class:`Population` records -- exactly one *input* population (a spike or
analog source, no state: ``neuron is None``) and any number of neuron populations, each with ONE
:class:`~simcore.neuron.NeuronParams` and a per-neuron bias -- and :class:`Projection` records: a
chain of linear ops (:mod:`simcore.ops`) from one population to another with an integer delay.
Pooling is linear and has no neurons, so ``[AvgPool2d(2), Conv2d(w)]`` is one projection.

Records are frozen and their arrays read-only, so a network changes only through ``add*`` /
``connect`` (which bump :attr:`Network.version`, the key of the compile cache). Compiling into
kernel tables is :func:`simcore.compiler.compile_network`; the file format is
:mod:`simcore.graphfile`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import networkx as nx
import numpy as np

from simcore.neuron import NeuronError, NeuronParams
from simcore.ops import GraphError, Op, prod, readonly

__all__ = ["Population", "Projection", "Network"]


def _shape(name, shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError as exc:
        raise GraphError(f"population '{name}': shape must be a tuple of ints, got {shape!r}") from exc
    if not shape or any(s < 1 for s in shape):
        raise GraphError(f"population '{name}': shape must be non-empty with positive sizes, got {shape}")
    return shape


@dataclass(frozen=True, eq=False)
class Population:
    """A population of ``prod(shape)`` neurons (flat index: C order of ``shape``).

    neuron: the neurons' parameters, or None for the input population.
    bias: (n,) float64 read-only, per neuron (potential units; V(0) or a current per step, as
    ``neuron.bias_mode`` says); None for the input. A scalar or an array of ``shape`` is accepted.
    """

    name: str
    shape: tuple[int, ...]
    neuron: NeuronParams | None = None
    bias: np.ndarray | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise GraphError(f"population name must be a non-empty string, got {self.name!r}")
        shape = _shape(self.name, self.shape)
        object.__setattr__(self, "shape", shape)
        if self.neuron is None:
            if self.bias is not None:
                raise GraphError(f"population '{self.name}': the input population has no bias")
            return
        if not isinstance(self.neuron, NeuronParams):
            raise GraphError(f"population '{self.name}': neuron must be a NeuronParams, "
                             f"got {type(self.neuron).__name__}")
        n = prod(shape)
        b = np.zeros(n) if self.bias is None else np.asarray(self.bias, dtype=np.float64)
        if b.size == 1:
            b = np.full(n, float(b.ravel()[0]))
        if b.size != n or (b.ndim > 1 and b.shape != shape):
            raise GraphError(f"population '{self.name}': bias has shape {b.shape}, expected {shape} or ({n},)")
        if not np.all(np.isfinite(b)):
            raise GraphError(f"population '{self.name}': bias contains NaN or infinite values")
        object.__setattr__(self, "bias", readonly(b.ravel()))

    @property
    def is_input(self) -> bool:
        return self.neuron is None

    @property
    def size(self) -> int:
        return prod(self.shape)


@dataclass(frozen=True, eq=False)
class Projection:
    """``src -> tgt`` through the op chain ``ops``; a spike is delivered ``delay`` steps later."""

    src: str
    tgt: str
    ops: tuple[Op, ...]
    delay: int = 0

    def __post_init__(self):
        ops = (self.ops,) if isinstance(self.ops, Op) else tuple(self.ops)
        if not ops or not all(isinstance(o, Op) for o in ops):
            raise GraphError(f"projection {self.src}->{self.tgt}: ops must be a non-empty list of "
                             "Dense/Conv2d/AvgPool2d/Flatten")
        if isinstance(self.delay, bool) or int(self.delay) != self.delay or self.delay < 0:
            raise GraphError(f"projection {self.src}->{self.tgt}: delay must be an integer >= 0, got {self.delay}")
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "delay", int(self.delay))


def _legacy_neuron(name: str, n: int, threshold, bias_mode, reset) -> NeuronParams:
    """NeuronParams from the keyword form ``threshold=, bias_mode=, reset=`` (threshold: one value,
    or an array whose values are all equal)."""
    kw = {}
    if threshold is not None:
        thr = np.asarray(threshold, dtype=np.float64)
        if thr.size not in (1, n):
            raise GraphError(f"population '{name}': threshold has {thr.size} values, expected 1 or {n}")
        if thr.size > 1 and not np.all(thr == thr.ravel()[0]):
            raise GraphError(f"population '{name}': threshold must be one value for the population "
                             f"(NeuronParams.threshold), got {np.unique(thr).size} different values")
        kw["threshold"] = float(thr.ravel()[0])
    if bias_mode is not None:
        kw["bias_mode"] = bias_mode
    if reset is not None:
        kw["reset"] = reset
    return NeuronParams(**kw)


class Network:
    """A DAG of populations and projections (see module docstring)."""

    def __init__(self):
        self._pops: dict[str, Population] = {}  # insertion order
        self._projs: dict[tuple[str, str], Projection] = {}
        self._dag = nx.DiGraph()
        self._version = 0

    @classmethod
    def from_records(cls, populations: Iterable[Population], projections: Iterable[Projection]) -> "Network":
        """A network of the given records (populations in the given order)."""
        net = cls()
        for p in populations:
            net.add(p)
        for p in projections:
            net.add_projection(p)
        return net

    # ---------------- construction ----------------
    def add(self, pop: Population) -> None:
        """Add a population record."""
        if not isinstance(pop, Population):
            raise GraphError(f"expected a Population record, got {type(pop).__name__}")
        if pop.name in self._pops:
            raise GraphError(f"population '{pop.name}' already exists")
        self._pops[pop.name] = pop
        self._dag.add_node(pop.name)
        self._version += 1

    def add_input(self, name: str, shape) -> None:
        """The input population (spike trains or analog intensities are fed here)."""
        self.add(Population(name, shape))

    def add_neurons(self, name: str, shape, neuron: NeuronParams | None = None, bias=None, *,
                    threshold=None, bias_mode: str | None = None, reset: str | None = None) -> None:
        """A population of neurons with parameters ``neuron`` (default ``NeuronParams()``).

        bias: scalar, array of ``shape`` or flat (n,), or None (zeros). The keyword form
        ``threshold=, bias_mode=, reset=`` builds the NeuronParams (not together with ``neuron``).
        """
        legacy = threshold is not None or bias_mode is not None or reset is not None
        if neuron is not None and legacy:
            raise GraphError(f"population '{name}': give neuron=NeuronParams(...) or threshold=/bias_mode=/reset=, "
                             "not both")
        if neuron is None:
            n = prod(_shape(name, shape))
            try:
                neuron = _legacy_neuron(name, n, threshold, bias_mode, reset)
            except NeuronError as e:
                raise GraphError(f"population '{name}': {e}") from None
        self.add(Population(name, shape, neuron, bias))

    def add_projection(self, proj: Projection) -> None:
        """Add a projection record (both populations must exist)."""
        if not isinstance(proj, Projection):
            raise GraphError(f"expected a Projection record, got {type(proj).__name__}")
        for name in (proj.src, proj.tgt):
            if name not in self._pops:
                raise GraphError(f"projection {proj.src}->{proj.tgt}: population '{name}' does not exist")
        if (proj.src, proj.tgt) in self._projs:
            raise GraphError(f"projection {proj.src}->{proj.tgt} already exists")
        self._projs[proj.src, proj.tgt] = proj
        self._dag.add_edge(proj.src, proj.tgt)
        self._version += 1

    def connect(self, src: str, tgt: str, ops, delay: int = 0) -> None:
        """A projection src -> tgt: a chain of linear ops, delivered ``delay`` steps after the spike."""
        for name in (src, tgt):
            if name not in self._pops:
                raise GraphError(f"projection {src}->{tgt}: population '{name}' does not exist")
        self.add_projection(Projection(src, tgt, ops, delay))

    # ---------------- queries ----------------
    @property
    def version(self) -> int:
        """Changes whenever a population or projection is added (records themselves are immutable)."""
        return self._version

    @property
    def population_records(self) -> list[Population]:
        """The population records in insertion order."""
        return list(self._pops.values())

    def population(self, name: str) -> Population:
        try:
            return self._pops[name]
        except KeyError:
            raise GraphError(f"population '{name}' does not exist") from None

    @property
    def populations(self) -> list[str]:
        """Population names in topological order (ties: insertion order)."""
        pos = {n: k for k, n in enumerate(self._pops)}
        try:
            return list(nx.lexicographical_topological_sort(self._dag, key=lambda n: pos[n]))
        except nx.NetworkXUnfeasible as exc:
            cyc = nx.find_cycle(self._dag)
            raise GraphError("network has a cycle: " + " -> ".join(e[0] for e in cyc) + f" -> {cyc[0][0]}") from exc

    @property
    def input_population(self) -> str:
        ins = [n for n, p in self._pops.items() if p.is_input]
        if len(ins) != 1:
            raise GraphError(f"network must have exactly one input population, found {len(ins)}: {ins}")
        return ins[0]

    @property
    def output(self) -> str:
        sinks = [n for n in self._pops if self._dag.out_degree(n) == 0]
        if len(sinks) != 1:
            raise GraphError(f"network must have exactly one output population (sink), found {len(sinks)}: {sinks}")
        if self._pops[sinks[0]].is_input:
            raise GraphError(f"output population '{sinks[0]}' is the input population")
        return sinks[0]

    def shape(self, name: str) -> tuple[int, ...]:
        return self.population(name).shape

    def size(self, name: str) -> int:
        return self.population(name).size

    def projection(self, src: str, tgt: str) -> Projection:
        try:
            return self._projs[src, tgt]
        except KeyError:
            raise GraphError(f"projection {src}->{tgt} does not exist") from None

    @property
    def projections(self) -> list[Projection]:
        """Projection records sorted by (target, source) topological position."""
        order = {n: k for k, n in enumerate(self.populations)}
        return sorted(self._projs.values(), key=lambda p: (order[p.tgt], order[p.src]))

    def __repr__(self):
        lines = ["Network("]
        for p in self._pops.values():
            lines.append(f"  {'input' if p.is_input else 'neurons'} {p.name} {p.shape}"
                         + ("" if p.is_input else f" {p.neuron}"))
        for p in self._projs.values():
            lines.append(f"  {p.src} -> {p.tgt} delay={p.delay} {list(p.ops)}")
        return "\n".join(lines) + "\n)"

    # ---------------- validation ----------------
    def validate(self) -> None:
        """Raise GraphError (one line) if the network cannot be simulated (records are checked when built)."""
        if not self._pops:
            raise GraphError("network has no populations")
        self.populations  # noqa: B018 -- raises on cycles
        inp = self.input_population
        self.output  # noqa: B018 -- raises on zero/several sinks
        if self._dag.in_degree(inp):
            src = next(iter(self._dag.predecessors(inp)))
            raise GraphError(f"projection {src}->{inp}: the input population cannot receive projections")
        for p in self.projections:
            where = f"projection {p.src}->{p.tgt}"
            shape = self.shape(p.src)
            for k, op in enumerate(p.ops):
                shape = op.out_shape(shape, f"{where} op {k} ({op.kind})")
                for key, arr in op.arrays().items():
                    if not np.all(np.isfinite(arr)):
                        raise GraphError(f"{where} op {k} ({op.kind}) {key} contains NaN or infinite values")
            if tuple(shape) != tuple(self.shape(p.tgt)):
                raise GraphError(f"{where}: op chain produces shape {tuple(shape)} but '{p.tgt}' has shape {self.shape(p.tgt)}")
