"""Latency-accuracy sweep: direct spike-count training at several T_train against ANN conversion
with each normalisation, every model evaluated in simcore (``sync``) at several T_infer.

Layout of ``out_dir``: ``snn_T{T}_seed{s}/`` (trained models), ``ann_seed{s}/``,
``conv_{norm}_seed{s}/``, and the results: ``sweep.json`` (rows, config, versions), ``sweep.csv``
(one row per method, T_train, T_infer, seed), ``accuracy_vs_T.png``, ``decision_latency.png``.
Models already complete in ``out_dir`` are reused, so an interrupted sweep can be rerun.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from analysis.latency import decision_latency
from analysis.plots import accuracy_vs_T, decision_latency as latency_plot
from baselines.convert import convert
from baselines.normalise import NORMS
from baselines.train_ann import ann_config_from, train_ann
from learning.datasets import load_dataset
from learning.models import MODEL_FILE, load
from learning.train import config_from, train
from simcore import simulate
from simcore.decode import decode_scores
from simcore.fileio import atomic_write, write_json
from simcore.provenance import environment

__all__ = ["sweep", "COLUMNS"]

COLUMNS = ("method", "T_train", "T_infer", "seed", "accuracy", "counts_only_accuracy", "tie_fraction",
           "ann_accuracy", "sops_per_sample", "samples")


def _complete(d: Path) -> bool:
    return (d / MODEL_FILE).is_file()


def _evaluate(model_dir: Path, x: np.ndarray, y: np.ndarray, T_infer: list[int], seed: int):
    """Rows (T_infer, decode scores (:func:`simcore.decode.decode_scores`), sops) and the
    decision-latency trace at the largest T."""
    loaded = load(model_dir)
    graph, meta = loaded.graph, loaded.meta
    enc, rate = meta.get("encoding", "bernoulli"), float(meta.get("max_rate", 1.0))
    out, trace = [], None
    for T in T_infer:
        res = simulate(graph, x, T, seed, encoding=enc, max_rate=rate, sample_ids=np.arange(len(y)), mode="sync")
        out.append((T, decode_scores(res.counts[res.output], res.membrane[res.output], y), float(res.total_sops.mean())))
        trace = res.prediction_trace
    return out, decision_latency(trace, y)


def sweep(
    dataset: str, arch: str, out_dir: str | os.PathLike, *, T_train=(5, 10, 20), T_infer=None,
    norms=NORMS, seeds=(0,), epochs: int | None = None, ann_epochs: int | None = None, lr_decay: float | None = None, dropout: float | None = None,
    data_dir=None, limit_train: int | None = None, limit_test: int | None = None, progress: bool = True,
) -> dict:
    """Train, convert and evaluate everything (see the module docstring). Returns the sweep dict."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    T_train = sorted({int(t) for t in T_train})
    T_infer = sorted({int(t) for t in (T_infer or T_train)})
    if not T_train or min(T_train + T_infer) < 1:
        raise ValueError("T_train and T_infer must be integers >= 1")
    for norm in norms:
        if norm not in NORMS:
            raise ValueError(f"unknown normalisation {norm!r}; choose from {NORMS}")
    test = load_dataset(dataset, "test", data_dir, limit=limit_test)
    x, y = test.x.astype(np.float64), test.y
    rows, latencies, windows = [], {}, {}
    jobs = [("snn", T, s) for s in seeds for T in T_train] + [("ann", None, s) for s in seeds]
    for kind, T, seed in tqdm(jobs, desc="sweep", unit="model", disable=not progress):
        if kind == "snn":
            d = out / f"snn_T{T}_seed{seed}"
            if not _complete(d):
                train(config_from(dataset, arch, T=T, epochs=epochs, seed=seed, lr_decay=lr_decay, dropout=dropout,
                                  data_dir=data_dir,
                                  limit_train=limit_train, limit_test=limit_test), d, resume=(d / "checkpoint.safetensors").is_file(),
                      progress=False)
            models = [(f"spike-count T_train={T}", T, d)]
        else:
            d = out / f"ann_seed{seed}"
            if not _complete(d):
                train_ann(ann_config_from(dataset, arch, epochs=ann_epochs, seed=seed, lr_decay=lr_decay, data_dir=data_dir,
                                          limit_train=limit_train, limit_test=limit_test), d,
                          resume=(d / "checkpoint.safetensors").is_file(), progress=False)
            models = []
            for norm in norms:
                c = out / f"conv_{norm}_seed{seed}"
                if not _complete(c):
                    convert(d, norm, out_dir=c, data_dir=data_dir, seed=seed)
                models.append((f"conversion ({norm})", None, c))
        for method, t_train, model_dir in models:
            evaluated, lat = _evaluate(model_dir, x, y, T_infer, seed)
            latencies.setdefault(method, []).append(lat)
            windows[method] = max(T_infer)
            for t_inf, scores, sops in evaluated:
                rows.append({"method": method, "T_train": t_train, "T_infer": t_inf, "seed": seed,
                             **scores, "sops_per_sample": sops, "samples": len(y)})
    result = {"dataset": dataset, "arch": arch, "T_train": T_train, "T_infer": T_infer, "norms": list(norms),
              "seeds": list(seeds), "epochs": epochs, "ann_epochs": ann_epochs, "lr_decay": lr_decay, "dropout": dropout, "rows": rows, **environment()}
    write_json(out / "sweep.json", result)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(out / "sweep.csv", lambda f: f.write(buf.getvalue()), mode="w")
    accuracy_vs_T(rows, out / "accuracy_vs_T.png", title=f"{dataset} {arch}: accuracy against latency")
    latency_plot({m: np.concatenate(v) for m, v in latencies.items()}, windows, out / "decision_latency.png")
    return result
