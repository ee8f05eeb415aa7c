"""The main job: the whole toolkit on the embedded 8x8 digits set, in a few minutes on 2 cores.

1. trains spike-count networks at two latencies (T_train = 10 and 20) to convergence (lr 1e-2, up
   to 300 epochs, early stopping on a validation split: the recipe chosen on validation in
   docs/results.md section 16),
2. trains an ANN of the same architecture (its own recipe: early stopping on a validation split)
   and converts it with the three normalisations, and a QCFS ANN (L = 8, Bu et al. 2022), each
   conversion with V(0) = 0 and V(0) = theta/2,
3. runs every model in simcore at several T (accuracy, SOPs, decision latency),
4. measures the per-layer quantisation error of the T = 20 network,
5. cross-checks a few samples of it spike by spike against Brian2,
6. writes an HTML + Markdown report, and prints a summary table.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from analysis.crosscheck import crosscheck
from analysis.quantisation import write_layer_errors
from analysis.report import markdown_table, write_report
from analysis.runner import Runner
from analysis.sweep import sweep
from simcore.fileio import write_json

__all__ = ["demo"]

ARCH = "8x8-12c3-2a-10"


def demo(out_dir: str | os.PathLike = "runs/demo", *, epochs: int = 300, lr: float = 1e-2, patience: int = 30,
         T_train=(10, 20), T_infer=(5, 10, 20, 50),
         qcfs_levels=(8,), v_inits=("zero", "half"), ann_epochs: int | None = None,
         crosscheck_samples: int = 20, limit_train: int | None = None, limit_test: int | None = None,
         brian2_target: str = "cython", progress: bool = True, runner: Runner | None = None) -> dict:
    """Run the demo into ``out_dir`` (models, JSON, plots, ``report/index.html``); return a summary.
    Steps 1-3 are jobs run by ``runner`` (default: serially here)."""
    out = Path(out_dir)
    t0 = time.perf_counter()
    say = print if progress else (lambda *a, **k: None)
    say(f"[1-3/6] spike-count training at T={list(T_train)}, ANN + conversion, simcore at T={list(T_infer)}")
    res = sweep("digits", ARCH, out, T_train=T_train, T_infer=T_infer, epochs=epochs, lr=lr, patience=patience,
                ann_epochs=ann_epochs, qcfs_levels=qcfs_levels, v_inits=v_inits,
                limit_train=limit_train, limit_test=limit_test, progress=progress, runner=runner)
    snn = out / next(r["model"] for r in res["rows"] if r["T_train"] == max(T_train) and r["seed"] == 0)
    say("[4/6] per-layer quantisation error")
    quant = write_layer_errors(snn, out, limit=limit_test or 450)
    say(f"[5/6] Brian2 cross-check on {crosscheck_samples} samples ({brian2_target} target; first use compiles)")
    cross = crosscheck(snn, limit=crosscheck_samples, target=brian2_target)
    write_json(out / "crosscheck.json", cross)
    say("[6/6] report")
    report = write_report(out, out / "report", title="spikecount demo: digits " + ARCH)
    rows = [r for r in res["rows"] if r["T_infer"] in (min(T_train), max(T_train))]
    summary = {
        "rows": rows,
        "crosscheck_identical_count_fraction": cross["identical_count_fraction"],
        "crosscheck_identical_prediction_fraction": cross["identical_prediction_fraction"],
        "quantisation": [{"population": l["population"], "residual": l["residual_mean"],
                          "propagated_differ_fraction": l["propagated"]["differ_fraction"]} for l in quant["layers"]],
        "report": str(report), "wall_seconds": time.perf_counter() - t0,
    }
    write_json(out / "demo_summary.json", summary)
    say("\n" + markdown_table(rows, ["method", "T_infer", "accuracy", "counts_only_accuracy", "tie_fraction",
                                     "ann_accuracy", "sops_per_sample"]))
    say(f"\nBrian2 cross-check: {100 * cross['identical_count_fraction']:.3f}% identical spike counts, "
        f"{100 * cross['identical_prediction_fraction']:.1f}% identical predictions ({cross['samples']} samples)")
    say(f"report: {report}\nwall time {summary['wall_seconds']:.0f} s")
    return summary
