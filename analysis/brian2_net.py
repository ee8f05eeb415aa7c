"""Brian2 side of the cross-check: a simcore Network, built and run in Brian2 (float64, numpy or cython).

The neuron equations, threshold and reset of every population are generated from its
:class:`simcore.neuron.NeuronParams` (:func:`brian2_neuron`), so Brian2 follows
:func:`simcore.neuron.step`: ``V <- beta V``, ``V += bias`` (bias_mode "current"), ``V += I``, fire
where ``V >= theta`` (or ``V > theta``), reset by subtraction or to ``v_reset``.

Brian2 model (float64, ``defaultclock.dt = 1 ms``), one step ``n``:

* ``start``: at each window start, ``v = v0`` (``run_regularly`` on a clock of ``W`` steps), the
  potential simcore has after step 0 of the delayed copy (whose projections deliver nothing at
  step 0): ``beta * bias`` for bias_mode "initial" (V(0) = bias, then the leak), ``bias`` for
  "current" (V(0) = 0, then the bias of step 0).
* ``thresholds``: input ``SpikeGeneratorGroup`` emits (Bernoulli trains regenerated with
  :func:`simcore.encoding.bernoulli_trains`, same seed and sample ids, only at window steps
  ``< T``); each ``NeuronGroup`` fires where ``v >= theta`` or ``v > theta`` (per-neuron theta).
* ``after_thresholds``: reset ``v -= theta`` or ``v = v_reset`` -- the resetter is MOVED here from
  Brian2's default ``resets`` slot, because at the default place it runs after the synaptic
  deliveries of the same step: with a reset to a value those inputs would be wiped (simcore
  integrates them at step n+1 after the reset), and with "subtract" the float order would differ.
* ``before_synapses``: the leak ``v = beta * v`` (order -1, only for beta < 1; for reset_leak
  "unleaked" the resetter only sets ``pend = 1`` and this code takes the threshold off after the leak,
  ``v = beta * v - theta * pend``, even for beta = 1), then for bias_mode
  "current" ``v += b`` -- the leak and bias of step ``n + 1``,
  added before the inputs of step ``n + 1`` (which Brian2 delivers in this step's ``synapses``
  slot), matching simcore's "``V += bias`` at the start of every step, before that step's input"
  in value AND float order. (Putting ``v += b`` at ``start`` of step n+1 would give the same
  potential up to rounding only: the order of the additions would be swapped.)
* ``synapses``: ``v_post += w`` (analog input: ``v_post += x_pre * w``), pathways ordered as
  simcore orders the incoming projections, synapses per source in ascending target index, so even
  non-dyadic weights are summed in simcore's order.

**Same-step schedule** (``same_step=True``; the network as simcore runs it and as every accuracy
is reported: zero delay, a spike reaches the next layer in the step it is emitted). Everything of
a step runs in Brian2's ``thresholds`` slot, population by population in the compiled (topological)
order, with ``order = 1000 * rank + k`` (spec-notes section 3): the input generator (rank 0, order 0)
fires; then for each neuron population: leak (``+1``), bias current (``+2``), the incoming
pathways ``S.pre`` (``+100 + q``, q = simcore's projection index, so inputs are summed in simcore's
order; a pathway pushes the source's spikes of THIS step, its source having run earlier in the
slot, and delivers those with delay 0 at once), the thresholder (``+500``), the resetter
(``+600``). The window start sets ``v = V(0)`` (:func:`simcore.neuron.initial_potential`), and
the output potential is recorded after the last resetter. Projections with a delay ``d > 0``
deliver ``d`` steps later at the same place in the order, as simcore does.

Many samples run in ONE ``run()``: sample k occupies window ``[k W, (k+1) W)`` with
``W = steps + max(original delay)`` (the padding lets delayed spikes drain; neurons cannot fire
in it). Spike counts and times per window come from ``SpikeMonitor``s; the output potentials at
the window's last step (after its reset) from a ``StateMonitor`` placed after the resetter; they
break count ties in :func:`simcore.decode.predict` as in simcore.

Analog input: an input ``NeuronGroup`` with ``x = xs(t, i)`` (a ``TimedArray`` of one row per
window) that "fires" while ``x != 0`` and the window step is ``< T``; synapses add ``x_pre * w``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from simcore import Network, compile_network
from simcore.neuron import NeuronParams, initial_potential, integrate

__all__ = ["run_brian2", "population_neurons", "brian2_neuron", "Brian2Neuron"]


def population_neurons(net: Network) -> dict[str, NeuronParams]:
    """The neuron model of every neuron population of ``net`` (threshold: its first neuron's; per-neuron
    thresholds are read from the compiled network where they are needed)."""
    out = {}
    for name in net.populations:
        pop = net.population(name)
        if not pop.is_input:
            out[name] = pop.neuron
    return out


@dataclass(frozen=True)
class Brian2Neuron:
    """Brian2 code of one population's neuron model (see :func:`brian2_neuron`)."""

    equations: str  # model equations (per-neuron b, theta, v0, pend for "unleaked"; shared beta, v_reset)
    threshold: str  # spike condition, before the window condition is and-ed in
    reset: str  # run in the after_thresholds slot
    leak: str | None  # run_regularly code before the bias, in before_synapses (None: no leak, nothing pending)
    bias_current: str | None  # run_regularly code in before_synapses (None: bias is V(0) only)
    window_start: str  # run_regularly code at each window start


def brian2_neuron(neuron: NeuronParams) -> Brian2Neuron:
    """The Brian2 equations, threshold, reset and per-step operations of :func:`simcore.neuron.step`.

    reset_leak "unleaked": the reset only sets ``pend = 1``; the next step's leak code takes the
    threshold off after the leak (``v = beta * v - theta * pend``, the same two roundings as simcore's
    ``beta * V`` then ``- theta``; ``- theta * 0`` changes nothing)."""
    leak = "v = beta * v" if neuron.beta != 1.0 else None
    if neuron.unleaked:
        leak = ("v = beta * v - theta * pend" if neuron.beta != 1.0 else "v = v - theta * pend") + "\npend = 0"
    pend = "\npend : 1" if neuron.unleaked else ""  # 1 while a subtraction waits for the next leak
    return Brian2Neuron(
        equations="v : 1\nb : 1 (constant)\ntheta : 1 (constant)\nv0 : 1 (constant)\n"
                  "beta : 1 (shared, constant)\nv_reset : 1 (shared, constant)" + pend,
        threshold="v > theta" if neuron.strict else "v >= theta",
        reset="pend = 1" if neuron.unleaked else ("v -= theta" if neuron.reset == "subtract" else "v = v_reset"),
        leak=leak,
        bias_current="v += b" if neuron.bias_mode == "current" else None,
        window_start="v = v0" + ("\npend = 0" if neuron.unleaked else ""),
    )


def _window_start(neuron: NeuronParams, bias: np.ndarray) -> np.ndarray:
    """v at a window's first threshold test: step 0 of simcore's delayed copy, which receives no input."""
    return integrate(neuron, initial_potential(neuron, bias), 0.0, bias, np.zeros(len(bias), dtype=bool))


def _pop_slices(comp):
    return {name: slice(int(comp.offsets[k]), int(comp.offsets[k + 1])) for k, name in enumerate(comp.names)}


def _input_events(trains, W):
    """(neuron indices, global steps) of the input events of all windows, from (K, T, D) trains."""
    s, t, i = np.nonzero(trains)
    return i.astype(np.int64), (s.astype(np.int64) * W + t)


# --------------------------------------------------------------------------------------------
# Brian2
# --------------------------------------------------------------------------------------------
def _cython_available() -> tuple[bool, str]:
    try:
        from brian2.codegen.runtime.cython_rt import CythonCodeObject

        ok = bool(CythonCodeObject.is_available())
        return ok, "" if ok else "CythonCodeObject.is_available() is False"
    except Exception as e:  # noqa: BLE001 -- any failure means: use numpy
        return False, f"{type(e).__name__}: {e}"


def run_brian2(net: Network, T: int, steps: int, *, trains=None, analog=None, target: str = "cython",
               neurons: dict[str, NeuronParams] | None = None, same_step: bool = False,
               monitor: str = "all") -> dict:
    """Run K samples of ``net`` in Brian2, one window of ``steps`` (+ padding) steps each.

    trains: (K, T, D) bool input spike trains, or analog: (K, D) graded input values.
    Brian2 synapses get the graph's own delays; ``same_step=False``: Brian2's default schedule (one
    extra step of lag per projection); ``same_step=True``: the per-layer schedule of the module
    docstring (exactly simcore's semantics for the graph's own delays).
    neurons: the populations' neuron models (default :func:`population_neurons`); a population given
    here takes its threshold from its NeuronParams.
    monitor: "all" (a SpikeMonitor on every population) or "output" (only the output population's:
    counts and events hold only it; fewer objects per step, for timing).
    Returns counts {population: (K, n) int64}, spike events {population: (sample, step, neuron)},
    the output potentials (K, n_out) at the last step, timings and the code-generation target used.
    """
    if target not in ("cython", "numpy"):
        raise ValueError(f"target must be 'cython' or 'numpy', got {target!r}")
    if monitor not in ("all", "output"):
        raise ValueError(f"monitor must be 'all' or 'output', got {monitor!r}")
    t_import = time.perf_counter()
    import brian2  # noqa: F401 -- slow (seconds); timed apart from the run

    import_seconds = time.perf_counter() - t_import
    fallback = None
    if target == "cython":
        ok, why = _cython_available()
        if not ok:
            target, fallback = "numpy", f"cython unavailable ({why})"
    try:
        res = _run_brian2(net, T, steps, trains, analog, target, neurons or {}, same_step, monitor)
    except Exception as e:  # noqa: BLE001
        if target != "cython" or isinstance(e, (ValueError, MemoryError)):
            raise
        fallback = f"cython build failed ({type(e).__name__}: {str(e)[:200]})"
        res = _run_brian2(net, T, steps, trains, analog, "numpy", neurons or {}, same_step, monitor)
    res["import_seconds"] = import_seconds
    res["target_requested"] = "cython" if fallback else res["target"]
    res["target_fallback"] = fallback
    return res


def _neuron_group(b2, name: str, k: int, neuron: NeuronParams, theta: np.ndarray, bias: np.ndarray,
                  steps: int, W: int, pad: int, same_step: bool):
    """The NeuronGroup of population k (rank k in the compiled order) with the scheduled operations of
    :func:`brian2_neuron`, in the default or the same-step schedule (module docstring)."""
    code = brian2_neuron(neuron)
    thr = code.threshold + (" and (t_in_timesteps % win) < nsteps" if pad else "")
    eqs = code.equations + ("\nwin : integer (shared, constant)\nnsteps : integer (shared, constant)" if pad else "")
    g = b2.NeuronGroup(len(bias), eqs, threshold=thr, reset=code.reset, name=f"xc_p{k}")
    v0 = initial_potential(neuron, bias) if same_step else _window_start(neuron, bias)
    g.b, g.theta, g.beta, g.v_reset, g.v0, g.v = bias, theta, neuron.beta, neuron.v_reset, v0, v0
    if pad:
        g.win = W
        g.nsteps = int(steps)
    g.run_regularly(code.window_start, dt=W * b2.ms, when="start", name=f"xc_p{k}_window")
    if same_step:
        base = SAME_STEP_RANK * k
        g.set_event_schedule("spike", when="thresholds", order=base + 500)
        g.resetter["spike"].when, g.resetter["spike"].order = "thresholds", base + 600
        slots = {"leak": ("thresholds", base + 1), "bias": ("thresholds", base + 2)}
    else:
        g.resetter["spike"].when, g.resetter["spike"].order = "after_thresholds", 0
        slots = {"leak": ("before_synapses", -1), "bias": ("before_synapses", 0)}
    if code.leak:
        g.run_regularly(code.leak, when=slots["leak"][0], order=slots["leak"][1], name=f"xc_p{k}_leak")
    if code.bias_current:
        g.run_regularly(code.bias_current, when=slots["bias"][0], order=slots["bias"][1], name=f"xc_p{k}_bias")
    return g


SAME_STEP_RANK = 1000  # order stride per population in the same-step schedule (room for its pathways)


def _run_brian2(net: Network, T: int, steps: int, trains, analog, target: str,
                overrides: dict[str, NeuronParams], same_step: bool, monitor: str) -> dict:
    import brian2 as b2

    comp = compile_network(net)
    neurons = {**population_neurons(net), **overrides}
    names = comp.names
    inp = comp.input_index
    D = int(comp.sizes[inp])
    K = trains.shape[0] if trains is not None else analog.shape[0]
    pad = int(comp.p_delay.max()) if len(comp.p_delay) else 0
    W = int(steps) + pad
    sl = _pop_slices(comp)

    old_target, old_dt = b2.prefs.codegen.target, b2.defaultclock.dt
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = 1 * b2.ms
    try:
        t0 = time.perf_counter()
        objs = []
        groups = {}
        # ---- input ----
        if trains is not None:
            idx, st = _input_events(trains, W)
            gen = b2.SpikeGeneratorGroup(D, idx, st * b2.ms, name="xc_input")
            on_pre_in = "v_post += w"
        else:
            xs = b2.TimedArray(np.ascontiguousarray(analog, dtype=np.float64), dt=W * b2.ms, name="xc_xs")
            gen = b2.NeuronGroup(
                D, "x : 1\nwin : integer (shared, constant)\nt_in : integer (shared, constant)",
                threshold="x != 0 and (t_in_timesteps % win) < t_in", reset="", name="xc_input",
                namespace={"xs": xs})
            gen.win = W
            gen.t_in = T
            gen.run_regularly("x = xs(t, i)", dt=W * b2.ms, when="start", name="xc_input_window")
            on_pre_in = "v_post += x_pre * w"
        groups[names[inp]] = gen
        objs.append(gen)
        # ---- neurons ----
        for k, name in enumerate(names):
            if k == inp:
                continue
            s = sl[name]
            theta = np.full(int(comp.sizes[k]), overrides[name].threshold) if name in overrides else comp.threshold[s]
            groups[name] = g = _neuron_group(b2, name, k, neurons[name], theta, comp.bias[s], steps, W, pad,
                                             same_step)
            objs.append(g)
        # ---- synapses, in simcore's delivery order ----
        for q, cp in enumerate(comp.projections):
            src_name, tgt_name = names[cp.src], names[cp.tgt]
            on_pre = on_pre_in if cp.src == inp else "v_post += w"
            S = b2.Synapses(groups[src_name], groups[tgt_name], "w : 1", on_pre=on_pre, name=f"xc_s{q}")
            if cp.dense:
                i = np.repeat(np.arange(cp.n_src), cp.n_tgt)
                j = np.tile(np.arange(cp.n_tgt), cp.n_src)
                w = cp.weights.ravel()
            else:
                i = np.repeat(np.arange(cp.n_src), np.diff(cp.indptr))
                j = cp.indices.astype(np.int64)
                w = cp.weights
            S.connect(i=i, j=j)
            S.w = w
            if cp.delay:
                S.delay = cp.delay * b2.ms
            if same_step:
                S.pre.when, S.pre.order = "thresholds", SAME_STEP_RANK * cp.tgt + 100 + q
            else:
                S.pre.order = q
            objs.append(S)
        out_name = names[comp.output_index]
        mons = {name: b2.SpikeMonitor(g, name=f"xc_mon{k}") for k, (name, g) in enumerate(groups.items())
                if monitor == "all" or name == out_name}
        objs.extend(mons.values())
        vmon = b2.StateMonitor(groups[out_name], "v", record=True, when="after_thresholds", order=10,
                               name="xc_vout")  # after every resetter in both schedules
        objs.append(vmon)
        bnet = b2.Network(*objs, name="xc_network")
        build = time.perf_counter() - t0
        t1 = time.perf_counter()
        bnet.run(K * W * b2.ms, namespace={})
        wall = time.perf_counter() - t1
        loop = float(b2.device._last_run_time)
        # the classes of the generated code objects (held as weak proxies: ``__class__`` is the real one)
        code_objects = sorted({c.__class__.__name__ for o in bnet.objects for c in o._code_objects})
        # ---- read back ----
        counts, events = {}, {}
        for name, m in mons.items():
            n = int(comp.sizes[names.index(name)])
            step = np.rint(np.asarray(m.t_[:]) / 1e-3).astype(np.int64)
            ii = np.asarray(m.i[:], dtype=np.int64)
            smp, ts = step // W, step % W
            counts[name] = np.bincount(smp * n + ii, minlength=K * n).reshape(K, n).astype(np.int64)
            events[name] = (smp, ts, ii)
        v = np.asarray(vmon.v_[:])  # (n_out, K * W)
        v_end = v[:, np.arange(K) * W + steps - 1].T.copy()
    finally:
        b2.prefs.codegen.target = old_target
        b2.defaultclock.dt = old_dt
    return {"counts": counts, "events": events, "v_end": v_end, "target": target, "window": W,
            "schedule": "same_step" if same_step else "default", "code_objects": code_objects,
            "build_seconds": build, "compile_seconds": wall - loop, "run_seconds": loop,
            "samples": K,
            "brian2_version": b2.__version__}


