"""Brian2 cross-check: the same IF network in Brian2 and in simcore, neuron by neuron.

Two schedules (``schedule``):

* ``"same_step"`` (default): THE network as reported -- simcore runs the graph itself (zero delay:
  a spike reaches the next layer in the step it is emitted, the network behind every reported
  accuracy), and Brian2 runs it with its objects ordered per layer inside one slot
  (:mod:`analysis.brian2_net`, "same-step schedule"), for ``steps = T`` (+ the graph's own delays).
* ``"delayed"``: Brian2's default schedule against a delayed copy of the graph, as follows.

Brian2's default schedule (``start, groups, thresholds, synapses, resets, end``) delivers a spike
emitted at step ``n`` (delay 0) in the ``synapses`` slot of step ``n``, i.e. AFTER the target's
threshold test: every projection has one step of lag. A Brian2 network whose synapses have
delay ``d`` is therefore compared with a copy of the simcore graph whose projections have delay
``d + 1`` (:func:`delayed_copy`), run for ``steps = T + depth`` steps (depth = the longest
input -> output path delay of that copy). The two engines then see exactly the same events at the
same step indices, so spike *times* (not only counts) must agree.


The Brian2 side (model, schedule, windows) is :mod:`analysis.brian2_net`; this module builds the
delayed copy, runs both engines and compares them, explaining every mismatch.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from analysis.brian2_net import population_neurons, run_brian2
from learning.choices import ENCODINGS
from simcore import Network, compile_network, encoding as enc, predict, simulate
from simcore.neuron import NeuronParams, initial_potential, integrate, step

__all__ = ["crosscheck", "crosscheck_network", "delayed_copy", "ROUNDING_TOL", "SCHEDULES"]

SCHEDULES = ("same_step", "delayed")

ROUNDING_TOL = 1e-9  # |V - theta| below this at some step: a mismatch there is blamed on float rounding
MAX_EXPLAINED = 2000  # potential traces are recomputed for at most this many mismatches


# --------------------------------------------------------------------------------------------
# graph helpers
# --------------------------------------------------------------------------------------------
def delayed_copy(net: Network, extra: int = 1) -> Network:
    """The same populations and op chains with every projection's delay increased by ``extra``."""
    projs = [replace(p, delay=p.delay + int(extra)) for p in net.projections]
    return Network.from_records(net.population_records, projs)


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
        before = fired[n - 1] if n else False
        pre[n] = integrate(neuron, V, current[n], bias, before)
        V, fired[n] = step(neuron, V, current[n], bias, before)
    return pre, fired, neuron.threshold


def _inputs(intensity, T, seed, trains, encoding, max_rate, sample_ids):
    """(Bernoulli trains or None, analog values or None, simcore's input keywords, T) of a cross-check."""
    if trains is not None:
        trains = np.ascontiguousarray(trains, dtype=np.bool_)
        return trains, None, {"trains": trains}, int(trains.shape[1])
    if intensity is None or T is None:
        raise ValueError("give intensity (K, D) and T, or trains (K, T, D)")
    x = np.asarray(intensity, dtype=np.float64).reshape(len(intensity), -1)
    if encoding == "bernoulli":
        trains = enc.bernoulli_trains(x, T, seed, max_rate=max_rate, sample_ids=sample_ids)
        return trains, None, {"intensity": x, "encoding": "bernoulli", "max_rate": max_rate,
                              "sample_ids": sample_ids}, int(T)
    if encoding == "analog":
        return None, enc.validate_intensity(x), {"intensity": x, "encoding": "analog"}, int(T)
    raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")


def _explain(mismatches: list[dict], ref: Network, ref_comp, raster, diff_samples: dict, steps: int,
             analog_x) -> None:
    """Add an ``explanation`` to every mismatch: input, upstream, rounding or unexplained."""
    names = ref_comp.names
    inp_name = names[ref_comp.input_index]
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
        pre, fired, theta = _trace(ref_comp, raster, s_, names.index(p), m["neuron"], steps, analog_x, neurons[p])
        gap = np.abs(pre - theta)
        t_min = int(np.argmin(gap))
        m["min_distance_to_threshold"] = float(gap[t_min])
        if gap[t_min] <= ROUNDING_TOL * max(1.0, abs(theta)):
            m["explanation"] = (f"rounding: simcore potential {pre[t_min]!r} within {gap[t_min]:.1e} of "
                                f"threshold {theta!r} at step {t_min}")
        else:
            m["explanation"] = "unexplained: inputs identical and no potential near threshold"


def crosscheck_network(net: Network, intensity=None, T: int | None = None, seed: int = 0, *, trains=None,
                       encoding: str = "bernoulli", max_rate: float = 1.0, sample_ids=None,
                       target: str = "cython", reference: Network | None = None, labels=None,
                       explain: bool = True, schedule: str = "same_step") -> dict:
    """Cross-check ``net`` on K samples: Brian2 (the graph's delays) against simcore.

    schedule "same_step": Brian2's per-layer schedule against ``net`` itself (default reference);
    "delayed": Brian2's default schedule against ``reference`` (default :func:`delayed_copy`
    ``(net)``: delay + 1 on every projection, the equivalent of Brian2's schedule). simcore runs
    in sync mode, for the same number of steps.
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
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    same_step = schedule == "same_step"
    compile_network(net)
    ref = reference if reference is not None else (net if same_step else delayed_copy(net))
    ref_comp = compile_network(ref)
    if ref_comp.names != compile_network(net).names:
        raise ValueError("reference network must have the same populations as net")
    trains, analog_x, sim_in, T = _inputs(intensity, T, seed, trains, encoding, max_rate, sample_ids)
    # Brian2's schedule: one step of lag per projection; the window lets that activity drain. It does not
    # depend on ``reference`` (a wrong reference is simulated for the same number of steps).
    steps = T + compile_network(net if same_step else delayed_copy(net)).max_path_delay
    # ---- simcore ----
    sres = simulate(ref, T=T, seed=seed, mode="sync", steps=steps, record_raster=True, **sim_in)
    # ---- Brian2 ----
    bres = run_brian2(net, T, steps, trains=trains if analog_x is None else None, analog=analog_x, target=target,
                      same_step=same_step)
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
    if explain:
        _explain(mismatches, ref, ref_comp, sres.raster, diff_samples, steps, analog_x)
    # ---- predictions ----
    b_pred = predict(bres["counts"][out_name], bres["v_end"])
    s_pred = sres.predictions
    out = {
        "samples": K, "T": T, "steps": steps, "window": bres["window"], "seed": int(seed), "schedule": schedule,
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
        "brian2_code_objects": bres["code_objects"],
        "brian2_version": bres["brian2_version"],
        "simcore_seconds": sres.elapsed,
        "reference_delays": [int(d) for d in ref_comp.p_delay],
        "brian2_synapse_delays": [int(d) for d in compile_network(net).p_delay],
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
               split_seed: int | None = None, schedule: str = "same_step") -> dict:
    """Cross-check a trained model / graph directory (or a Network) on the first ``limit`` samples of a split.

    Inputs: the model's encoding, max_rate, seed (unless given) and split seed; sample ids 0..K-1.
    """
    from learning.simulate import prepare_run

    run = prepare_run(model_dir_or_graph, dataset, split=split, T=T, seed=seed, split_seed=split_seed,
                      data_dir=data_dir, limit=limit)
    res = crosscheck_network(run.graph, run.intensity, run.T, run.seed, encoding=run.encoding,
                             max_rate=run.max_rate, sample_ids=np.arange(len(run.data.y)), target=target,
                             labels=run.data.y, schedule=schedule)
    source, dataset = run.source, run.data.name
    res = {"model": source, "dataset": dataset, "split": split, **res}
    try:
        from simcore.provenance import environment

        res.update(environment())
    except Exception:  # noqa: BLE001 -- provenance is optional decoration
        pass
    return res
