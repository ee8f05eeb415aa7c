"""simcore against Brian2 (cython), per image, on a trained model: the same network, the same input trains.

    PYTHONPATH=. python benchmarks/brian2_ratio.py --model /work/models/mlp_T50 [--n 200] [--reps 3]
        [--simcore-n 10000] [--data-dir ../shared/data/mnist] [--json PATH]

Brian2 is driven the fastest way we have: :func:`analysis.brian2_net.run_brian2`, ONE long run of
``n`` windows of T steps (sample k in steps ``[kT, (k+1)T)``, potentials set to V(0) by a
``run_regularly`` at every window start), the same-step schedule (simcore's semantics), float64,
the cython target. Its per-image time is the main loop (``run_seconds``, Brian2's own timer) over
``n``; object creation (synapses) and code generation/compilation are reported apart and not in the
ratio (a cold cython compile takes minutes once per machine). The input trains are
:func:`simcore.encoding.bernoulli_trains` of the model's seed, sample ids 0..n-1.

simcore: ``simulate(..., mode="sync")`` on the same n images, from the intensities (it regenerates the
same trains itself, input generation included) and from the explicit trains, with numba's default
threads (2 here) and with one thread (Brian2's loop is single-threaded); and on ``--simcore-n``
images (throughput at scale). Repetitions alternate Brian2 and simcore; medians are reported.

Before the timing, a Brian2 run with every population monitored must give spike counts of EVERY
population and predictions equal to simcore's on the n images; the timed runs monitor only the
output population (fewer objects per step: the fastest driver), and their output counts and
predictions must equal simcore's too (exit 1 otherwise).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from analysis.brian2_net import run_brian2  # noqa: E402
from learning.simulate import prepare_run  # noqa: E402
from simcore import compile_network, encoding, predict, simulate  # noqa: E402
from simcore.fileio import write_json  # noqa: E402

MNIST = os.path.join(HERE, "..", "..", "shared", "data", "mnist")


def simcore_seconds(graph, run, n: int, threads: int | None, trains=None) -> tuple[float, object]:
    """Wall seconds of one sync simulate of the first n test images (intensity, or the given trains)."""
    t0 = time.perf_counter()
    if trains is None:
        res = simulate(graph, run.intensity[:n], run.T, run.seed, encoding=run.encoding, max_rate=run.max_rate,
                       sample_ids=np.arange(n), mode="sync", threads=threads)
    else:
        res = simulate(graph, trains=trains, mode="sync", threads=threads)
    return time.perf_counter() - t0, res


def same_as_simcore(b2: dict, sim, graph) -> list[str]:
    """Populations monitored in the Brian2 run whose counts differ from simcore's, plus "predictions"
    if those differ."""
    bad = [p for p in b2["counts"] if not np.array_equal(b2["counts"][p], sim.counts[p])]
    if not np.array_equal(predict(b2["counts"][graph.output], b2["v_end"]), sim.predictions):
        bad.append("predictions")
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="trained model directory (kind snn or graph)")
    ap.add_argument("--n", type=int, default=200, help="images in the Brian2 run (and the equality check)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--simcore-n", type=int, default=0, help="also time simcore alone on this many images")
    ap.add_argument("--data-dir", default=MNIST)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    run = prepare_run(a.model, data_dir=a.data_dir, limit=max(a.n, a.simcore_n))
    graph, n = run.graph, a.n
    trains = encoding.bernoulli_trains(run.intensity[:n], run.T, run.seed, run.max_rate, np.arange(n))
    steps = run.T + compile_network(graph).max_path_delay
    out = {"model": a.model, "n": n, "T": run.T, "load_before": os.getloadavg(), "brian2": [], "simcore": {}}
    variants = {"intensity, default threads": (None, None), "intensity, 1 thread": (1, None),
                "trains, default threads": (None, trains), "trains, 1 thread": (1, trains)}
    for threads, tr in variants.values():  # warm-up (numba cache load)
        simcore_seconds(graph, run, n, threads, tr)
    sim = simcore_seconds(graph, run, n, None)[1]
    for r in range(-1, a.reps):  # r = -1: every population monitored, the equality check (timed apart)
        b2 = run_brian2(graph, run.T, steps, trains=trains, target="cython", same_step=True,
                        monitor="all" if r < 0 else "output")
        bad = same_as_simcore(b2, sim, graph)
        if r < 0:
            out["brian2_all_monitors_run_seconds"] = b2["run_seconds"]
            out["identical"] = not bad
            print(f"{a.model}: Brian2 ({b2['target']}, every population monitored, loop {b2['run_seconds']:.2f} s) "
                  f"and simcore on {n} images: "
                  f"{'every count and prediction identical' if not bad else 'DIFFER in ' + ', '.join(bad)}",
                  flush=True)
        if bad or b2["target"] != "cython":
            print(f"rep {r + 1}: Brian2 differs from simcore in {bad} or ran {b2['target']}; stopped")
            if a.json:
                write_json(a.json, out)
            return 1
        if r < 0:
            continue
        out["brian2"].append({k: b2[k] for k in ("run_seconds", "build_seconds", "compile_seconds", "target",
                                                  "target_fallback", "code_objects", "window")})
        for name, (threads, tr) in variants.items():
            out["simcore"].setdefault(name, []).append(simcore_seconds(graph, run, n, threads, tr)[0])
        if a.simcore_n:
            out["simcore"].setdefault(f"intensity, default threads, {a.simcore_n} images", []).append(
                simcore_seconds(graph, run, a.simcore_n, None)[0])
        print(f"rep {r + 1}: Brian2 loop {b2['run_seconds']:.2f} s (build {b2['build_seconds']:.2f} s, compile "
              f"{b2['compile_seconds']:.2f} s); simcore " + ", ".join(
                  f"{k} {v[-1]:.3f} s" for k, v in out["simcore"].items()) + f"  (load {os.getloadavg()[0]:.2f})",
              flush=True)
    b2_ms = statistics.median(b["run_seconds"] for b in out["brian2"]) / n * 1e3
    out["brian2_ms_per_image"] = b2_ms
    out["simcore_ms_per_image"], out["ratio"] = {}, {}
    print(f"Brian2 cython, one long run, output monitored: {b2_ms:.3f} ms per image (median of {a.reps}, {n} images; "
          f"every population monitored: {out['brian2_all_monitors_run_seconds'] / n * 1e3:.3f} ms)")
    for name, secs in out["simcore"].items():
        per = statistics.median(secs) / (a.simcore_n if name.endswith("images") else n) * 1e3
        out["simcore_ms_per_image"][name] = per
        out["ratio"][name] = b2_ms / per
        print(f"simcore sync, {name}: {per:.4f} ms per image -> Brian2 / simcore = {b2_ms / per:.1f}x")
    out["load_after"] = os.getloadavg()
    print(f"load average {out['load_before']} -> {out['load_after']}")
    if a.json:
        write_json(a.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
