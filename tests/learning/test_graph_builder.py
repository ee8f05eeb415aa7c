"""The one graph builder: stage structure + weights + neuron model -> simcore Network."""
import numpy as np
import pytest

from learning.graph_builder import INPUT, build_graph, population_names, source_names
from learning.spec import parse_spec
from simcore import GraphError, compile_network
from simcore.neuron import NeuronParams


def _arrays(arch, rng):
    ws, bs = [], []
    for st in arch.stages():
        if st.kind == "dense":
            ws.append(rng.normal(size=(st.out_shape[0], int(np.prod(st.pooled_shape)))))
        else:
            ws.append(rng.normal(size=(st.out_shape[0], st.in_shape[0], st.kernel, st.kernel)))
        bs.append(rng.normal(size=st.out_shape[0]))
    return ws, bs


@pytest.mark.parametrize("spec, names", [
    ("784-800-10", ["dense1", "dense2"]),
    ("28x28-12c5-2a-64c5-2a-10", ["conv1", "conv2", "dense3"]),
    ("8x8-2a-12-10", ["dense1", "dense2"]),
])
def test_names_shapes_and_ops_follow_the_arch(spec, names):
    arch = parse_spec(spec)
    ws, bs = _arrays(arch, np.random.default_rng(0))
    g = build_graph(arch, ws, bs, NeuronParams(threshold=0.5, bias_mode="current", reset="zero"), delay=2)
    assert population_names(arch) == names and source_names(arch) == [INPUT, *names[:-1]]
    assert g.populations == [INPUT, *names]
    neuron_shapes = [s for s, layer in zip(arch.shapes(), arch.layers) if type(layer).__name__ != "AvgPool"]
    assert [g.shape(p) for p in names] == [tuple(s) for s in neuron_shapes]
    comp = compile_network(g)
    assert np.all(comp.bias_mode[1:] == 1) and np.all(comp.reset[1:] == 1) and np.all(comp.threshold[comp.offsets[1]:] == 0.5)
    assert all(p.delay == 2 for p in g.projections)
    for k, (name, st, b) in enumerate(zip(names, arch.stages(), bs)):  # per-map biases repeated over the map
        assert np.array_equal(g.population(name).bias, np.repeat(b, int(np.prod(st.out_shape[1:]))))
        kinds = [type(op).__name__ for op in g.projection(([INPUT] + names)[k], name).ops]
        assert kinds == ["AvgPool2d"] * bool(st.pool) + ["Flatten"] * st.flatten + [
            "Dense" if st.kind == "dense" else "Conv2d"]


def test_missing_biases_are_zero_and_bad_arrays_are_one_line():
    arch = parse_spec("6-4-3")
    ws, _ = _arrays(arch, np.random.default_rng(1))
    g = build_graph(arch, ws, [None, None], NeuronParams())
    assert np.all(compile_network(g).bias == 0)
    with pytest.raises(GraphError, match="2 weighted stages"):
        build_graph(arch, ws[:1], [None], NeuronParams())
    with pytest.raises(GraphError) as e:
        build_graph(arch, [ws[0].T, ws[1]], [None, None], NeuronParams())
    assert "\n" not in str(e.value)
