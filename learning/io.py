"""Spike-count network directories (kind "snn", :mod:`learning.models`): ``model.json``
(architecture, ``theta`` and ``neuron`` (:meth:`simcore.neuron.NeuronParams.to_dict`), provenance) plus ``weights.safetensors`` (arrays that numpy reads without torch: ``safetensors.numpy.load_file``).

Weight names: ``layers.{k}.weight`` ((out, in) for dense, (C_out, C_in, k, k) for convolution) and
``layers.{k}.bias`` for the k-th weighted stage. A model trained with k-bit weights (model.json
``weight_bits``) stores ``layers.{k}.weight_int`` (int8, levels in -(2^(k-1)-1)..2^(k-1)-1) and
``layers.{k}.weight_scale`` (float64, shape (1,), a power of two) instead of ``layers.{k}.weight``;
loading gives back the quantised weights ``int * scale`` exactly (the float shadow weights of
training are only in the checkpoint). No pickle anywhere; every write is atomic.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
import torch

from learning.export import to_graph
from learning.model import SpikingNet
from learning.models import FORMAT, MODEL_FILE, Loaded
from learning.quantise import qmax, quantise_int
from learning.spec import parse_spec
from simcore.fileio import atomic_write, write_json
from simcore.neuron import NeuronParams

__all__ = ["WEIGHTS_FILE", "save_model", "load_snn", "save_arrays", "load_arrays"]

WEIGHTS_FILE = "weights.safetensors"


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write named numpy arrays to a safetensors file atomically."""
    data = safetensors.numpy.save({k: np.ascontiguousarray(v) for k, v in arrays.items()})
    atomic_write(path, lambda f: f.write(data))


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a safetensors file; a clear ValueError if it is missing or corrupt, or holds NaN/inf."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"weights file not found: {path}")
    try:
        arrays = safetensors.numpy.load(path.read_bytes())
    except Exception as e:  # safetensors raises its own error types for truncated/corrupt headers
        raise ValueError(f"{path}: corrupt weights file ({e})") from None
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{path}: {name} contains NaN or infinite values")
    return arrays


def state_arrays(net: SpikingNet) -> dict[str, np.ndarray]:
    arrays = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    bits = getattr(net, "weight_bits", None)
    if bits is not None:  # k-bit weights: integers plus a power-of-two scale per layer
        for k, module in enumerate(net.layers):
            levels, scale = quantise_int(module.weight, bits)
            del arrays[f"layers.{k}.weight"]
            arrays[f"layers.{k}.weight_int"] = levels.numpy().astype(np.int8)
            arrays[f"layers.{k}.weight_scale"] = np.array([scale], dtype=np.float64)
    return arrays


def _dequantise(arrays: dict[str, np.ndarray], bits: int, where) -> dict[str, np.ndarray]:
    """Replace weight_int/weight_scale pairs by float64 weights int * scale (checked against bits)."""
    out = {k: v for k, v in arrays.items() if not k.endswith((".weight_int", ".weight_scale"))}
    for name in [k for k in arrays if k.endswith(".weight_int")]:
        stem = name[: -len("_int")]
        levels, scale = arrays[name], arrays.get(stem + "_scale")
        if scale is None or scale.shape != (1,):
            raise ValueError(f"{where}: {name} without a {stem}_scale of shape (1,)")
        if levels.size and int(np.abs(levels.astype(np.int64)).max()) > qmax(bits):
            raise ValueError(f"{where}: {name} has levels outside +-{qmax(bits)} ({bits}-bit weights)")
        out[stem] = levels.astype(np.float64) * float(scale[0])
    return out


def save_model(out_dir: str | os.PathLike, net: SpikingNet, meta: dict[str, Any]) -> Path:
    """Save a trained network and its metadata (must include T and dataset) into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_arrays(out / WEIGHTS_FILE, state_arrays(net))
    if getattr(net, "weight_bits", None) is not None:
        meta = {**meta, "weight_bits": net.weight_bits}
    write_json(out / MODEL_FILE, {"format": FORMAT, "kind": "snn", "arch": net.arch.spec, "theta": net.theta,
                                  "neuron": net.neuron.to_dict(), **meta})
    return out


def load_snn(path: Path, meta: dict) -> Loaded:
    """Loader of kind "snn" (:mod:`learning.models`): the float64 tensor model and its simcore graph."""
    net = _read_net(path, meta)
    return Loaded("snn", path, meta, net, to_graph(net))


def _read_net(model_dir: str | os.PathLike, meta: dict) -> SpikingNet:
    """The float64 spike-count network of a model directory whose model.json is ``meta`` (kind "snn")."""
    if not isinstance(meta.get("theta"), (int, float)):
        raise ValueError(f"{model_dir}: model.json field 'theta' (threshold) missing or not a number")
    bits = meta.get("weight_bits")
    try:  # models saved before the neuron was recorded have theta only: the paper's neuron
        neuron = (NeuronParams.from_dict(meta["neuron"]) if "neuron" in meta
                  else NeuronParams(float(meta["theta"]), bias_mode=meta.get("bias_mode", "initial")))
        net = SpikingNet(parse_spec(meta["arch"]), theta=float(meta["theta"]), weight_bits=bits, neuron=neuron)
    except ValueError as e:
        raise ValueError(f"{model_dir}: {e}") from None
    arrays = load_arrays(Path(model_dir) / WEIGHTS_FILE)
    if bits is not None:
        arrays = _dequantise(arrays, int(bits), model_dir)
    expected = net.state_dict()
    if set(arrays) != set(expected):
        raise ValueError(
            f"{model_dir}: weights do not match architecture {meta['arch']!r} "
            f"(expected {sorted(expected)}, found {sorted(arrays)})"
        )
    for name, a in arrays.items():
        if tuple(a.shape) != tuple(expected[name].shape):
            raise ValueError(
                f"{model_dir}: {name} has shape {a.shape}, architecture needs {tuple(expected[name].shape)}"
            )
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})
    return net.to(torch.float64)
