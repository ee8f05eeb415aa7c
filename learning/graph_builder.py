"""The one graph builder: a stage structure, its weights and a neuron model -> a simcore Network.

Used by learning's export (:func:`learning.export.to_graph`) and by ANN-to-SNN conversion
(:func:`baselines.convert.build_network`); this module is also the one place that names
populations: ``input``, then ``{kind}{k}`` for weighted stage k = 1.. (``dense1``, ``conv2``, ...).

Per stage: one population of ``stage.out_shape`` neurons and one projection from the previous
population (the input for the first stage) whose op chain is the stage's parameter-free ops
(``AvgPool2d`` then ``Flatten``) and its weighted op (``Dense``, or ``Conv2d`` with the stage's stride
and padding: 1 and 0 for a spec string). Weights are potential increments (a spike adds ``w`` to its target's potential). Biases
are per output feature (one per channel for a convolution, repeated over the map here) or None.

Initial potential ``v_init`` (Bu et al., AAAI 2022 / ICLR 2022: ``V(0) = theta/2``), added to every
neuron population's ``V(0)``. For bias_mode "initial" it is added to the bias (``V(0) = b +
v_init``). For bias_mode "current" (a per-step bias current, ``V(0) = 0`` in simcore), simcore's
Network cannot yet hold a separate initial potential, so it is emulated *exactly*: population
``p`` gets a source population ``v_init_p`` (name :func:`v_init_name`) of neurons with ``V(0) =
theta`` and no input, which fire once at step 0 and never again, projecting ``v_init`` onto every
neuron of ``p`` with zero delay -- for a non-leaky neuron, adding ``v_init`` before step 0's
threshold test is the same as starting at ``V(0) = v_init`` (up to the float summation order).
Shapes: ``(1,)`` -> ``Dense`` onto a dense population, ``(1, H, W)`` -> a 1x1 ``Conv2d`` onto a
``(C, H, W)`` one, so each target neuron receives exactly one such event (one extra SOP per neuron
and sample, counted under the ``v_init_*`` source; :func:`is_v_init` tells them apart).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from learning.spec import Arch
from simcore import AvgPool2d, Conv2d, Dense, Flatten, GraphError, Network
from simcore.neuron import NeuronParams

__all__ = ["INPUT", "population_names", "source_names", "v_init_name", "is_v_init", "build_graph"]

INPUT = "input"
_V_INIT = "v_init_"


def v_init_name(population: str) -> str:
    """Name of the source that emulates the initial potential of ``population`` (see the module docstring)."""
    return _V_INIT + population


def is_v_init(population: str) -> bool:
    """True for a population that only emulates an initial potential."""
    return population.startswith(_V_INIT)


def population_names(arch: Arch) -> list[str]:
    """Names of the neuron populations, stage by stage (``dense1``, ``conv1``, ...)."""
    return [f"{stage.kind}{k + 1}" for k, stage in enumerate(arch.stages())]


def source_names(arch: Arch) -> list[str]:
    """Populations that send spikes, in stage order: ``input`` and every stage but the last."""
    return [INPUT, *population_names(arch)[:-1]]


def _add_v_init(graph: Network, name: str, shape: tuple[int, ...], neuron: NeuronParams, v_init: float) -> None:
    """The source that adds ``v_init`` to every neuron of ``name`` at step 0 (module docstring)."""
    if neuron.beta != 1.0:
        raise GraphError(f"population '{name}': the v_init emulation for a bias current holds only for "
                         f"non-leaky neurons (beta 1), got beta {neuron.beta}")
    src = v_init_name(name)
    if len(shape) == 1:
        graph.add_neurons(src, (1,), threshold=neuron.threshold, bias=neuron.threshold, bias_mode="initial")
        graph.connect(src, name, [Dense(np.full((shape[0], 1), v_init))])
    else:
        graph.add_neurons(src, (1, *shape[1:]), threshold=neuron.threshold, bias=neuron.threshold,
                          bias_mode="initial")
        graph.connect(src, name, [Conv2d(np.full((shape[0], 1, 1, 1), v_init), stride=1, padding=0)])


def build_graph(arch: Arch, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray | None],
                neuron: NeuronParams, delay: int = 0, v_init: float = 0.0) -> Network:
    """The simcore network of ``arch``'s stages (float64 copies of the arrays). ``arch``: anything
    with ``spec``, ``input_shape`` and ``stages()`` (a parsed spec, or a converted torch chain's).

    weights[k]: stage k's weighted op, (out, in) for dense, (C_out, C_in, k, k) for a convolution,
    in potential units; biases[k]: (out,) / (C_out,) or None (zeros). Every population gets
    ``neuron``; every projection ``delay``; every neuron the initial potential ``v_init`` (potential
    units, on top of the bias; see the module docstring). GraphError (one line) for arrays that do not fit.
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
        if v_init and neuron.bias_mode == "initial":
            b = b + v_init
        graph.add_neurons(name, tuple(stage.out_shape), neuron=neuron, bias=b)
        graph.connect(prev, name, ops, delay=delay)
        if v_init and neuron.bias_mode == "current":
            _add_v_init(graph, name, tuple(stage.out_shape), neuron, float(v_init))
        prev = name
    graph.validate()
    return graph
