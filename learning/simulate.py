"""Dataset-scale simulation in simcore, checked against the tensor twin where there is one.

``--model`` is any model that :func:`learning.models.load` gives a simcore graph for:
kind "snn" (exported on the fly and compared with the tensor model's ``stepped`` mode on the same
spike trains), "converted" (baselines), "graph" (a bare simcore graph directory) or "nir" (a ``.nir``
file, :mod:`simcore.nir_import`).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from learning.datafiles import recorded_split
from learning.datasets import Dataset
from learning.evaluate import evaluate
from learning.graph_builder import population_names
from learning.model import SpikingNet
from learning.models import load
from simcore import Network, compile_network, simulate
from simcore.decode import predict, tied
from simcore.provenance import environment
from simcore.resources import encoding_seconds, require_memory, require_time, simulation_bytes

__all__ = ["RunInputs", "prepare_run", "simulate_dataset", "simulate_range", "merge_ranges"]


@dataclass
class RunInputs:
    """Everything a data-set run needs, resolved from a model directory (or a bare Network) and options."""

    graph: Network
    meta: dict
    twin: SpikingNet | None
    data: Dataset
    T: int
    seed: int
    encoding: str
    max_rate: float
    source: str

    @property
    def intensity(self) -> np.ndarray:
        return self.data.x.astype(np.float64)


def prepare_run(model, dataset: str | None = None, *, split: str = "test", T: int | None = None,
                seed: int | None = None, split_seed: int | None = None, data_dir=None,
                limit: int | None = None, dt: float | None = None, semantics: str = "nir") -> RunInputs:
    """Resolve a run's settings: given options first, then the model's model.json, then defaults.

    ``model``: a trained-model, converted-model or graph directory, a ``.nir`` file, or a simcore Network."""
    if isinstance(model, Network):
        graph, meta, twin, source = model, {}, None, "<Network>"
    else:
        loaded = load(model, dt=dt, semantics=semantics)
        if loaded.graph is None:
            raise ValueError(f"{model}: a model of kind {loaded.kind!r} has no simcore network; convert it first")
        graph, meta, source = loaded.graph, loaded.meta, str(model)
        twin = loaded.net if loaded.kind == "snn" else None
    dataset, T, seed, data = recorded_split(meta, source, dataset, split, T, seed, split_seed, data_dir, limit,
                                            "no dataset recorded; pass --dataset",
                                            "no T recorded; pass --T (time steps >= 1)")
    n_in = graph.size(graph.input_population)
    if data.x.shape[1] != n_in:
        raise ValueError(f"{source}: input population has {n_in} neurons, {dataset} has {data.x.shape[1]} features")
    if data.n_classes > graph.size(graph.output):
        raise ValueError(f"{source}: output population has {graph.size(graph.output)} neurons, {dataset} has "
                         f"{data.n_classes} classes")
    what = f"simulating {source} at T={T}"
    require_memory(simulation_bytes(graph, min(len(data.y), 1000), T + compile_network(graph).max_path_delay), what)
    require_time(encoding_seconds(len(data.y), n_in, T, meta.get("encoding", "bernoulli")), what)
    return RunInputs(graph, meta, twin, data, T, seed, meta.get("encoding", "bernoulli"),
                     float(meta.get("max_rate", 1.0)), source)


def simulate_range(run: RunInputs, lo: int, hi: int, *, mode: str = "sync", chunk: int = 1000,
                   compare: bool = True, progress=None) -> dict:
    """Simulate samples ``lo .. hi-1`` of ``run``'s split (global sample ids, so any range gives the
    spikes of the whole-split run); integer sums that :func:`merge_ranges` combines.

    Returns samples, correct (tie-broken), counts_only_correct, tied (samples whose top output count
    is shared, :func:`simcore.decode.tied`), spikes per population (sum over samples and neurons), SOPs per
    population, simulate seconds, and with ``compare`` (and a tensor twin) the number of predictions
    and of neuron counts equal to the twin's ``stepped`` run. ``progress``: a tqdm bar or None."""
    graph, twin, x_all = run.graph, run.twin, run.data.x
    spikes, sops, correct, sim_seconds, preds, counts = {}, {}, 0, 0.0, [], {p: [] for p in graph.populations}
    counts_only_correct, n_tied = 0, 0
    for a in range(lo, hi, chunk):
        ids = np.arange(a, min(a + chunk, hi))
        res = simulate(graph, x_all[ids].astype(np.float64), run.T, run.seed, encoding=run.encoding,
                       max_rate=run.max_rate, sample_ids=ids, mode=mode)
        sim_seconds += res.elapsed
        correct += int(np.sum(res.predictions == run.data.y[ids]))
        preds.append(res.predictions)
        out_counts = res.counts[res.output]
        counts_only_correct += int(np.sum(predict(out_counts) == run.data.y[ids]))
        n_tied += int(np.sum(tied(out_counts)))
        for p in graph.populations:
            spikes[p] = spikes.get(p, 0) + int(res.counts[p].sum())
            if compare:
                counts[p].append(res.counts[p])
        for p, s in res.sops.items():
            sops[p] = sops.get(p, 0) + int(s.sum())
        if progress is not None:
            progress.update(len(ids))
    part = {"lo": lo, "hi": hi, "correct": correct, "counts_only_correct": counts_only_correct, "tied": n_tied,
            "spikes": spikes, "sops": sops, "simulate_seconds": sim_seconds}
    if twin is not None and compare:
        ids = np.arange(lo, hi)
        ref = evaluate(twin, run.data.x[ids], run.data.y[ids], run.T, "stepped", run.seed, encoding=run.encoding,
                       max_rate=run.max_rate, sample_ids=ids, keep_stage_counts=True)
        pred = np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
        part["twin_correct"] = int(np.sum(ref.predictions == run.data.y[ids]))
        part["prediction_equal"] = int(np.sum(ref.predictions == pred))
        part["count_equal"] = {
            name: int(np.sum(ref.stage_counts[k].reshape(hi - lo, -1) == np.concatenate(counts[name])))
            for k, name in enumerate(population_names(twin.arch))}
    return part


def merge_ranges(run: RunInputs, parts: list[dict], *, mode: str, model: str) -> dict:
    """The result of :func:`simulate_dataset` from the ranges that cover the split once (any order)."""
    parts = sorted(parts, key=lambda p: p["lo"])
    n = len(run.data.y)
    if [(p["lo"], p["hi"]) for p in parts] != list(zip([0] + [p["hi"] for p in parts[:-1]], [p["hi"] for p in parts])) \
            or parts[-1]["hi"] != n:
        raise ValueError(f"sample ranges {[(p['lo'], p['hi']) for p in parts]} do not cover 0..{n} once")
    graph = run.graph
    total = lambda key, p: sum(part[key][p] for part in parts)  # noqa: E731
    sops = {p: total("sops", p) for p in parts[0]["sops"]}
    result = {
        "accuracy": sum(p["correct"] for p in parts) / n,
        "counts_only_accuracy": sum(p["counts_only_correct"] for p in parts) / n,
        "tie_fraction": sum(p["tied"] for p in parts) / n,
        "samples": n, "dataset": run.data.name, "split": run.data.split, "T": run.T, "mode": mode,
        "seed": run.seed, "encoding": run.encoding, "model": model,
        "sops_per_sample": sum(sops.values()) / n,
        "sops_per_sample_by_population": {p: s / n for p, s in sops.items()},
        "spikes_per_neuron": {p: total("spikes", p) / (n * graph.size(p)) for p in graph.populations
                              if p != graph.input_population},
        "simulate_seconds": sum(p["simulate_seconds"] for p in parts),
    }
    if "prediction_equal" in parts[0]:
        result["tensor_stepped_accuracy"] = sum(p["twin_correct"] for p in parts) / n
        result["prediction_agreement"] = sum(p["prediction_equal"] for p in parts) / n
        result["count_agreement"] = {name: total("count_equal", name) / (n * graph.size(name))
                                     for name in parts[0]["count_equal"]}
    else:
        result["prediction_agreement"] = None
        result["count_agreement"] = None
    return result


def simulate_dataset(
    model: str | os.PathLike, dataset: str | None = None, *, split: str = "test", T: int | None = None,
    mode: str = "sync", limit: int | None = None, data_dir=None, seed: int | None = None,
    split_seed: int | None = None, chunk: int = 1000, progress: bool = True, compare: bool = True,
    dt: float | None = None, semantics: str = "nir",
) -> dict:
    """Simulate a data split in simcore; accuracy, agreement with the tensor twin, SOPs, time.

    Inputs are regenerated by simcore from the intensities with ``seed`` (default: the model's) and
    sample ids 0..N-1 of the split, so the tensor twin sees exactly the same spike trains.
    ``compare=False`` skips the tensor twin (agreement fields are then None). Split across
    processes by :func:`simulate_range` / :func:`merge_ranges` (``analysis.runner.shard``).
    """
    run = prepare_run(model, dataset, split=split, T=T, seed=seed, split_seed=split_seed, data_dir=data_dir,
                      limit=limit, dt=dt, semantics=semantics)
    n = len(run.data.y)
    t0 = time.perf_counter()
    with tqdm(total=n, desc=f"simcore {mode}", unit="sample", disable=not progress) as bar:
        part = simulate_range(run, 0, n, mode=mode, chunk=chunk, compare=compare, progress=bar)
    result = merge_ranges(run, [part], mode=mode, model=str(model))
    result["wall_seconds"] = time.perf_counter() - t0
    result.update(environment())
    return result
