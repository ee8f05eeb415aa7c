"""Layer graph of an integrate-and-fire network, compiled into fan-out tables.

A :class:`Network` wraps a ``networkx.DiGraph``. Nodes are populations: exactly one *input*
population (a spike or analog source, no state) and any number of *neuron* populations of
integrate-and-fire units. Edges are *projections*: a chain of linear ops (:class:`Dense`,
:class:`Conv2d`, :class:`AvgPool2d`, :class:`Flatten`) with an integer delay. Pooling is linear
and has no neurons, so ``[AvgPool2d(2), Conv2d(w)]`` is one projection; the chain is composed
into ONE table per projection: for every source neuron the target indices and the weights (the
potential increment a unit spike of the source causes in the target).

Layouts: a projection whose composed map connects every source to every target (a plain
:class:`Dense`, or pool + flatten + dense) is stored as a dense ``(n_src, n_tgt)`` float64 row
table, so delivering a spike is one contiguous vector add; everything else (convolutions) is CSR
(``indptr``, ``indices``, ``weights``; targets ascending within a row). Composed weights are kept
even when exactly zero, so a projection's fan-out is structural (it is what SOPs count).

Flat index convention: every population's neurons are numbered in C (row-major) order of its
shape; ``Dense`` flattens its input the same way (so ``Flatten()`` before ``Dense`` is optional).
``Conv2d`` is cross-correlation as in PyTorch: ``out[o, y, x] = sum_{c, i, j} w[o, c, i, j] *
in[c, y*stride + i - padding, x*stride + j - padding]`` (zero padding).
"""
from __future__ import annotations

import json
import zipfile
import os
import shutil
import tempfile
from dataclasses import dataclass

import networkx as nx
import numpy as np

__all__ = [
    "Network",
    "Dense",
    "Conv2d",
    "AvgPool2d",
    "Flatten",
    "GraphError",
    "Compiled",
    "BIAS_MODES",
    "RESETS",
]

BIAS_MODES = ("initial", "current")
RESETS = ("subtract", "zero")

# A projection whose composed table has at least this fraction of all (src, tgt) pairs is stored dense.
DENSE_FRACTION = 0.5


class GraphError(ValueError):
    """A malformed network (one-line message naming the population or projection)."""


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _check_finite(arr: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(arr)):
        raise GraphError(f"{what} contains NaN or infinite values")


# --------------------------------------------------------------------------------------------
# Linear ops. Each op maps an input shape to an output shape and yields its sparse matrix as COO
# arrays (src flat index, tgt flat index, weight), rows in ascending src order.
# --------------------------------------------------------------------------------------------


class Op:
    kind = "op"

    def out_shape(self, in_shape: tuple[int, ...], where: str) -> tuple[int, ...]:
        raise NotImplementedError

    def coo(self, in_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def arrays(self) -> dict[str, np.ndarray]:
        return {}

    def params(self) -> dict:
        return {}


class Dense(Op):
    """All-to-all: ``weight`` (n_out, n_in); the input is flattened (row-major)."""

    kind = "Dense"

    def __init__(self, weight):
        self.weight = np.array(weight, dtype=np.float64, copy=True)

    def out_shape(self, in_shape, where):
        if self.weight.ndim != 2:
            raise GraphError(f"{where}: Dense weight must be 2-D (n_out, n_in), got shape {self.weight.shape}")
        if self.weight.shape[1] != _prod(in_shape):
            raise GraphError(
                f"{where}: Dense weight {self.weight.shape} expects {self.weight.shape[1]} inputs, "
                f"got shape {tuple(in_shape)} ({_prod(in_shape)} values)"
            )
        return (self.weight.shape[0],)

    def coo(self, in_shape):
        n_out, n_in = self.weight.shape
        src = np.repeat(np.arange(n_in, dtype=np.int64), n_out)
        tgt = np.tile(np.arange(n_out, dtype=np.int64), n_in)
        return src, tgt, np.ascontiguousarray(self.weight.T).ravel()

    def arrays(self):
        return {"weight": self.weight}

    def __repr__(self):
        return f"Dense({self.weight.shape[0]}x{self.weight.shape[1]})"


class Conv2d(Op):
    """2-D cross-correlation, ``weight`` (C_out, C_in, k, k) (or (C_out, C_in, kh, kw))."""

    kind = "Conv2d"

    def __init__(self, weight, stride: int = 1, padding: int = 0):
        self.weight = np.array(weight, dtype=np.float64, copy=True)
        self.stride = int(stride)
        self.padding = int(padding)

    def out_shape(self, in_shape, where):
        w = self.weight
        if w.ndim != 4:
            raise GraphError(f"{where}: Conv2d weight must be 4-D (C_out, C_in, kh, kw), got shape {w.shape}")
        if self.stride < 1 or self.padding < 0:
            raise GraphError(f"{where}: Conv2d needs stride >= 1 and padding >= 0")
        if len(in_shape) != 3 or in_shape[0] != w.shape[1]:
            raise GraphError(
                f"{where}: Conv2d weight {w.shape} expects input (C={w.shape[1]}, H, W), got shape {tuple(in_shape)}"
            )
        _, h, wd = in_shape
        ho = (h + 2 * self.padding - w.shape[2]) // self.stride + 1
        wo = (wd + 2 * self.padding - w.shape[3]) // self.stride + 1
        if ho < 1 or wo < 1:
            raise GraphError(f"{where}: Conv2d kernel {w.shape[2:]} larger than input {tuple(in_shape)}")
        return (w.shape[0], ho, wo)

    def coo(self, in_shape):
        co, ci, kh, kw = self.weight.shape
        _, h, wd = in_shape
        _, ho, wo = self.out_shape(in_shape, "Conv2d")
        o, c, i, j, y, x = np.meshgrid(
            np.arange(co), np.arange(ci), np.arange(kh), np.arange(kw), np.arange(ho), np.arange(wo), indexing="ij"
        )
        iy = y * self.stride + i - self.padding
        ix = x * self.stride + j - self.padding
        ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < wd)
        src = ((c * h + iy) * wd + ix)[ok]
        tgt = ((o * ho + y) * wo + x)[ok]
        w = self.weight[o, c, i, j][ok]
        return src.astype(np.int64), tgt.astype(np.int64), w

    def arrays(self):
        return {"weight": self.weight}

    def params(self):
        return {"stride": self.stride, "padding": self.padding}

    def __repr__(self):
        return f"Conv2d({tuple(self.weight.shape)}, stride={self.stride}, padding={self.padding})"


class AvgPool2d(Op):
    """Average pooling over ``kernel`` x ``kernel`` windows (stride defaults to the kernel); linear."""

    kind = "AvgPool2d"

    def __init__(self, kernel: int, stride: int | None = None):
        self.kernel = int(kernel)
        self.stride = int(stride) if stride is not None else self.kernel

    def out_shape(self, in_shape, where):
        if self.kernel < 1 or self.stride < 1:
            raise GraphError(f"{where}: AvgPool2d needs kernel >= 1 and stride >= 1")
        if len(in_shape) != 3:
            raise GraphError(f"{where}: AvgPool2d expects input (C, H, W), got shape {tuple(in_shape)}")
        c, h, w = in_shape
        ho = (h - self.kernel) // self.stride + 1
        wo = (w - self.kernel) // self.stride + 1
        if ho < 1 or wo < 1:
            raise GraphError(f"{where}: AvgPool2d window {self.kernel} larger than input {tuple(in_shape)}")
        return (c, ho, wo)

    def coo(self, in_shape):
        c, h, wd = in_shape
        _, ho, wo = self.out_shape(in_shape, "AvgPool2d")
        k = self.kernel
        ch, i, j, y, x = np.meshgrid(np.arange(c), np.arange(k), np.arange(k), np.arange(ho), np.arange(wo), indexing="ij")
        src = ((ch * h + y * self.stride + i) * wd + x * self.stride + j).ravel()
        tgt = ((ch * ho + y) * wo + x).ravel()
        return src.astype(np.int64), tgt.astype(np.int64), np.full(src.size, 1.0 / (k * k))

    def params(self):
        return {"kernel": self.kernel, "stride": self.stride}

    def __repr__(self):
        return f"AvgPool2d({self.kernel}, stride={self.stride})"


class Flatten(Op):
    """Row-major flatten (identity on flat indices)."""

    kind = "Flatten"

    def out_shape(self, in_shape, where):
        return (_prod(in_shape),)

    def coo(self, in_shape):
        n = _prod(in_shape)
        idx = np.arange(n, dtype=np.int64)
        return idx, idx.copy(), np.ones(n)

    def __repr__(self):
        return "Flatten()"


_OPS = {cls.kind: cls for cls in (Dense, Conv2d, AvgPool2d, Flatten)}


def _compose(a, b, n_mid: int, n_tgt: int):
    """COO product: a maps src -> mid, b maps mid -> tgt; returns src -> tgt, duplicates summed."""
    a_src, a_mid, a_w = a
    b_mid, b_tgt, b_w = b
    order = np.argsort(b_mid, kind="stable")
    b_tgt, b_w = b_tgt[order], b_w[order]
    indptr = np.zeros(n_mid + 1, dtype=np.int64)
    np.cumsum(np.bincount(b_mid, minlength=n_mid), out=indptr[1:])
    deg = indptr[a_mid + 1] - indptr[a_mid]
    total = int(deg.sum())
    rep = np.repeat(np.arange(a_src.size), deg)
    bidx = np.repeat(indptr[a_mid] - (np.cumsum(deg) - deg), deg) + np.arange(total, dtype=np.int64)
    src = a_src[rep]
    tgt = b_tgt[bidx]
    w = a_w[rep] * b_w[bidx]
    # A source reaching one target through two intermediates needs summing; impossible when
    # every source has at most one intermediate (pooling, flatten first).
    if a_src.size and np.bincount(a_src).max() > 1:
        key = src * n_tgt + tgt
        uniq, inv = np.unique(key, return_inverse=True)
        w = np.bincount(inv, weights=w, minlength=uniq.size)
        src, tgt = uniq // n_tgt, uniq % n_tgt
    return src, tgt, w


def _conv_runs(ops, src_shape, src, tgt, w):
    """Run table of a convolution-structured chain (``[Conv2d]`` or ``[AvgPool2d(k, stride=k), Conv2d]``).

    Returns ``(run_ptr, run_tgt, run_w, table, run_len)`` (see :class:`CompiledProjection`), or None
    when the chain has another form or the runs do not reproduce the composed COO table
    ``(src, tgt, w)`` (sorted by (src, tgt)) exactly, synapse for synapse and bit for bit.
    """
    if len(src_shape) != 3 or not ops or not isinstance(ops[-1], Conv2d) or len(ops) > 2:
        return None
    C, H, W = (int(v) for v in src_shape)
    scale = None
    ph, pw = H, W
    if len(ops) == 2:
        pool = ops[0]
        if not isinstance(pool, AvgPool2d) or pool.stride != pool.kernel:
            return None
        k = pool.kernel
        ph, pw = (H - k) // k + 1, (W - k) // k + 1
        scale = np.full(1, 1.0 / (k * k))[0]  # the value AvgPool2d.coo uses
    conv = ops[-1]
    co, ci, kh, kw = conv.weight.shape
    st, pad = conv.stride, conv.padding
    ho, wo = (ph + 2 * pad - kh) // st + 1, (pw + 2 * pad - kw) // st + 1
    # weight table (c, i, j, o): o contiguous, the value the COO composition computes
    wt = np.ascontiguousarray(conv.weight.transpose(1, 2, 3, 0))
    table = (scale * wt if scale is not None else wt).ravel().copy()
    c, y, x, i, j = np.meshgrid(np.arange(C), np.arange(H), np.arange(W), np.arange(kh), np.arange(kw), indexing="ij")
    if scale is not None:
        k = ops[0].kernel
        py, px = y // k, x // k
        ok = (py < ph) & (px < pw)
    else:
        py, px = y, x
        ok = np.ones(py.shape, dtype=bool)
    ny, nx_ = py + pad - i, px + pad - j
    ty, tx = ny // st, nx_ // st
    ok &= (ny >= 0) & (nx_ >= 0) & (ny % st == 0) & (nx_ % st == 0) & (ty < ho) & (tx < wo)
    run_src = ((c * H + y) * W + x)[ok].astype(np.int64)  # C-order meshgrid: ascending source, then (i, j)
    run_tgt = ((ty * wo + tx) * co)[ok].astype(np.int64)
    run_w = (((c * kh + i) * kw + j) * co)[ok].astype(np.int64)
    n_src = C * H * W
    run_ptr = np.zeros(n_src + 1, dtype=np.int64)
    np.cumsum(np.bincount(run_src, minlength=n_src), out=run_ptr[1:])
    # exact cross-check against the composed table
    if run_src.size * co != src.size:
        return None
    o = np.arange(co)
    e_src = np.repeat(run_src, co)
    e_tgt = (o[None, :] * (ho * wo) + (run_tgt[:, None] // co)).ravel()  # C-order target index
    e_w = table[(run_w[:, None] + o).ravel()]
    order = np.argsort(e_src * (co * ho * wo) + e_tgt, kind="stable")
    if not (np.array_equal(e_src[order], src) and np.array_equal(e_tgt[order], tgt)
            and np.array_equal(e_w[order].view(np.int64), np.asarray(w, dtype=np.float64).view(np.int64))):
        return None
    if run_tgt.size and (run_tgt.max() + co > 2**31 - 1 or run_w.max() + co > 2**31 - 1):
        return None
    return run_ptr, run_tgt.astype(np.int32), run_w.astype(np.int32), table, int(co)


@dataclass
class Projection:
    src: str
    tgt: str
    ops: list
    delay: int


@dataclass
class CompiledProjection:
    src: int
    tgt: int
    delay: int
    dense: bool
    n_src: int
    n_tgt: int
    weights: np.ndarray  # dense: (n_src, n_tgt); csr: (nnz,)
    indptr: np.ndarray | None  # csr only (n_src + 1,)
    indices: np.ndarray | None  # csr only (nnz,)
    # convolution-structured projections additionally carry a run table (the kernel uses it instead
    # of the CSR): source i's targets are runs[0][i]..runs[0][i+1] runs of ``run_len`` consecutive
    # neurons in the target's channel-last (HWC) kernel layout, starting at runs[1][r], with weights
    # table[runs[2][r] : runs[2][r] + run_len]. The same synapses and weights as the CSR table.
    runs: tuple | None = None  # (run_ptr int64 (n_src+1,), run_tgt int32, run_w int32, table float64)
    run_len: int = 0

    def fanout(self) -> np.ndarray:
        if self.dense:
            return np.full(self.n_src, self.n_tgt, dtype=np.int64)
        return np.diff(self.indptr)

    def matrix(self) -> np.ndarray:
        """The composed map as a dense (n_tgt, n_src) matrix (for inspection and tests)."""
        if self.dense:
            return self.weights.T.copy()
        m = np.zeros((self.n_tgt, self.n_src))
        rows = np.repeat(np.arange(self.n_src), np.diff(self.indptr))
        m[self.indices, rows] = self.weights
        return m


@dataclass
class Compiled:
    """Flat arrays describing a validated network, as the kernels consume them."""

    names: list
    sizes: np.ndarray
    offsets: np.ndarray
    input_index: int
    output_index: int
    threshold: np.ndarray  # per neuron (all populations concatenated; input entries unused)
    bias: np.ndarray
    bias_mode: np.ndarray  # per population: 0 initial, 1 current
    reset: np.ndarray  # per population: 0 subtract, 1 zero
    projections: list
    # flattened projection tables
    p_src: np.ndarray
    p_tgt: np.ndarray
    p_delay: np.ndarray
    p_dense: np.ndarray
    p_woff: np.ndarray
    p_ioff: np.ndarray
    p_poff: np.ndarray
    w_all: np.ndarray
    idx_all: np.ndarray
    ptr_all: np.ndarray
    in_ptr: np.ndarray  # incoming projections of population q: in_list[in_ptr[q]:in_ptr[q+1]]
    in_list: np.ndarray
    max_path_delay: int
    # kernel-side layout (additive; counts, membranes, thresholds above stay in C order):
    # p_kind per projection (0 CSR, 1 dense, 2 conv runs); runs tables; per population an internal
    # layout (pop_perm[q] = 1: channel-last, perm_all[offsets[q] + k] is the internal position of
    # flat C-order neuron k); k_threshold / k_bias in the internal layout; w_all may be float32
    # when every weight is exactly a float32 (conversion to float64 is exact).
    p_kind: np.ndarray = None
    p_roff: np.ndarray = None
    p_rlen: np.ndarray = None
    run_ptr_all: np.ndarray = None
    run_tgt_all: np.ndarray = None
    run_w_all: np.ndarray = None
    pop_perm: np.ndarray = None
    perm_all: np.ndarray = None
    k_threshold: np.ndarray = None
    k_bias: np.ndarray = None


class Network:
    """A DAG of populations and projections (see module docstring)."""

    def __init__(self):
        self.graph = nx.DiGraph()
        self._order: list[str] = []  # insertion order of populations
        self._version = 0
        self._compiled = None
        self._compiled_version = -1

    # ---------------- construction ----------------
    def _add(self, name: str, attrs: dict) -> None:
        if not isinstance(name, str) or not name:
            raise GraphError(f"population name must be a non-empty string, got {name!r}")
        if name in self.graph:
            raise GraphError(f"population '{name}' already exists")
        self.graph.add_node(name, **attrs)
        self._order.append(name)
        self._version += 1

    @staticmethod
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

    def add_input(self, name: str, shape) -> None:
        """The input population (spike trains or analog intensities are fed here)."""
        self._add(name, {"kind": "input", "shape": self._shape(name, shape)})

    def add_neurons(self, name: str, shape, threshold=1.0, bias=None, bias_mode: str = "initial",
                    reset: str = "subtract") -> None:
        """A population of integrate-and-fire neurons.

        threshold: scalar or array (population shape or flat); bias: array (shape or flat) or None
        (zeros) or scalar; bias_mode "initial" (V(0) = bias) or "current" (V += bias every step);
        reset "subtract" (V -= threshold) or "zero" (V = 0).
        """
        shape = self._shape(name, shape)
        n = _prod(shape)
        thr = np.array(threshold, dtype=np.float64, copy=True)
        b = np.zeros(n) if bias is None else np.array(bias, dtype=np.float64, copy=True)
        self._add(name, {"kind": "neurons", "shape": shape, "threshold": thr, "bias": b,
                         "bias_mode": bias_mode, "reset": reset})

    def connect(self, src: str, tgt: str, ops, delay: int = 0) -> None:
        """A projection src -> tgt: a chain of linear ops, delivered ``delay`` steps after the spike."""
        for name in (src, tgt):
            if name not in self.graph:
                raise GraphError(f"projection {src}->{tgt}: population '{name}' does not exist")
        if self.graph.has_edge(src, tgt):
            raise GraphError(f"projection {src}->{tgt} already exists")
        if isinstance(ops, Op):
            ops = [ops]
        ops = list(ops)
        if not ops or not all(isinstance(o, Op) for o in ops):
            raise GraphError(f"projection {src}->{tgt}: ops must be a non-empty list of Dense/Conv2d/AvgPool2d/Flatten")
        if int(delay) != delay or delay < 0:
            raise GraphError(f"projection {src}->{tgt}: delay must be an integer >= 0, got {delay}")
        self.graph.add_edge(src, tgt, projection=Projection(src, tgt, ops, int(delay)))
        self._version += 1

    # ---------------- queries ----------------
    @property
    def populations(self) -> list[str]:
        """Population names in topological order (ties: insertion order)."""
        pos = {n: k for k, n in enumerate(self._order)}
        try:
            return list(nx.lexicographical_topological_sort(self.graph, key=lambda n: pos[n]))
        except nx.NetworkXUnfeasible as exc:
            cyc = nx.find_cycle(self.graph)
            raise GraphError("network has a cycle: " + " -> ".join(e[0] for e in cyc) + f" -> {cyc[0][0]}") from exc

    @property
    def input_population(self) -> str:
        ins = [n for n in self._order if self.graph.nodes[n]["kind"] == "input"]
        if len(ins) != 1:
            raise GraphError(f"network must have exactly one input population, found {len(ins)}: {ins}")
        return ins[0]

    @property
    def output(self) -> str:
        sinks = [n for n in self._order if self.graph.out_degree(n) == 0]
        if len(sinks) != 1:
            raise GraphError(f"network must have exactly one output population (sink), found {len(sinks)}: {sinks}")
        if self.graph.nodes[sinks[0]]["kind"] == "input":
            raise GraphError(f"output population '{sinks[0]}' is the input population")
        return sinks[0]

    def shape(self, name: str) -> tuple[int, ...]:
        return self.graph.nodes[name]["shape"]

    def size(self, name: str) -> int:
        return _prod(self.graph.nodes[name]["shape"])

    def projection(self, src: str, tgt: str) -> Projection:
        return self.graph.edges[src, tgt]["projection"]

    @property
    def projections(self) -> list[Projection]:
        order = {n: k for k, n in enumerate(self.populations)}
        projs = [d["projection"] for _, _, d in self.graph.edges(data=True)]
        return sorted(projs, key=lambda p: (order[p.tgt], order[p.src]))

    def __repr__(self):
        lines = ["Network("]
        for n in self._order:
            a = self.graph.nodes[n]
            lines.append(f"  {a['kind']} {n} {a['shape']}")
        for _, _, d in self.graph.edges(data=True):
            p = d["projection"]
            lines.append(f"  {p.src} -> {p.tgt} delay={p.delay} {p.ops}")
        return "\n".join(lines) + "\n)"

    # ---------------- validation ----------------
    def validate(self) -> None:
        """Raise GraphError (one line) if the network cannot be simulated."""
        if self.graph.number_of_nodes() == 0:
            raise GraphError("network has no populations")
        order = self.populations  # cycles
        self.input_population  # noqa: B018 -- raises unless there is exactly one input
        self.output  # noqa: B018 -- raises on zero/several sinks
        for name in order:
            a = self.graph.nodes[name]
            if a["kind"] == "input":
                if self.graph.in_degree(name):
                    src = next(iter(self.graph.predecessors(name)))
                    raise GraphError(f"projection {src}->{name}: the input population cannot receive projections")
                continue
            n = _prod(a["shape"])
            thr, b = a["threshold"], a["bias"]
            if thr.size not in (1, n):
                raise GraphError(f"population '{name}': threshold has {thr.size} values, expected 1 or {n}")
            _check_finite(thr, f"population '{name}' threshold")
            if np.any(thr <= 0):
                raise GraphError(f"population '{name}': threshold must be > 0, got min {thr.min()}")
            if b.size not in (1, n) or (b.ndim > 1 and b.shape != a["shape"]):
                raise GraphError(f"population '{name}': bias has shape {b.shape}, expected {a['shape']} or ({n},)")
            _check_finite(b, f"population '{name}' bias")
            if a["bias_mode"] not in BIAS_MODES:
                raise GraphError(f"population '{name}': unknown bias_mode {a['bias_mode']!r} (use 'initial' or 'current')")
            if a["reset"] not in RESETS:
                raise GraphError(f"population '{name}': unknown reset {a['reset']!r} (use 'subtract' or 'zero')")
        for p in self.projections:
            where = f"projection {p.src}->{p.tgt}"
            shape = self.shape(p.src)
            for k, op in enumerate(p.ops):
                shape = op.out_shape(shape, f"{where} op {k} ({op.kind})")
                for key, arr in op.arrays().items():
                    _check_finite(arr, f"{where} op {k} ({op.kind}) {key}")
            if tuple(shape) != tuple(self.shape(p.tgt)):
                raise GraphError(f"{where}: op chain produces shape {tuple(shape)} but '{p.tgt}' has shape {self.shape(p.tgt)}")

    # ---------------- compilation ----------------
    def compile(self) -> Compiled:
        """Validate and build the flat fan-out tables (cached until the network changes)."""
        if self._compiled is not None and self._compiled_version == self._version:
            return self._compiled
        self.validate()
        names = self.populations
        index = {n: k for k, n in enumerate(names)}
        sizes = np.array([self.size(n) for n in names], dtype=np.int64)
        offsets = np.zeros(len(names) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        total = int(offsets[-1])
        threshold = np.ones(total)
        bias = np.zeros(total)
        bias_mode = np.zeros(len(names), dtype=np.int64)
        reset = np.zeros(len(names), dtype=np.int64)
        for k, n in enumerate(names):
            a = self.graph.nodes[n]
            if a["kind"] != "neurons":
                continue
            sl = slice(offsets[k], offsets[k + 1])
            threshold[sl] = a["threshold"].ravel()
            bias[sl] = a["bias"].ravel()
            bias_mode[k] = BIAS_MODES.index(a["bias_mode"])
            reset[k] = RESETS.index(a["reset"])
        cps = []
        for p in self.projections:
            shape = self.shape(p.src)
            coo = None
            for op in p.ops:
                nxt = op.coo(shape)
                n_mid = _prod(shape)
                shape = op.out_shape(shape, "")
                coo = nxt if coo is None else _compose(coo, nxt, n_mid, _prod(shape))
            src, tgt, w = coo
            n_src, n_tgt = self.size(p.src), self.size(p.tgt)
            if src.size >= DENSE_FRACTION * n_src * n_tgt:
                dense = np.zeros((n_src, n_tgt))
                dense[src, tgt] = w  # (src, tgt) pairs are unique after composition
                cps.append(CompiledProjection(index[p.src], index[p.tgt], p.delay, True, n_src, n_tgt,
                                              dense, None, None))
            else:
                order = np.lexsort((tgt, src))
                src, tgt, w = src[order], tgt[order], w[order]
                indptr = np.zeros(n_src + 1, dtype=np.int64)
                np.cumsum(np.bincount(src, minlength=n_src), out=indptr[1:])
                cps.append(CompiledProjection(index[p.src], index[p.tgt], p.delay, False, n_src, n_tgt,
                                              np.ascontiguousarray(w), indptr, tgt.astype(np.int32)))
                runs = _conv_runs(p.ops, self.shape(p.src), src, tgt, w)
                if runs is not None:
                    cps[-1].runs, cps[-1].run_len = runs[:4], runs[4]
        # kernel layout: a population all of whose incoming projections are conv runs (and which is
        # not the output) is stored channel-last, so each run is a contiguous slice
        out_idx = index[self.output]
        pop_perm = np.zeros(len(names), dtype=np.int64)
        for q in range(len(names)):
            inc = [cp for cp in cps if cp.tgt == q]
            if q != out_idx and inc and all(cp.runs is not None for cp in inc):
                pop_perm[q] = 1
        perm_all = np.arange(total, dtype=np.int64)
        for q in range(len(names)):
            if pop_perm[q]:
                co, ho, wo = self.shape(names[q])
                o, y, x = np.meshgrid(np.arange(co), np.arange(ho), np.arange(wo), indexing="ij")
                perm_all[offsets[q]:offsets[q + 1]] = offsets[q] + ((y * wo + x) * co + o).ravel()
        k_threshold = np.empty(total)
        k_bias = np.empty(total)
        k_threshold[perm_all] = threshold
        k_bias[perm_all] = bias
        p_kind = np.array([1 if cp.dense else (2 if pop_perm[cp.tgt] else 0) for cp in cps], dtype=np.int64)
        nproj = len(cps)
        p_woff = np.zeros(nproj, dtype=np.int64)
        p_ioff = np.zeros(nproj, dtype=np.int64)
        p_poff = np.zeros(nproj, dtype=np.int64)
        p_roff = np.zeros(nproj, dtype=np.int64)
        p_rlen = np.zeros(nproj, dtype=np.int64)
        wpos = ipos = ppos = rpos = rptr = 0
        for k, cp in enumerate(cps):
            p_woff[k], p_ioff[k], p_poff[k] = wpos, ipos, ppos
            if p_kind[k] == 2:
                p_roff[k], p_rlen[k] = rpos, cp.run_len
                p_poff[k] = rptr
                wpos += cp.runs[3].size
                rpos += cp.runs[1].size
                rptr += cp.runs[0].size
                continue
            wpos += cp.weights.size
            if not cp.dense:
                ipos += cp.indices.size
                ppos += cp.indptr.size
        w_all = np.zeros(max(wpos, 1))
        idx_all = np.zeros(max(ipos, 1), dtype=np.int32)
        ptr_all = np.zeros(max(ppos, 1), dtype=np.int64)
        run_ptr_all = np.zeros(max(rptr, 1), dtype=np.int64)
        run_tgt_all = np.zeros(max(rpos, 1), dtype=np.int32)
        run_w_all = np.zeros(max(rpos, 1), dtype=np.int32)
        for k, cp in enumerate(cps):
            if p_kind[k] == 2:
                rp, rt, rw, table = cp.runs
                w_all[p_woff[k]:p_woff[k] + table.size] = table
                run_ptr_all[p_poff[k]:p_poff[k] + rp.size] = rp
                run_tgt_all[p_roff[k]:p_roff[k] + rt.size] = rt
                run_w_all[p_roff[k]:p_roff[k] + rw.size] = rw
                continue
            w_all[p_woff[k]:p_woff[k] + cp.weights.size] = cp.weights.ravel()
            if not cp.dense:
                idx_all[p_ioff[k]:p_ioff[k] + cp.indices.size] = cp.indices
                ptr_all[p_poff[k]:p_poff[k] + cp.indptr.size] = cp.indptr
        # float32 storage when it is lossless (halves the weight traffic; float64 arithmetic unchanged)
        w32 = w_all.astype(np.float32)
        if np.array_equal(w32.astype(np.float64).view(np.int64), w_all.view(np.int64)):
            w_all = w32
        # projections are sorted by (target, source) topological position
        p_tgt = np.array([cp.tgt for cp in cps], dtype=np.int64)
        in_ptr = np.zeros(len(names) + 1, dtype=np.int64)
        np.cumsum(np.bincount(p_tgt, minlength=len(names)), out=in_ptr[1:])
        # longest total delay from the input to the output
        inp, out = index[self.input_population], index[self.output]
        longest = np.full(len(names), -1, dtype=np.int64)
        longest[inp] = 0
        for cp in cps:  # sorted by target topo position: sources are final when reached
            if longest[cp.src] >= 0:
                longest[cp.tgt] = max(longest[cp.tgt], longest[cp.src] + cp.delay)
        self._compiled = Compiled(
            names=names, sizes=sizes, offsets=offsets, input_index=inp, output_index=out,
            threshold=threshold, bias=bias, bias_mode=bias_mode, reset=reset, projections=cps,
            p_src=np.array([cp.src for cp in cps], dtype=np.int64), p_tgt=p_tgt,
            p_delay=np.array([cp.delay for cp in cps], dtype=np.int64),
            p_dense=np.array([cp.dense for cp in cps], dtype=np.int64),
            p_woff=p_woff, p_ioff=p_ioff, p_poff=p_poff, w_all=w_all, idx_all=idx_all, ptr_all=ptr_all,
            in_ptr=in_ptr, in_list=np.arange(nproj, dtype=np.int64),
            max_path_delay=int(max(longest[out], 0)),
            p_kind=p_kind, p_roff=p_roff, p_rlen=p_rlen, run_ptr_all=run_ptr_all, run_tgt_all=run_tgt_all,
            run_w_all=run_w_all, pop_perm=pop_perm, perm_all=perm_all, k_threshold=k_threshold, k_bias=k_bias,
        )
        self._compiled_version = self._version
        return self._compiled

    # ---------------- persistence ----------------
    def save(self, path) -> None:
        """Write ``path/graph.json`` + ``path/weights.npz`` atomically (temp dir + os.replace)."""
        path = os.path.abspath(os.fspath(path))
        parent = os.path.dirname(path)
        os.makedirs(parent, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        pops = []
        for n in self._order:
            a = self.graph.nodes[n]
            entry = {"name": n, "kind": a["kind"], "shape": list(a["shape"])}
            if a["kind"] == "neurons":
                entry.update(bias_mode=a["bias_mode"], reset=a["reset"])
                arrays[f"pop{len(pops)}_threshold"] = a["threshold"]
                arrays[f"pop{len(pops)}_bias"] = a["bias"]
            pops.append(entry)
        projs = []
        for src, tgt, d in self.graph.edges(data=True):
            p = d["projection"]
            ops = []
            for k, op in enumerate(p.ops):
                e = {"type": op.kind, **op.params()}
                for key, arr in op.arrays().items():
                    e[key] = f"proj{len(projs)}_op{k}_{key}"
                    arrays[e[key]] = arr
                ops.append(e)
            projs.append({"src": src, "tgt": tgt, "delay": p.delay, "ops": ops})
        doc = {"format": "simcore-network", "version": 1, "populations": pops, "projections": projs}
        tmp = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=parent)
        try:
            with open(os.path.join(tmp, "graph.json"), "w") as f:
                json.dump(doc, f, indent=1)
            np.savez(os.path.join(tmp, "weights.npz"), **arrays)
            if os.path.isdir(path):
                trash = tempfile.mkdtemp(prefix=".old-" + os.path.basename(path) + "-", dir=parent)
                os.replace(path, os.path.join(trash, "old"))
                os.replace(tmp, path)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, path) -> "Network":
        """Read a directory written by :meth:`save`; GraphError (one line naming the file) for any
        missing, malformed or inconsistent content."""
        try:
            return cls._load(path)
        except GraphError as e:
            raise GraphError(str(e) if str(e).startswith(os.fspath(path)) else f"{path}: {e}") from None
        except KeyError as e:
            raise GraphError(f"{path}: graph.json or weights.npz lacks {e}") from None
        except FileNotFoundError as e:
            raise GraphError(f"{path}: {os.path.basename(e.filename or '')} missing") from None
        except (ValueError, TypeError, IndexError, AttributeError, OverflowError, OSError, EOFError,
                zipfile.BadZipFile) as e:
            raise GraphError(f"{path}: malformed graph.json or weights.npz ({type(e).__name__}: {e})") from None

    @classmethod
    def _load(cls, path) -> "Network":
        path = os.fspath(path)
        with open(os.path.join(path, "graph.json")) as f:
            doc = json.load(f)
        if doc.get("format") != "simcore-network":
            raise GraphError(f"{path}: not a simcore network (graph.json format {doc.get('format')!r})")
        net = cls()
        with np.load(os.path.join(path, "weights.npz"), allow_pickle=False) as z:
            for k, e in enumerate(doc["populations"]):
                if e["kind"] == "input":
                    net.add_input(e["name"], tuple(e["shape"]))
                else:
                    net.add_neurons(e["name"], tuple(e["shape"]), threshold=z[f"pop{k}_threshold"],
                                    bias=z[f"pop{k}_bias"], bias_mode=e["bias_mode"], reset=e["reset"])
            for e in doc["projections"]:
                ops = []
                for o in e["ops"]:
                    t = o["type"]
                    if t == "Dense":
                        ops.append(Dense(z[o["weight"]]))
                    elif t == "Conv2d":
                        ops.append(Conv2d(z[o["weight"]], stride=o["stride"], padding=o["padding"]))
                    elif t == "AvgPool2d":
                        ops.append(AvgPool2d(o["kernel"], stride=o["stride"]))
                    elif t == "Flatten":
                        ops.append(Flatten())
                    else:
                        raise GraphError(f"{path}: unknown op type {t!r}")
                net.connect(e["src"], e["tgt"], ops, delay=e["delay"])
        return net
