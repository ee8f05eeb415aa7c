"""Architecture spec strings, as the paper writes them.

Grammar (tokens separated by ``-``)::

    spec    := input ("-" layer)+
    input   := N            flat input of N features          e.g. 784, 4
             | HxW          one-channel image                 e.g. 28x28, 8x8
             | CxHxW        C-channel image
    layer   := N            dense layer of N IF neurons (a spatial input is flattened first)
             | Kc S         convolution: K output maps, S x S kernel, stride 1, no padding ("12c5")
             | Sa           average pooling, S x S window, stride S ("2a"); linear, no neurons

The last layer must be dense (it is the output layer, one neuron per class). Examples:
``784-800-10``, ``784-800-800-10``, ``28x28-12c5-2a-64c5-2a-10``, ``4-20-3``, ``8x8-12c3-2a-10``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Dense", "Conv", "AvgPool", "Arch", "Stage", "parse_spec", "SpecError"]


class SpecError(ValueError):
    """A malformed architecture spec string."""


@dataclass(frozen=True)
class Dense:
    out_features: int


@dataclass(frozen=True)
class Conv:
    channels: int
    kernel: int


@dataclass(frozen=True)
class AvgPool:
    kernel: int


Layer = Dense | Conv | AvgPool


@dataclass(frozen=True)
class Stage:
    """One weighted stage: parameter-free ops (``pool`` kernel or 0, then ``flatten``), then a
    weighted op of ``kind`` "dense" | "conv" (``kernel``: the convolution's, 0 for dense). ``in_shape``: the source population's shape (the
    input or the previous stage); ``out_shape``: the shape of the stage's neurons. ``stride`` and
    ``padding``: the convolution's (a spec string's are always 1 and 0; a converted torch chain's may differ)."""

    pool: int
    flatten: bool
    kind: str
    kernel: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    stride: int = 1
    padding: int = 0

    @property
    def pooled_shape(self) -> tuple[int, ...]:
        """The weighted op's input shape: in_shape after pooling (before flattening)."""
        if not self.pool:
            return self.in_shape
        c, h, w = self.in_shape
        return (c, h // self.pool, w // self.pool)


@dataclass(frozen=True)
class Arch:
    """A parsed spec: input shape ((D,) or (C, H, W)) and layers in order."""

    spec: str
    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]

    def shapes(self) -> list[tuple[int, ...]]:
        """Output shape of every layer (after flattening where a dense layer follows a map)."""
        out, shape = [], self.input_shape
        for layer in self.layers:
            shape = _next_shape(shape, layer, self.spec)
            out.append(shape)
        return out

    def stages(self) -> list[Stage]:
        """The weighted stages in order (pooling folded into the stage that follows it).

        SpecError for pooling that is not followed by a weighted layer, or two pooling layers in a row."""
        stages, pool, src = [], 0, self.input_shape
        for layer, out_shape in zip(self.layers, self.shapes()):
            if isinstance(layer, AvgPool):
                if pool:
                    raise SpecError(f"spec {self.spec!r}: two pooling layers in a row are not supported")
                pool = layer.kernel
            else:
                dense = isinstance(layer, Dense)
                stages.append(Stage(pool, dense and len(src) == 3, "dense" if dense else "conv",
                                    0 if dense else layer.kernel, src, out_shape))
                pool, src = 0, out_shape
        if pool:
            raise SpecError(f"spec {self.spec!r}: pooling must be followed by a weighted layer")
        return stages

    @property
    def n_classes(self) -> int:
        return self.layers[-1].out_features

    @property
    def n_inputs(self) -> int:
        n = 1
        for s in self.input_shape:
            n *= s
        return n


_INT = re.compile(r"^[1-9]\d*$")
_IMG = re.compile(r"^([1-9]\d*)x([1-9]\d*)(?:x([1-9]\d*))?$")
_CONV = re.compile(r"^([1-9]\d*)c([1-9]\d*)$")
_POOL = re.compile(r"^([1-9]\d*)a$")


def _next_shape(shape: tuple[int, ...], layer: Layer, spec: str) -> tuple[int, ...]:
    if isinstance(layer, Dense):
        return (layer.out_features,)
    if len(shape) != 3:
        kind = "convolution" if isinstance(layer, Conv) else "pooling"
        raise SpecError(f"spec {spec!r}: {kind} layer needs an image input (HxW), not a flat vector of {shape[0]}")
    c, h, w = shape
    if isinstance(layer, Conv):
        if layer.kernel > h or layer.kernel > w:
            raise SpecError(f"spec {spec!r}: kernel {layer.kernel} is larger than the {h}x{w} map")
        return (layer.channels, h - layer.kernel + 1, w - layer.kernel + 1)
    if h % layer.kernel or w % layer.kernel:
        raise SpecError(f"spec {spec!r}: pooling window {layer.kernel} does not divide the {h}x{w} map")
    return (c, h // layer.kernel, w // layer.kernel)


def parse_spec(spec: str) -> Arch:
    """Parse a spec string into an :class:`Arch`; raise :class:`SpecError` naming the bad token."""
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError("empty architecture spec; expected e.g. '784-800-10' or '28x28-12c5-2a-64c5-2a-10'")
    tokens = spec.strip().split("-")
    if len(tokens) < 2:
        raise SpecError(f"spec {spec!r}: needs an input and at least one layer, e.g. '784-800-10'")
    head = tokens[0]
    if _INT.match(head):
        input_shape: tuple[int, ...] = (int(head),)
    elif m := _IMG.match(head):
        a, b, c = m.groups()
        input_shape = (1, int(a), int(b)) if c is None else (int(a), int(b), int(c))
    else:
        raise SpecError(f"spec {spec!r}: input {head!r} is not N, HxW or CxHxW")
    layers: list[Layer] = []
    for tok in tokens[1:]:
        if _INT.match(tok):
            layers.append(Dense(int(tok)))
        elif m := _CONV.match(tok):
            layers.append(Conv(int(m.group(1)), int(m.group(2))))
        elif m := _POOL.match(tok):
            layers.append(AvgPool(int(m.group(1))))
        else:
            raise SpecError(
                f"spec {spec!r}: layer {tok!r} is not N (dense), KcS (convolution) or Sa (average pooling)"
            )
    if not isinstance(layers[-1], Dense):
        raise SpecError(f"spec {spec!r}: the last layer must be dense (one output neuron per class)")
    arch = Arch(spec.strip(), input_shape, tuple(layers))
    arch.shapes()  # validates map sizes
    return arch
