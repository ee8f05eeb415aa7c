"""Push a trained tensor model into simcore: one population per stage, one projection per stage.

Population names: ``input``, then ``{kind}{k}`` for stage k = 1.. (``dense1``, ``conv1``, ...).
Projection weights are potential increments: the tensor model's ``theta * W`` (a spike adds
``theta * w`` to its target); for k-bit models the quantised ``theta * int * scale``. Pooling and
flattening travel in the projection's op chain.
Bias: the initial membrane potential (Eq. 3), or a current every step for models trained with
``--bias current``; reset by subtraction, threshold theta.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from learning.io import load_model
from learning.model import SpikingNet
from learning.spec import AvgPool
from simcore.graph import AvgPool2d, Conv2d, Dense, Flatten, Network

__all__ = ["to_graph", "export_model", "export_nir", "population_names"]


def population_names(net: SpikingNet) -> list[str]:
    """Names of the IF populations, stage by stage."""
    return [f"{stage.kind}{k + 1}" for k, stage in enumerate(net.stages)]


def to_graph(net: SpikingNet, delay: int = 0) -> Network:
    """The simcore network of a SpikingNet (float64 weights), every projection with ``delay``."""
    graph = Network()
    graph.add_input("input", shape=tuple(net.arch.input_shape))
    prev = "input"
    shapes = [s for s, layer in zip(net.arch.shapes(), net.arch.layers) if not isinstance(layer, AvgPool)]
    for k, (name, stage, module, shape) in enumerate(zip(population_names(net), net.stages, net.layers, shapes)):
        w = net.theta * net.stage_weight(k).detach().cpu().double().numpy()  # k-bit: theta * int * scale
        b = module.bias.detach().cpu().double().numpy()
        if stage.kind == "conv":
            b = np.repeat(b, shape[1] * shape[2])
        ops = ([AvgPool2d(stage.pool)] if stage.pool else []) + ([Flatten()] if stage.flatten else [])
        ops.append(Dense(w) if stage.kind == "dense" else Conv2d(w, stride=1, padding=0))
        graph.add_neurons(name, shape=tuple(shape), threshold=net.theta, bias=b, bias_mode=net.bias_mode,
                          reset="subtract")
        graph.connect(prev, name, ops, delay=delay)
        prev = name
    graph.validate()
    return graph


def export_model(model_dir: str | os.PathLike, out_dir: str | os.PathLike, delay: int = 0) -> Path:
    """``spikecount export``: write the simcore graph of a trained model directory to out_dir."""
    net, _ = load_model(model_dir, dtype=torch.float64)
    graph = to_graph(net, delay)
    graph.save(out_dir)
    return Path(out_dir)


def export_nir(model: str | os.PathLike, out_path: str | os.PathLike, exact: bool = False) -> list[str]:
    """``spikecount export --format nir``: any model simcore runs (trained, converted, graph) as a NIR
    file, with the model's run settings in the graph metadata; returns the export's warnings."""
    from learning.simulate import load_simulatable
    from simcore.nir_export import write_nir

    graph, meta, _ = load_simulatable(model)
    return write_nir(graph, out_path, exact=exact, run=meta)
