"""Model directories: ``model.json`` (architecture, neuron parameters, provenance) plus
``weights.safetensors`` (arrays that numpy reads without torch: ``safetensors.numpy.load_file``).

Weight names: ``layers.{k}.weight`` ((out, in) for dense, (C_out, C_in, k, k) for convolution) and
``layers.{k}.bias`` for the k-th weighted stage. No pickle anywhere; every write is atomic.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
import torch

from learning.model import SpikingNet
from learning.spec import parse_spec
from simcore.fileio import atomic_write, read_json, write_json

__all__ = ["MODEL_FILE", "WEIGHTS_FILE", "save_model", "load_model", "read_meta", "save_arrays", "load_arrays"]

MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.safetensors"
FORMAT = "spikecount-model"


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
    return {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}


def save_model(out_dir: str | os.PathLike, net: SpikingNet, meta: dict[str, Any]) -> Path:
    """Save a trained network and its metadata (must include T and dataset) into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_arrays(out / WEIGHTS_FILE, state_arrays(net))
    write_json(out / MODEL_FILE, {"format": FORMAT, "kind": "snn", "arch": net.arch.spec, "theta": net.theta, **meta})
    return out


def read_meta(model_dir: str | os.PathLike) -> dict[str, Any]:
    """The model.json of a model directory, checked for the fields every model has."""
    path = Path(model_dir) / MODEL_FILE
    meta = read_json(path, "model description")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a spikecount model description (format field missing or wrong)")
    for key in ("kind", "arch"):
        if key not in meta:
            raise ValueError(f"{path}: missing field {key!r}")
    return meta


def load_model(model_dir: str | os.PathLike, dtype: torch.dtype = torch.float32) -> tuple[SpikingNet, dict]:
    """Load a saved spike-count network (kind "snn") and its metadata."""
    meta = read_meta(model_dir)
    if meta["kind"] != "snn":
        raise ValueError(f"{model_dir}: holds a model of kind {meta['kind']!r}, not a spike-count network")
    net = SpikingNet(parse_spec(meta["arch"]), theta=float(meta["theta"]))
    arrays = load_arrays(Path(model_dir) / WEIGHTS_FILE)
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
    return net.to(dtype), meta
