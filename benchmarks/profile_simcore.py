"""Where simcore's time goes: timing variants of the benchmark networks that each add one part.

    PYTHONPATH=. python benchmarks/profile_simcore.py [--n 10000] [--cnn-n 1000] [--T 50] [--reps 3]
        [--json FILE] [--old-root DIR --package simcore_old]

Variants (same MNIST test images, Bernoulli input regenerated in the kernel, sync unless named):

* ``mlp/scans``: the 784-800-10 MLP on all-zero images: no event at all, so the time is the
  per-step work alone (threshold scan of 810 neurons, decode trace, loop and buffer overhead).
* ``mlp/input``: input -> 10 output neurons (dense): input generation plus a 10-wide delivery.
* ``mlp/full`` (sync and async): the whole MLP; delivery to the hidden layer is the difference.
* ``cnn/scans``, ``cnn/input+conv1`` (input -> c1 -> 10 dense outputs), ``cnn/full`` (sync, async).

Repetitions are interleaved over the variants (variant order rotated); medians are reported with
the SOPs per source population so each difference can be read as events per second.
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

from bench_simcore import MNIST  # noqa: E402
from bench_report import add_output_args, check_outputs, report_rows, run_script  # noqa: E402
from compare_simcore import build  # noqa: E402


def truncated(simcore, kind: str):
    """The first stage of the benchmark network ``kind`` feeding 10 dense output neurons."""
    rng = np.random.default_rng(0)
    net = simcore.Network()
    if kind == "mlp":
        net.add_input("input", (784,))
        net.add_neurons("out", (10,), threshold=1.0)
        net.connect("input", "out", [simcore.Dense(rng.normal(0.0, 0.06, (10, 784)) - 0.004)])
        return net
    full = build(simcore, "cnn")  # same conv1 weights as the full network
    net.add_input("input", (1, 28, 28))
    net.add_neurons("c1", (12, 24, 24))
    net.add_neurons("out", (10,))
    net.connect("input", "c1", full.projections[0].ops)
    net.connect("c1", "out", [simcore.Flatten(), simcore.Dense(rng.normal(0.0, 0.01, (10, 6912)))])
    return net


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--cnn-n", type=int, default=1000)
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--data-dir", default=MNIST)
    add_output_args(ap)
    ap.add_argument("--old-root", default=None, help="directory holding --package (a renamed copy of simcore)")
    ap.add_argument("--package", default="simcore", help="the simcore package to profile")
    args = ap.parse_args(argv)
    check_outputs(ap, args)
    if args.old_root:
        sys.path.insert(0, args.old_root)
    simcore = importlib.import_module(args.package)
    from learning.datasets import load_dataset

    d = load_dataset("mnist", "test", args.data_dir, limit=max(args.n, args.cnn_n))
    x = np.asarray(d.x, dtype=np.float64).reshape(len(d.y), -1)
    mlp, cnn = build(simcore, "mlp"), build(simcore, "cnn")
    variants = {
        "mlp/scans": (mlp, np.zeros_like(x[:args.n]), "sync"),
        "mlp/input": (truncated(simcore, "mlp"), x[:args.n], "sync"),
        "mlp/full sync": (mlp, x[:args.n], "sync"),
        "mlp/full async": (mlp, x[:args.n], "async"),
        "cnn/scans": (cnn, np.zeros_like(x[:args.cnn_n]), "sync"),
        "cnn/input+conv1": (truncated(simcore, "cnn"), x[:args.cnn_n], "sync"),
        "cnn/full sync": (cnn, x[:args.cnn_n], "sync"),
        "cnn/full async": (cnn, x[:args.cnn_n], "async"),
    }
    sops, times = {}, {k: [] for k in variants}
    for k, (net, xi, mode) in variants.items():  # warm-up (cache load) and SOPs
        res = simcore.simulate(net, xi[:10], T=args.T, seed=0, mode=mode)
        sops[k] = {}
    names = list(variants)
    for r in range(args.reps):
        for k in names[r % len(names):] + names[:r % len(names)]:
            net, xi, mode = variants[k]
            t0 = time.perf_counter()
            res = simcore.simulate(net, xi, T=args.T, seed=0, mode=mode)
            times[k].append(time.perf_counter() - t0)
            sops[k] = {name: int(v.sum()) for name, v in res.sops.items()}
    rows = []
    for k in names:
        med = statistics.median(times[k])
        tot = sum(sops[k].values())
        rows.append({"variant": k, "N": len(variants[k][1]), "median_s": med, "times_s": times[k], "sops": sops[k],
                     "events_per_s": tot / med})
        print(f"{k:18s} N={len(variants[k][1]):5d} median {med:7.3f} s  SOPs {tot:.3e} ({sops[k]})  "
              f"{tot / med:.2e} events/s", flush=True)
    report_rows(rows, args, f"reps {args.reps}, ")
    return 0


if __name__ == "__main__":
    run_script(main)
