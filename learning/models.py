"""Model directories: one format, one loader, a registry of model kinds.

A model directory holds ``model.json`` (``format: "spikecount-model"``, ``kind``, ``arch`` and the
kind's own fields) beside the kind's files; a bare simcore graph directory (``graph.json`` +
``weights.npz``, no model.json) counts as kind ``"graph"``. :func:`load` reads model.json, looks
the kind up and returns a :class:`Loaded`; anything else (missing directory, corrupt or foreign
model.json, unknown kind) is ONE ValueError line naming the path and the problem.

Kinds and where their loaders live (a loader is ``(path, meta) -> Loaded``)::

    snn        learning.io:load_snn               spike-count network (tensor model + its graph)
    graph      learning.models:load_graph         a simcore graph directory
    ann        baselines.ann:load_ann_model       ReLU twin (registered by baselines)
    converted  baselines.convert:load_converted_model
    nir        learning.models:load_nir_file      a NIR file (``.nir``, a FILE, not a directory)

learning cannot import baselines (layering), so kinds are found three ways, in this order: kinds
registered in this process with :func:`register` (``import baselines`` registers its own; the
built-in kinds are registered below), then the ``spikecount.model_kinds`` entry-point group of the
installed distributions (pyproject.toml; a plugin such as a NIR importer adds its kind there).
A loader is given as a callable or as ``"module:function"`` (imported only when that kind is
loaded, so registering costs nothing and imports no torch).
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

if TYPE_CHECKING:
    from simcore import Network

__all__ = ["MODEL_FILE", "GRAPH_FILE", "FORMAT", "ENTRY_POINT_GROUP", "Loaded", "ModelKindError", "register", "kinds", "load",
           "read_meta", "load_graph", "load_nir_file"]

MODEL_FILE = "model.json"
GRAPH_FILE = "graph.json"  # simcore.save_network writes it beside weights.npz
FORMAT = "spikecount-model"
ENTRY_POINT_GROUP = "spikecount.model_kinds"

class ModelKindError(ValueError):
    """A model directory of another kind than the caller needs (one line naming both)."""


Loader = Callable[[Path, dict], "Loaded"]
_REGISTRY: dict[str, Union[Loader, str]] = {}


@dataclass(frozen=True)
class Loaded:
    """A loaded model directory.

    kind: "snn" | "ann" | "converted" | "graph" | a registered kind; meta: its model.json ({} for a
    bare graph); net: the torch module (float64) where the kind has one (snn: SpikingNet, ann: ANN),
    else None; graph: the simcore Network where the kind has one (snn: exported, converted and
    graph: loaded), else None.
    """

    kind: str
    path: Path
    meta: dict = field(default_factory=dict)
    net: Any = None
    graph: "Network | None" = None



def register(kind: str, loader: Loader | str) -> None:
    """Register (or replace) the loader of a model kind: a callable or ``"module:function"``."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"model kind must be a non-empty string, got {kind!r}")
    _REGISTRY[kind] = loader


def _entry_point_loaders() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def kinds() -> list[str]:
    """Every model kind this process can load (registered or installed as entry points)."""
    return sorted({*_REGISTRY, *_entry_point_loaders()})


def _resolve(kind: str, path: Path) -> Loader:
    loader = _REGISTRY.get(kind) or _entry_point_loaders().get(kind)
    if loader is None:
        raise ValueError(f"{path}: unknown model kind {kind!r} (known: {', '.join(kinds())})")
    if isinstance(loader, str):
        module, _, name = loader.partition(":")
        try:
            loader = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as e:
            raise ValueError(f"{path}: the loader of model kind {kind!r} ({loader}) cannot be imported: {e}") from None
    return loader


def read_meta(model_dir: str | os.PathLike) -> dict[str, Any]:
    """The model.json of a model directory, checked for the fields every model has."""
    from simcore.fileio import read_json  # simcore's import pulls in numba: only when a model is read

    path = Path(model_dir) / MODEL_FILE
    meta = read_json(path, "model description")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a spikecount model description (format field missing or wrong)")
    for key in ("kind", "arch"):
        if key not in meta:
            raise ValueError(f"{path}: missing field {key!r}")
    if not isinstance(meta["kind"], str):
        raise ValueError(f"{path}: field 'kind' must be a string, got {meta['kind']!r}")
    checks = _field_checks()
    for key, value in meta.items():
        if key in checks and not (key in _OPTIONAL and value is None) and not checks[key][0](value):
            raise ValueError(f"{path}: field {key!r} must be {checks[key][1]}, got {value!r}")
    return meta


def _number(lo: float, hi: float):
    return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and lo < v <= hi and v == v


def _integer(lo: int, hi: float = float("inf")):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


_OPTIONAL = {"weight_bits", "data_dir", "data_files", "dataset"}


def _field_checks() -> dict:
    """Every model.json field a loader reads: (check, description); names from their one home."""
    from learning.datasets import DATASETS
    from learning.choices import ENCODINGS, MODES, SCALINGS
    from simcore.resources import MAX_SEED

    return {
        "arch": (lambda v: isinstance(v, str) and bool(v.strip()), "a spec string"),
        "theta": (_number(0, float("inf")), "a finite number > 0"),
        "T": (_integer(1), "an integer >= 1"),
        "seed": (_integer(0, MAX_SEED), f"an integer seed in 0..{MAX_SEED}"),
        "split_seed": (_integer(0, MAX_SEED), f"an integer seed in 0..{MAX_SEED}"),
        "dataset": (lambda v: v in DATASETS or (isinstance(v, str) and v.startswith("npz:") and len(v) > 4),
                    f"one of {', '.join(DATASETS)} or npz:PATH"),
        "mode": (lambda v: v in MODES, f"one of {', '.join(MODES)}"),
        "encoding": (lambda v: v in ENCODINGS, f"one of {', '.join(ENCODINGS)}"),
        "max_rate": (_number(0, 1), "a number in (0, 1]"),
        "weight_bits": (_integer(2, 8), "an integer 2..8 or null"),
        "bias": (lambda v: isinstance(v, bool), "true or false"),
        "data_dir": (lambda v: isinstance(v, str), "a path or null"),
        "data_files": (lambda v: isinstance(v, dict) and all(
            isinstance(e, dict) and isinstance(e.get("sha256"), str) for e in v.values()), "{name: {path, sha256}}"),
        "data_path": (lambda v: isinstance(v, str), "the path of the npz file"),
        "data_sha256": (lambda v: isinstance(v, str) and len(v) == 64, "a sha256 hex digest"),
        "data_scaling": (lambda v: v in SCALINGS, f"one of {', '.join(SCALINGS)}"),
    }


def load(path: str | os.PathLike, kinds: tuple[str, ...] | None = None, purpose: str = "this command",
         dt: float | None = None, semantics: str = "nir") -> Loaded:
    """Load a model directory or a ``.nir`` file (see the module docstring); one-line ValueError otherwise.

    kinds: the kinds the caller can use (None: any); another kind is a :class:`ModelKindError`
    '<path>: <purpose> needs a model of kind ..., this one is ...', raised before anything is loaded.
    dt, semantics: how a NIR file is imported (:func:`simcore.nir_import.read_nir`; ignored otherwise)."""
    path = Path(path)
    if path.suffix == ".nir" and not path.is_dir():
        if kinds is not None and "nir" not in kinds:
            wanted = " or ".join(repr(k) for k in kinds)
            raise ModelKindError(f"{path}: {purpose} needs a model of kind {wanted}, this one is 'nir'")
        return _resolve("nir", path)(path, {"dt": dt, "semantics": semantics})
    if not path.is_dir():
        raise ValueError(f"model directory not found: {path}")
    if (path / MODEL_FILE).is_file():
        meta = read_meta(path)
    elif (path / GRAPH_FILE).is_file():
        meta = {}
    else:
        raise ValueError(f"{path}: neither a model directory ({MODEL_FILE}) nor a simcore graph ({GRAPH_FILE})")
    kind = meta.get("kind", "graph")
    if kinds is not None and kind not in kinds:
        wanted = " or ".join(repr(k) for k in kinds)
        raise ModelKindError(f"{path}: {purpose} needs a model of kind {wanted}, this one is {kind!r}")
    return _resolve(kind, path)(path, meta)


def read_graph(path: Path) -> "Network":
    """The simcore Network saved in ``path``; one-line ValueError if it is missing or corrupt."""
    from simcore import GraphError, load_network  # numba: imported only when a graph is read

    if not (path / GRAPH_FILE).is_file():
        raise ValueError(f"{path}: {GRAPH_FILE} missing")
    try:
        return load_network(path)
    except GraphError:  # names the problem already
        raise
    except Exception as e:  # noqa: BLE001 -- json, npz (zip), missing keys: a corrupt file either way
        raise ValueError(f"{path}: corrupt simcore graph ({type(e).__name__}: {e})") from None


def load_graph(path: Path, meta: dict) -> Loaded:
    """Loader of kind "graph": a simcore graph directory (model.json optional)."""
    return Loaded("graph", path, meta, None, read_graph(path))


def load_nir_file(path: Path, options: dict) -> Loaded:
    """Loader of kind "nir": a NIR file imported by :func:`simcore.nir_import.read_nir` with ``options``
    (dt, semantics); meta: the run settings found in the file's graph metadata."""
    from simcore.nir_import import read_nir  # nir and numba: only when a NIR file is read

    graph, meta = read_nir(path, options.get("dt"), options.get("semantics", "nir"))
    return Loaded("nir", path, meta, None, graph)


register("snn", "learning.io:load_snn")
register("graph", load_graph)
register("nir", load_nir_file)
