"""Brian2 cross-check: the same IF network in Brian2 and in simcore, neuron by neuron.

Brian2's default schedule (``start, groups, thresholds, synapses, resets, end``) delivers a spike
emitted at step ``n`` (delay 0) in the ``synapses`` slot of step ``n``, i.e. AFTER the target's
threshold test: every projection has one step of lag. A Brian2 network whose synapses have
delay ``d`` is therefore compared with a copy of the simcore graph whose projections have delay
``d + 1`` (:func:`delayed_copy`), run for ``steps = T + depth`` steps (depth = the longest
input -> output path delay of that copy). The two engines then see exactly the same events at the
same step indices, so spike *times* (not only counts) must agree.

Brian2 model (float64, ``defaultclock.dt = 1 ms``), one step ``n``:

The neuron equations, threshold and reset of every population are generated from its
:class:`simcore.neuron.NeuronParams` (:func:`brian2_neuron`), so Brian2 follows
:func:`simcore.neuron.step`: ``V <- beta V``, ``V += bias`` (bias_mode "current"), ``V += I``, fire
where ``V >= theta`` (or ``V > theta``), reset by subtraction or to ``v_reset``.

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
* ``before_synapses``: the leak ``v = beta * v`` (order -1, only for beta < 1), then for bias_mode
  "current" ``v += b`` -- the leak and bias of step ``n + 1``,
  added before the inputs of step ``n + 1`` (which Brian2 delivers in this step's ``synapses``
  slot), matching simcore's "``V += bias`` at the start of every step, before that step's input"
  in value AND float order. (Putting ``v += b`` at ``start`` of step n+1 would give the same
  potential up to rounding only: the order of the additions would be swapped.)
* ``synapses``: ``v_post += w`` (analog input: ``v_post += x_pre * w``), pathways ordered as
  simcore orders the incoming projections, synapses per source in ascending target index, so even
  non-dyadic weights are summed in simcore's order.

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

import numpy as np

from dataclasses import dataclass, replace

from learning.inputs import ENCODINGS
from simcore import Network, encoding as enc, predict, simulate
from simcore.neuron import NeuronParams, initial_potential, step

__all__ = ["crosscheck", "crosscheck_network", "run_brian2", "delayed_copy", "population_neurons", "brian2_neuron",
           "Brian2Neuron", "ROUNDING_TOL"]

ROUNDING_TOL = 1e-9  # |V - theta| below this at some step: a mismatch there is blamed on float rounding
MAX_EXPLAINED = 2000  # potential traces are recomputed for at most this many mismatches


# --------------------------------------------------------------------------------------------
# graph helpers
# --------------------------------------------------------------------------------------------
def delayed_copy(net: Network, extra: int = 1) -> Network:
    """The same populations and op chains with every projection's delay increased by ``extra``."""
    out = Network()
    for name in net._order:
        a = net.graph.nodes[name]
        if a["kind"] == "input":
            out.add_input(name, a["shape"])
        else:
            out.add_neurons(name, a["shape"], threshold=a["threshold"], bias=a["bias"],
                            bias_mode=a["bias_mode"], reset=a["reset"])
    for p in net.projections:
        out.connect(p.src, p.tgt, list(p.ops), delay=p.delay + int(extra))
    return out


def population_neurons(net: Network) -> dict[str, NeuronParams]:
    """The neuron model of every neuron population of ``net`` (threshold: its first neuron's; per-neuron
    thresholds are read from the compiled network where they are needed)."""
    out = {}
    for name in net.populations:
        a = net.graph.nodes[name]
        if a["kind"] != "input":
            out[name] = NeuronParams(threshold=float(np.ravel(a["threshold"])[0]), reset=a["reset"],
                                     bias_mode=a["bias_mode"])
    return out


@dataclass(frozen=True)
class Brian2Neuron:
    """Brian2 code of one population's neuron model (see :func:`brian2_neuron`)."""

    equations: str  # model equations (per-neuron b, theta, v0; shared beta, v_reset)
    threshold: str  # spike condition, before the window condition is and-ed in
    reset: str  # run in the after_thresholds slot
    leak: str | None  # run_regularly code before the bias, in before_synapses (None: no leak)
    bias_current: str | None  # run_regularly code in before_synapses (None: bias is V(0) only)


def brian2_neuron(neuron: NeuronParams) -> Brian2Neuron:
    """The Brian2 equations, threshold, reset and per-step operations of :func:`simcore.neuron.step`."""
    return Brian2Neuron(
        equations="v : 1\nb : 1 (constant)\ntheta : 1 (constant)\nv0 : 1 (constant)\n"
                  "beta : 1 (shared, constant)\nv_reset : 1 (shared, constant)",
        threshold="v > theta" if neuron.strict else "v >= theta",
        reset="v -= theta" if neuron.reset == "subtract" else "v = v_reset",
        leak=None if neuron.beta == 1.0 else "v = beta * v",
        bias_current="v += b" if neuron.bias_mode == "current" else None,
    )


def _before_test(neuron: NeuronParams, V, current, bias):
    """The potential of one :func:`simcore.neuron.step` just before its threshold test (leak, bias, input)."""
    return step(replace(neuron, threshold=np.finfo(np.float64).max), V, current, bias)[0]


def _window_start(neuron: NeuronParams, bias: np.ndarray) -> np.ndarray:
    """v at a window's first threshold test: step 0 of simcore's delayed copy, which receives no input."""
    return _before_test(neuron, initial_potential(neuron, bias), 0.0, bias)


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
               neurons: dict[str, NeuronParams] | None = None) -> dict:
    """Run K samples of ``net`` in Brian2, one window of ``steps`` (+ padding) steps each.

    trains: (K, T, D) bool input spike trains, or analog: (K, D) graded input values.
    Brian2 synapses get the graph's own delays (the default schedule adds one step per projection).
    neurons: the populations' neuron models (default :func:`population_neurons`); a population given
    here takes its threshold from its NeuronParams.
    Returns counts {population: (K, n) int64}, spike events {population: (sample, step, neuron)},
    the output potentials (K, n_out) at the last step, timings and the code-generation target used.
    """
    if target not in ("cython", "numpy"):
        raise ValueError(f"target must be 'cython' or 'numpy', got {target!r}")
    t_import = time.perf_counter()
    import brian2  # noqa: F401 -- slow (seconds); timed apart from the run

    import_seconds = time.perf_counter() - t_import
    fallback = None
    if target == "cython":
        ok, why = _cython_available()
        if not ok:
            target, fallback = "numpy", f"cython unavailable ({why})"
    try:
        res = _run_brian2(net, T, steps, trains, analog, target, neurons or {})
    except Exception as e:  # noqa: BLE001
        if target != "cython" or isinstance(e, (ValueError, MemoryError)):
            raise
        fallback = f"cython build failed ({type(e).__name__}: {str(e)[:200]})"
        res = _run_brian2(net, T, steps, trains, analog, "numpy", neurons or {})
    res["import_seconds"] = import_seconds
    res["target_requested"] = "cython" if fallback else res["target"]
    res["target_fallback"] = fallback
    return res


def _neuron_group(b2, name: str, k: int, neuron: NeuronParams, theta: np.ndarray, bias: np.ndarray,
                  steps: int, W: int, pad: int):
    """The NeuronGroup of population k with the scheduled operations of :func:`brian2_neuron`."""
    code = brian2_neuron(neuron)
    thr = code.threshold + (" and (t_in_timesteps % win) < nsteps" if pad else "")
    eqs = code.equations + ("\nwin : integer (shared, constant)\nnsteps : integer (shared, constant)" if pad else "")
    g = b2.NeuronGroup(len(bias), eqs, threshold=thr, reset=code.reset, name=f"xc_p{k}")
    v0 = _window_start(neuron, bias)
    g.b, g.theta, g.beta, g.v_reset, g.v0, g.v = bias, theta, neuron.beta, neuron.v_reset, v0, v0
    if pad:
        g.win = W
        g.nsteps = int(steps)
    g.resetter["spike"].when = "after_thresholds"
    g.resetter["spike"].order = 0
    g.run_regularly("v = v0", dt=W * b2.ms, when="start", name=f"xc_p{k}_window")
    if code.leak:
        g.run_regularly(code.leak, when="before_synapses", order=-1, name=f"xc_p{k}_leak")
    if code.bias_current:
        g.run_regularly(code.bias_current, when="before_synapses", name=f"xc_p{k}_bias")
    return g


def _run_brian2(net: Network, T: int, steps: int, trains, analog, target: str,
                overrides: dict[str, NeuronParams]) -> dict:
    import brian2 as b2

    comp = net.compile()
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
            groups[name] = g = _neuron_group(b2, name, k, neurons[name], theta, comp.bias[s], steps, W, pad)
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
            S.pre.order = q
            objs.append(S)
        mons = {name: b2.SpikeMonitor(g, name=f"xc_mon{k}") for k, (name, g) in enumerate(groups.items())}
        objs.extend(mons.values())
        out_name = names[comp.output_index]
        vmon = b2.StateMonitor(groups[out_name], "v", record=True, when="after_thresholds", order=10,
                               name="xc_vout")
        objs.append(vmon)
        bnet = b2.Network(*objs, name="xc_network")
        build = time.perf_counter() - t0
        t1 = time.perf_counter()
        bnet.run(K * W * b2.ms, namespace={})
        wall = time.perf_counter() - t1
        loop = float(b2.device._last_run_time)
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
            "build_seconds": build, "compile_seconds": wall - loop, "run_seconds": loop,
            "samples": K,
            "brian2_version": b2.__version__}


# --------------------------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------------------------
def _simcore_events(raster, name, K):
    smp, ts, ii = [], [], []
    for s, (t, i) in enumerate(raster[name]):
        smp.append(np.full(len(t), s, dtype=np.int64))
        ts.append(t.astype(np.int64))
        ii.append(i.astype(np.int64))
    if not smp:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    return np.concatenate(smp), np.concatenate(ts), np.concatenate(ii)


def _column(cp, j):
    """Weights from every source neuron to target j of a compiled projection (n_src,)."""
    if cp.dense:
        return cp.weights[:, j]
    rows = np.repeat(np.arange(cp.n_src), np.diff(cp.indptr))
    m = cp.indices == j
    col = np.zeros(cp.n_src)
    col[rows[m]] = cp.weights[m]
    return col


def _trace(ref_comp, raster, sample, k, j, steps, analog_x, neuron: NeuronParams):
    """simcore's pre-threshold potential of neuron j (flat, population index k) at every step, its
    spikes and threshold: :func:`simcore.neuron.step` of ``neuron`` driven by the raster's events."""
    off = int(ref_comp.offsets[k])
    neuron = replace(neuron, threshold=float(ref_comp.threshold[off + j]))
    bias = float(ref_comp.bias[off + j])
    current = np.zeros(steps)
    for cp in ref_comp.projections:
        if cp.tgt != k:
            continue
        t, i = raster[ref_comp.names[cp.src]][sample]
        w = _column(cp, j)[i] * (analog_x[sample, i] if analog_x is not None and cp.src == ref_comp.input_index else 1.0)
        arrive = t.astype(np.int64) + cp.delay
        np.add.at(current, arrive[arrive < steps], w[arrive < steps])
    V = initial_potential(neuron, bias)
    pre = np.zeros(steps)
    fired = np.zeros(steps, dtype=bool)
    for n in range(steps):
        pre[n] = _before_test(neuron, V, current[n], bias)
        V, fired[n] = step(neuron, V, current[n], bias)
    return pre, fired, neuron.threshold


def crosscheck_network(net: Network, intensity=None, T: int | None = None, seed: int = 0, *, trains=None,
                       encoding: str = "bernoulli", max_rate: float = 1.0, sample_ids=None,
                       target: str = "cython", reference: Network | None = None, labels=None,
                       explain: bool = True) -> dict:
    """Cross-check ``net`` on K samples: Brian2 (default schedule, the graph's delays) against simcore.

    The simcore side runs ``reference`` (default :func:`delayed_copy` ``(net)``: delay + 1 on every
    projection, the equivalent of Brian2's schedule), in sync mode, for the same number of steps.
    intensity (K, D) with ``seed``/``sample_ids``/``max_rate`` (Bernoulli, regenerated exactly as
    simcore does) or ``encoding="analog"``; or explicit ``trains`` (K, T, D) bool.

    Returns a JSON-ready dict: ``identical_count_fraction`` (over all (sample, neuron) pairs of the
    neuron populations) and ``..._by_population`` (input included), ``identical_spike_times_fraction
    _by_population``, ``identical_prediction_fraction``, ``output_membrane_max_abs_diff``, timings
    (``brian2_seconds`` = Brian2's main loop only; ``brian2_build_seconds`` = object creation incl.
    synapse generation; ``brian2_compile_seconds`` = code generation/compilation in ``before_run``;
    ``brian2_import_seconds``; ``simcore_seconds``), ``brian2_target`` (and ``..._fallback``: why
    cython was not used), and ``mismatches``: EVERY (sample, population, neuron) whose counts differ,
    with both counts, ``first_divergent_step`` and ``explanation`` -- "upstream: ..." (a source
    population's spike trains already differ in that sample), "rounding: ..." (simcore's
    pre-threshold potential within ``ROUNDING_TOL`` of threshold at some step, recomputed from
    simcore's raster; ``min_distance_to_threshold`` given), or "unexplained: ...".
    """
    net.compile()
    ref = reference if reference is not None else delayed_copy(net)
    ref_comp = ref.compile()
    if ref_comp.names != net.compile().names:
        raise ValueError("reference network must have the same populations as net")
    # ---- inputs ----
    analog_x = None
    if trains is not None:
        trains = np.ascontiguousarray(trains, dtype=np.bool_)
        T = trains.shape[1]
        sim_in = {"trains": trains}
    else:
        if intensity is None or T is None:
            raise ValueError("give intensity (K, D) and T, or trains (K, T, D)")
        x = np.asarray(intensity, dtype=np.float64).reshape(len(intensity), -1)
        if encoding == "bernoulli":
            trains = enc.bernoulli_trains(x, T, seed, max_rate=max_rate, sample_ids=sample_ids)
            sim_in = {"intensity": x, "encoding": "bernoulli", "max_rate": max_rate, "sample_ids": sample_ids}
        elif encoding == "analog":
            analog_x = enc.validate_intensity(x)
            sim_in = {"intensity": x, "encoding": "analog"}
        else:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    T = int(T)
    # Brian2's schedule: one step of lag per projection; the window lets that activity drain. It does not
    # depend on ``reference`` (a wrong reference is simulated for the same number of steps).
    steps = T + delayed_copy(net).compile().max_path_delay
    # ---- simcore ----
    sres = simulate(ref, T=T, seed=seed, mode="sync", steps=steps, record_raster=True, **sim_in)
    # ---- Brian2 ----
    bres = run_brian2(net, T, steps, trains=trains if analog_x is None else None, analog=analog_x, target=target)
    K = bres["samples"]
    names = ref_comp.names
    inp_name = names[ref_comp.input_index]
    out_name = names[ref_comp.output_index]
    # ---- counts ----
    per_pop, mismatches = {}, []
    diff_samples = {}  # population -> set of samples whose spike trains differ
    first_div = {}  # (population, sample, neuron) -> first step whose spike differs
    raster_identical = {}
    for k, name in enumerate(names):
        n = int(ref_comp.sizes[k])
        bc = bres["counts"][name]
        sc = sres.counts[name].astype(np.int64)
        same = bc == sc
        per_pop[name] = float(same.mean()) if same.size else 1.0
        # spike times
        bs, bt, bi = bres["events"][name]
        ss, st, si = _simcore_events(sres.raster, name, K)
        kb = (bs * steps + bt) * n + bi
        ks = (ss * steps + st) * n + si
        x = np.setxor1d(kb, ks)
        xs_ = x // (steps * n)
        xt = (x // n) % steps
        xi = x % n
        diff_samples[name] = set(xs_.tolist())
        bad_pairs = np.unique(xs_ * n + xi)
        raster_identical[name] = 1.0 - bad_pairs.size / max(K * n, 1)
        for s_, t_, i_ in zip(xs_.tolist(), xt.tolist(), xi.tolist()):
            key = (name, s_, i_)
            if key not in first_div or t_ < first_div[key]:
                first_div[key] = t_
        for s_, j_ in zip(*np.nonzero(~same)):
            mismatches.append({"sample": int(s_), "population": name, "neuron": int(j_),
                               "brian2_count": int(bc[s_, j_]), "simcore_count": int(sc[s_, j_]),
                               "first_divergent_step": first_div.get((name, int(s_), int(j_)))})
    neuron_pops = [p for p in names if p != inp_name]
    tot = sum(int(ref_comp.sizes[names.index(p)]) for p in neuron_pops) * K
    n_same = sum(per_pop[p] * int(ref_comp.sizes[names.index(p)]) * K for p in neuron_pops)
    # ---- explanations ----
    if explain:
        neurons = population_neurons(ref)
        sources = {names[k]: sorted({names[cp.src] for cp in ref_comp.projections if cp.tgt == k})
                   for k in range(len(names))}
        for m_no, m in enumerate(mismatches):
            p, s_ = m["population"], m["sample"]
            if p == inp_name:
                m["explanation"] = "input trains differ (generator did not reproduce the simcore input)"
                continue
            ups = [q for q in sources[p] if s_ in diff_samples[q]]
            if ups:
                m["explanation"] = f"upstream: spike trains of {', '.join(ups)} already differ in this sample"
                continue
            if m_no >= MAX_EXPLAINED:
                m["explanation"] = "not examined (too many mismatches)"
                continue
            k = names.index(p)
            pre, fired, theta = _trace(ref_comp, sres.raster, s_, k, m["neuron"], steps, analog_x, neurons[p])
            gap = np.abs(pre - theta)
            t_min = int(np.argmin(gap))
            m["min_distance_to_threshold"] = float(gap[t_min])
            if gap[t_min] <= ROUNDING_TOL * max(1.0, abs(theta)):
                m["explanation"] = (f"rounding: simcore potential {pre[t_min]!r} within {gap[t_min]:.1e} of "
                                    f"threshold {theta!r} at step {t_min}")
            else:
                m["explanation"] = "unexplained: inputs identical and no potential near threshold"
    # ---- predictions ----
    b_pred = predict(bres["counts"][out_name], bres["v_end"])
    s_pred = sres.predictions
    out = {
        "samples": K, "T": T, "steps": steps, "window": bres["window"], "seed": int(seed),
        "encoding": "trains" if analog_x is None and "trains" in sim_in else sim_in.get("encoding"),
        "identical_count_fraction": float(n_same / tot) if tot else 1.0,
        "identical_count_fraction_by_population": per_pop,
        "identical_spike_times_fraction_by_population": raster_identical,
        "identical_prediction_fraction": float(np.mean(b_pred == s_pred)) if K else 1.0,
        "output_membrane_max_abs_diff": float(np.max(np.abs(bres["v_end"] - sres.membrane[out_name]))) if K else 0.0,
        "mismatch_count": len(mismatches),
        "brian2_seconds": bres["run_seconds"],
        "brian2_seconds_per_sample": bres["run_seconds"] / K if K else 0.0,
        "brian2_build_seconds": bres["build_seconds"],
        "brian2_compile_seconds": bres["compile_seconds"],
        "brian2_import_seconds": bres["import_seconds"],
        "brian2_target": bres["target"],
        "brian2_target_fallback": bres["target_fallback"],
        "brian2_version": bres["brian2_version"],
        "simcore_seconds": sres.elapsed,
        "reference_delays": [int(d) for d in ref_comp.p_delay],
        "brian2_synapse_delays": [int(d) for d in net.compile().p_delay],
        "predictions_brian2": b_pred.tolist(),
        "predictions_simcore": s_pred.tolist(),
        "mismatches": mismatches,
    }
    if labels is not None:
        y = np.asarray(labels)
        out["accuracy_brian2"] = float(np.mean(b_pred == y))
        out["accuracy_simcore"] = float(np.mean(s_pred == y))
    return out


def crosscheck(model_dir_or_graph, dataset: str | None = None, limit: int | None = 100, data_dir=None,
               seed: int | None = None, split: str = "test", target: str = "cython", *, T: int | None = None,
               split_seed: int | None = None) -> dict:
    """Cross-check a trained model / graph directory (or a Network) on the first ``limit`` samples of a split.

    Inputs: the model's encoding, max_rate, seed (unless given) and split seed; sample ids 0..K-1.
    """
    from learning.simulate import prepare_run

    run = prepare_run(model_dir_or_graph, dataset, split=split, T=T, seed=seed, split_seed=split_seed,
                      data_dir=data_dir, limit=limit)
    res = crosscheck_network(run.graph, run.intensity, run.T, run.seed, encoding=run.encoding,
                             max_rate=run.max_rate, sample_ids=np.arange(len(run.data.y)), target=target,
                             labels=run.data.y)
    source, dataset = run.source, run.data.name
    res = {"model": source, "dataset": dataset, "split": split, **res}
    try:
        from simcore.provenance import environment

        res.update(environment())
    except Exception:  # noqa: BLE001 -- provenance is optional decoration
        pass
    return res
