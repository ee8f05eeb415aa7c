"""Latency-accuracy sweep: direct spike-count training at several T_train against ANN conversion
with each normalisation (and QCFS, each with the initial potentials asked for), every model
evaluated in simcore (``sync``) at several T_infer.

The sweep is a list of jobs (``analysis.runner``): train-snn per (T_train, seed), train-ann per
seed (and a QCFS train-ann per (L, seed)), convert per (normalisation, initial potential, seed), and
one evaluation per model and initial potential (a spike-count network with theta/2 is an evaluation
job of its own). Every setting (levels, v_init, lr, patience, ...) is in its job's configuration. Each job lives in
``out_dir/jobs/<kind>-<hash of its configuration>/`` (model in ``model/``), so a rerun with the
same settings reuses finished jobs and one with other settings (architecture, epochs, limits, data
files, ...) trains new models beside them; nothing is ever relabelled. Results in ``out_dir``:
``sweep.json`` (rows, config, versions), ``sweep.csv`` (one row per method, T_train, T_infer,
seed: tie-broken and counts-only accuracy, tie fraction, the converted model's ANN accuracy, SOPs,
and the model directory that produced it), ``accuracy_vs_T.png``, ``decision_latency.png``.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from analysis.plots import accuracy_vs_T, decision_latency as latency_plot
from analysis.runner import Runner, model_dir
from analysis.runner.build import convert_job, eval_job, given_model_eval_job, train_job
from baselines.choices import V_INITS
from baselines.normalise import RELU_NORMS
from baselines.train_ann import ann_config_from
from learning.train import config_from
from simcore.fileio import atomic_write, write_json
from simcore.provenance import environment

__all__ = ["sweep", "sweep_jobs", "check_extra_models", "COLUMNS"]

COLUMNS = ("method", "T_train", "T_infer", "seed", "accuracy", "counts_only_accuracy", "tie_fraction",
           "ann_accuracy", "sops_per_sample", "samples", "model")
V0_LABEL = {"zero": "V(0)=0", "half": "V(0)=theta/2"}
EXTRA_KINDS = ("snn", "converted", "graph", "nir")  # what the sweep's evaluation runs (analysis.runner.kinds)


def _label(method: str, v0: str, v_inits) -> str:
    """The row's method: the initial potential is named unless the sweep runs V(0) = 0 alone."""
    return method if list(v_inits) == ["zero"] else f"{method}, {V0_LABEL[v0]}"


def sweep_jobs(dataset: str, arch: str, *, T_train, T_infer, norms, seeds, qcfs_levels=(), v_inits=("zero",),
               epochs=None, ann_epochs=None, lr=None, patience=None, select_on=None, lr_decay=None, dropout=None,
               data_dir=None, limit_train=None, limit_test=None, extra_models=()):
    """(jobs in dependency order, [(method, T_train, seed, model job or None, evaluation job)]) of a sweep.
    extra_models: paths of given models (any kind with a simcore graph, a .nir file included) also
    evaluated at every T_infer, per seed, each labelled by its path.
    lr, patience, select_on: the spike-count training's (the ANNs train with their own recipe)."""
    jobs, evaluated = [], []
    common = {"data_dir": data_dir, "limit_train": limit_train, "limit_test": limit_test}
    for seed in seeds:
        for T in T_train:
            snn = train_job(config_from(dataset, arch, T=T, epochs=epochs, seed=seed, lr=lr, patience=patience,
                                        select_on=select_on, lr_decay=lr_decay, dropout=dropout, **common))
            jobs.append(snn)
            for v0 in v_inits:  # theta/2 on a spike-count network: V(0) = b + theta/2
                extra = {} if v0 == "zero" else {"v_init": v0}
                ev = eval_job(snn, "sweep", T_infer=T_infer, seed=seed, limit=limit_test, **extra)
                jobs.append(ev)
                method = f"spike-count T_train={T}" + ("" if v0 == "zero" else ", V(0)=b+theta/2")
                evaluated.append((method, T, seed, snn, ev))
        anns = [(None, norms)] + [(L, ["qcfs"]) for L in qcfs_levels]
        for levels, ann_norms in anns:
            qcfs = {} if levels is None else {"activation": "qcfs", "levels": int(levels)}
            ann = train_job(ann_config_from(dataset, arch, epochs=ann_epochs, seed=seed, lr_decay=lr_decay,
                                            **common, **qcfs))
            jobs.append(ann)
            for norm in ann_norms:
                for v0 in v_inits:
                    conv = convert_job(ann, norm, seed, v_init=v0)
                    ev = eval_job(conv, "sweep", T_infer=T_infer, seed=seed, limit=limit_test)
                    jobs += [conv, ev]
                    base = f"conversion ({norm})" if levels is None else f"QCFS L={levels}"
                    evaluated.append((_label(base, v0, v_inits), None, seed, conv, ev))
        for path in extra_models:
            ev = given_model_eval_job(path, dataset, data_dir, "sweep", T_infer=T_infer, seed=seed, limit=limit_test)
            jobs.append(ev)
            evaluated.append((str(path), None, seed, None, ev))
    return jobs, evaluated


def check_extra_models(paths, dataset: str, data_dir=None) -> None:
    """Load every given model as the sweep's evaluation will (:func:`learning.models.load`) and check
    that it fits ``dataset``: input size = the data's features, one output neuron per class, and the
    dataset it records (if any) is this one. One-line ValueError naming the first bad model."""
    if not paths:
        return
    from learning.datasets import load_dataset
    from learning.models import load

    data = load_dataset(dataset, "test", data_dir, limit=1)
    n_in = int(np.prod(data.input_shape))
    for path in paths:
        try:
            loaded = load(path, kinds=EXTRA_KINDS, purpose="a sweep")
        except ValueError as e:  # its message names the path (or the NIR node) already, mostly
            raise ValueError(f"--extra-model: {e}" if str(path) in str(e) else f"--extra-model {path}: {e}") from None
        graph, recorded = loaded.graph, loaded.meta.get("dataset")
        own_data = str(recorded).startswith("npz:") or dataset.startswith("npz:")  # paths may be spelt apart
        if recorded is not None and recorded != dataset and not own_data:
            raise ValueError(f"--extra-model {path}: a model for dataset {recorded!r}, the sweep is on {dataset!r}")
        got_in, got_out = graph.size(graph.input_population), graph.size(graph.output)
        if got_in != n_in:
            raise ValueError(f"--extra-model {path}: {got_in} inputs, but {dataset} has {n_in} features "
                             f"(shape {tuple(data.input_shape)})")
        if got_out != data.n_classes:
            raise ValueError(f"--extra-model {path}: {got_out} output neurons, but {dataset} has "
                             f"{data.n_classes} classes")


def sweep(
    dataset: str, arch: str, out_dir: str | os.PathLike, *, T_train=(5, 10, 20), T_infer=None,
    norms=RELU_NORMS, qcfs_levels=(), v_inits=("zero",), seeds=(0,), epochs: int | None = None,
    ann_epochs: int | None = None, lr_decay: float | None = None, dropout: float | None = None,
    lr: float | None = None, patience: int | None = None, select_on: str | None = None, data_dir=None,
    limit_train: int | None = None, limit_test: int | None = None, progress: bool = True, runner: Runner | None = None, extra_models=(),
) -> dict:
    """Train, convert and evaluate everything (see the module docstring) with ``runner`` (default:
    serially, with a progress bar unless ``progress`` is False). Returns the sweep dict.

    qcfs_levels: also train a QCFS ANN per L and convert it (norm "qcfs"). v_inits: the initial
    potentials ("zero", "half" = theta/2) every conversion is run with; "half" also runs each
    spike-count network with theta/2 added to its initial potentials. Every converted row carries
    its ANN's test accuracy (``ann_accuracy``). lr, patience, select_on: the spike-count training's
    (the ANNs train with their own recipe, :data:`baselines.train_ann.ANN_RECIPE`). extra_models: given models
    also evaluated (:func:`sweep_jobs`)."""
    out = Path(out_dir)
    T_train = sorted({int(t) for t in T_train})
    T_infer = sorted({int(t) for t in (T_infer or T_train)})
    if not T_train or min(T_train + T_infer) < 1:
        raise ValueError("T_train and T_infer must be integers >= 1")
    for norm in norms:
        if norm not in RELU_NORMS:
            raise ValueError(f"unknown normalisation {norm!r} for a ReLU ANN; choose from {RELU_NORMS}")
    for v0 in v_inits:
        if v0 not in V_INITS:
            raise ValueError(f"unknown initial potential {v0!r}; choose from {tuple(V_INITS)}")
    if not v_inits:
        raise ValueError("v_inits must name at least one initial potential")
    if any(int(L) != L or L < 1 for L in qcfs_levels):
        raise ValueError(f"QCFS levels must be integers >= 1, got {list(qcfs_levels)}")
    check_extra_models(extra_models, dataset, data_dir)  # before any job starts
    jobs, evaluated = sweep_jobs(dataset, arch, T_train=T_train, T_infer=T_infer, norms=norms, seeds=seeds,
                                 qcfs_levels=qcfs_levels, v_inits=v_inits, epochs=epochs, ann_epochs=ann_epochs,
                                 lr=lr, patience=patience, select_on=select_on, lr_decay=lr_decay, dropout=dropout,
                                 data_dir=data_dir, limit_train=limit_train, limit_test=limit_test, extra_models=extra_models)
    results = (runner or Runner(progress=progress)).run(jobs, out)
    rows, latencies, windows = [], {}, {}
    for method, t_train, seed, model, ev in evaluated:
        res = results[ev.id]
        latencies.setdefault(method, []).append(np.asarray(res["latency"], dtype=np.int64))
        windows[method] = max(T_infer)
        where = ev.config["model"] if model is None else str(model_dir(out, model).relative_to(out))
        rows += [{"method": method, "T_train": t_train, "seed": seed, **r, "model": where} for r in res["rows"]]
    rows = [{k: r.get(k) for k in COLUMNS} for r in rows]
    result = {"dataset": dataset, "arch": arch, "T_train": T_train, "T_infer": T_infer, "norms": list(norms),
              "qcfs_levels": list(qcfs_levels), "v_inits": list(v_inits), "seeds": list(seeds), "epochs": epochs,
              "ann_epochs": ann_epochs, "lr_decay": lr_decay, "dropout": dropout, "lr": lr, "patience": patience,
              "select_on": select_on, "limit_train": limit_train, "limit_test": limit_test,
              "extra_models": [str(m) for m in extra_models],
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
