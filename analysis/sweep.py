"""Latency-accuracy sweep: direct spike-count training at several T_train against ANN conversion
with each normalisation, every model evaluated in simcore (``sync``) at several T_infer.

The sweep is a list of jobs (``analysis.runner``): train-snn per (T_train, seed), train-ann per
seed, convert per (normalisation, seed), and one evaluation per model. Each job lives in
``out_dir/jobs/<kind>-<hash of its configuration>/`` (model in ``model/``), so a rerun with the
same settings reuses finished jobs and one with other settings (architecture, epochs, limits, data
files, ...) trains new models beside them; nothing is ever relabelled. Results in ``out_dir``:
``sweep.json`` (rows, config, versions), ``sweep.csv`` (one row per method, T_train, T_infer,
seed, with the model directory that produced it), ``accuracy_vs_T.png``, ``decision_latency.png``.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from analysis.plots import accuracy_vs_T, decision_latency as latency_plot
from analysis.runner import Runner, model_dir
from analysis.runner.build import convert_job, eval_job, train_job
from baselines.normalise import NORMS
from baselines.train_ann import ann_config_from
from learning.train import config_from
from simcore.fileio import atomic_write, write_json
from simcore.provenance import environment

__all__ = ["sweep", "sweep_jobs", "COLUMNS"]

COLUMNS = ("method", "T_train", "T_infer", "seed", "accuracy", "sops_per_sample", "samples", "model")


def sweep_jobs(dataset: str, arch: str, *, T_train, T_infer, norms, seeds, epochs=None, ann_epochs=None,
               lr_decay=None, dropout=None, data_dir=None, limit_train=None, limit_test=None):
    """(jobs in dependency order, [(method, T_train, seed, model job, evaluation job)]) of a sweep."""
    jobs, evaluated = [], []
    for seed in seeds:
        for T in T_train:
            snn = train_job(config_from(dataset, arch, T=T, epochs=epochs, seed=seed, lr_decay=lr_decay,
                                        dropout=dropout, data_dir=data_dir, limit_train=limit_train,
                                        limit_test=limit_test))
            ev = eval_job(snn, "sweep", T_infer=T_infer, seed=seed, limit=limit_test)
            jobs += [snn, ev]
            evaluated.append((f"spike-count T_train={T}", T, seed, snn, ev))
        ann = train_job(ann_config_from(dataset, arch, epochs=ann_epochs, seed=seed, lr_decay=lr_decay,
                                        data_dir=data_dir, limit_train=limit_train, limit_test=limit_test))
        jobs.append(ann)
        for norm in norms:
            conv = convert_job(ann, norm, seed)
            ev = eval_job(conv, "sweep", T_infer=T_infer, seed=seed, limit=limit_test)
            jobs += [conv, ev]
            evaluated.append((f"conversion ({norm})", None, seed, conv, ev))
    return jobs, evaluated


def sweep(
    dataset: str, arch: str, out_dir: str | os.PathLike, *, T_train=(5, 10, 20), T_infer=None,
    norms=NORMS, seeds=(0,), epochs: int | None = None, ann_epochs: int | None = None, lr_decay: float | None = None, dropout: float | None = None,
    data_dir=None, limit_train: int | None = None, limit_test: int | None = None, progress: bool = True,
    runner: Runner | None = None,
) -> dict:
    """Train, convert and evaluate everything (see the module docstring) with ``runner`` (default:
    serially, with a progress bar unless ``progress`` is False). Returns the sweep dict."""
    out = Path(out_dir)
    T_train = sorted({int(t) for t in T_train})
    T_infer = sorted({int(t) for t in (T_infer or T_train)})
    if not T_train or min(T_train + T_infer) < 1:
        raise ValueError("T_train and T_infer must be integers >= 1")
    for norm in norms:
        if norm not in NORMS:
            raise ValueError(f"unknown normalisation {norm!r}; choose from {NORMS}")
    jobs, evaluated = sweep_jobs(dataset, arch, T_train=T_train, T_infer=T_infer, norms=norms, seeds=seeds,
                                 epochs=epochs, ann_epochs=ann_epochs, lr_decay=lr_decay, dropout=dropout,
                                 data_dir=data_dir, limit_train=limit_train, limit_test=limit_test)
    results = (runner or Runner(progress=progress)).run(jobs, out)
    rows, latencies, windows = [], {}, {}
    for method, t_train, seed, model, ev in evaluated:
        res = results[ev.id]
        latencies.setdefault(method, []).append(np.asarray(res["latency"], dtype=np.int64))
        windows[method] = max(T_infer)
        where = str(model_dir(out, model).relative_to(out))
        rows += [{"method": method, "T_train": t_train, "seed": seed, **r, "model": where} for r in res["rows"]]
    rows = [{k: r[k] for k in COLUMNS} for r in rows]
    result = {"dataset": dataset, "arch": arch, "T_train": T_train, "T_infer": T_infer, "norms": list(norms),
              "seeds": list(seeds), "epochs": epochs, "ann_epochs": ann_epochs, "lr_decay": lr_decay, "dropout": dropout,
              "limit_train": limit_train, "limit_test": limit_test,
              "jobs": {j.id: j.config for j in jobs}, "rows": rows, **environment()}
    write_json(out / "sweep.json", result)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(out / "sweep.csv", lambda f: f.write(buf.getvalue()), mode="w")
    name = Path(dataset[4:]).name if dataset.startswith("npz:") else dataset  # a file's name, not its path
    accuracy_vs_T(rows, out / "accuracy_vs_T.png", title=f"{name} {arch}: accuracy against latency")
    latency_plot({m: np.concatenate(v) for m, v in latencies.items()}, windows, out / "decision_latency.png")
    return result
