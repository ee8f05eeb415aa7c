"""Your own torch ANN -> a spiking network: fold batch norm, check the chain, normalise, build simcore.

Accepted: an ``nn.Sequential`` (nested ones are flattened), or any module whose children, in
order, form such a chain (its forward is checked against the chain on a probe input, so a skip
connection or a reordered forward is caught). Layers: ``Linear``; ``Conv2d`` (groups 1, dilation
1, zero padding, equal stride and padding on both axes); ``ReLU`` after every hidden weighted
layer; ``AvgPool2d`` (stride = kernel, no padding) after the ReLU; ``Flatten``; ``Dropout`` and
``Identity`` (no effect at inference); ``BatchNorm1d``/``BatchNorm2d`` directly after a weighted
layer, folded into it with its running statistics, as conversion toolkits do::

    s = gamma / sqrt(running_var + eps);   W' = W * s (per output unit / map);   b' = (b - mean) * s + beta

Anything else (MaxPool2d, other activations, ...) stops with one :class:`ConversionError` line
naming the module. The folded chain is a :class:`FoldedANN`, which has the stage structure of
:class:`baselines.ann.ANN`, so every normalisation of :mod:`baselines.normalise` and the simcore
builder of :mod:`baselines.convert` apply unchanged.
"""
from __future__ import annotations

import copy
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.ann import ConversionError, StagedANN
from baselines.choices import INPUTS, RESETS
from baselines.convert import CONVERT_FILES, DEFAULT_ROBUST_SAMPLES, DEFAULT_T, conversion_neuron, convert_ann
from baselines.normalise import NORMS, applied_divisors
from baselines.torch_spec import build_chain, parse_chain
from learning.datafiles import data_files
from learning.datasets import load_dataset
from learning.graph_builder import population_names
from learning.io import load_arrays
from learning.models import FORMAT, MODEL_FILE
from learning.npz_data import provenance
from learning.spec import Stage
from simcore import Network, save_network
from simcore.fileio import write_json
from simcore.outputs import check_dir, output_dir
from simcore.provenance import environment

__all__ = ["ChainArch", "FoldedANN", "fold_chain", "convert_torch", "leaves", "load_torch_state", "convert_torch_state"]

_PASS = (nn.Dropout, nn.Identity)
_ALLOWED = "Linear, Conv2d, ReLU, AvgPool2d, Flatten, Dropout, BatchNorm1d/2d"


@dataclass(frozen=True)
class ChainArch:
    """What the graph builder (:func:`learning.graph_builder.build_graph`) reads of an architecture:
    a description, the input shape and the weighted stages (with their strides and paddings)."""

    spec: str
    input_shape: tuple[int, ...]
    stage_list: tuple[Stage, ...]

    def stages(self) -> list[Stage]:
        return list(self.stage_list)


def leaves(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """(name, module) of the chain's layers in order (children of containers, recursively)."""
    children = list(module.named_children())
    if not children:
        return [(prefix or type(module).__name__, module)]
    out = []
    for name, child in children:
        out += leaves(child, f"{prefix}.{name}" if prefix else name)
    return out


class FoldedANN(StagedANN):
    """A folded chain as stages (pool, flatten, weighted op, ReLU but the last), float64."""

    def __init__(self, arch: ChainArch, stages: list[Stage], layers: list[nn.Module]):
        super().__init__()
        self.arch, self.stages, self.layers, self.bias = arch, stages, nn.ModuleList(layers), True
        self.activation, self.levels = "relu", None  # as baselines.ann.ANN names them (QCFS is not folded)


def _fold_bn(layer: nn.Module, bn: nn.Module, name: str) -> None:
    """Fold batch norm ``bn`` into ``layer`` (a float64 copy) in place."""
    if bn.running_mean is None or bn.running_var is None:
        raise ConversionError(f"module {name} ({type(bn).__name__}) has no running statistics "
                              "(track_running_stats=False); cannot fold it")
    if bn.num_features != layer.weight.shape[0]:
        raise ConversionError(f"module {name} ({type(bn).__name__}) has {bn.num_features} features, "
                              f"the layer before it {layer.weight.shape[0]} outputs")
    with torch.no_grad():
        gamma = bn.weight.double() if bn.weight is not None else torch.ones(bn.num_features, dtype=torch.float64)
        beta = bn.bias.double() if bn.bias is not None else torch.zeros(bn.num_features, dtype=torch.float64)
        s = gamma / torch.sqrt(bn.running_var.double() + bn.eps)
        layer.weight.mul_(s.view(-1, *([1] * (layer.weight.dim() - 1))))
        layer.bias.copy_((layer.bias - bn.running_mean.double()) * s + beta)


def _weighted_copy(m: nn.Module, name: str) -> nn.Module:
    """A float64 copy of a Linear / Conv2d with a bias (zeros if it had none), checked."""
    if isinstance(m, nn.Conv2d):
        if m.groups != 1 or tuple(m.dilation) != (1, 1) or m.padding_mode != "zeros" or isinstance(m.padding, str):
            raise ConversionError(f"module {name} (Conv2d): only groups=1, dilation=1 and numeric zero padding "
                                  "can be converted")
        if m.stride[0] != m.stride[1] or m.padding[0] != m.padding[1]:
            raise ConversionError(f"module {name} (Conv2d): stride {m.stride} and padding {m.padding} must be "
                                  "equal on both axes")
        new = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride, padding=m.padding)
    else:
        new = nn.Linear(m.in_features, m.out_features)
    new = new.double()
    with torch.no_grad():
        new.weight.copy_(m.weight.double())
        new.bias.copy_(m.bias.double() if m.bias is not None else torch.zeros_like(new.bias))
    return new


def _pool_size(m: nn.AvgPool2d, name: str) -> int:
    k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
    ks = {m.kernel_size} if isinstance(m.kernel_size, int) else set(m.kernel_size)
    stride = m.stride if m.stride is not None else m.kernel_size
    ss = {stride} if isinstance(stride, int) else set(stride)
    pad = {m.padding} if isinstance(m.padding, int) else set(m.padding)
    if len(ks) != 1 or ss != ks or pad != {0} or m.ceil_mode or m.divisor_override is not None:
        raise ConversionError(f"module {name} (AvgPool2d): only square windows with stride = kernel, no padding, "
                              "ceil_mode=False can be converted")
    return int(k)


class _Chain:
    """State of the fold while walking the layers (one job: turn leaves into stages)."""

    def __init__(self, input_shape: tuple[int, ...]):
        self.shape, self.stages, self.layers = tuple(input_shape), [], []
        self.src = self.shape  # the source population's shape (input or previous stage), before pool/flatten
        self.pool, self.flatten, self.need_relu, self.bn_ok, self.last = 0, False, False, False, ""

    def weighted(self, name: str, m: nn.Module) -> None:
        if self.need_relu:
            raise ConversionError(f"module {name} ({type(m).__name__}) follows {self.last} without a ReLU between")
        layer = _weighted_copy(m, name)
        if isinstance(m, nn.Linear):
            if len(self.shape) != 1 or self.shape[0] != m.in_features:
                raise ConversionError(f"module {name} (Linear) takes {m.in_features} inputs but gets shape "
                                      f"{self.shape}{' (add nn.Flatten)' if len(self.shape) == 3 else ''}")
            self.shape = (m.out_features,)
            self.stages.append(Stage(self.pool, self.flatten, "dense", 0, self.src, self.shape))
        else:
            if len(self.shape) != 3 or self.shape[0] != m.in_channels:
                raise ConversionError(f"module {name} (Conv2d) takes {m.in_channels} channels but gets shape {self.shape}")
            (k0, k1), s, p = m.kernel_size, m.stride[0], m.padding[0]
            h, w = (self.shape[1] + 2 * p - k0) // s + 1, (self.shape[2] + 2 * p - k1) // s + 1
            self.shape = (m.out_channels, h, w)
            self.stages.append(Stage(self.pool, False, "conv", int(k0), self.src, self.shape, int(s), int(p)))
        self.layers.append(layer)
        self.src = self.shape
        self.pool, self.flatten, self.need_relu, self.bn_ok, self.last = 0, False, True, True, name

    def add(self, name: str, m: nn.Module) -> None:
        kind = type(m).__name__
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            return self.weighted(name, m)
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if not self.bn_ok:
                raise ConversionError(f"module {name} ({kind}) does not directly follow a Linear/Conv2d; "
                                      "only batch norm right after a weighted layer can be folded")
            _fold_bn(self.layers[-1], m, name)
            self.bn_ok = False
        elif isinstance(m, nn.ReLU):
            if not self.layers:
                raise ConversionError(f"module {name} (ReLU) comes before any Linear/Conv2d layer")
            self.need_relu = self.bn_ok = False
        elif isinstance(m, nn.AvgPool2d):
            if self.need_relu:
                raise ConversionError(f"module {name} (AvgPool2d) comes before the ReLU of {self.last}; "
                                      "pool after the activation")
            if self.pool or self.flatten or len(self.shape) != 3:
                raise ConversionError(f"module {name} (AvgPool2d) must follow a ReLU'd map directly")
            self.pool = _pool_size(m, name)
            self.shape = (self.shape[0], self.shape[1] // self.pool, self.shape[2] // self.pool)
        elif isinstance(m, nn.Flatten):
            if m.start_dim != 1 or m.end_dim != -1:
                raise ConversionError(f"module {name} (Flatten): only start_dim=1, end_dim=-1 can be converted")
            self.flatten = self.flatten or len(self.shape) == 3
            self.shape = (int(np.prod(self.shape)),)
        elif not isinstance(m, _PASS):
            raise ConversionError(f"module {name} ({kind}) cannot be converted; a rate-coded IF network holds only "
                                  f"{_ALLOWED}")
        if not isinstance(m, _PASS):  # batch norm folds only into the layer right before it
            self.bn_ok = False


def fold_chain(module: nn.Module, input_shape: tuple[int, ...], description: str | None = None) -> FoldedANN:
    """Fold a torch ANN into a :class:`FoldedANN` (float64 copies; ``module`` is not changed).

    input_shape: one sample's shape, (D,) or (C, H, W). ConversionError (one line) for a layer that
    cannot be converted, or a module whose forward is not the chain of its children."""
    chain = _Chain(tuple(int(n) for n in input_shape))
    for name, m in leaves(module):
        chain.add(name, m)
    if not chain.layers:
        raise ConversionError("the module has no Linear or Conv2d layer")
    if chain.pool or chain.flatten:
        raise ConversionError(f"the chain must end with its output layer (Linear/Conv2d), not pooling or flatten")
    spec = description or " -> ".join(type(m).__name__ for _, m in leaves(module))
    folded = FoldedANN(ChainArch(spec, tuple(input_shape), tuple(chain.stages)), chain.stages, chain.layers)
    _check_forward(module, folded, chain.need_relu)
    return folded


def _check_forward(module: nn.Module, folded: FoldedANN, ends_linear: bool) -> None:
    """ConversionError unless module(x) equals the folded chain on a probe batch (eval mode, float64)."""
    probe = torch.rand((4, *folded.arch.input_shape), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    try:
        with torch.no_grad():
            want = copy.deepcopy(module).double().eval()(probe).reshape(4, -1)
    except Exception as e:  # the user's forward: report whatever it raised, in one line
        raise ConversionError(f"the module's forward fails on input of shape {tuple(probe.shape)}: "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    with torch.no_grad():
        got = folded(probe.reshape(4, -1)).reshape(4, -1)
    if not ends_linear:
        got = F.relu(got)
    if want.shape != got.shape or not torch.allclose(want, got, rtol=1e-6, atol=1e-9 * (1 + float(want.abs().max()))):
        raise ConversionError("the module's forward is not the chain of its children in order "
                              "(a skip connection or a custom forward?); only plain chains can be converted")


def convert_torch(module: nn.Module, input_shape: tuple[int, ...], norm: str = "robust", x_norm=None, *,
                  percentile: float = 99.9, reset: str = "subtract", previous: str = "scale_factor",
                  ) -> tuple[Network, list[float], FoldedANN]:
    """Convert a torch ANN: fold, normalise (``norm`` "model" | "data" | "robust" on x_norm (N, D)
    training intensities), build the simcore network. Returns (network, lambdas, folded ANN)."""
    folded = fold_chain(module, input_shape)
    xn = None if x_norm is None else np.asarray(x_norm, dtype=np.float64).reshape(len(x_norm), -1)
    graph, lambdas = convert_ann(folded, norm, xn, percentile=percentile, reset=reset, previous=previous)
    return graph, lambdas, folded


def load_torch_state(path: str | os.PathLike, spec: str) -> nn.Sequential:
    """The nn.Sequential of a chain spec (:mod:`baselines.torch_spec`) with the weights of a
    safetensors state dict (never a pickle), in eval mode. ConversionError for any mismatch."""
    arrays = load_arrays(path)
    model = build_chain(spec, set(arrays))
    expected = model.state_dict()
    missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ConversionError(f"{path}: state dict does not match chain {spec!r} (missing {missing}, unexpected {extra})")
    for key, value in expected.items():
        if tuple(arrays[key].shape) != tuple(value.shape):
            raise ConversionError(f"{path}: {key} has shape {tuple(arrays[key].shape)}, chain {spec!r} needs "
                                  f"{tuple(value.shape)}")
    model.load_state_dict({k: torch.from_numpy(np.array(v)).to(expected[k].dtype) for k, v in arrays.items()})
    return model.eval()


def convert_torch_state(state_path: str | os.PathLike, spec: str, dataset: str, norm: str,
                        out_dir: str | os.PathLike, *, percentile: float | None = None, reset: str = "subtract",
                        input: str = "poisson", data_dir=None, norm_samples: int | None = None, seed: int = 0,
                        split_seed: int = 0, T: int = DEFAULT_T) -> dict:
    """``spikecount convert --torch-state``: convert a safetensors state dict of a chain spec and write a
    converted model directory (graph + model.json, kind "converted", as :func:`baselines.convert.convert`).

    The ANN's test accuracy on ``dataset`` is measured and recorded (``ann_test_accuracy``)."""
    if not (spec and dataset):
        raise ValueError("--torch-state needs --arch (a chain spec, e.g. 1x8x8-8c3p1-bn-relu-2a-flatten-10) and --dataset")
    if norm not in NORMS or reset not in RESETS or input not in INPUTS:
        raise ValueError(f"norm must be one of {NORMS}, reset one of {RESETS}, input one of {tuple(INPUTS)}")
    if norm != "robust" and percentile is not None:
        raise ValueError("percentile applies only to norm 'robust'")
    out = Path(out_dir)
    check_dir(out, "convert", adopt=CONVERT_FILES)  # refuse before the work; output_dir claims it below
    model = load_torch_state(state_path, spec)
    shape = parse_chain(spec)[0]
    limit = norm_samples or (DEFAULT_ROBUST_SAMPLES if norm == "robust" else None)
    train = load_dataset(dataset, "train", data_dir, split_seed=split_seed, limit=limit)
    test = load_dataset(dataset, "test", data_dir, split_seed=split_seed)
    if train.x.shape[1] != int(np.prod(shape)):
        raise ConversionError(f"chain {spec!r} takes {int(np.prod(shape))} inputs, {dataset} has {train.x.shape[1]}")
    pct = 99.9 if percentile is None else float(percentile)
    graph, lambdas, folded = convert_torch(model, shape, norm, None if norm == "model" else train.x, percentile=pct,
                                           reset=reset)
    with torch.no_grad():
        logits = folded(torch.from_numpy(test.x.astype(np.float64)))
    info = {"format": FORMAT, "kind": "converted", "arch": spec, "source": "torch", "torch_state": str(state_path),
            "torch_state_sha256": hashlib.sha256(Path(state_path).read_bytes()).hexdigest(), "dataset": dataset,
            "norm": norm, "percentile": pct if norm == "robust" else None, "reset": reset,
            "input": "analog" if INPUTS[input] == "analog" else "poisson", "encoding": INPUTS[input],
            "bias_mode": "current", "theta": 1.0, "neuron": conversion_neuron(reset).to_dict(), "max_rate": 1.0,
            "T": int(T),
            "scale_factors": [float(v) for v in lambdas], "applied_divisors": applied_divisors(lambdas),
            "populations": population_names(folded.arch),
            "ann_test_accuracy": float(np.mean(logits.argmax(1).numpy() == test.y)),
            "norm_samples": len(train.x) if norm != "model" else None, "split_seed": split_seed, "seed": int(seed),
            "data_dir": None if data_dir is None else str(Path(data_dir).resolve()),
            "data_files": data_files(dataset, data_dir), **provenance(dataset), **environment()}
    with output_dir(out, "convert", adopt=CONVERT_FILES):
        save_network(graph, out)
        write_json(out / MODEL_FILE, info)
    return info
