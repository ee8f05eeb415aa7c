"""simcore Network -> NIR graph (``nir.NIRGraph``), exact wherever NIR can say what simcore does.

One time step is one NIR time unit (``dt`` = 1 in the metadata), every ``r`` is 1, so NIR's
integrators add their input once per step (Euler, dt = 1). Per population:

* projection ops: ``Dense`` -> ``Affine``/``Linear``; ``Conv2d`` -> ``Conv2d``; ``AvgPool2d(k)``
  -> ``SumPool2d(k)`` with 1/k^2 folded into the next weighted op (``AvgPool2d`` when none
  follows); ``Flatten`` -> ``Flatten``; a delay -> ``Delay`` (first in the chain, so the bias
  is not delayed).
* bias as a per-step current (bias_mode "current") -> the ``Affine``/``Conv2d`` bias: exact.
  Bias as the initial potential V(0) = b ("initial", the paper's Eq. 3) has no NIR field: the
  weighted node carries no bias, the neuron node's metadata ``v_initial`` holds b, and one warning
  says so (NIR's own semantics then run the network without it).
* neurons, default: ``IF`` (``LIF`` when leaky) with ``v_threshold`` theta and the true semantics
  in metadata (``reset``, ``reset_leak``, ``threshold_test``, ``bias``, ...). NIR's IF resets *to* v_reset, so a
  subtractive reset is exact only for importers that read the metadata (one warning).
* neurons, ``exact=True``: reset by subtraction as the explicit loop ``I -> Threshold -> Scale(-theta)
  -> I`` (``LI`` and ``Scale(-beta*theta)`` when leaky; ``Scale(-theta)`` for reset_leak "unleaked",
  the subtraction after the leak), the feedback edge carrying the previous step's spikes: the
  paper's ``- theta * s(t-1)`` term. The paper's ``V >= theta`` becomes NIR's
  strict test at ``theta - delta/2`` where delta is the lattice step of the population's weights,
  biases and theta (exact for spike inputs: V stays on the lattice); with no lattice the test is
  written at theta and a warning says it is not exact. Reset to a value uses ``IF``/``LIF`` with the
  same threshold rule.

Node names: the input ``input``, the output ``output``, a population's spiking node its own name
(the loop's integrator ``<name>_v``, feedback ``<name>_reset``), op nodes ``<tgt>_<src>_<k>``.
"""
from __future__ import annotations

import os

import numpy as np

from simcore import AvgPool2d, Conv2d, Dense, Flatten, Network
from simcore.fileio import atomic_write
from simcore.nir_plan import RUN_FIELDS, NirError, Plan, Population, chain_lattice, lattice_step, pool_factor, require_nir, weighted

__all__ = ["to_nir", "write_nir", "plan_to_nir"]

DT = 1.0


def to_nir(net: Network, exact: bool = False, run: dict | None = None):
    """(nir.NIRGraph, warnings: list of one-line strings) of a simcore Network.

    run: the model's run settings (dataset, T, seed, ...; see RUN_FIELDS) for the graph metadata."""
    graph, warnings = plan_to_nir(Plan.from_network(net), exact)
    graph.metadata.update({k: RUN_FIELDS[k](v) for k, v in (run or {}).items() if k in RUN_FIELDS and v is not None})
    return graph, warnings


def write_nir(net: Network, path: str | os.PathLike, exact: bool = False, run: dict | None = None) -> list[str]:
    """Write the NIR graph of ``net`` to ``path`` (HDF5, atomically, :func:`simcore.fileio.atomic_write`);
    returns the warnings."""
    nir = require_nir()
    graph, warnings = to_nir(net, exact, run)
    atomic_write(path, lambda f: nir.write(f, graph), mode="w+b")  # h5py reads back what it writes
    return warnings


def plan_to_nir(plan: Plan, exact: bool = False):
    """(nir.NIRGraph, warnings) of a Plan; see the module docstring."""
    nir = require_nir()
    nodes, edges, warnings = {}, [], []
    inp = plan.input
    spike_node = {inp.name: "input"}
    nodes["input"] = nir.Input(input_type={"input": np.array(inp.shape)})
    for pop in plan.populations:
        if pop.neuron is None:
            continue
        if pop.name in ("input", "output"):
            raise NirError(f"population '{pop.name}': the names 'input' and 'output' are NIR's boundary nodes")
        incoming = plan.incoming(pop.name)
        entry, out_node, pop_nodes, pop_edges = _neuron_nodes(nir, pop, incoming, exact, warnings)
        nodes.update(pop_nodes)
        edges.extend(pop_edges)
        current = pop.neuron.bias_mode == "current"
        for j, pr in enumerate(incoming):
            bias = pop.bias if current and j == 0 else None
            chain = _op_nodes(nir, pr, plan.population(pr.src).shape, pop, bias)
            names = [f"{pop.name}_{pr.src}_{k}" for k in range(len(chain))]
            nodes.update(zip(names, chain))
            path = [spike_node[pr.src], *names, entry]
            edges.extend(zip(path[:-1], path[1:]))
        spike_node[pop.name] = out_node
    out = plan.populations[-1]  # topological order: the last population is the network's one sink
    nodes["output"] = nir.Output(output_type={"output": np.array(out.shape)})
    edges.append((spike_node[out.name], "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"exporter": "spikecount", "dt": DT},
                         type_check=False)
    return graph, _unique(warnings)


def _unique(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def _population_lattice(pop: Population, incoming) -> float | None:
    """Lattice step of everything a non-leaky population's potential is made of (None: no lattice)."""
    if pop.neuron.beta != 1.0:  # beta * V leaves the lattice
        return None
    steps = [chain_lattice(pr.ops) for pr in incoming]
    bias_step = lattice_step(pop.bias, pop.neuron.threshold,
                             pop.neuron.v_reset if pop.neuron.reset == "to_value" else 0.0)
    if bias_step is None or any(s is None for s in steps):
        return None
    return min([bias_step, *steps])


def _neuron_nodes(nir, pop: Population, incoming, exact: bool, warnings: list):
    """(entry node, spiking node, nodes, internal edges) of one population."""
    n = pop.neuron
    ones = np.ones(pop.shape)
    meta = {"exporter": "spikecount", "dt": DT, "threshold": n.threshold, "threshold_test": n.threshold_test,
            "reset": n.reset, "reset_leak": n.reset_leak, "v_reset": n.v_reset, "beta": n.beta,
            "bias": "per_step" if n.bias_mode == "current" else "initial"}
    if n.bias_mode == "initial" and np.any(pop.bias != 0):
        meta["v_initial"] = pop.bias.reshape(pop.shape)
        warnings.append("warning: the bias is the initial potential V(0) = b, which NIR cannot express: written "
                        "as neuron metadata 'v_initial' only (NIR's own semantics run without it); train with "
                        "--bias current for an exact export")
    theta = n.threshold
    if exact and n.threshold_test == ">=":
        step = _population_lattice(pop, incoming)
        if step is None:
            warnings.append(f"warning: population '{pop.name}': weights are not on a power-of-two lattice, so "
                            "NIR's strict test v > theta differs from V >= theta when V lands on theta exactly")
        else:
            theta = n.threshold - step / 2
            meta["lattice_step"] = step
    tau = DT / (1.0 - n.beta) if n.beta < 1.0 else None
    name = pop.name
    if n.reset == "to_value" or not exact:
        v_reset = n.v_reset if n.reset == "to_value" else 0.0
        if n.reset == "subtract":
            warnings.append("warning: reset by subtraction written as IF/LIF with the true reset in metadata "
                            "(NIR's own IF resets to v_reset); use --exact for the explicit subtraction loop")
        if not exact and n.threshold_test == ">=":
            warnings.append("warning: V >= theta written as NIR's strict test with threshold_test '>=' in metadata; "
                            "use --exact for a lattice-exact threshold")
        if tau is None:
            node = nir.IF(r=ones, v_threshold=theta * ones, v_reset=v_reset * ones, metadata=meta)
        else:
            node = nir.LIF(tau=tau * ones, r=tau / DT * ones, v_leak=0 * ones, v_threshold=theta * ones,
                           v_reset=v_reset * ones, metadata=meta)
        return name, name, {name: node}, []
    v, fb = f"{name}_v", f"{name}_reset"
    integ = nir.I(r=ones) if tau is None else nir.LI(tau=tau * ones, r=tau / DT * ones, v_leak=0 * ones)
    nodes = {v: integ, name: nir.Threshold(threshold=theta * ones, metadata=meta),
             fb: nir.Scale(scale=-(1.0 if n.unleaked else n.beta) * n.threshold * ones)}
    return v, name, nodes, [(v, name), (name, fb), (fb, v)]


def _op_nodes(nir, pr, src_shape, pop: Population, bias) -> list:
    """NIR nodes of one projection's op chain; ``bias`` (flat, per neuron) goes on its last op."""
    ops, shape, scale, out = pr.ops, tuple(src_shape), 1.0, []
    if pr.delay:  # first, so that it delays the spikes and not the bias
        out.append(nir.Delay(delay=np.full(src_shape, pr.delay * DT)))
    last_weighted = max((k for k, op in enumerate(ops) if weighted(op)), default=-1)
    if bias is not None and last_weighted != len(ops) - 1:
        raise NirError(f"projection {pr.src}->{pr.tgt}: a per-step bias needs a Dense/Conv2d as the last op")
    for k, op in enumerate(ops):
        last = k == len(ops) - 1
        if isinstance(op, AvgPool2d):
            kk, ss = np.array([op.kernel] * 2), np.array([op.stride] * 2)
            if k < last_weighted:  # 1/k^2 goes into the next weighted op
                out.append(nir.SumPool2d(kernel_size=kk, stride=ss, padding=np.zeros(2, dtype=int)))
                scale *= pool_factor(op)
            else:
                out.append(nir.AvgPool2d(kernel_size=kk, stride=ss, padding=np.zeros(2, dtype=int)))
        elif isinstance(op, Flatten):
            out.append(nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1))
        elif isinstance(op, Dense):
            if len(shape) != 1 and not (k and isinstance(ops[k - 1], Flatten)):
                out.append(nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1))
            w = op.weight * scale
            scale = 1.0
            out.append(nir.Affine(weight=w, bias=bias) if last and bias is not None else nir.Linear(weight=w))
        elif isinstance(op, Conv2d):
            w = op.weight * scale
            scale = 1.0
            b = np.zeros(w.shape[0])
            if last and bias is not None:
                per_map = bias.reshape(pop.shape).reshape(pop.shape[0], -1)
                if np.any(per_map != per_map[:, :1]):
                    raise NirError(f"population '{pop.name}': a per-step bias that varies within a feature map "
                                   "has no NIR Conv2d form")
                b = per_map[:, 0].copy()
            out.append(nir.Conv2d(input_shape=tuple(shape[1:]), weight=w, stride=op.stride, padding=op.padding,
                                  dilation=1, groups=1, bias=b))
        else:
            raise NirError(f"projection {pr.src}->{pr.tgt}: op {op!r} has no NIR form")
        shape = tuple(op.out_shape(shape, f"projection {pr.src}->{pr.tgt}"))
    return out
