"""The network file format: ``graph.json`` (structure) + ``weights.npz`` (arrays) in a directory.

``graph.json`` (format "simcore-network", version 2)::

    {"format": "simcore-network", "version": 2,
     "populations": [{"name": "input", "kind": "input", "shape": [784]},
                     {"name": "fc1", "kind": "neurons", "shape": [800],
                      "neuron": {NeuronParams fields}, "bias": "pop1_bias"}, ...],
     "projections": [{"src": "input", "tgt": "fc1", "delay": 0,
                      "ops": [{"type": "Dense", "weight": "proj0_op0_weight"}, ...]}, ...]}

Array entries name keys of ``weights.npz``. Version 1 files (``bias_mode``/``reset`` per
population, per-neuron ``pop{k}_threshold`` arrays) still load; their thresholds must be one value
per population. :func:`save_network` writes the two files INTO ``path`` (created if missing), each
atomically (temp file + rename in that directory); it never removes or replaces anything else --
whether a directory may be written is the caller's decision.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from simcore.fileio import atomic_write
from simcore.network import Network, Population, Projection
from simcore.neuron import NeuronError, NeuronParams
from simcore.ops import OPS, GraphError

__all__ = ["FORMAT", "VERSION", "save_network", "load_network"]

FORMAT = "simcore-network"
VERSION = 2


def save_network(net: Network, path: str | os.PathLike) -> Path:
    """Write ``path/graph.json`` and ``path/weights.npz`` (each atomically); returns ``path``."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    pops = []
    for k, p in enumerate(net.population_records):
        entry = {"name": p.name, "kind": "input" if p.is_input else "neurons", "shape": list(p.shape)}
        if not p.is_input:
            entry["neuron"] = p.neuron.to_dict()
            entry["bias"] = f"pop{k}_bias"
            arrays[entry["bias"]] = p.bias
        pops.append(entry)
    projs = []
    for j, p in enumerate(net.projections):
        ops = []
        for k, op in enumerate(p.ops):
            e = {"type": op.kind, **op.params()}
            for key, arr in op.arrays().items():
                e[key] = f"proj{j}_op{k}_{key}"
                arrays[e[key]] = arr
            ops.append(e)
        projs.append({"src": p.src, "tgt": p.tgt, "delay": p.delay, "ops": ops})
    doc = {"format": FORMAT, "version": VERSION, "populations": pops, "projections": projs}
    text = json.dumps(doc, indent=1)
    path.mkdir(parents=True, exist_ok=True)
    atomic_write(path / "weights.npz", lambda f: np.savez(f, **arrays))
    atomic_write(path / "graph.json", lambda f: f.write(text + "\n"), mode="w")
    return path


def _array(z, key, path) -> np.ndarray:
    if not isinstance(key, str) or key not in z.files:
        raise GraphError(f"{path}: weights.npz has no array {key!r}")
    return z[key]


def _population(e: dict, k: int, version: int, z, path) -> Population:
    name, shape = e["name"], tuple(e["shape"])
    if e["kind"] == "input":
        return Population(name, shape)
    if e["kind"] != "neurons":
        raise GraphError(f"{path}: population '{name}' has unknown kind {e['kind']!r}")
    try:
        if version == 1:
            thr = np.unique(_array(z, f"pop{k}_threshold", path))
            if thr.size != 1:
                raise GraphError(f"{path}: population '{name}' has {thr.size} different thresholds; "
                                 "a population has one threshold (NeuronParams.threshold)")
            neuron = NeuronParams(threshold=float(thr[0]), bias_mode=e["bias_mode"], reset=e["reset"])
            bias = _array(z, f"pop{k}_bias", path)
        else:
            neuron = NeuronParams.from_dict(e["neuron"])
            bias = _array(z, e["bias"], path)
    except NeuronError as err:
        raise GraphError(f"{path}: population '{name}': {err}") from None
    return Population(name, shape, neuron, bias)


def _op(o: dict, z, path):
    t = o.get("type")
    if t not in OPS:
        raise GraphError(f"{path}: unknown op type {t!r}")
    kw = {key: (_array(z, v, path) if key == "weight" else v) for key, v in o.items() if key != "type"}
    return OPS[t](**kw)


def load_network(path: str | os.PathLike) -> Network:
    """Read a network written by :func:`save_network` (version 2) or an older version-1 file;
    GraphError (one line naming the directory) for any missing, malformed or inconsistent content."""
    try:
        return _load(Path(path))
    except GraphError as e:
        raise GraphError(str(e) if str(e).startswith(os.fspath(path)) else f"{path}: {e}") from None
    except (ValueError, TypeError, IndexError, AttributeError, OverflowError, OSError, EOFError,
            zipfile.BadZipFile) as e:
        raise GraphError(f"{path}: malformed graph.json or weights.npz ({type(e).__name__}: {e})") from None


def _load(path: Path) -> Network:
    try:
        doc = json.loads((path / "graph.json").read_text())
    except FileNotFoundError:
        raise GraphError(f"{path}: no graph.json (not a simcore network directory)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise GraphError(f"{path}/graph.json: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise GraphError(f"{path}: not a simcore network (graph.json format {found!r})")
    version = doc.get("version")
    if version not in (1, VERSION):
        raise GraphError(f"{path}: unsupported simcore-network version {version!r} (this simcore reads 1 and {VERSION})")
    try:
        z = np.load(path / "weights.npz", allow_pickle=False)
    except FileNotFoundError:
        raise GraphError(f"{path}: no weights.npz") from None
    try:
        with z:
            pops = [_population(e, k, version, z, path) for k, e in enumerate(doc["populations"])]
            projs = [Projection(e["src"], e["tgt"], tuple(_op(o, z, path) for o in e["ops"]), e["delay"])
                     for e in doc["projections"]]
    except KeyError as e:
        raise GraphError(f"{path}/graph.json: lacks {e}") from None
    except TypeError as e:
        raise GraphError(f"{path}/graph.json: malformed ({type(e).__name__}: {e})") from None
    return Network.from_records(pops, projs)
