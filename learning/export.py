"""Push a trained tensor model into simcore (through :func:`learning.graph_builder.build_graph`).

Projection weights are potential increments: the tensor model's ``theta * W`` (a spike adds
``theta * w`` to its target); for k-bit models the quantised ``theta * int * scale``. The neurons
are the model's own (:attr:`learning.model.SpikingNet.neuron`: threshold theta, ``>=``, reset by
subtraction, bias as the initial membrane potential, Eq. 3, or a current every step for models
trained with ``--bias current``).
"""
from __future__ import annotations

import os
from pathlib import Path

from learning.graph_builder import build_graph
from learning.model import SpikingNet
from learning.models import load
from simcore import Network, save_network
from simcore.outputs import GRAPH_FILES, output_dir, result_file

__all__ = ["to_graph", "export_model", "export_nir"]


def to_graph(net: SpikingNet, delay: int = 0, v_init: float = 0.0) -> Network:
    """The simcore network of a SpikingNet (float64 weights), every projection with ``delay``;
    ``v_init`` (potential units) is added to every neuron's initial potential, i.e. to its bias
    (``theta/2`` turns Eq. 7's floor into rounding)."""
    weights = [net.theta * net.stage_weight(k).detach().cpu().double().numpy() for k in range(len(net.layers))]
    biases = [m.bias.detach().cpu().double().numpy() for m in net.layers]
    return build_graph(net.arch, weights, biases, net.neuron, delay, v_init)


def export_model(model_dir: str | os.PathLike, out_dir: str | os.PathLike, delay: int = 0) -> Path:
    """``spikecount export``: write the simcore graph of a trained model directory to out_dir (a new or
    empty directory, or an earlier export; see :mod:`simcore.outputs`)."""
    graph = to_graph(load(model_dir, kinds=("snn",), purpose="export").net, delay)
    with output_dir(out_dir, "export", adopt=GRAPH_FILES):
        save_network(graph, out_dir)
    return Path(out_dir)


def export_nir(model: str | os.PathLike, out_path: str | os.PathLike, exact: bool = False) -> list[str]:
    """``spikecount export --format nir``: any model simcore runs (trained, converted, graph) as a NIR
    file, with the model's run settings in the graph metadata; returns the export's warnings. A
    single-file output (:func:`simcore.outputs.result_file`): an existing file is replaced only with
    ``--overwrite`` (an HDF5 file records no ``spikecount_output`` kind)."""
    from simcore.nir_export import write_nir

    loaded = load(model, purpose="export --format nir")
    if loaded.graph is None:
        raise ValueError(f"{model}: a model of kind {loaded.kind!r} has no simcore network; convert it first")
    return write_nir(loaded.graph, result_file(out_path, "export"), exact=exact, run=loaded.meta)
