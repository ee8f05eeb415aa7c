"""Accuracy of a converted model across latencies, from ONE simcore run per sample.

simcore decodes the output after every step (``SimResult.prediction_trace``, the rule of
:func:`simcore.decode.predict` on the counts and potentials after that step). The converted
network's inputs (Bernoulli trains from the seeded encoder, whose first T steps do not depend on
the window length, or a constant analog current) and its bias currents are stationary and every
projection has zero delay, so the state after T steps of a run of length T_max >= T is exactly
the state of a run of length T: ``prediction_trace[:, T-1]`` is the prediction at latency T.
"""
from __future__ import annotations

import os
import time

import numpy as np

from learning.datasets import load_dataset
from learning.models import load
from simcore import simulate

__all__ = ["DEFAULT_TS", "accuracy_vs_T"]

DEFAULT_TS = (1, 2, 5, 10, 20, 50, 100, 200)


def accuracy_vs_T(converted_dir: str | os.PathLike, dataset: str | None = None, Ts=DEFAULT_TS,
                  limit: int | None = None, data_dir=None, seed: int = 0, *, split: str = "test",
                  chunk: int = 1000) -> list[dict]:
    """Test accuracy of a converted model at every T in ``Ts`` (one simulation at max(Ts)).

    dataset: default the model's own. seed: the input-encoding seed (Bernoulli input; sample ids
    are the indices 0..N-1 in the split). Returns one dict per T, ascending: T, accuracy, samples,
    plus the model's norm, reset, encoding, percentile and ann_test_accuracy, and (for max(Ts)
    only meaningful, repeated everywhere) the mean SOPs per sample of the full run.
    """
    loaded = load(converted_dir, kinds=("converted",), purpose="accuracy_vs_T")
    graph, meta = loaded.graph, loaded.meta
    dataset = dataset or meta.get("dataset")
    if dataset is None:
        raise ValueError(f"{converted_dir}: no dataset recorded; pass one")
    Ts = sorted({int(t) for t in Ts})
    if not Ts or Ts[0] < 1 or any(int(t) != t for t in Ts):
        raise ValueError(f"Ts must be integers >= 1, got {Ts}")
    t_max = Ts[-1]
    data = load_dataset(dataset, split, data_dir, split_seed=int(meta.get("split_seed", 0)), limit=limit)
    if data.x.shape[1] != graph.size(graph.input_population):
        raise ValueError(f"{converted_dir}: input has {graph.size(graph.input_population)} neurons, "
                         f"{dataset} has {data.x.shape[1]} features")
    n = len(data.y)
    x = data.x.astype(np.float64)
    encoding = meta.get("encoding", "bernoulli")
    traces, sops, t0 = [], 0, time.perf_counter()
    for lo in range(0, n, chunk):
        ids = np.arange(lo, min(lo + chunk, n))
        res = simulate(graph, x[ids], t_max, seed, encoding=encoding, max_rate=float(meta.get("max_rate", 1.0)),
                       sample_ids=ids, mode="sync", steps=t_max)
        traces.append(res.prediction_trace)
        sops += int(res.total_sops.sum())
    trace = np.concatenate(traces) if traces else np.zeros((0, t_max), dtype=np.int64)
    wall = time.perf_counter() - t0
    common = {k: meta.get(k) for k in ("norm", "percentile", "reset", "encoding", "ann_test_accuracy")}
    return [{"T": T, "accuracy": float(np.mean(trace[:, T - 1] == data.y)) if n else float("nan"),
             "samples": n, "dataset": dataset, "seed": seed, **common,
             "sops_per_sample_at_max_T": sops / n if n else None, "wall_seconds": wall} for T in Ts]
