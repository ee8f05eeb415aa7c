"""Linear ops of a projection and their sparse (COO) maps.

A projection is a chain of linear ops (:class:`Dense`, :class:`Conv2d`, :class:`AvgPool2d`,
:class:`Flatten`). Each op maps an input shape to an output shape and yields its sparse matrix as
COO arrays ``(src flat index, tgt flat index, weight)``; :func:`chain_coo` composes a chain into
ONE map (the potential increment a unit spike of a source neuron causes in each target).

Flat index convention: C (row-major) order of a population's shape; ``Dense`` flattens its input
the same way (so ``Flatten()`` before ``Dense`` is optional). ``Conv2d`` is cross-correlation as in
PyTorch: ``out[o, y, x] = sum_{c, i, j} w[o, c, i, j] * in[c, y*stride + i - padding, x*stride + j
- padding]`` (zero padding).

Ops are immutable: frozen records whose weight arrays are private read-only float64 copies, so a
compiled network can never run stale tables (editing ``op.weight`` in place raises ValueError).
A new op: a frozen dataclass with ``kind``, ``out_shape``, ``coo`` (and ``arrays``/``params`` for
the file format), registered in :data:`OPS`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Op", "Dense", "Conv2d", "AvgPool2d", "Flatten", "OPS", "GraphError", "prod", "chain_coo",
           "readonly"]


class GraphError(ValueError):
    """A malformed network (one-line message naming the population or projection)."""


def prod(shape) -> int:
    """Number of elements of ``shape`` (a tuple of ints)."""
    n = 1
    for s in shape:
        n *= int(s)
    return n


def readonly(a, dtype=np.float64) -> np.ndarray:
    """A private read-only copy of ``a`` (its WRITEABLE flag cannot be set back: the base is locked)."""
    base = np.array(a, dtype=dtype, copy=True)
    base.flags.writeable = False
    return base.view()


class Op:
    """Base of the linear ops (see module docstring)."""

    kind = "op"

    def out_shape(self, in_shape: tuple[int, ...], where: str) -> tuple[int, ...]:
        raise NotImplementedError

    def coo(self, in_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def arrays(self) -> dict[str, np.ndarray]:
        return {}

    def params(self) -> dict:
        return {}


@dataclass(frozen=True, eq=False, repr=False)
class Dense(Op):
    """All-to-all: ``weight`` (n_out, n_in); the input is flattened (row-major)."""

    weight: np.ndarray
    kind = "Dense"

    def __post_init__(self):
        object.__setattr__(self, "weight", readonly(self.weight))

    def out_shape(self, in_shape, where):
        if self.weight.ndim != 2:
            raise GraphError(f"{where}: Dense weight must be 2-D (n_out, n_in), got shape {self.weight.shape}")
        if self.weight.shape[1] != prod(in_shape):
            raise GraphError(
                f"{where}: Dense weight {self.weight.shape} expects {self.weight.shape[1]} inputs, "
                f"got shape {tuple(in_shape)} ({prod(in_shape)} values)"
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


@dataclass(frozen=True, eq=False, repr=False)
class Conv2d(Op):
    """2-D cross-correlation, ``weight`` (C_out, C_in, kh, kw); ``stride`` >= 1, zero ``padding`` >= 0."""

    weight: np.ndarray
    stride: int = 1
    padding: int = 0
    kind = "Conv2d"

    def __post_init__(self):
        object.__setattr__(self, "weight", readonly(self.weight))
        object.__setattr__(self, "stride", int(self.stride))
        object.__setattr__(self, "padding", int(self.padding))

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


@dataclass(frozen=True, eq=False, repr=False)
class AvgPool2d(Op):
    """Average pooling over ``kernel`` x ``kernel`` windows (stride defaults to the kernel); linear."""

    kernel: int
    stride: int | None = field(default=None)
    kind = "AvgPool2d"

    def __post_init__(self):
        object.__setattr__(self, "kernel", int(self.kernel))
        object.__setattr__(self, "stride", self.kernel if self.stride is None else int(self.stride))

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


@dataclass(frozen=True, eq=False, repr=False)
class Flatten(Op):
    """Row-major flatten (identity on flat indices)."""

    kind = "Flatten"

    def out_shape(self, in_shape, where):
        return (prod(in_shape),)

    def coo(self, in_shape):
        n = prod(in_shape)
        idx = np.arange(n, dtype=np.int64)
        return idx, idx.copy(), np.ones(n)

    def __repr__(self):
        return "Flatten()"


OPS = {cls.kind: cls for cls in (Dense, Conv2d, AvgPool2d, Flatten)}


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


def chain_coo(ops, in_shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The composed map of an op chain applied to ``in_shape``: COO ``(src, tgt, weight)``, each
    (src, tgt) pair once (weights kept even when exactly zero: the fan-out is structural)."""
    shape = tuple(in_shape)
    coo = None
    for op in ops:
        nxt = op.coo(shape)
        n_mid = prod(shape)
        shape = op.out_shape(shape, "")
        coo = nxt if coo is None else _compose(coo, nxt, n_mid, prod(shape))
    return coo
