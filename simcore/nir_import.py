"""NIR graph -> simcore Network, with NIR's semantics as NIR defines them.

Time is discretised with forward Euler at step ``dt`` (the ``dt`` argument, else the graph's
metadata ``dt``; needed for LIF/LI and for IF/I with r != 1). Per node type:

* ``IF(r, v_threshold, v_reset)``: ``v += dt*r*I``; spike iff ``v > v_threshold`` (strict); then
  ``v = v_reset``. ``LIF(tau, r, v_leak, ...)``: ``v += dt/tau * (v_leak - v + r*I)``, i.e. leak
  ``beta = 1 - dt/tau`` per step, input gain ``dt*r/tau``, a constant current ``dt/tau * v_leak``.
  Initial potential 0. Thresholds, resets, r and tau must be uniform within a node.
* the reset loop ``I -> Threshold(theta) -> Scale(-c) -> I`` (the feedback delivered one step
  later, through the integrator's input gain like any input: it subtracts ``gain * c``): reset by
  subtraction of gain*c = theta. With ``LI`` in place of ``I`` (leak beta), gain*c = beta*theta is
  the subtraction leaked with the potential, ``V = beta (V - theta s(t-1)) + I`` (reset_leak
  "leaked"), and gain*c = theta the subtraction after the leak, ``V = beta V - theta s(t-1) + I``
  (reset_leak "unleaked": snnTorch's ``Leaky(reset_mechanism="subtract")``). When c > theta and
  everything feeding a non-leaky integrator (weights, biases, c) lies on a power-of-two lattice delta
  with c - delta <= theta, the strict test at theta equals ``V >= c`` for spike (0/1) inputs, and the
  population gets that form (spikecount's ``--exact`` export writes exactly this).
* ``Affine``/``Linear`` -> ``Dense`` (the Affine bias is a current every step), ``Conv2d`` (square
  stride/padding, no dilation or groups), ``SumPool2d``/``AvgPool2d`` (no padding) -> ``AvgPool2d``
  with k^2 folded into a weighted op for SumPool2d, ``Flatten`` -> ``Flatten``, ``Scale`` folded into
  the neighbouring weighted op, ``Delay`` -> the projection's delay (d/dt steps).

``semantics="recorded"``: for nodes written by spikecount (metadata ``exporter``), the neuron
model recorded in the metadata is used instead (the paper's ``>=``, subtractive reset, bias as
V(0)). For an ``IF``/``LIF`` node of another exporter, metadata keys ``reset`` ("subtract",
"to_value" or "zero"), ``reset_leak`` ("leaked", the default, or "unleaked") and ``threshold_test``
override what NIR's node says (NIR's IF/LIF can only reset to v_reset); everything else comes from
the node's fields. Anything else -- another node type, a recurrent edge that is not the loop above,
shapes that do not match -- raises :class:`NirError` with one line naming the node.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from simcore import AvgPool2d, Conv2d, Dense, Flatten, Network
from simcore.neuron import NeuronParams
from simcore.nir_plan import RUN_FIELDS, NirError, Plan, Population, Projection, apply_op, chain_lattice, lattice_step, \
    require_nir, weighted

__all__ = ["load_nir", "read_nir", "from_nir", "nir_to_plan", "SEMANTICS"]

SEMANTICS = ("nir", "recorded")


def load_nir(path: str | os.PathLike, dt: float | None = None, semantics: str = "nir") -> Network:
    """Read a ``.nir`` file and build its simcore Network (see the module docstring)."""
    return read_nir(path, dt, semantics)[0]


def read_nir(path: str | os.PathLike, dt: float | None = None, semantics: str = "nir") -> tuple[Network, dict]:
    """(Network, run settings found in the graph metadata: dataset, T, seed, ... as RUN_FIELDS)."""
    nir = require_nir()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise NirError(f"NIR file not found: {path}")
    try:
        graph = nir.read(path)
    except Exception as e:  # h5py/nir raise many types for a file that is not NIR
        raise NirError(f"{path}: not a readable NIR file ({type(e).__name__}: {e})") from None
    meta = graph.metadata or {}
    run = {}
    for key, kind in RUN_FIELDS.items():
        if key in meta:
            value = meta[key]
            run[key] = kind(value.decode() if isinstance(value, bytes) else value)
    return from_nir(graph, dt, semantics), run


def from_nir(graph, dt: float | None = None, semantics: str = "nir") -> Network:
    return nir_to_plan(graph, dt, semantics).network()


def nir_to_plan(graph, dt: float | None = None, semantics: str = "nir") -> Plan:
    """The Plan of a ``nir.NIRGraph``."""
    nir = require_nir()
    if semantics not in SEMANTICS:
        raise NirError(f"semantics must be one of {SEMANTICS}, got {semantics!r}")
    g = _Graph(nir, graph, dt)
    plan = Plan()
    inp = g.single(nir.Input)
    shapes = list(g.nodes[inp].input_type.values())
    plan.populations.append(Population(inp, tuple(int(s) for s in np.asarray(shapes[0]).ravel())))
    for name in g.spiking_order():
        _add_population(g, plan, name, semantics)
    out = g.single(nir.Output)
    src = g.pred[out]
    if len(src) != 1 or src[0] not in g.spiking:
        raise NirError(f"node '{out}': the Output must be fed by exactly one spiking node (IF, LIF or reset loop)")
    if plan.populations[-1].name != src[0]:
        raise NirError(f"node '{src[0]}': feeds the Output but other spiking nodes come after it")
    return plan


class _Graph:
    """Adjacency, the recognised reset loops and checks of a NIR graph."""

    def __init__(self, nir, graph, dt):
        self.nir, self.nodes = nir, dict(graph.nodes)
        self.pred = {n: [] for n in self.nodes}
        self.succ = {n: [] for n in self.nodes}
        for a, b in graph.edges:
            for end in (a, b):
                if end not in self.nodes:
                    raise NirError(f"edge {a} -> {b}: node '{end}' does not exist (nested graphs are not supported)")
            self.succ[a].append(b)
            self.pred[b].append(a)
        meta_dt = (graph.metadata or {}).get("dt")
        self.dt = float(dt) if dt is not None else (float(meta_dt) if meta_dt is not None else None)
        if self.dt is not None and not (np.isfinite(self.dt) and self.dt > 0):
            raise NirError(f"time step dt must be > 0, got {self.dt}")
        linear = (nir.Affine, nir.Linear, nir.Scale, nir.Conv2d, nir.SumPool2d, nir.AvgPool2d, nir.Flatten,
                  nir.Delay)
        self.loops = self._loops()
        in_loop = {x for t, (v, fb) in self.loops.items() for x in (v, fb)}
        self.spiking = {n for n, node in self.nodes.items() if isinstance(node, (nir.IF, nir.LIF))} | set(self.loops)
        for n, node in self.nodes.items():
            if n in self.spiking or n in in_loop or isinstance(node, (nir.Input, nir.Output) + linear):
                continue
            kind = type(node).__name__
            why = {"I": "an integrator outside the I -> Threshold -> Scale(-theta) reset loop never spikes",
                   "LI": "a leaky integrator outside the LI -> Threshold -> Scale reset loop never spikes",
                   "Threshold": "a Threshold outside a reset loop has no neuron state in simcore",
                   "NIRGraph": "nested graphs are not supported"}.get(kind, "this node type is not supported")
            raise NirError(f"node '{n}': NIR {kind}: {why}")
        self._check_acyclic()

    def single(self, kind) -> str:
        found = [n for n, node in self.nodes.items() if isinstance(node, kind)]
        if len(found) != 1:
            raise NirError(f"graph must have exactly one {kind.__name__} node, found {len(found)}: {found}")
        return found[0]

    def _loops(self) -> dict:
        nir, loops = self.nir, {}
        for t, node in self.nodes.items():
            if not isinstance(node, nir.Threshold):
                continue
            ints = [v for v in self.pred[t] if isinstance(self.nodes[v], (nir.I, nir.LI))]
            fbs = [f for f in self.succ[t] if isinstance(self.nodes[f], nir.Scale) and self.pred[f] == [t]
                   and len(ints) == 1 and self.succ[f] == ints]
            if len(ints) == 1 and len(fbs) == 1 and self.pred[t] == ints and self.succ[ints[0]] == [t]:
                loops[t] = (ints[0], fbs[0])
        return loops

    def _check_acyclic(self) -> None:
        back = {(fb, v) for v, fb in self.loops.values()}
        indeg = {n: sum((p, n) not in back for p in self.pred[n]) for n in self.nodes}
        ready = [n for n, d in indeg.items() if d == 0]
        self.order = []
        while ready:
            n = ready.pop(0)
            self.order.append(n)
            for m in self.succ[n]:
                if (n, m) not in back:
                    indeg[m] -= 1
                    if indeg[m] == 0:
                        ready.append(m)
        if len(self.order) < len(self.nodes):
            left = [n for n in self.nodes if n not in self.order]
            a = left[0]
            b = next(m for m in self.succ[a] if m in left)
            raise NirError(f"recurrent edge {a} -> {b}: only the I -> Threshold -> Scale(-theta) reset loop may "
                           "close a cycle in simcore")

    def spiking_order(self) -> list[str]:
        return [n for n in self.order if n in self.spiking]

    def entry(self, name: str) -> str:
        return self.loops[name][0] if name in self.loops else name

    def paths(self, name: str) -> list[list[str]]:
        """Every path source -> linear nodes -> the neuron's entry node (source: input or spiking node)."""
        found, fb = [], self.loops.get(name, (None, None))[1]

        def walk(node, tail):
            for p in self.pred[node]:
                if p == fb:
                    continue
                if p in self.spiking or isinstance(self.nodes[p], self.nir.Input):
                    found.append([p, *tail])
                else:
                    walk(p, [p, *tail])

        walk(self.entry(name), [])
        srcs = [p[0] for p in found]
        dup = next((s for s in srcs if srcs.count(s) > 1), None)
        if dup is not None:
            raise NirError(f"node '{name}': two paths from '{dup}' (simcore has one projection per pair)")
        if not found:
            raise NirError(f"node '{name}': no input reaches it")
        return found


def _uniform(node_name: str, field: str, value) -> float:
    arr = np.asarray(value, dtype=np.float64).ravel()
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise NirError(f"node '{node_name}': {field} must be finite numbers")
    if np.any(arr != arr[0]):
        raise NirError(f"node '{node_name}': {field} differs between neurons; simcore has one value per population")
    return float(arr[0])


def _gain(g: _Graph, name: str, node, leaky: bool):
    """(beta, input gain, leak current) of an IF/I (leaky False) or LIF/LI node under Euler at dt."""
    r = _uniform(name, "r", node.r)
    if not leaky:
        if g.dt is None and r != 1.0:
            raise NirError(f"node '{name}': r = {r} needs the time step dt to scale the input (pass --dt)")
        return 1.0, (1.0 if g.dt is None else g.dt) * r, 0.0
    if g.dt is None:
        raise NirError(f"node '{name}': {type(node).__name__} needs the time step dt to discretise "
                       "tau dv/dt (pass --dt or write dt in the graph metadata)")
    a = g.dt / _uniform(name, "tau", node.tau)
    if not 0.0 < a < 1.0:
        raise NirError(f"node '{name}': dt/tau = {a} is outside (0, 1): Euler's leak factor 1 - dt/tau must be in (0, 1)")
    return 1.0 - a, a * r, a * np.asarray(node.v_leak, dtype=np.float64)


def _add_population(g: _Graph, plan: Plan, name: str, semantics: str) -> None:
    nir, node = g.nir, g.nodes[name]
    integ = g.nodes[g.entry(name)]
    beta, gain, leak = _gain(g, g.entry(name), integ, isinstance(integ, (nir.LIF, nir.LI)))
    projs, bias, shape = [], None, None
    for path in g.paths(name):
        src_shape = plan.population(path[0]).shape
        ops, pbias, delay, out_shape = _translate(g, path, src_shape)
        if shape is not None and out_shape != shape:
            raise NirError(f"node '{name}': inputs of shapes {shape} and {out_shape}")
        shape = out_shape
        projs.append(Projection(path[0], name, _scale_ops(ops, gain, name), delay))
        bias = pbias if bias is None else bias + pbias
    n = int(np.prod(shape))
    for part in {name, g.entry(name)}:
        for field in ("r", "tau", "v_leak", "v_threshold", "v_reset", "threshold"):
            value = getattr(g.nodes[part], field, None)
            if value is not None and np.size(value) not in (1, n):
                raise NirError(f"node '{part}': {field} has {np.size(value)} values but its input has shape {shape}")
    bias = gain * bias + np.broadcast_to(np.asarray(leak, dtype=np.float64).ravel(), (n,))
    if name in g.loops:
        params = _loop_params(g, name, beta, gain, projs, bias)
    else:
        v_reset = 0.0 if node.v_reset is None else _uniform(name, "v_reset", node.v_reset)
        params = NeuronParams(threshold=_uniform(name, "v_threshold", node.v_threshold), threshold_test=">",
                              reset="to_value", v_reset=v_reset, beta=beta, bias_mode="current")
    meta = node.metadata or {}
    if semantics == "recorded" and _text(meta.get("exporter", "")) == "spikecount":
        params, bias = _recorded(name, meta, bias, shape)
    elif semantics == "recorded" and name not in g.loops and set(meta) & set(_RESET_KEYS):
        params = _recorded_reset(name, meta, params)
    plan.populations.append(Population(name, shape, params, np.asarray(bias, dtype=np.float64).ravel()))
    plan.projections.extend(projs)


def _loop_params(g: _Graph, name: str, beta: float, gain: float, projs, bias) -> NeuronParams:
    """The neuron of a reset loop whose feedback subtracts c = gain * (-scale) (module docstring)."""
    theta = _uniform(name, "threshold", g.nodes[name].threshold)
    c = -gain * _uniform(g.loops[name][1], "scale", g.nodes[g.loops[name][1]].scale)
    if c == beta * theta or c == theta:
        leak = "unleaked" if c == theta and beta < 1.0 else "leaked"
        return NeuronParams(threshold=theta, threshold_test=">", reset="subtract", beta=beta, bias_mode="current",
                            reset_leak=leak)
    steps = [lattice_step(bias, c)] + [chain_lattice(p.ops) for p in projs]
    step = None if any(s is None for s in steps) else min(steps)
    if beta == 1.0 and step is not None and c - step <= theta < c and c / step == round(c / step):
        return NeuronParams(threshold=c, threshold_test=">=", reset="subtract", bias_mode="current")
    raise NirError(f"node '{name}': the reset loop subtracts {c} but fires above {theta}; simcore subtracts the "
                   "threshold (before or after the leak; on a weight lattice it may fire at V >= the subtracted "
                   "amount)")


_RESET_KEYS = ("reset", "reset_leak", "threshold_test")


def _text(value) -> str:
    """A metadata string as written (HDF5 may hand back bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _recorded_reset(name: str, meta: dict, params: NeuronParams) -> NeuronParams:
    """params with the reset (and threshold test) an IF/LIF node's metadata records (``semantics="recorded"``)."""
    fields = {k: _text(meta[k]) for k in _RESET_KEYS if k in meta}
    try:
        return dataclasses.replace(params, **fields)
    except ValueError as e:
        raise NirError(f"node '{name}': metadata {fields} is not a neuron simcore has ({e})") from None


def _recorded(name: str, meta: dict, bias: np.ndarray, shape) -> tuple[NeuronParams, np.ndarray]:
    """The neuron model spikecount recorded in a node's metadata (``semantics="recorded"``)."""
    try:
        mode = "current" if _text(meta["bias"]) == "per_step" else "initial"
        params = NeuronParams(threshold=float(meta["threshold"]), threshold_test=_text(meta["threshold_test"]),
                              reset=_text(meta["reset"]), v_reset=float(meta["v_reset"]), beta=float(meta["beta"]),
                              bias_mode=mode, reset_leak=_text(meta.get("reset_leak", "leaked")))
    except (KeyError, ValueError) as e:
        raise NirError(f"node '{name}': spikecount metadata incomplete or invalid ({e})") from None
    if mode == "initial":
        if np.any(bias != 0):
            raise NirError(f"node '{name}': metadata says bias 'initial' but the graph also has a per-step bias")
        v0 = np.asarray(meta.get("v_initial", np.zeros(shape)), dtype=np.float64)
        if v0.size != int(np.prod(shape)):
            raise NirError(f"node '{name}': metadata v_initial has {v0.size} values for shape {shape}")
        bias = v0.ravel()
    return params, bias


def _scale_ops(ops: list, factor: float, name: str) -> list:
    """ops with the last weighted op's weights multiplied by factor (a scalar commutes with linear ops)."""
    if factor == 1.0:
        return ops
    k = max((k for k, op in enumerate(ops) if weighted(op)), default=-1)
    if k < 0:
        raise NirError(f"node '{name}': an input gain of {factor} needs a weighted node (Affine, Linear, Conv2d) "
                       "on every input path")
    ops = list(ops)
    ops[k] = _with_weight(ops[k], ops[k].weight * factor)
    return ops


def _with_weight(op, w):
    return Dense(w) if isinstance(op, Dense) else Conv2d(w, stride=op.stride, padding=op.padding)


def _pair(node_name: str, field: str, value) -> int:
    v = np.asarray(value).ravel()
    if v.size not in (1, 2) or (v.size == 2 and v[0] != v[1]) or v.dtype.kind not in "iuf" or v[0] != int(v[0]):
        raise NirError(f"node '{node_name}': {field} {value!r} is not one integer for both axes")
    return int(v[0])


def _translate(g: _Graph, path: list[str], src_shape) -> tuple:
    """(simcore ops, bias (flat, a current), delay in steps, output shape) of one path of linear nodes.

    The bias is tracked at its true value; ``pending`` is a scale owed by the op chain (SumPool's
    k^2, Scale nodes), folded into the next weighted op (or the previous one at the end).
    """
    nir = g.nir
    shape, ops, bias, pending, delay = tuple(src_shape), [], np.zeros(int(np.prod(src_shape))), 1.0, 0
    for name in path[1:]:
        node, n_in = g.nodes[name], int(np.prod(shape))
        if isinstance(node, (nir.Affine, nir.Linear)):
            w = np.asarray(node.weight, dtype=np.float64)
            if w.ndim != 2 or w.shape[1] != n_in:
                raise NirError(f"node '{name}': weight {w.shape} does not take its input of shape {shape}")
            b = np.asarray(node.bias, dtype=np.float64) if isinstance(node, nir.Affine) else 0.0
            ops.append(Dense(w * np.broadcast_to(pending, (n_in,))[None, :]))
            bias, pending, shape = w @ bias + b, 1.0, (w.shape[0],)
        elif isinstance(node, nir.Conv2d):
            if np.ndim(pending):
                raise NirError(f"node '{name}': a per-neuron Scale before a Conv2d cannot be folded")
            if _pair(name, "dilation", node.dilation) != 1 or int(node.groups) != 1:
                raise NirError(f"node '{name}': Conv2d with dilation or groups is not supported")
            pad = 0 if isinstance(node.padding, str) and node.padding == "valid" else node.padding
            if isinstance(pad, str):
                raise NirError(f"node '{name}': Conv2d padding {pad!r} is not supported (use integers)")
            w = np.asarray(node.weight, dtype=np.float64)
            stride, pad = _pair(name, "stride", node.stride), _pair(name, "padding", pad)
            if node.input_shape is not None and len(shape) == 3 and tuple(node.input_shape) != shape[1:]:
                raise NirError(f"node '{name}': input_shape {tuple(node.input_shape)} but its input is {shape}")
            true_op = Conv2d(w, stride=stride, padding=pad)
            out_shape = _shape_of(true_op, shape, name)
            b = np.zeros(w.shape[0]) if node.bias is None else np.asarray(node.bias, dtype=np.float64).ravel()
            bias = apply_op(true_op, shape, bias) + np.repeat(b, out_shape[1] * out_shape[2])
            ops.append(Conv2d(w * pending, stride=stride, padding=pad))
            shape, pending = out_shape, 1.0
        elif isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            if np.ndim(pending):
                raise NirError(f"node '{name}': a per-neuron Scale before pooling cannot be folded")
            if _pair(name, "padding", node.padding) != 0:
                raise NirError(f"node '{name}': pooling with padding is not supported")
            op = AvgPool2d(_pair(name, "kernel_size", node.kernel_size), stride=_pair(name, "stride", node.stride))
            k2 = op.kernel * op.kernel if isinstance(node, nir.SumPool2d) else 1.0
            new_shape = _shape_of(op, shape, name)
            bias, pending, shape = apply_op(op, shape, bias) * k2, pending * k2, new_shape
            ops.append(op)
        elif isinstance(node, nir.Flatten):
            ops.append(Flatten())
            shape = (n_in,)
        elif isinstance(node, nir.Scale):
            s = np.asarray(node.scale, dtype=np.float64).ravel()
            if s.size not in (1, n_in):
                raise NirError(f"node '{name}': scale has {s.size} values for an input of shape {shape}")
            bias = bias * s
            if np.all(s == s[0]):
                pending = pending * s[0]
            elif ops and isinstance(ops[-1], Dense) and np.ndim(pending) == 0:
                ops[-1] = Dense(ops[-1].weight * s[:, None])
            else:
                pending = pending * s
        elif isinstance(node, nir.Delay):
            if g.dt is None:
                raise NirError(f"node '{name}': a Delay needs the time step dt (pass --dt)")
            if np.any(bias != 0):
                raise NirError(f"node '{name}': a Delay after a bias delays the bias too (simcore's bias is a "
                               "current from the first step)")
            d = _uniform(name, "delay", node.delay) / g.dt
            if d < 0 or abs(d - round(d)) > 1e-9:
                raise NirError(f"node '{name}': delay {d} steps is not a whole number of steps >= 0")
            delay += int(round(d))
        else:
            raise NirError(f"node '{name}': NIR {type(node).__name__} cannot sit between spiking nodes")
    ops = _close_chain(ops, pending, shape, path[-1])
    return ops, bias, delay, shape


def _shape_of(op, shape, name) -> tuple:
    try:
        return tuple(op.out_shape(tuple(shape), f"node '{name}'"))
    except ValueError as e:
        raise NirError(str(e)) from None


def _close_chain(ops: list, pending, shape, name: str) -> list:
    """Fold the scale still owed into the last weighted op; an empty chain becomes an identity op."""
    if np.ndim(pending) == 0 and pending == 1.0:
        pass
    elif np.ndim(pending) == 0 and any(weighted(op) for op in ops):
        ops = _scale_ops(ops, float(pending), name)
    elif ops and isinstance(ops[-1], Dense):
        ops = ops[:-1] + [Dense(ops[-1].weight * np.asarray(pending)[:, None])]
    else:
        raise NirError(f"node '{name}': a Scale on its input path has no weighted node to fold into")
    if not ops:
        if len(shape) not in (1, 3):
            raise NirError(f"node '{name}': a direct edge from a population of shape {shape} is not supported")
        ops = [Flatten()] if len(shape) == 1 else [AvgPool2d(1)]
    return ops
