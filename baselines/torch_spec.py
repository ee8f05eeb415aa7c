"""Chain spec strings: a ``torch.nn.Sequential`` written as one line, for ``convert --torch-state``.

Grammar (tokens separated by ``-``; one token = one module of the Sequential, in order)::

    input   := N | HxW | CxHxW            the shape of one sample (HxW means 1xHxW)
    N       nn.Linear(in, N)               (the input must be flat: put ``flatten`` after a map)
    KcS     nn.Conv2d(in, K, S)            optional ``sT`` stride and ``pP`` padding: 16c3p1, 32c3s2p1
    Sa      nn.AvgPool2d(S)                (stride S)
    bn      nn.BatchNorm1d / nn.BatchNorm2d, by the shape it receives
    relu    nn.ReLU()
    flatten nn.Flatten()
    drop    nn.Dropout()                   (no effect at inference)

Example: ``1x8x8-8c3p1-bn-relu-2a-16c3-bn-relu-flatten-10``. The state-dict keys are torch's for
that Sequential: ``{i}.weight``, ``{i}.bias`` (Linear, Conv2d; a layer without ``{i}.bias`` in
the file is built with ``bias=False``), ``{i}.weight``, ``{i}.bias``, ``{i}.running_mean``,
``{i}.running_var``, ``{i}.num_batches_tracked`` (BatchNorm; weight and bias absent: affine=False),
where ``i`` is the token's position counted from 0 after the input. So
``safetensors.torch.save_file(model.state_dict(), path)`` of an ``nn.Sequential`` with these
layers in this order writes a matching file.
"""
from __future__ import annotations

import re

from torch import nn

from baselines.ann import ConversionError

__all__ = ["parse_chain", "build_chain"]

_INT = re.compile(r"^[1-9]\d*$")
_IMG = re.compile(r"^([1-9]\d*)x([1-9]\d*)(?:x([1-9]\d*))?$")
_CONV = re.compile(r"^([1-9]\d*)c([1-9]\d*)(?:s([1-9]\d*))?(?:p(\d+))?$")
_POOL = re.compile(r"^([1-9]\d*)a$")


def parse_chain(spec: str) -> tuple[tuple[int, ...], list[tuple]]:
    """(input shape, layer tokens as tuples) of a chain spec; ConversionError naming a bad token."""
    if not isinstance(spec, str) or "-" not in spec:
        raise ConversionError(f"chain spec {spec!r}: expected e.g. '1x8x8-8c3p1-bn-relu-2a-flatten-10'")
    head, *tokens = spec.strip().split("-")
    if _INT.match(head):
        shape: tuple[int, ...] = (int(head),)
    elif m := _IMG.match(head):
        a, b, c = m.groups()
        shape = (1, int(a), int(b)) if c is None else (int(a), int(b), int(c))
    else:
        raise ConversionError(f"chain spec {spec!r}: input {head!r} is not N, HxW or CxHxW")
    layers = []
    for tok in tokens:
        if _INT.match(tok):
            layers.append(("linear", int(tok)))
        elif m := _CONV.match(tok):
            layers.append(("conv", int(m[1]), int(m[2]), int(m[3] or 1), int(m[4] or 0)))
        elif m := _POOL.match(tok):
            layers.append(("avgpool", int(m[1])))
        elif tok in ("bn", "relu", "flatten", "drop"):
            layers.append((tok,))
        else:
            raise ConversionError(f"chain spec {spec!r}: layer {tok!r} is not N, KcS[sT][pP], Sa, bn, relu, "
                                  "flatten or drop")
    return shape, layers


def build_chain(spec: str, keys: set[str] | None = None) -> nn.Sequential:
    """The nn.Sequential of a chain spec; ``keys`` (a state dict's) decides bias / affine presence."""
    shape, layers = parse_chain(spec)
    keys = set() if keys is None else keys
    modules: list[nn.Module] = []
    for i, layer in enumerate(layers):
        kind, has_bias = layer[0], f"{i}.bias" in keys
        if kind == "linear":
            if len(shape) != 1:
                raise ConversionError(f"chain spec {spec!r}: layer {i} (Linear) gets a {shape} map; put 'flatten' first")
            modules.append(nn.Linear(shape[0], layer[1], bias=has_bias))
            shape = (layer[1],)
        elif kind == "conv":
            if len(shape) != 3:
                raise ConversionError(f"chain spec {spec!r}: layer {i} (Conv2d) needs a CxHxW map, gets {shape}")
            _, k, s, p = layer[1:]
            modules.append(nn.Conv2d(shape[0], layer[1], k, stride=s, padding=p, bias=has_bias))
            h, w = ((n + 2 * p - k) // s + 1 for n in shape[1:])
            if h < 1 or w < 1:
                raise ConversionError(f"chain spec {spec!r}: layer {i} (Conv2d {k}x{k}) is larger than its input")
            shape = (layer[1], h, w)
        elif kind == "avgpool":
            if len(shape) != 3 or shape[1] < layer[1] or shape[2] < layer[1]:
                raise ConversionError(f"chain spec {spec!r}: layer {i} (AvgPool2d {layer[1]}) needs a map of at "
                                      f"least {layer[1]}x{layer[1]}, gets {shape}")
            modules.append(nn.AvgPool2d(layer[1]))
            shape = (shape[0], shape[1] // layer[1], shape[2] // layer[1])
        elif kind == "bn":
            bn = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
            modules.append(bn(shape[0], affine=f"{i}.weight" in keys or not keys))
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "flatten":
            modules.append(nn.Flatten())
            n = 1
            for d in shape:
                n *= d
            shape = (n,)
        else:
            modules.append(nn.Dropout())
    return nn.Sequential(*modules)
