"""Latency-accuracy sweep: direct spike-count training at several T_train against ANN conversion
with each normalisation (and QCFS, each with the initial potentials asked for), every model
evaluated in simcore (``sync``) at several T_infer.

Layout of ``out_dir``: ``snn_T{T}_seed{s}/`` (trained models), ``ann_seed{s}/``,
``conv_{norm}[_half]_seed{s}/`` (``_half``: initial potential theta/2), ``ann_qcfs{L}_seed{s}/`` and
``conv_qcfs{L}[_half]_seed{s}/`` (QCFS, Bu et al. 2022), and the results: ``sweep.json`` (rows,
config, versions), ``sweep.csv``
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
from baselines.convert import V_INITS, convert
from baselines.normalise import RELU_NORMS
from baselines.train_ann import ann_config_from, train_ann
from learning.datasets import load_dataset
from learning.export import to_graph
from learning.graph_builder import is_v_init
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


V0_LABEL = {"zero": "V(0)=0", "half": "V(0)=theta/2"}


def _evaluate(graph, meta: dict, x: np.ndarray, y: np.ndarray, T_infer: list[int], seed: int):
    """Rows (T_infer, decode scores (:func:`simcore.decode.decode_scores`), SOPs without the
    ``v_init_*`` emulation sources) and the decision-latency trace at the largest T."""
    enc, rate = meta.get("encoding", "bernoulli"), float(meta.get("max_rate", 1.0))
    out, trace = [], None
    for T in T_infer:
        res = simulate(graph, x, T, seed, encoding=enc, max_rate=rate, sample_ids=np.arange(len(y)), mode="sync")
        sops = sum(v for p, v in res.sops.items() if not is_v_init(p))
        out.append((T, decode_scores(res.counts[res.output], res.membrane[res.output], y), float(sops.mean())))
        trace = res.prediction_trace
    return out, decision_latency(trace, y)


def _snn_models(out: Path, dataset: str, arch: str, T: int, seed: int, v_inits, opts: dict) -> list:
    """Train (or reuse) the spike-count network at T; (method, T_train, graph, meta) per initial potential
    (theta/2: the trained network with theta/2 added to every neuron's initial potential)."""
    d = out / f"snn_T{T}_seed{seed}"
    if not _complete(d):
        train(config_from(dataset, arch, T=T, seed=seed, **opts["snn"]), d,
              resume=(d / "checkpoint.safetensors").is_file(), progress=False)
    loaded = load(d)
    models = [(f"spike-count T_train={T}", T, loaded.graph, loaded.meta)]
    if "half" in v_inits:
        graph = to_graph(loaded.net, v_init=loaded.net.theta / 2)
        models.append((f"spike-count T_train={T}, V(0)=b+theta/2", T, graph, loaded.meta))
    return models


def _conversion_models(out: Path, dataset: str, arch: str, seed: int, levels: int | None, norms, v_inits,
                       opts: dict) -> list:
    """Train (or reuse) the ReLU ANN (levels None; converted with every norm) or the QCFS ANN with
    ``levels``; (method, None, graph, meta) per conversion and initial potential."""
    tag = "ann" if levels is None else f"ann_qcfs{levels}"
    d = out / f"{tag}_seed{seed}"
    if not _complete(d):
        extra = {} if levels is None else {"activation": "qcfs", "levels": levels}
        train_ann(ann_config_from(dataset, arch, seed=seed, **opts["ann"], **extra), d,
                  resume=(d / "checkpoint.safetensors").is_file(), progress=False)
    models = []
    for norm in (norms if levels is None else ["qcfs"]):
        for v0 in v_inits:
            name = norm if levels is None else f"qcfs{levels}"
            c = out / f"conv_{name}{'' if v0 == 'zero' else '_' + v0}_seed{seed}"
            if not _complete(c):
                convert(d, norm, out_dir=c, data_dir=opts["data_dir"], seed=seed, v_init=v0)
            label = f"conversion ({norm})" if levels is None else f"QCFS L={levels}"
            loaded = load(c)
            models.append((f"{label}, {V0_LABEL[v0]}", None, loaded.graph, loaded.meta))
    return models


def sweep(
    dataset: str, arch: str, out_dir: str | os.PathLike, *, T_train=(5, 10, 20), T_infer=None,
    norms=RELU_NORMS, qcfs_levels=(), v_inits=("zero",), seeds=(0,), epochs: int | None = None,
    ann_epochs: int | None = None, lr_decay: float | None = None, dropout: float | None = None,
    lr: float | None = None, patience: int | None = None, data_dir=None, limit_train: int | None = None, limit_test: int | None = None, progress: bool = True,
) -> dict:
    """Train, convert and evaluate everything (see the module docstring). Returns the sweep dict.

    qcfs_levels: also train a QCFS ANN per L and convert it (norm "qcfs"). v_inits: the initial
    potentials ("zero", "half" = theta/2) every conversion is run with; "half" also runs each
    spike-count network with theta/2 added to its initial potentials. Every converted row carries
    its ANN's test accuracy (``ann_accuracy``). lr, patience: the spike-count training's (the ANNs
    train with their own recipe, :data:`baselines.train_ann.ANN_RECIPE`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
    if any(int(L) != L or L < 1 for L in qcfs_levels):
        raise ValueError(f"QCFS levels must be integers >= 1, got {list(qcfs_levels)}")
    test = load_dataset(dataset, "test", data_dir, limit=limit_test)
    x, y = test.x.astype(np.float64), test.y
    common = {"data_dir": data_dir, "limit_train": limit_train, "limit_test": limit_test}
    opts = {"snn": {"epochs": epochs, "lr_decay": lr_decay, "dropout": dropout, "lr": lr, "patience": patience,
                    **common},
            "ann": {"epochs": ann_epochs, "lr_decay": lr_decay, **common}, "data_dir": data_dir}
    rows, latencies, windows = [], {}, {}
    jobs = ([("snn", T, s) for s in seeds for T in T_train] + [("ann", None, s) for s in seeds]
            + [("qcfs", L, s) for s in seeds for L in qcfs_levels])
    for kind, param, seed in tqdm(jobs, desc="sweep", unit="model", disable=not progress):
        if kind == "snn":
            models = _snn_models(out, dataset, arch, param, seed, v_inits, opts)
        else:
            models = _conversion_models(out, dataset, arch, seed, param, norms, v_inits, opts)
        for method, t_train, graph, meta in models:
            evaluated, lat = _evaluate(graph, meta, x, y, T_infer, seed)
            latencies.setdefault(method, []).append(lat)
            windows[method] = max(T_infer)
            for t_inf, scores, sops in evaluated:
                rows.append({"method": method, "T_train": t_train, "T_infer": t_inf, "seed": seed, **scores,
                             "ann_accuracy": meta.get("ann_test_accuracy"), "sops_per_sample": sops,
                             "samples": len(y)})
    result = {"dataset": dataset, "arch": arch, "T_train": T_train, "T_infer": T_infer, "norms": list(norms),
              "qcfs_levels": list(qcfs_levels), "v_inits": list(v_inits), "seeds": list(seeds), "epochs": epochs,
              "ann_epochs": ann_epochs, "lr_decay": lr_decay, "dropout": dropout, "lr": lr, "patience": patience,
              "rows": rows, **environment()}
    write_json(out / "sweep.json", result)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(out / "sweep.csv", lambda f: f.write(buf.getvalue()), mode="w")
    accuracy_vs_T(rows, out / "accuracy_vs_T.png", title=f"{dataset} {arch}: accuracy against latency")
    latency_plot({m: np.concatenate(v) for m, v in latencies.items()}, windows, out / "decision_latency.png")
    return result
