"""How simcore's cost grows: time, events per second and peak memory against images, T, width, depth.

    PYTHONPATH=. python benchmarks/scaling_simcore.py [--json FILE] [--png FILE] [--overwrite] [--base-n 1000]

Network: an MLP 784-H-...-H-10 (``depth`` hidden layers of width ``H``; random weights from fixed
seeds, scaled with the width so that hidden layers fire a few spikes per neuron per sample), the
MNIST test images, Bernoulli input, sync mode. Axes (one varied at a time, the others at the base
784-800-10, T = 50, ``--base-n`` images): images 1,000..10,000; T 10..200; width 800..6,400; depth
1..4. Every point runs in its own process (one warm-up call on 10 images loads the cached kernel,
then the timed call) so its peak RSS (``ru_maxrss``) is its own; the raster points repeat the
image axis (up to 2,000 images) with ``record_raster=True``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from bench_report import add_output_args, check_outputs, report_rows, run_script, write_png_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")


def network(width: int, depth: int):
    """784-width^depth-10, fixed seeds."""
    import simcore

    rng = np.random.default_rng(0)
    net = simcore.Network()
    net.add_input("input", (784,))
    prev, n_prev = "input", 784
    for d in range(depth):
        name = f"h{d + 1}"
        net.add_neurons(name, (width,), threshold=1.0)
        if d == 0:
            w = rng.normal(0.0, 0.06, (width, 784)) - 0.004
        else:
            w = rng.normal(0.0, 0.09 * np.sqrt(800 / n_prev), (width, n_prev)) - 0.002 * 800 / n_prev
        net.connect(prev, name, [simcore.Dense(w.astype(np.float32).astype(np.float64))])
        prev, n_prev = name, width
    net.add_neurons("out", (10,), threshold=1.0)
    net.connect(prev, "out", [simcore.Dense((rng.normal(0.0, 0.15, (10, n_prev)) * np.sqrt(800 / n_prev))
                                            .astype(np.float32).astype(np.float64))])
    return net


def one(n: int, T: int, width: int, depth: int, raster: bool) -> dict:
    """One point, in this process."""
    import simcore
    from learning.datasets import load_dataset

    d = load_dataset("mnist", "test", "/work/shared/data/mnist", limit=n)
    x = np.asarray(d.x, dtype=np.float64).reshape(n, -1)
    net = network(width, depth)
    simcore.simulate(net, x[:10], T=T, seed=0, record_raster=raster)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    res = simcore.simulate(net, x, T=T, seed=0, record_raster=raster)
    sec = time.perf_counter() - t0
    events = int(res.total_sops.sum())
    hidden = [k for k in res.counts if k.startswith("h")]
    return {"n": n, "T": T, "width": width, "depth": depth, "raster": raster, "seconds": sec, "events": events,
            "events_per_s": events / sec, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mb": rss0 / 1024,
            "hidden_spikes_per_neuron": float(np.mean([res.counts[h].mean() for h in hidden]))}


def plot(rows: list, args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for ax, key, label in zip(axes, ("n", "T", "width", "depth"), ("images", "T (steps)", "hidden width", "hidden layers")):
        pts = sorted((r[key], r["seconds"], r["events_per_s"]) for r in rows if r["axis"] == key)
        xs = [p[0] for p in pts]
        ax.loglog(xs, [p[1] for p in pts], "o-", label="seconds")
        ax.loglog(xs, [pts[0][1] * v / xs[0] for v in xs], ":", color="gray", label="linear")
        ax2 = ax.twinx()
        ax2.semilogx(xs, [p[2] / 1e9 for p in pts], "s--", color="tab:red", label="1e9 events/s")
        ax2.set_ylim(bottom=0)
        ax.set_xlabel(label)
        ax.set_ylabel("seconds")
        ax2.set_ylabel("1e9 events/s", color="tab:red")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("simcore sync, MLP 784-H^d-10, MNIST test images, one process per point")
    fig.tight_layout()
    write_png_result(args, fig)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_output_args(ap, png=True)
    ap.add_argument("--base-n", type=int, default=1000)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    check_outputs(ap, args)
    if args.one:
        print(json.dumps(one(**json.loads(args.one))))
        return 0
    base = {"n": args.base_n, "T": 50, "width": 800, "depth": 1, "raster": False}
    axes = {"n": [1000, 2000, 5000, 10000], "T": [10, 25, 50, 100, 200], "width": [800, 1600, 3200, 6400],
            "depth": [1, 2, 3, 4]}
    points = [(k, {**base, k: v}) for k, vs in axes.items() for v in vs]
    points += [("raster", {**base, "n": v, "raster": True}) for v in (500, 1000, 2000)]
    rows = []
    env = dict(os.environ, PYTHONPATH=ROOT)
    for axis, cfg in points:
        out = subprocess.run([sys.executable, __file__, "--one", json.dumps(cfg)], capture_output=True, text=True,
                             env=env, check=True).stdout.strip().splitlines()[-1]
        row = {"axis": axis, **json.loads(out)}
        rows.append(row)
        print(f"{axis:6s} N={row['n']:5d} T={row['T']:3d} H={row['width']:4d} d={row['depth']} raster={row['raster']!s:5s} "
              f"{row['seconds']:7.3f} s  {row['events']:.3e} events  {row['events_per_s']:.2e}/s  "
              f"peak RSS {row['peak_rss_mb']:.0f} MB  hidden spikes/neuron {row['hidden_spikes_per_neuron']:.2f}",
              flush=True)
    report_rows(rows, args)
    if args.png:
        plot(rows, args)
    return 0


if __name__ == "__main__":
    run_script(main)
