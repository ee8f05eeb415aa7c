"""The ANN twin of a spec string: a ReLU network with the same stages as :class:`learning.model.SpikingNet`.

A network is a list of *stages*, exactly as in the spiking model: parameter-free linear ops
(average pooling ``Sa``, flatten before a dense layer that follows a map), then a weighted op
(dense, or 2-D convolution with stride 1 and no padding), then ReLU -- except after the last
(output) stage, which gives linear logits. Parameter names are the spiking model's:
``layers.{k}.weight`` ((out, in) dense, (C_out, C_in, k, k) convolution) and ``layers.{k}.bias``
(absent when the net is built with ``bias=False``), so one weights file format serves both.
``activation="qcfs"`` (with ``levels`` L) replaces the hidden ReLUs by the QCFS activation of
:mod:`baselines.qcfs`, with one trainable threshold per hidden stage (``thresholds.{k}``).

Model directory (``kind: "ann"``): ``model.json`` (format "spikecount-model", kind, arch, dataset,
bias, activation, levels, seed, split_seed, test_accuracy, ...) + ``weights.safetensors`` (float32 arrays).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from learning.io import WEIGHTS_FILE, load_arrays, save_arrays
from learning.model import build_stages, stage_input
from learning.models import FORMAT, MODEL_FILE, Loaded
from baselines.qcfs import DEFAULT_LAMBDA, qcfs
from learning.spec import Arch, SpecError, parse_spec
from simcore.fileio import write_json

__all__ = ["ACTIVATIONS", "ANN", "ConversionError", "parse_convertible", "save_ann", "load_ann_model", "check_arrays"]


class ConversionError(ValueError):
    """An ANN that cannot be converted (or loaded): one-line message naming the problem."""


ACTIVATIONS = ("relu", "qcfs")
_MAXPOOL = re.compile(r"^(-?\d+)m$")
_POOL = re.compile(r"^(-?\d+)a$")


def parse_convertible(spec: str) -> Arch:
    """Parse a spec string, raising :class:`ConversionError` for layers a rate-coded IF network cannot
    hold (max pooling, a non-positive pooling size, anything outside the spec grammar)."""
    if not isinstance(spec, str):
        raise ConversionError(f"architecture must be a spec string, got {spec!r}")
    for tok in spec.strip().split("-")[1:]:
        if m := _MAXPOOL.match(tok):
            raise ConversionError(f"spec {spec!r}: layer {tok!r} (max pooling) is not supported; "
                                  "only average pooling ('Sa') is linear and convertible")
        if (m := _POOL.match(tok)) and int(m.group(1)) < 1:
            raise ConversionError(f"spec {spec!r}: pooling size must be a positive integer, got {m.group(1)}")
    if re.search(r"--\d+a(-|$)", spec):
        raise ConversionError(f"spec {spec!r}: pooling size must be a positive integer (negative size)")
    try:
        arch = parse_spec(spec)
    except SpecError as e:
        raise ConversionError(f"unsupported architecture: {e}") from None
    try:
        arch.stages()
    except SpecError as e:
        raise ConversionError(str(e)) from None
    return arch


class StagedANN(nn.Module):
    """Stages (pool, flatten, weighted op) run in turn, ``hidden`` applied after all but the last.

    A subclass sets ``arch`` (with ``input_shape``), ``stages`` and ``layers``.
    """

    def hidden(self, a: torch.Tensor, k: int) -> torch.Tensor:
        """The activation of hidden stage ``k``: ReLU unless a subclass says otherwise."""
        return F.relu(a)

    def activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Per stage output for x (B, D): activations (B, *shape) of hidden stages, logits (B, C) last."""
        a = x.reshape(x.shape[0], *self.arch.input_shape)
        out = []
        for k, (stage, module) in enumerate(zip(self.stages, self.layers)):
            a = module(stage_input(stage, a))
            if k < len(self.layers) - 1:
                a = self.hidden(a, k)
            out.append(a)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activations(x)[-1]


class ANN(StagedANN):
    """ReLU (or QCFS) twin of a spec: ``forward(x)`` takes (B, D) analog intensities, returns (B, C) logits."""

    def __init__(self, arch: Arch | str, bias: bool = True, activation: str = "relu", levels: int | None = None):
        super().__init__()
        if isinstance(arch, str):
            arch = parse_convertible(arch)
        if activation not in ACTIVATIONS:
            raise ConversionError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if (activation == "qcfs") != (levels is not None) or (levels is not None and (
                int(levels) != levels or levels < 1)):
            raise ConversionError(f"activation 'qcfs' needs levels (an integer >= 1) and 'relu' none, got {levels!r}")
        self.arch, self.bias = arch, bool(bias)
        self.activation, self.levels = activation, None if levels is None else int(levels)
        self.stages, self.layers = build_stages(arch, bias=self.bias)
        if activation == "qcfs":
            self.thresholds = nn.ParameterList(
                [nn.Parameter(torch.tensor([DEFAULT_LAMBDA])) for _ in range(len(self.layers) - 1)])

    def hidden(self, a: torch.Tensor, k: int) -> torch.Tensor:
        """ReLU, or QCFS with stage ``k``'s trained threshold."""
        return F.relu(a) if self.activation == "relu" else qcfs(a, self.thresholds[k], self.levels)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.state_dict().items()}


def check_arrays(arch: Arch, bias: bool, arrays: dict[str, np.ndarray], where: str, activation: str = "relu",
                 levels: int | None = None) -> None:
    """ConversionError unless ``arrays`` has exactly the keys and shapes of ``ANN(arch, bias, activation, levels)``."""
    expected = {k: tuple(v.shape) for k, v in ANN(arch, bias, activation, levels).state_dict().items()}
    if set(arrays) != set(expected):
        missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
        raise ConversionError(
            f"{where}: weights do not match architecture {arch.spec!r} with bias={bias} "
            f"(missing {missing}, unexpected {extra})")
    for name, shape in expected.items():
        if tuple(arrays[name].shape) != shape:
            raise ConversionError(
                f"{where}: {name} has shape {tuple(arrays[name].shape)}, architecture {arch.spec!r} needs {shape}")


def save_ann(out_dir: str | os.PathLike, net: ANN, meta: dict) -> Path:
    """Write ``model.json`` (kind "ann") and ``weights.safetensors`` into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_arrays(out / WEIGHTS_FILE, net.arrays())
    write_json(out / MODEL_FILE, {"format": FORMAT, "kind": "ann", "arch": net.arch.spec, "bias": net.bias,
                                  "activation": net.activation, "levels": net.levels, **meta})
    return out


def load_ann_model(model_dir: Path, meta: dict) -> Loaded:
    """Loader of kind "ann" (:mod:`learning.models`): the float64 ANN, in eval mode; ConversionError
    (a ValueError) if it is not a valid ANN."""
    arch = parse_convertible(meta["arch"])
    bias = meta.get("bias", True)
    if not isinstance(bias, bool):
        raise ConversionError(f"{model_dir}: model.json field 'bias' must be true or false, got {bias!r}")
    activation, levels = meta.get("activation", "relu"), meta.get("levels")
    if activation not in ACTIVATIONS:
        raise ConversionError(f"{model_dir}: model.json field 'activation' must be one of {ACTIVATIONS}, got {activation!r}")
    arrays = load_arrays(Path(model_dir) / WEIGHTS_FILE)
    check_arrays(arch, bias, arrays, str(model_dir), activation, levels)
    net = ANN(arch, bias, activation, levels)
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})
    return Loaded("ann", model_dir, meta, net.to(torch.float64).eval(), None)
