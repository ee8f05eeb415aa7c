"""How close simcore's sync delivery runs to what this machine's cores can do (issue 17).

    PYTHONPATH=. python benchmarks/delivery_ceiling.py --model MODEL [--n 1000] [--reps 3] [--json FILE] [--overwrite]

One thread unless stated (the kernels run one sample per thread):

* ``ceiling``: the dense pass alone on random rows of a (784, 800) weight table -- eight rows added
  per pass over a float64 V, as :func:`simcore.delivery.dense_sync` does -- drawn from a hot set of
  150 rows (fits the L2 cache, as one MNIST image's active pixels do) or from all 784; weights
  stored float32 (converted on load, simcore's storage for a trained model) or float64. The best of
  these is taken as the ceiling of every delivery here (conv runs binned by target add up to
  eight rows per pass too, over shorter stretches of V: never less traffic per addition).
* ``replay``: :func:`simcore.delivery.dense_sync` / :func:`simcore.delivery.runs_sync` alone on
  the trained model's own spikes (recorded with ``record_raster``, sorted per step as the kernel's
  buckets are), with its own tables, for each dense or conv-run projection: the delivery part of a
  real run. A projection from Bernoulli input is replayed as the sync kernel delivers it (complement
  delivery, :func:`simcore.kernels._population_sync`): per step the sample's sum of likely rows, the
  unlikely inputs that spiked added, the likely ones that did not subtracted.
* ``simulate``: the whole run, same images, one thread; "the rest" is it minus the replays
  (input generation, threshold checks and firing lists, other projections, decode trace, copies).

The ceiling is also run on every thread at once (each its own V and rows), since two threads of
this machine do not give twice one. Printed: additions per second of each, the replays' share of
the whole run, and two lower bounds for the 10,000-image test set on all threads: the replayed
additions at the all-thread ceiling, and that plus the rest as it is now (one-thread ceiling,
scaled by the ceiling's thread scaling).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numba
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import simcore  # noqa: E402
from bench_report import add_output_args, check_outputs, run_script, write_json_result  # noqa: E402
from bench_simcore import MNIST  # noqa: E402
from simcore.compiler import DENSE, RUNS, compile_network  # noqa: E402
from simcore import delivery, neuron_kernels  # noqa: E402
from simcore.delivery import dense_sync, run_scratch, runs_sync  # noqa: E402
from simcore.kernels import LIKELY_ABOVE  # noqa: E402
from simcore.numba_cache import key_on_sources  # noqa: E402
from simcore.provenance import environment  # noqa: E402


@numba.njit(cache=True)
def _passes(V, W, rows, n):
    """Rows ``rows`` of the flat table W (row length n) added to V eight per pass; returns adds."""
    gv = np.zeros(1)
    spk = rows.astype(np.int32)
    for b in range(0, rows.size - 7, 8):
        dense_sync(V, W, 0, spk, b, b + 8, gv, False)
    return (rows.size // 8) * 8 * n


@numba.njit(cache=True, parallel=True)
def _passes_threads(V2, W, rows2, n):
    """:func:`_passes` on every thread at once (row c of V2 and rows2 for thread c); returns adds."""
    adds = 0
    for c in numba.prange(V2.shape[0]):
        adds += _passes(V2[c], W, rows2[c], n)
    return adds


@numba.njit(cache=True, inline="always")
def _deliver(V, tb, k, runs, wb, spk, e0, e1, gv, sc):
    if runs:
        return runs_sync(V, tb, k, wb, spk, e0, e1, gv, False, sc)
    return dense_sync(V, tb.w_all, wb, spk, e0, e1, gv, False)


@numba.njit(cache=True)
def _likely_sums(tb, k, runs, n, likely, lptr, sc):
    """(samples, n) rows of sample s's likely inputs likely[lptr[s]:lptr[s+1]] summed, as the sync
    kernel's complement delivery does at the start of a sample."""
    C = np.zeros((lptr.size - 1, n))
    gv = np.zeros(1)
    for s in range(lptr.size - 1):
        _deliver(C[s], tb, k, runs, tb.p_woff[k], likely, lptr[s], lptr[s + 1], gv, sc)
    return C


@numba.njit(cache=True, _nrt=False)
def _replay(V, tb, k, runs, spk, ptr, neg, nptr, C, T, steps, gv, sc):
    """Projection k's deliveries (:func:`dense_sync`, or :func:`runs_sync` when ``runs``) of every
    (sample, step) q, V reset per sample: the rows of spk[ptr[q]:ptr[q+1]] added and those of
    neg[nptr[q]:nptr[q+1]] subtracted (the negated table ``tb.p_wneg[k]``), after C[sample] when C
    has rows and the step is an input step (< T): the sync kernel's complement delivery of the
    input (spk: unlikely inputs that spiked, neg: likely ones that did not), or, without C and neg,
    its plain delivery of a bucket (sc: :func:`runs_sync`'s scratch). Returns SOPs
    (additions, counted per spike also where pooled partners share their rows).
    Compiled without reference counting, as
    the kernel is (with it, counting the table record's references costs more than a small
    population's additions)."""
    adds = 0
    n = V.shape[0]
    for q in range(ptr.size - 1):
        if q % steps == 0:
            V[:] = 0.0
        if C.shape[0] and q % steps < T:
            c = C[q // steps]
            for j in range(n):
                V[j] += c[j]
            adds += n
        adds += _deliver(V, tb, k, runs, tb.p_woff[k], spk, ptr[q], ptr[q + 1], gv, sc)
        adds += _deliver(V, tb, k, runs, tb.p_wneg[k], neg, nptr[q], nptr[q + 1], gv, sc)
    return adds


# their machine code inlines simcore's delivery helpers: keyed on those sources too, so an edit there
# never runs stale code from numba's cache (see simcore.numba_cache)
key_on_sources((_passes, _passes_threads, _likely_sums, _replay), (delivery, neuron_kernels))


def best_rate(fn, args, reps: int) -> tuple[float, float]:
    """(best seconds, additions per second) over ``reps`` calls (after one warm-up call)."""
    fn(*args)
    best, adds = np.inf, 0
    for _ in range(reps):
        t0 = time.perf_counter()
        adds = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, adds / best


def ceiling(reps: int, threads: int, n_rows: int = 784, n: int = 800, draws: int = 2_000_000) -> dict:
    """Additions per second of eight-row passes for hot sets of 150 / all rows, float32 / float64,
    on one thread and on ``threads`` threads at once (each its own V and rows)."""
    rng = np.random.default_rng(0)
    out = {}
    for dtype in (np.float32, np.float64):
        W = rng.standard_normal(n_rows * n).astype(dtype)
        for hot in (150, n_rows):
            rows = rng.integers(0, hot, size=(threads, draws))
            name = f"{np.dtype(dtype).name}, {hot} hot rows"
            out[f"{name}, 1 thread"] = best_rate(_passes, (np.zeros(n), W, rows[0], n), reps)[1]
            out[f"{name}, {threads} threads"] = best_rate(_passes_threads, (np.zeros((threads, n)), W, rows, n),
                                                          reps)[1]
    return out


def buckets(raster_of_pop, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """A population's recorded spikes as the kernel's buckets: (spk int32, ptr int64 over (sample, step))."""
    spk, ptr = [], [0]
    for times, idx in raster_of_pop:
        for t in range(steps):
            spk.append(np.sort(idx[times == t]))
            ptr.append(ptr[-1] + spk[-1].size)
    return np.concatenate(spk).astype(np.int32), np.asarray(ptr, dtype=np.int64)


def complement_lists(raster_of_input, p: np.ndarray, T: int, steps: int):
    """The sync kernel's complement lists of Bernoulli input with spike probabilities p (N, D):
    (likely, lptr) per sample; (hits, hptr): unlikely inputs that spiked, and (miss, mptr): likely
    ones that did not (input steps t < T only), per (sample, step); int32 lists, int64 pointers."""
    likely_of = [np.flatnonzero(row > LIKELY_ABOVE) for row in p]
    hits, miss = [], []
    for (times, idx), row, lk in zip(raster_of_input, p, likely_of):
        for t in range(steps):
            fired = np.sort(idx[times == t])
            hits.append(fired[row[fired] <= LIKELY_ABOVE])
            miss.append(np.setdiff1d(lk, fired) if t < T else lk[:0])

    def flat(parts):
        return (np.concatenate(parts).astype(np.int32),
                np.concatenate([[0], np.cumsum([a.size for a in parts])]).astype(np.int64))
    return flat(likely_of), flat(hits), flat(miss)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="trained model (its dense and conv-run projections are replayed)")
    ap.add_argument("--n", type=int, default=1000, help="MNIST test images replayed and simulated")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--data-dir", default=MNIST)
    add_output_args(ap)
    a = ap.parse_args(argv)
    check_outputs(ap, a)
    from learning.datasets import load_dataset
    from learning.models import load

    try:
        loaded = load(a.model)
    except (OSError, ValueError) as err:
        ap.error(str(err))
    T, enc = int(loaded.meta.get("T", 50)), loaded.meta.get("encoding", "bernoulli")
    net = loaded.graph
    d = load_dataset("mnist", "test", a.data_dir, limit=a.n)
    x = np.asarray(d.x, dtype=np.float64).reshape(len(d.y), -1)
    comp = compile_network(net)
    tb = comp.tables
    res = simcore.simulate(net, x, T=T, seed=0, encoding=enc, record_raster=True, threads=1)
    replays = []
    sc = run_scratch(tb, True)
    for k in np.flatnonzero(np.isin(comp.p_kind, (DENSE, RUNS))):
        src, tgt = comp.names[comp.p_src[k]], comp.names[comp.p_tgt[k]]
        n, runs = int(tb.sizes[comp.p_tgt[k]]), bool(comp.p_kind[k] == RUNS)
        spk, ptr = buckets(res.raster[src], res.steps)
        spikes_per_step = spk.size / (ptr.size - 1)
        neg, nptr, C = spk[:0], np.zeros_like(ptr), np.zeros((0, n))
        if comp.p_src[k] == comp.input_index and enc == "bernoulli":  # as the sync kernel delivers it
            (lk, lptr), (spk, ptr), (neg, nptr) = complement_lists(res.raster[src], simcore.encoding.spike_probability(x),
                                                                   T, res.steps)
            C = _likely_sums(tb, int(k), runs, n, lk, lptr, sc)
        secs, rate = best_rate(_replay, (np.zeros(n), tb, int(k), runs, spk, ptr, neg, nptr, C, T, res.steps,
                                         np.zeros(1), sc), a.reps)
        replays.append({"projection": f"{src} -> {tgt}", "kind": "runs" if runs else "dense",
                        "complement": bool(C.shape[0]), "spikes_per_step": spikes_per_step,
                        "rows_per_step": (spk.size + neg.size) / (ptr.size - 1), "s": secs, "adds_per_s": rate,
                        "adds": rate * secs})

    def run():
        simcore.simulate(net, x, T=T, seed=0, encoding=enc, threads=1)
        return 0

    sim_s = best_rate(run, (), a.reps)[0]
    threads = numba.get_num_threads()
    ceil = ceiling(a.reps, threads)
    best = max(v for name, v in ceil.items() if name.endswith("1 thread"))
    best_all = max(v for name, v in ceil.items() if name.endswith(f"{threads} threads"))
    replay_s = sum(r["s"] for r in replays)
    adds = sum(r["adds"] for r in replays)
    rest_s = sim_s - replay_s
    scale = 10000 / a.n
    report = {"model": a.model, "n": a.n, "T": T, "weight_storage": str(tb.w_all.dtype), "ceiling_adds_per_s": ceil,
              "replays": replays, "replay_s": replay_s, "simulate_s": sim_s, "threads": threads,
              "thread_scaling": best_all / best,
              "test_set_delivery_bound_s": adds * scale / best_all,
              "test_set_bound_with_rest_s": (adds / best + rest_s) * scale / (best_all / best)}
    for name, rate in ceil.items():
        print(f"ceiling   {name:<36} {rate / 1e9:6.2f} x 10^9 adds/s")
    for r in replays:
        how = f"complement, {r['rows_per_step']:.1f} rows + the likely sum/step" if r["complement"] else r["kind"]
        print(f"replay    {r['projection']:<18} ({how}, {r['spikes_per_step']:.1f} spikes/step): {r['s']:.3f} s, "
              f"{r['adds_per_s'] / 1e9:.2f} x 10^9 adds/s ({r['adds_per_s'] / best:.0%} of the best one-thread ceiling)")
    print(f"simulate  {a.n} images, one thread: {sim_s:.3f} s; the replayed deliveries {replay_s / sim_s:.0%}, "
          f"the rest {rest_s:.3f} s")
    print(f"test set, {threads} threads (ceiling scaling {best_all / best:.2f}x): delivery alone at the "
          f"{threads}-thread ceiling {report['test_set_delivery_bound_s']:.2f} s; with the rest as now "
          f"{report['test_set_bound_with_rest_s']:.2f} s")
    if a.json:
        write_json_result(a, dict(report, environment=environment()))
    return 0


if __name__ == "__main__":
    run_script(main)
