"""Benchmark the simcore event-driven simulator on MNIST.

    .venv/bin/python benchmarks/bench_simcore.py [--n 10000] [--T 50] [--model runs/mnist_mlp_T50 | --graph DIR]
                                                [--cnn-n 1000] [--cnn-model DIR]

Networks: 784-800-10 (random weights scaled for realistic activity, a trained model via --model DIR
(model.json + weights, loaded with learning.models.load; inputs from
learning.datasets, MNIST test split), or a saved simcore graph via --graph DIR) and the CNN
28x28-12c5-2a-64c5-2a-10 (random weights, or a trained one via --cnn-model DIR; with neither, the
first runs/*/model.json with that arch is used if there is one). Input: the MNIST test
images (intensity = pixel / 255), Bernoulli trains regenerated inside the kernel. Reports wall time
(first call incl. JIT compile / cache load, then warm), synaptic events (SOPs) per second, spike
statistics, peak RSS, and the dense-numpy floor (one matrix product over the input spike counts,
which has no temporal dynamics at all).
"""
from __future__ import annotations

import argparse
import gzip
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from simcore import AvgPool2d, Conv2d, Dense, Flatten, Network, compile_network, encoding, simulate  # noqa: E402

MNIST = "/work/shared/data/mnist"


def load_mnist_test(data_dir: str) -> tuple[np.ndarray, np.ndarray]:
    def read(name):
        path = os.path.join(data_dir, name)
        opener = gzip.open if os.path.exists(path) else open
        path = path if os.path.exists(path) else path[:-3]
        with opener(path, "rb") as f:
            return f.read()

    raw = read("t10k-images-idx3-ubyte.gz")
    magic, n, h, w = np.frombuffer(raw[:16], dtype=">u4")
    assert magic == 2051, "bad image magic"
    images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, h * w)
    raw = read("t10k-labels-idx1-ubyte.gz")
    assert np.frombuffer(raw[:8], dtype=">u4")[0] == 2049, "bad label magic"
    labels = np.frombuffer(raw, dtype=np.uint8, offset=8)
    return images.astype(np.float64) / 255.0, labels.astype(np.int64)


def mlp(seed=0) -> Network:
    rng = np.random.default_rng(seed)
    net = Network()
    net.add_input("input", (784,))
    net.add_neurons("fc1", (800,), threshold=1.0, bias=np.zeros(800))
    net.add_neurons("out", (10,), threshold=1.0, bias=np.zeros(10))
    net.connect("input", "fc1", [Dense(rng.normal(0.0, 0.06, (800, 784)) - 0.004)])
    net.connect("fc1", "out", [Dense(rng.normal(0.0, 0.15, (10, 800)))])
    return net


def cnn(seed=0) -> Network:
    rng = np.random.default_rng(seed)
    net = Network()
    net.add_input("input", (1, 28, 28))
    net.add_neurons("c1", (12, 24, 24))
    net.add_neurons("c2", (64, 8, 8))
    net.add_neurons("out", (10,))
    net.connect("input", "c1", [Conv2d(rng.normal(0.0, 0.35, (12, 1, 5, 5)))])
    net.connect("c1", "c2", [AvgPool2d(2), Conv2d(rng.normal(0.0, 0.25, (64, 12, 5, 5)))])
    net.connect("c2", "out", [AvgPool2d(2), Flatten(), Dense(rng.normal(0.0, 0.3, (10, 1024)))])
    return net


def _find_trained(arch: str) -> str | None:
    """First runs/*/model.json (next to this repository's benchmarks/) whose arch is ``arch``."""
    import glob
    import json

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runs")
    for path in sorted(glob.glob(os.path.join(root, "*", "model.json"))):
        try:
            with open(path) as f:
                if json.load(f).get("arch") == arch:
                    return os.path.dirname(path)
        except (OSError, ValueError):
            continue
    return None


def run(label, net, x, T, mode, rows, warm=True, seed=0):
    """Cold (first call: network compile + JIT compile or cache load) and warm (best of 2) wall time."""
    t0 = time.perf_counter()
    res = simulate(net, x, T=T, seed=seed, mode=mode)
    cold = time.perf_counter() - t0
    wall = cold
    if warm:
        for _ in range(2):
            t0 = time.perf_counter()
            res = simulate(net, x, T=T, seed=seed, mode=mode)
            wall = min(wall, time.perf_counter() - t0)
    sops = int(res.total_sops.sum())
    hidden = [p for p in res.counts if p not in ("input", res.output)]
    act = ", ".join(
        f"{p}: {100 * (res.counts[p] > 0).mean():.0f}% active, {res.counts[p].mean() / res.steps:.3f} sp/step"
        for p in hidden
    )
    rows.append((label, mode, x.shape[0], cold, wall, sops, sops / wall, act,
                 f"out {res.counts[res.output].sum(1).mean():.1f} sp/sample"))
    print("  done:", label, mode, f"cold {cold:.2f} s, warm {wall:.2f} s", flush=True)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000, help="MNIST test images for the MLP")
    ap.add_argument("--cnn-n", type=int, default=200, help="images for the CNN")
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--graph", default=None, help="saved simcore Network directory (replaces the random MLP)")
    ap.add_argument("--model", default=None, help="trained model directory (replaces the random MLP)")
    ap.add_argument("--cnn-model", default=None, help="trained CNN model directory (replaces the random CNN)")
    ap.add_argument("--data-dir", default=MNIST)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-async", action="store_true")
    ap.add_argument("--skip-cnn", action="store_true")
    ap.add_argument("--brian2-n", type=int, default=0,
                    help="also run Brian2 (cython) on the first N images of the MLP, side by side")
    args = ap.parse_args(argv)
    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
    images, labels = load_mnist_test(args.data_dir)
    seed = 0
    if args.model:
        from learning.datasets import load_dataset
        from learning.models import load

        loaded = load(args.model)
        net, meta = loaded.graph, loaded.meta
        d = load_dataset(meta.get("dataset", "mnist"), "test", args.data_dir, split_seed=int(meta.get("split_seed", 0)))
        images, labels = d.x.reshape(len(d.y), -1).astype(np.float64), np.asarray(d.y, dtype=np.int64)
        seed = int(meta.get("seed", 0))
        label = f"{meta.get('arch', '?')} ({os.path.basename(args.model.rstrip('/'))})"
    elif args.graph:
        from learning.models import load

        net, label = load(args.graph, kinds=("graph", "converted"), purpose="--graph").graph, os.path.basename(args.graph.rstrip("/"))
    else:
        net, label = mlp(), "784-800-10 (random)"
    x = images[: args.n]
    rows = []
    res = run(label, net, x, args.T, "sync", rows, seed=seed)
    acc = (res.predictions == labels[: args.n]).mean()
    if not args.skip_async:
        run(rows[-1][0], net, x, args.T, "async", rows, seed=seed)
    # dense-numpy floor: one matrix product over input spike counts (no dynamics)
    t0 = time.perf_counter()
    cnt = encoding.bernoulli_counts(x, args.T, 0)
    t_enc = time.perf_counter() - t0
    comp = compile_network(net)
    first = next(cp for cp in comp.projections if cp.src == comp.input_index)
    W_T = first.weights if first.dense else first.matrix().T  # (n_in, n_out)
    t0 = time.perf_counter()
    _ = cnt.astype(np.float64) @ W_T
    t_mm = time.perf_counter() - t0
    if not args.skip_cnn:
        cnn_model = args.cnn_model or _find_trained("28x28-12c5-2a-64c5-2a-10")
        if cnn_model:
            from learning.models import load

            cloaded = load(cnn_model)
            cnet, cmeta = cloaded.graph, cloaded.meta
            clabel, cseed = f"CNN ({os.path.basename(cnn_model.rstrip('/'))})", int(cmeta.get("seed", 0))
        else:
            cnet, clabel, cseed = cnn(), "28x28-12c5-2a-64c5-2a-10 (random)", 0
        xc = images[: args.cnn_n].reshape(-1, 1, 28, 28)
        run(clabel, cnet, xc, args.T, "sync", rows, seed=cseed)
        if not args.skip_async:
            run(clabel, cnet, xc, args.T, "async", rows, seed=cseed)
    brian2_line = None
    if args.brian2_n:
        from analysis.crosscheck import crosscheck_network

        xb = x[: args.brian2_n]
        xc_res = crosscheck_network(net, xb, args.T, seed, sample_ids=np.arange(len(xb)), explain=False)
        per_image_simcore = rows[0][4] / len(x)
        per_image_brian2 = xc_res["brian2_seconds_per_sample"]
        brian2_line = (f"Brian2 {xc_res['brian2_target']} on the first {len(xb)} images: "
                       f"{1000 * per_image_brian2:.2f} ms/image (run only; build {xc_res['brian2_build_seconds']:.1f} s, "
                       f"compile {xc_res['brian2_compile_seconds']:.1f} s stated apart); simcore sync "
                       f"{1000 * per_image_simcore:.3f} ms/image -> {per_image_brian2 / per_image_simcore:.0f}x; "
                       f"identical counts {xc_res['identical_count_fraction']:.6f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import numba

    print(f"T={args.T}, threads={numba.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, "
          f"MLP accuracy {acc:.4f}")
    print(f"{'network':36s} {'mode':5s} {'N':>6s} {'cold s':>7s} {'warm s':>7s} {'SOPs':>10s} {'events/s':>9s}  activity")
    for label, mode, n, cold, wall, sops, rate, act, outact in rows:
        print(f"{label:36s} {mode:5s} {n:6d} {cold:7.2f} {wall:7.2f} {sops:10.3g} {rate:9.3g}  {act}; {outact}")
    print(f"dense-numpy floor (784-800-10, N={args.n}): bernoulli_counts {t_enc:.2f} s + counts @ W.T {t_mm:.2f} s")
    if brian2_line:
        print(brian2_line)
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
