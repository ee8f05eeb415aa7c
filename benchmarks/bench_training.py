"""Seconds per training epoch and peak memory of the spike-count rule, MNIST 784-800-10 (or ``--arch``).

Each configuration runs in its own subprocess (so its peak RSS is its own): the second epoch of the real
trainer (``spikecount train``'s code path, the paper's MNIST defaults) over the 60,000 training
images at batch 128 with 2 torch threads (or ``--batches`` of them, extrapolated); input encoding
included, test evaluation excluded. Usage::

    python benchmarks/bench_training.py --data-dir ../shared/data/mnist [--modes aggregate stepped] [--T 50 10]
        [--arch 28x28-12c5-2a-64c5-2a-10 --batches 40]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys


def one_epoch(mode: str, T: int, data_dir: str, batches: int | None, arch: str = "784-800-10") -> dict:
    """The second epoch of a real training run (``learning.train.train``: encoding, forward, backward,
    Adam, decoding for the training accuracy, loss bookkeeping); the first epoch carries one-off
    costs (numba cache loading, allocator warm-up). ``train_seconds`` excludes the test evaluation
    that follows each epoch. ``batches`` limits an epoch to that many batches (extrapolated)."""
    import tempfile

    import torch

    from learning.train import config_from, train

    torch.set_num_threads(2)
    limit = None if batches is None else 128 * batches
    cfg = config_from("mnist", arch, T=T, mode=mode, epochs=2, seed=0, data_dir=data_dir,
                      limit_train=limit, limit_test=128)
    with tempfile.TemporaryDirectory() as out:
        m = train(cfg, out, progress=False)
    first, seconds = m["history"][0]["train_seconds"], m["history"][1]["train_seconds"]
    n_batches = -(-m["samples"]["train"] // 128)
    full = -(-60_000 // 128)
    return {
        "arch": arch, "mode": mode, "T": T, "batches": n_batches, "seconds": seconds, "first_epoch_seconds": first,
        "seconds_per_batch": seconds / n_batches, "seconds_per_epoch": seconds / n_batches * full,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--modes", nargs="+", default=["aggregate", "stepped"])
    ap.add_argument("--T", nargs="+", type=int, default=[50, 10])
    ap.add_argument("--batches", type=int, help="time only this many batches and extrapolate to an epoch")
    ap.add_argument("--arch", default="784-800-10")
    ap.add_argument("--one", nargs=2, metavar=("MODE", "T"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one_epoch(a.one[0], int(a.one[1]), a.data_dir, a.batches, a.arch)))
        return
    rows = []
    for mode in a.modes:
        for T in a.T:
            cmd = [sys.executable, __file__, "--data-dir", a.data_dir, "--arch", a.arch, "--one", mode, str(T)]
            if a.batches:
                cmd += ["--batches", str(a.batches)]
            rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
            r = rows[-1]
            print(f"{r['mode']:>9}  T={r['T']:<3}  {r['seconds_per_epoch']:7.2f} s/epoch  "
                  f"{1000 * r['seconds_per_batch']:6.1f} ms/batch  peak {r['peak_rss_mib']:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
