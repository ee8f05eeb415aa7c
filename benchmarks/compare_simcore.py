"""Side-by-side speed and equality of two simcore versions in ONE process (interleaved repetitions).

    PYTHONPATH=. python benchmarks/compare_simcore.py --old-root DIR [--old-package simcore_old]
        [--n 2000] [--cnn-n 300] [--check-n 1000] [--reps 7] [--T 50] [--threads K] [--only cnn-async] [--w32]

``DIR`` holds a copy of an older ``simcore`` package renamed to ``--old-package`` (its internal
``simcore.`` imports renamed likewise). Both versions get the same deterministic networks of the
benchmark shapes (:func:`bench_simcore.mlp` 784-800-10 and :func:`bench_simcore.cnn`
28x28-12c5-2a-64c5-2a-10, random weights from fixed seeds) and the same MNIST test images
(``learning.datasets.load_dataset``). For every (network, mode): one warm-up call each (JIT / cache
load), then ``--reps`` repetitions alternating old/new (order swapped every repetition); prints the
median wall times and new/old. Equality: counts, final potentials and predictions of every
population on the first ``--check-n`` images, old vs new, must be identical (bit for bit).
"""
from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import simcore  # noqa: E402
from bench_simcore import MNIST  # noqa: E402
from bench_report import add_output_args, check_outputs, report_rows, run_script  # noqa: E402


def build(mod, kind: str, w32: bool = False):
    """The benchmark network of ``kind`` ("mlp" / "cnn") built with simcore module ``mod``; ``w32``:
    weights rounded to float32 values (a float32 table, as a trained model has)."""
    rng = np.random.default_rng(0)

    def w(a):
        return a.astype(np.float32).astype(np.float64) if w32 else a

    net = mod.Network()
    if kind == "mlp":
        net.add_input("input", (784,))
        net.add_neurons("fc1", (800,), threshold=1.0, bias=np.zeros(800))
        net.add_neurons("out", (10,), threshold=1.0, bias=np.zeros(10))
        net.connect("input", "fc1", [mod.Dense(w(rng.normal(0.0, 0.06, (800, 784)) - 0.004))])
        net.connect("fc1", "out", [mod.Dense(w(rng.normal(0.0, 0.15, (10, 800))))])
        return net
    net.add_input("input", (1, 28, 28))
    net.add_neurons("c1", (12, 24, 24))
    net.add_neurons("c2", (64, 8, 8))
    net.add_neurons("out", (10,))
    net.connect("input", "c1", [mod.Conv2d(w(rng.normal(0.0, 0.35, (12, 1, 5, 5))))])
    net.connect("c1", "c2", [mod.AvgPool2d(2), mod.Conv2d(w(rng.normal(0.0, 0.25, (64, 12, 5, 5))))])
    net.connect("c2", "out", [mod.AvgPool2d(2), mod.Flatten(), mod.Dense(w(rng.normal(0.0, 0.3, (10, 1024))))])
    return net


def timed(mod, net, x, T, mode):
    t0 = time.perf_counter()
    res = mod.simulate(net, x, T=T, seed=0, mode=mode)
    return time.perf_counter() - t0, res


def agreement(a, b) -> dict:
    """How two SimResults agree: ``counts`` (every count, prediction, prediction trace and SOP
    identical), ``potentials_bitwise`` (every final potential identical bit for bit), and the
    potentials' ``potential_max_abs_diff`` and ``potential_bitwise_fraction``."""
    same = np.array_equal(a.predictions, b.predictions) and np.array_equal(a.prediction_trace, b.prediction_trace)
    for name in a.counts:
        same &= np.array_equal(a.counts[name], b.counts[name])
    for name in a.sops:
        same &= np.array_equal(a.sops[name], b.sops[name])
    bits = total = 0
    diff = 0.0
    for name in a.membrane:
        ma, mb = a.membrane[name], b.membrane[name]
        bits += int((ma.view(np.int64) == mb.view(np.int64)).sum())
        total += ma.size
        diff = max(diff, float(np.max(np.abs(ma - mb), initial=0.0)))
    return {"counts": bool(same), "potentials_bitwise": bits == total, "potential_max_abs_diff": diff,
            "potential_bitwise_fraction": bits / max(total, 1)}


def identical(a, b) -> bool:
    """Every count, prediction, trace and SOP identical, and every final potential bit for bit."""
    agree = agreement(a, b)
    return agree["counts"] and agree["potentials_bitwise"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old-root", required=True)
    ap.add_argument("--old-package", default="simcore_old")
    ap.add_argument("--n", type=int, default=2000, help="MLP images timed")
    ap.add_argument("--cnn-n", type=int, default=300, help="CNN images timed")
    ap.add_argument("--check-n", type=int, default=1000, help="images compared old vs new")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--data-dir", default=MNIST)
    add_output_args(ap)
    ap.add_argument("--w32", action="store_true", help="weights rounded to float32 values (float32 tables)")
    ap.add_argument("--threads", type=int, default=None, help="numba threads (default: numba's setting)")
    ap.add_argument("--only", default=None, help="one configuration, e.g. cnn-async")
    args = ap.parse_args(argv)
    check_outputs(ap, args)
    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
    sys.path.insert(0, args.old_root)
    old = importlib.import_module(args.old_package)
    from learning.datasets import load_dataset

    d = load_dataset("mnist", "test", args.data_dir, limit=max(args.n, args.cnn_n, args.check_n))
    images = np.asarray(d.x, dtype=np.float64).reshape(len(d.y), -1)
    rows = []
    for kind, n in (("mlp", args.n), ("cnn", args.cnn_n)):
        if args.only and not args.only.startswith(kind):
            continue
        nets = {"old": build(old, kind, args.w32), "new": build(simcore, kind, args.w32)}
        mods = {"old": old, "new": simcore}
        for mode in ("sync", "async"):
            if args.only and args.only != f"{kind}-{mode}":
                continue
            xc = images[: args.check_n]
            same = identical(timed(old, nets["old"], xc, args.T, mode)[1],
                             timed(simcore, nets["new"], xc, args.T, mode)[1])
            x = images[:n]
            times = {"old": [], "new": []}
            for r in range(args.reps):
                for who in (("old", "new") if r % 2 == 0 else ("new", "old")):
                    times[who].append(timed(mods[who], nets[who], x, args.T, mode)[0])
            med = {k: statistics.median(v) for k, v in times.items()}
            ratios = sorted(b / a for a, b in zip(times["old"], times["new"]))
            row = {"network": kind, "mode": mode, "N": n, "T": args.T, "reps": args.reps, "old_median_s": med["old"],
                   "new_median_s": med["new"], "new_over_old": med["new"] / med["old"],
                   "paired_ratio_median": statistics.median(ratios), "old_s": times["old"],
                   "new_s": times["new"], "identical_on": args.check_n, "identical": same}
            rows.append(row)
            print(f"{kind} {mode:5s} N={n:5d}: old {med['old']:.3f} s, new {med['new']:.3f} s (medians of "
                  f"{args.reps}), new/old {row['new_over_old']:.3f} (median of paired ratios "
                  f"{row['paired_ratio_median']:.3f}); identical on {args.check_n} images: {same}",
                  flush=True)
    import numba

    report_rows(rows, args, f"threads {numba.get_num_threads()}, ")
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    run_script(main)
