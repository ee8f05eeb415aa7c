"""Side-by-side speed and equality of two versions of the trainer (``learning``) in ONE process.

    PYTHONPATH=. python benchmarks/compare_trainer.py --old-root DIR [--old-package learning_old]
        [--arch 784-800-10] [--batches 150] [--reps 9] [--check-samples 60000] [--threads 2] [--json PATH]

``DIR`` holds a copy of an older ``learning`` package renamed to ``--old-package`` (its internal
``learning.`` imports renamed likewise; ``simcore`` is shared). Both run the real trainer
(``train_network``: seeded encoder, forward, backward, fused Adam, tie-aware decoding and loss
bookkeeping, ``aggregate`` mode, T = 50, batch 128, seed 0, no validation split, nothing written).

Speed: one warm-up run each, then ``--reps`` repetitions alternating old/new (order swapped every
repetition), each one epoch of ``--batches`` batches; the trainer's own ``train_seconds`` per batch,
extrapolated to a 60,000-image epoch (469 batches), and the process CPU time of the same call
(all threads, spinning OpenMP workers included). Prints the medians and the median of the
per-repetition new/old ratios, with the load average before and after.

Equality: one epoch (``--check-mode``, default aggregate) over the first ``--check-samples`` training
images with each version; every tensor of the state dict must be ``torch.equal`` (same bits), and the
epoch's loss and accuracy equal (exit status 1 and no timing otherwise).
"""
from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from simcore.fileio import write_json  # noqa: E402

MNIST = os.path.join(HERE, "..", "..", "shared", "data", "mnist")
FULL_EPOCH = -(-60_000 // 128)


def run(pkg: str, arch: str, samples: int, data_dir: str, mode: str = "aggregate"):
    """(network, metrics, process CPU seconds) of one epoch of ``pkg``'s trainer on the first ``samples``
    training images (the data read once per package and size, outside the CPU time)."""
    train = importlib.import_module(f"{pkg}.train")
    key = (pkg, samples)
    if key not in _DATA:
        ds = importlib.import_module(f"{pkg}.datasets")
        _DATA[key] = (ds.load_dataset("mnist", "train", data_dir, limit=samples),
                      ds.load_dataset("mnist", "test", data_dir, limit=128))
    cfg = train.config_from("mnist", arch, T=50, mode=mode, epochs=1, seed=0, data_dir=data_dir,
                            limit_train=samples, limit_test=128, val_fraction=0.0)
    cpu = time.process_time()
    net, metrics = train.train_network(cfg, _DATA[key], progress=False)
    return net, metrics, time.process_time() - cpu


_DATA: dict = {}


def seconds_per_epoch(pkg: str, arch: str, batches: int, data_dir: str) -> tuple[float, float]:
    """(wall, process CPU) seconds per 60,000-image epoch, from an epoch of ``batches`` batches (the CPU
    time includes the trainer's set-up and its evaluation of 128 test images)."""
    _, m, cpu = run(pkg, arch, 128 * batches, data_dir)
    return m["history"][0]["train_seconds"] / batches * FULL_EPOCH, cpu / batches * FULL_EPOCH


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old-root", required=True)
    ap.add_argument("--old-package", default="learning_old")
    ap.add_argument("--arch", default="784-800-10")
    ap.add_argument("--batches", type=int, default=150)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--check-samples", type=int, default=60_000, help="0: skip the equality check")
    ap.add_argument("--check-mode", default="aggregate", help="training mode of the equality check")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=MNIST)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    sys.path.insert(0, a.old_root)
    torch.set_num_threads(a.threads)
    pkgs = {"old": a.old_package, "new": "learning"}
    out = {"arch": a.arch, "batches": a.batches, "reps": a.reps, "threads": a.threads,
           "load_before": os.getloadavg()}
    if a.check_samples:
        (net_old, m_old, _), (net_new, m_new, _) = (run(pkgs[k], a.arch, a.check_samples, a.data_dir, a.check_mode)
                                                    for k in ("old", "new"))
        keys = ("loss", "train_accuracy")
        out["identical"] = same_weights(net_old, net_new) and all(
            m_old["history"][0][k] == m_new["history"][0][k] for k in keys)
        out["check_samples"], out["check_mode"] = a.check_samples, a.check_mode
        out["check_train_seconds"] = {"old": m_old["history"][0]["train_seconds"],
                                      "new": m_new["history"][0]["train_seconds"]}
        print(f"one {a.check_mode} epoch on {a.check_samples} images: state dicts and history "
              f"{'IDENTICAL' if out['identical'] else 'DIFFER'}; train_seconds old "
              f"{out['check_train_seconds']['old']:.2f}, new {out['check_train_seconds']['new']:.2f}", flush=True)
    if a.reps < 1 or not out.get("identical", True):
        if a.json:
            write_json(a.json, out)
        return 0 if out.get("identical", True) else 1
    for k in ("old", "new"):  # warm-up (numba cache, allocator)
        seconds_per_epoch(pkgs[k], a.arch, 5, a.data_dir)
    times = {"old": [], "new": []}
    cpu = {"old": [], "new": []}
    for r in range(a.reps):
        for k in (("old", "new") if r % 2 == 0 else ("new", "old")):
            wall, c = seconds_per_epoch(pkgs[k], a.arch, a.batches, a.data_dir)
            times[k].append(wall)
            cpu[k].append(c)
        print(f"rep {r + 1}: old {times['old'][-1]:.2f} s/epoch (CPU {cpu['old'][-1]:.2f}), new {times['new'][-1]:.2f}"
              f" s/epoch (CPU {cpu['new'][-1]:.2f})  (load {os.getloadavg()[0]:.2f})", flush=True)
    out.update(times=times, cpu=cpu, load_after=os.getloadavg())
    for what, d in (("wall", times), ("cpu", cpu)):
        out[f"median_{what}_old"], out[f"median_{what}_new"] = statistics.median(d["old"]), statistics.median(d["new"])
        out[f"median_{what}_ratio"] = statistics.median(n / o for n, o in zip(d["new"], d["old"]))
        print(f"{a.arch} {what}: old median {out[f'median_{what}_old']:.2f} s/epoch, new "
              f"{out[f'median_{what}_new']:.2f} s/epoch, median of paired new/old {out[f'median_{what}_ratio']:.3f}")
    print(f"load average {out['load_before']} -> {out['load_after']}")
    if a.json:
        write_json(a.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
