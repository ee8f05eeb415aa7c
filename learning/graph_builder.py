"""The one graph builder: a stage structure, its weights and a neuron model -> a simcore Network.

Used by learning's export (:func:`learning.export.to_graph`) and by ANN-to-SNN conversion
(:func:`baselines.convert.build_network`); this module is also the one place that names
populations: ``input``, then ``{kind}{k}`` for weighted stage k = 1.. (``dense1``, ``conv2``, ...).

Per stage: one population of ``stage.out_shape`` neurons and one projection from the previous
population (the input for the first stage) whose op chain is the stage's parameter-free ops
(``AvgPool2d`` then ``Flatten``) and its weighted op (``Dense``, or ``Conv2d`` with the stage's stride
and padding: 1 and 0 for a spec string). Weights are potential increments (a spike adds ``w`` to its target's potential). Biases
are per output feature (one per channel for a convolution, repeated over the map here) or None.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from learning.spec import Arch
from simcore import AvgPool2d, Conv2d, Dense, Flatten, GraphError, Network
from simcore.neuron import NeuronParams

__all__ = ["INPUT", "population_names", "source_names", "build_graph"]

INPUT = "input"


def population_names(arch: Arch) -> list[str]:
    """Names of the neuron populations, stage by stage (``dense1``, ``conv1``, ...)."""
    return [f"{stage.kind}{k + 1}" for k, stage in enumerate(arch.stages())]


def source_names(arch: Arch) -> list[str]:
    """Populations that send spikes, in stage order: ``input`` and every stage but the last."""
    return [INPUT, *population_names(arch)[:-1]]


def build_graph(arch: Arch, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray | None],
                neuron: NeuronParams, delay: int = 0) -> Network:
    """The simcore network of ``arch``'s stages (float64 copies of the arrays). ``arch``: anything
    with ``spec``, ``input_shape`` and ``stages()`` (a parsed spec, or a converted torch chain's).

    weights[k]: stage k's weighted op, (out, in) for dense, (C_out, C_in, k, k) for a convolution,
    in potential units; biases[k]: (out,) / (C_out,) or None (zeros). Every population gets
    ``neuron``; every projection ``delay``. GraphError (one line) for arrays that do not fit.
    """
    stages = arch.stages()
    if len(weights) != len(stages) or len(biases) != len(stages):
        raise GraphError(f"{len(stages)} weighted stages in {arch.spec!r}, "
                         f"got {len(weights)} weight and {len(biases)} bias arrays")
    graph = Network()
    graph.add_input(INPUT, shape=tuple(arch.input_shape))
    prev = INPUT
    for name, stage, w, b in zip(population_names(arch), stages, weights, biases):
        w = np.asarray(w, dtype=np.float64)
        ops = ([AvgPool2d(stage.pool)] if stage.pool else []) + ([Flatten()] if stage.flatten else [])
        ops.append(Dense(w) if stage.kind == "dense" else Conv2d(w, stride=stage.stride, padding=stage.padding))
        per_map = int(np.prod(stage.out_shape[1:]))
        b = np.zeros(int(np.prod(stage.out_shape))) if b is None else np.repeat(np.asarray(b, np.float64), per_map)
        graph.add_neurons(name, tuple(stage.out_shape), neuron=neuron, bias=b)
        graph.connect(prev, name, ops, delay=delay)
        prev = name
    graph.validate()
    return graph
