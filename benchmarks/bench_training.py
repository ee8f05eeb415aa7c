"""Seconds per training epoch and peak memory of the spike-count rule, MNIST 784-800-10.

Each configuration runs in its own subprocess (so its peak RSS is its own): one full epoch over
the 60,000 training images at batch 128 with 2 torch threads (or ``--batches`` of them,
extrapolated), after 3 warm-up batches; input encoding included, test evaluation excluded. Usage::

    python benchmarks/bench_training.py --data-dir ../shared/data/mnist [--modes aggregate stepped] [--T 50 10]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def one_epoch(mode: str, T: int, data_dir: str, batches: int | None) -> dict:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from learning.datasets import load_dataset
    from learning.inputs import input_counts, input_trains
    from learning.model import SpikingNet
    from learning.spec import parse_spec

    torch.set_num_threads(2)
    data = load_dataset("mnist", "train", data_dir)
    torch.manual_seed(0)
    net = SpikingNet(parse_spec("784-800-10"))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)  # as learning.loop.fit
    perm = np.random.default_rng(0).permutation(len(data.y))
    n_batches = len(perm) // 128 if batches is None else batches
    encode = input_trains if mode == "stepped" else input_counts
    t0 = 0.0
    for b in range(n_batches + 3):  # the first 3 batches warm up (numba cache load, torch kernels)
        if b == 3:
            t0 = time.perf_counter()
        idx = perm[(b % n_batches) * 128 : (b % n_batches + 1) * 128]
        out = net(encode(data.x[idx], T, 1, "bernoulli", 1.0, idx), mode, T)
        loss = F.cross_entropy(out.output, torch.from_numpy(data.y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    full = len(perm) // 128
    return {
        "mode": mode, "T": T, "batches": n_batches, "seconds": seconds,
        "seconds_per_batch": seconds / n_batches, "seconds_per_epoch": seconds / n_batches * full,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--modes", nargs="+", default=["aggregate", "stepped"])
    ap.add_argument("--T", nargs="+", type=int, default=[50, 10])
    ap.add_argument("--batches", type=int, help="time only this many batches and extrapolate to an epoch")
    ap.add_argument("--one", nargs=2, metavar=("MODE", "T"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one_epoch(a.one[0], int(a.one[1]), a.data_dir, a.batches)))
        return
    rows = []
    for mode in a.modes:
        for T in a.T:
            cmd = [sys.executable, __file__, "--data-dir", a.data_dir, "--one", mode, str(T)]
            if a.batches:
                cmd += ["--batches", str(a.batches)]
            rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
            r = rows[-1]
            print(f"{r['mode']:>9}  T={r['T']:<3}  {r['seconds_per_epoch']:7.2f} s/epoch  "
                  f"{1000 * r['seconds_per_batch']:6.1f} ms/batch  peak {r['peak_rss_mib']:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
