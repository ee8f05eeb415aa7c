"""The speed figures of issue 17 for two simcore versions in ONE process, on trained models.

    PYTHONPATH=. python benchmarks/issue17_figures.py (--old-commit REV | --old-root DIR)
        [--mlp MODEL_OR_GRAPH_DIR] [--cnn MODEL_OR_GRAPH_DIR] [--n 10000] [--cnn-n 10000]
        [--check-n 10000] [--cnn-check-n 1000] [--reps 3] [--modes sync,async] [--threads K] [--json FILE]
        [--overwrite]

``--mlp`` / ``--cnn``: a trained model directory (exported to a simcore graph in a temporary
directory) or a graph directory (an empty value skips that network); each version loads the graph
with its own ``load_network``. ``--threads``: numba threads for both versions. The
old version is ``simcore`` at git revision ``REV`` of this checkout, copied to a temporary
``simcore_old`` package with its imports renamed, or a copy made beforehand in ``DIR`` (package
``--old-package``, see :mod:`compare_simcore`). For every (network, mode): old and new must give
identical counts, SOPs, predictions and prediction traces on the first ``--check-n`` (MLP) /
``--cnn-check-n`` (CNN) MNIST test images (exit status 1 otherwise); how far the final potentials
agree is printed (bit for bit, or the largest difference: the float summation order of the input's
synapses may differ between versions, see :mod:`simcore.engine`); then ``--reps``
repetitions alternate old/new (order swapped every repetition) on ``--n`` / ``--cnn-n`` images.
Printed: median seconds, those seconds scaled to the 10,000-image test set (per-image rate x
10,000; equal to the measurement when N = 10,000), the median of the paired new/old ratios, the
async/sync ratio of each version, and the load average before and after.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numba
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import simcore  # noqa: E402
from bench_report import add_output_args, check_outputs, run_script, write_json_result  # noqa: E402
from bench_simcore import MNIST  # noqa: E402
from compare_simcore import agreement, timed  # noqa: E402

TEST_SET = 10000


def old_copy(rev: str, root: Path, package: str = "simcore_old") -> Path:
    """``simcore`` at git revision ``rev`` written to ``root/package`` with its imports renamed."""
    repo = os.path.join(HERE, "..")
    names = subprocess.run(["git", "ls-tree", "--name-only", rev, "simcore/"], cwd=repo, check=True,
                           capture_output=True, text=True).stdout.split()
    (root / package).mkdir(parents=True)
    for name in names:
        text = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=repo, check=True, capture_output=True,
                              text=True).stdout
        text = re.sub(r"\bsimcore\.", f"{package}.", text)
        text = re.sub(r"\b(from|import) simcore\b", rf"\1 {package}", text)
        (root / package / os.path.basename(name)).write_text(text)
    return root


def graph_dir(path: str, tmp: Path, name: str) -> str:
    """A graph directory: ``path`` itself, or the export of the trained model directory ``path``."""
    if (Path(path) / "graph.json").is_file():
        return path
    from learning.export import export_model

    return str(export_model(path, tmp / name))


def measure(mods, nets, x, xc, T, mode, reps) -> dict:
    """Agreement on xc (:func:`compare_simcore.agreement`; "identical": its counts), then interleaved
    timings on x: {"identical", "agreement", "old_s", "new_s"}."""
    agree = agreement(timed(mods["old"], nets["old"], xc, T, mode)[1], timed(mods["new"], nets["new"], xc, T, mode)[1])
    times = {"old": [], "new": []}
    for r in range(reps):
        for who in (("old", "new") if r % 2 == 0 else ("new", "old")):
            times[who].append(timed(mods[who], nets[who], x, T, mode)[0])
    return {"identical": agree["counts"], "agreement": agree, "old_s": times["old"], "new_s": times["new"]}


def summary(row: dict, n: int) -> dict:
    """Medians, test-set extrapolation and the paired-ratio median of one measured row."""
    med = {k: statistics.median(row[f"{k}_s"]) for k in ("old", "new")}
    ratio = statistics.median(b / a for a, b in zip(row["old_s"], row["new_s"]))
    return dict(row, N=n, old_median_s=med["old"], new_median_s=med["new"], paired_ratio_median=ratio,
                old_test_set_s=med["old"] * TEST_SET / n, new_test_set_s=med["new"] * TEST_SET / n)


def potentials(agree: dict) -> str:
    """The final potentials' agreement in words."""
    if agree["potentials_bitwise"]:
        return "identical bit for bit"
    return (f"{100 * agree['potential_bitwise_fraction']:.4f}% bit for bit, largest difference "
            f"{agree['potential_max_abs_diff']:.3g}")


def parse(argv) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    old = ap.add_mutually_exclusive_group(required=True)
    old.add_argument("--old-commit", help="git revision of the old simcore (copied to a temporary package)")
    old.add_argument("--old-root", help="directory holding a renamed copy of the old simcore")
    ap.add_argument("--old-package", default="simcore_old")
    ap.add_argument("--mlp", default="/work/models/mlp_T50", help="trained MLP (model or graph directory)")
    ap.add_argument("--cnn", default="/work/models/cnn_T50", help="trained CNN (model or graph directory)")
    ap.add_argument("--n", type=int, default=TEST_SET, help="MLP images timed")
    ap.add_argument("--cnn-n", type=int, default=TEST_SET, help="CNN images timed")
    ap.add_argument("--check-n", type=int, default=TEST_SET, help="MLP images compared old vs new")
    ap.add_argument("--cnn-check-n", type=int, default=1000, help="CNN images compared old vs new")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--modes", default="sync,async")
    ap.add_argument("--threads", type=int, default=None, help="numba threads (default: numba's setting)")
    ap.add_argument("--data-dir", default=MNIST)
    add_output_args(ap)
    args = ap.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        ap.error(f"--threads must be at least 1, got {args.threads}")
    if not args.mlp and not args.cnn:
        ap.error("nothing to measure: --mlp and --cnn are both empty")
    check_outputs(ap, args)
    return args


def run(args, tmp: Path) -> list:
    """Measure every (network, mode) of ``args`` (temporary files under ``tmp``); prints and returns the rows."""
    root = old_copy(args.old_commit, tmp / "old", args.old_package) if args.old_commit else Path(args.old_root)
    sys.path.insert(0, str(root))
    mods = {"old": importlib.import_module(args.old_package), "new": simcore}
    from learning.datasets import load_dataset

    d = load_dataset("mnist", "test", args.data_dir, limit=max(args.n, args.cnn_n, args.check_n, args.cnn_check_n))
    images = np.asarray(d.x, dtype=np.float64).reshape(len(d.y), -1)
    rows = []
    for kind, path, n, nc in (("mlp", args.mlp, args.n, args.check_n), ("cnn", args.cnn, args.cnn_n, args.cnn_check_n)):
        if not path:
            continue
        path = graph_dir(path, tmp, kind)
        nets = {who: mod.load_network(path) for who, mod in mods.items()}
        for mode in args.modes.split(","):
            row = summary(measure(mods, nets, images[:n], images[:nc], args.T, mode, args.reps), n)
            rows.append(dict(row, network=kind, mode=mode, check_n=nc, T=args.T))
            print(f"{kind} {mode:5s} N={n:5d}: old {row['old_median_s']:.3f} s, new {row['new_median_s']:.3f} s "
                  f"(medians of {args.reps}; test set {row['old_test_set_s']:.2f} s / {row['new_test_set_s']:.2f} s), "
                  f"paired new/old {row['paired_ratio_median']:.3f}; counts identical on {nc}: {row['identical']}, "
                  f"potentials {potentials(row['agreement'])}", flush=True)
    return rows


def main(argv=None) -> int:
    args = parse(argv)
    if args.threads:
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="issue17_") as tmp:
        rows = run(args, Path(tmp))
    for kind in ("mlp", "cnn"):
        by = {r["mode"]: r for r in rows if r["network"] == kind}
        if "sync" in by and "async" in by:
            print(f"{kind} async/sync: old {by['async']['old_median_s'] / by['sync']['old_median_s']:.2f}, "
                  f"new {by['async']['new_median_s'] / by['sync']['new_median_s']:.2f}")
    load1 = os.getloadavg()
    print(f"load average before {load0[0]:.2f}, after {load1[0]:.2f} (1 min)")
    if args.json:
        write_json_result(args, {"rows": rows, "threads": numba.get_num_threads(), "old": args.old_commit or args.old_root,
                                 "mlp": args.mlp, "cnn": args.cnn, "load_before": load0, "load_after": load1})
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    run_script(main)
