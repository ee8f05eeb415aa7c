"""Two independent references for the NIR translations (plain numpy/torch, step by step).

``run_plan``: a Plan (simcore.nir_plan) run with :func:`simcore.neuron.step` population by
population, projections as dense matrices built with explicit loops (``simcore_reference``).

``run_nir``: a NIR graph run directly with NIR's node semantics (forward Euler at ``dt``, strict
thresholds, reset to v_reset), written from the NIR definitions and nothing in simcore; edges
closing a cycle deliver the previous step's value. Convolution and pooling through torch (float64).
"""
from __future__ import annotations

import numpy as np

from simcore import AvgPool2d, Conv2d, Dense, Flatten, Network
from simcore.neuron import step
from simcore_helpers import dyadic
from simcore_reference import chain_matrix


def dyadic_cnn(rng, bias_mode="current", reset="subtract"):
    """Conv -> pool+conv -> dense, dyadic, per-map biases (NIR's Conv2d bias is per map)."""
    net = Network()
    net.add_input("input", (1, 10, 10))
    net.add_neurons("c1", (3, 8, 8), bias=np.repeat(dyadic(rng, (3,), 0.2), 64), bias_mode=bias_mode, reset=reset)
    net.add_neurons("c2", (4, 2, 2), bias=np.repeat(dyadic(rng, (4,), 0.2), 4), bias_mode=bias_mode, reset=reset)
    net.add_neurons("out", (5,), threshold=0.75, bias=dyadic(rng, (5,), 0.2), bias_mode=bias_mode, reset=reset)
    net.connect("input", "c1", [Conv2d(dyadic(rng, (3, 1, 3, 3), 0.5))])
    net.connect("c1", "c2", [AvgPool2d(2), Conv2d(dyadic(rng, (4, 3, 3, 3), 1.0))])
    net.connect("c2", "out", [Flatten(), Dense(dyadic(rng, (5, 16), 1.0))])
    return net


def run_plan(plan, trains) -> dict:
    """trains (N, T, D) 0/1; returns spike counts per population name (N, n) int64."""
    trains = np.asarray(trains, dtype=np.float64)
    N, T, _ = trains.shape
    hist = {plan.input.name: trains}
    counts = {plan.input.name: (trains != 0).sum(1)}
    for pop in plan.populations:
        if pop.neuron is None:
            continue
        current = np.zeros((N, T, pop.size))
        for pr in plan.incoming(pop.name):
            m = chain_matrix(pr.ops, plan.population(pr.src).shape)[0]
            x = hist[pr.src] @ m.T
            if pr.delay:
                x = np.concatenate([np.zeros((N, pr.delay, pop.size)), x[:, :T - pr.delay]], axis=1)
            current += x
        V = pop.bias[None, :].repeat(N, 0) if pop.neuron.bias_mode == "initial" else np.zeros((N, pop.size))
        spikes = np.zeros((N, T, pop.size))
        for t in range(T):
            V, s = step(pop.neuron, V, current[:, t], pop.bias, spikes[:, t - 1] > 0 if t else np.zeros(V.shape, bool))
            spikes[:, t] = s
        hist[pop.name] = spikes
        counts[pop.name] = spikes.sum(1).astype(np.int64)
    return counts


def _order(graph):
    """Topological order of the nodes and the edges closing a cycle (delivered a step late), by a
    depth-first search from the inputs along the edges: an edge back to a node on the stack closes a cycle."""
    import nir

    succ = {n: [b for a, b in graph.edges if a == n] for n in graph.nodes}
    pred = {n: [a for a, b in graph.edges if b == n] for n in graph.nodes}
    post, back, seen = [], set(), set()

    def visit(n, stack):
        seen.add(n)
        stack.add(n)
        for m in succ[n]:
            if m in stack:
                back.add((n, m))
            elif m not in seen:
                visit(m, stack)
        stack.discard(n)
        post.append(n)

    starts = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    for n in starts + list(graph.nodes):
        if n not in seen:
            visit(n, set())
    return post[::-1], back, pred


def run_nir(graph, trains, dt: float = 1.0) -> dict:
    """trains (N, T, D) 0/1; returns {node name: outputs (N, T, *shape)} for every node."""
    import nir
    import torch
    import torch.nn.functional as F

    trains = np.asarray(trains, dtype=np.float64)
    N, T, _ = trains.shape
    order, back, pred = _order(graph)
    out = {n: [] for n in graph.nodes}
    prev, state = {}, {}
    for t in range(T):
        now = {}
        for n in order:
            node = graph.nodes[n]
            ins = [prev.get(p) if (p, n) in back else now[p] for p in pred[n]]
            ins = [x for x in ins if x is not None]
            x = sum(ins[1:], ins[0]) if ins else None
            if isinstance(node, nir.Input):
                shape = np.asarray(list(node.input_type.values())[0]).ravel()
                y = trains[:, t].reshape(N, *shape)
            elif isinstance(node, nir.Affine):
                y = x.reshape(N, -1) @ np.asarray(node.weight).T + node.bias
            elif isinstance(node, nir.Linear):
                y = x.reshape(N, -1) @ np.asarray(node.weight).T
            elif isinstance(node, nir.Scale):
                y = x * np.asarray(node.scale)
            elif isinstance(node, nir.Flatten):
                y = x.reshape(N, -1)
            elif isinstance(node, nir.Conv2d):
                y = F.conv2d(torch.as_tensor(x), torch.as_tensor(np.asarray(node.weight, np.float64)),
                             torch.as_tensor(np.asarray(node.bias, np.float64)),
                             stride=int(np.asarray(node.stride).ravel()[0]),
                             padding=int(np.asarray(node.padding).ravel()[0])).numpy()
            elif isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
                k = int(np.asarray(node.kernel_size).ravel()[0])
                y = F.avg_pool2d(torch.as_tensor(x), k, int(np.asarray(node.stride).ravel()[0])).numpy()
                y = y * (k * k if isinstance(node, nir.SumPool2d) else 1)
            elif isinstance(node, nir.Delay):
                d = int(round(float(np.asarray(node.delay).ravel()[0]) / dt))
                buf = state.setdefault(n, [np.zeros_like(x)] * d)
                buf.append(x)
                y = buf.pop(0)
            elif isinstance(node, (nir.IF, nir.LIF, nir.I, nir.LI)):
                v = state.get(n, np.zeros_like(x))
                if isinstance(node, (nir.IF, nir.I)):
                    v = v + dt * node.r * x
                else:
                    v = v + dt / node.tau * (node.v_leak - v + node.r * x)
                if isinstance(node, (nir.IF, nir.LIF)):
                    y = (v > node.v_threshold).astype(np.float64)
                    v = np.where(y > 0, 0.0 if node.v_reset is None else node.v_reset, v)
                else:
                    y = v
                state[n] = v
            elif isinstance(node, nir.Threshold):
                y = (x > node.threshold).astype(np.float64)
            elif isinstance(node, nir.Output):
                y = x
            else:
                raise NotImplementedError(type(node).__name__)
            now[n] = y
            out[n].append(y)
        prev = now
    return {n: np.stack(v, 1) for n, v in out.items()}
