"""Async against sync, old simcore against new, on trained models, in ONE process (interleaved).

    PYTHONPATH=. python benchmarks/compare_async.py --old-root DIR [--old-package simcore_old]
        --model /work/models/mlp_T50 [--n 10000] [--check-n 10000] [--reps 3] [--threads K] [--json FILE]

``DIR`` holds a copy of an older ``simcore`` package renamed to ``--old-package`` (its internal
``simcore.`` imports renamed likewise). The model directory (any kind :func:`learning.models.load`
reads) gives the simcore graph; it is saved once to a temporary graph directory and read back by
the old package, so both versions run the same network. MNIST test images, the model's T and
encoding, seed 0. Equality on the first ``--check-n`` images, old vs new, in both modes: counts,
final potentials (bit for bit), SOPs, predictions, the prediction trace and (async) the firing
order in every bucket (the rasters, on the first 200 of them). Timing: one warm-up call per
(version, mode), then ``--reps`` rounds over the four (version, mode) pairs, order reversed every
round; wall and process CPU time per run; medians and the medians of the per-round ratios
(new async / new sync, old async / old sync, new async / old async).
"""
from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import simcore  # noqa: E402
from bench_report import add_output_args, check_outputs, report_rows, run_script  # noqa: E402
from bench_simcore import MNIST  # noqa: E402
from compare_simcore import identical  # noqa: E402

PAIRS = (("old", "sync"), ("old", "async"), ("new", "sync"), ("new", "async"))


def same_rasters(a, b) -> bool:
    """Every bucket of every population identical (times and emission order)."""
    return all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1])
               for name in a.raster for x, y in zip(a.raster[name], b.raster[name]))


def check(mods, nets, x, T, enc, n_raster) -> dict:
    """Old vs new on images x in both modes: {mode: identical (bool)}."""
    out = {}
    for mode in ("sync", "async"):
        r = {k: mods[k].simulate(nets[k], x, T=T, seed=0, mode=mode, encoding=enc) for k in mods}
        same = identical(r["old"], r["new"])
        if mode == "async":
            rr = {k: mods[k].simulate(nets[k], x[:n_raster], T=T, seed=0, mode=mode, encoding=enc, record_raster=True)
                  for k in mods}
            same &= same_rasters(rr["old"], rr["new"])
        out[mode] = bool(same)
        print(f"identical old vs new, {mode}, {len(x)} images{' (rasters on %d)' % n_raster if mode == 'async' else ''}:"
              f" {same}", flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old-root", required=True)
    ap.add_argument("--old-package", default="simcore_old")
    ap.add_argument("--model", required=True)
    ap.add_argument("--n", type=int, default=10000, help="images timed")
    ap.add_argument("--check-n", type=int, default=1000, help="images compared old vs new")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--data-dir", default=MNIST)
    ap.add_argument("--threads", type=int, default=None)
    add_output_args(ap)
    args = ap.parse_args(argv)
    check_outputs(ap, args)
    sys.path.insert(0, args.old_root)
    old = importlib.import_module(args.old_package)
    from learning.datasets import load_dataset
    from learning.models import load

    loaded = load(args.model)
    T, enc = int(loaded.meta.get("T", 50)), loaded.meta.get("encoding", "bernoulli")
    with tempfile.TemporaryDirectory() as tmp:
        simcore.save_network(loaded.graph, os.path.join(tmp, "g"))
        nets = {"old": old.load_network(os.path.join(tmp, "g")), "new": loaded.graph}
    mods = {"old": old, "new": simcore}
    d = load_dataset("mnist", "test", args.data_dir, limit=max(args.n, args.check_n))
    x = np.asarray(d.x, dtype=np.float64).reshape(len(d.y), -1)
    same = check(mods, nets, x[:args.check_n], T, enc, min(200, args.check_n))
    wall = {p: [] for p in PAIRS}
    cpu = {p: [] for p in PAIRS}
    for who, mode in PAIRS:
        mods[who].simulate(nets[who], x[:10], T=T, seed=0, mode=mode, encoding=enc, threads=args.threads)
    for r in range(args.reps):
        for who, mode in (PAIRS if r % 2 == 0 else PAIRS[::-1]):
            t0, c0 = time.perf_counter(), time.process_time()
            mods[who].simulate(nets[who], x[:args.n], T=T, seed=0, mode=mode, encoding=enc, threads=args.threads)
            wall[who, mode].append(time.perf_counter() - t0)
            cpu[who, mode].append(time.process_time() - c0)

    def ratio(t, a, b):
        return statistics.median([p / q for p, q in zip(t[a], t[b])])

    row = {"model": args.model, "N": args.n, "T": T, "reps": args.reps, "identical_on": args.check_n,
           "identical": same, "load_start": os.getloadavg()[0]}
    for kind, t in (("wall", wall), ("cpu", cpu)):
        for who, mode in PAIRS:
            row[f"{who}_{mode}_{kind}_s"] = t[who, mode]
        row[f"{kind}_new_async_over_sync"] = ratio(t, ("new", "async"), ("new", "sync"))
        row[f"{kind}_old_async_over_sync"] = ratio(t, ("old", "async"), ("old", "sync"))
        row[f"{kind}_new_over_old_async"] = ratio(t, ("new", "async"), ("old", "async"))
        row[f"{kind}_new_over_old_sync"] = ratio(t, ("new", "sync"), ("old", "sync"))
        med = "  ".join(f"{w} {m} {statistics.median(t[w, m]):.3f} s" for w, m in PAIRS)
        print(f"{kind:4s} medians: {med}\n     async/sync new {row[f'{kind}_new_async_over_sync']:.2f}, old "
              f"{row[f'{kind}_old_async_over_sync']:.2f}; new/old async {row[f'{kind}_new_over_old_async']:.3f}, "
              f"sync {row[f'{kind}_new_over_old_sync']:.3f} (medians of per-round ratios)", flush=True)
    import numba

    report_rows([row], args, f"threads {numba.get_num_threads()}, ")
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    run_script(main)
