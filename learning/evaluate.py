"""Evaluate a spike-count network on a data set with simcore's encoder and decode rule."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from learning.datafiles import recorded_split
from learning.fanout import fanouts
from learning.graph_builder import source_names
from learning.inputs import input_counts, input_trains
from learning.model import SpikingNet
from learning.models import load
from learning.resources import evaluation_bytes
from simcore.decode import decode_scores, predict
from simcore.provenance import environment
from simcore.resources import encoding_seconds, require_memory, require_time
from simcore.sops import input_events, sops_from_counts

__all__ = ["Evaluation", "evaluate", "evaluate_model"]


@dataclass
class Evaluation:
    """Accuracy and per-sample outputs. counts/membrane are the output layer's (N, C).

    accuracy: tie-broken by membrane; counts_only_accuracy, tie_fraction: :func:`simcore.decode.decode_scores`."""

    accuracy: float
    counts_only_accuracy: float
    tie_fraction: float
    predictions: np.ndarray
    counts: np.ndarray
    membrane: np.ndarray
    spikes_per_neuron: list[float]  # mean spikes per neuron per sample, per stage
    stage_counts: list[np.ndarray] | None = None  # per stage (N, *shape) int32, if asked for
    sops_per_sample: float | None = None  # synaptic events (spikes x fan-out, input included) per sample
    sops_per_sample_by_population: dict | None = None  # source population ("input", "dense1", ...) -> SOPs


def evaluate(
    net: SpikingNet, x: np.ndarray, y: np.ndarray, T: int, mode: str, seed: int, *,
    encoding: str = "bernoulli", max_rate: float = 1.0, batch_size: int = 500,
    dtype: torch.dtype = torch.float64, sample_ids: np.ndarray | None = None, keep_stage_counts: bool = False,
) -> Evaluation:
    """Run x (N, D) through ``net`` in ``mode`` at T steps; inputs are encoded with ``seed`` and
    ``sample_ids`` (default 0..N-1), so simcore regenerates the same trains. float64 by default,
    the precision simcore simulates in. Always in eval mode (no dropout); the network's own mode
    (train or eval) is restored afterwards."""
    was_training = net.training
    try:
        net.eval()  # no dropout: an evaluation is a function of the weights and the seed
        return _evaluate(net, x, y, T, mode, seed, encoding, max_rate, batch_size, dtype, sample_ids,
                         keep_stage_counts)
    finally:
        net.train(was_training)


def _evaluate(net, x, y, T, mode, seed, encoding, max_rate, batch_size, dtype, sample_ids,
              keep_stage_counts) -> Evaluation:
    ids = np.arange(len(x)) if sample_ids is None else np.asarray(sample_ids)
    if next(net.parameters()).dtype != dtype:
        net = copy.deepcopy(net).to(dtype)
    counts, membrane, activity, n, stages = [], [], None, 0, []
    fan, sops = fanouts(net), 0.0
    with torch.no_grad():
        for lo in range(0, len(x), batch_size):
            xb, idb = x[lo : lo + batch_size], ids[lo : lo + batch_size]
            if mode == "stepped":
                inp = input_trains(xb, T, seed, encoding, max_rate, idb, dtype)
            else:
                inp = input_counts(xb, T, seed, encoding, max_rate, idb, dtype)
            out = net(inp, mode, T)
            counts.append(out.output.numpy())
            membrane.append(out.membrane[-1].numpy())
            batch = [float(a.sum()) for a in out.counts]
            sops = sops + sops_from_counts(fan, input_events(inp.numpy(), T, encoding), [a.numpy() for a in out.counts])
            activity = batch if activity is None else [s + b for s, b in zip(activity, batch)]
            n += len(xb)
            if keep_stage_counts:
                stages.append([a.numpy().astype(np.int32) for a in out.counts])
    counts_a, membrane_a = np.concatenate(counts), np.concatenate(membrane)
    pred = predict(counts_a, membrane_a)
    sizes = [int(np.prod(a.shape[1:])) for a in out.counts]
    return Evaluation(
        **decode_scores(counts_a, membrane_a, y),
        predictions=pred,
        counts=counts_a,
        membrane=membrane_a,
        spikes_per_neuron=[s / (n * size) for s, size in zip(activity, sizes)],
        stage_counts=[np.concatenate(c) for c in zip(*stages)] if keep_stage_counts else None,
        sops_per_sample=float(np.sum(sops)) / n,
        sops_per_sample_by_population={p: float(v) / n for p, v in zip(source_names(net.arch), sops)},
    )



def evaluate_model(
    model_dir, dataset: str | None = None, *, split: str = "test", T: int | None = None, mode: str | None = None,
    seed: int | None = None, data_dir=None, limit: int | None = None, split_seed: int | None = None,
) -> dict:
    """Evaluate a saved model (also at another T or mode than it was trained with).

    Defaults come from the model's own model.json. Returns a JSON-ready dict."""
    loaded = load(model_dir, kinds=("snn",), purpose="evaluate")
    net, meta = loaded.net, loaded.meta
    dataset, T, seed, data = recorded_split(meta, str(model_dir), dataset, split, T, seed, split_seed, data_dir, limit,
                                            "model.json records no dataset; pass --dataset",
                                            "model.json records no T; pass --T")
    mode = mode or meta.get("mode", "aggregate")
    if data.x.shape[1] != net.arch.n_inputs or data.n_classes > net.arch.n_classes:
        raise ValueError(f"{model_dir}: the model ({meta['arch']}) takes {net.arch.n_inputs} inputs and "
                         f"{net.arch.n_classes} classes, {dataset} has {data.x.shape[1]} features and "
                         f"{data.n_classes} classes")
    what = f"evaluating {meta['arch']} at T={T} ({mode})"
    require_memory(evaluation_bytes(net.arch, min(500, max(len(data.y), 1)), T, mode), what)
    require_time(encoding_seconds(len(data.y), data.x.shape[1], T, meta.get("encoding", "bernoulli")), what)
    res = evaluate(net, data.x, data.y, T, mode, seed, encoding=meta.get("encoding", "bernoulli"),
                   max_rate=float(meta.get("max_rate", 1.0)))
    return {
        "accuracy": res.accuracy, "counts_only_accuracy": res.counts_only_accuracy,
        "tie_fraction": res.tie_fraction, "dataset": dataset, "split": split, "samples": len(data.y), "T": T,
        "mode": mode, "seed": seed, "model": str(model_dir), "trained_T": meta.get("T"),
        "trained_mode": meta.get("mode"), "weight_bits": meta.get("weight_bits"),
        "spikes_per_neuron": res.spikes_per_neuron, "sops_per_sample": res.sops_per_sample,
        "sops_per_sample_by_population": res.sops_per_sample_by_population, **environment(),
    }
