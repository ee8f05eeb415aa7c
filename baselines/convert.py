"""ANN-to-SNN conversion: a trained ReLU twin -> a simcore network of IF neurons.

The converted network has the spiking model's structure, built by the one graph builder
(:func:`learning.graph_builder.build_graph`, which also names the populations: ``input``, ``dense1``,
``conv1``, ...), pooling and flattening in the projection op chains, zero delays (a spike reaches the next layer in the same step, as in
Diehl's and snn_toolbox's simulators). Neurons: non-leaky IF, threshold 1, reset by subtraction
(default; Rueckauer) or to zero (Diehl), bias applied as a constant current every step
(``bias_mode="current"``, Rueckauer / snn_toolbox). Weights and biases are normalised by one of
:mod:`baselines.normalise`'s methods, so a layer's firing rate (spikes per step) approximates its
normalised ANN activation ``a_l / lambda_l`` (clipped at 1).

Input: ``"poisson"`` / ``"bernoulli"`` -- Bernoulli spike trains from simcore's seeded encoder,
per-step probability = pixel intensity (max_rate 1; Diehl's Poisson input at max rate 1/dt);
``"analog"`` -- the intensity injected into the first layer every step as a graded input
(Rueckauer's analog input current). The model records ``encoding`` "bernoulli" or "analog".

Directory written by :func:`convert`: the simcore graph (``graph.json`` + ``weights.npz``, via
``Network.save``) plus ``model.json`` (format "spikecount-model", kind "converted"; see
:func:`convert` for the fields). ``spikecount simulate --model DIR`` runs it directly.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import torch

from baselines.ann import ANN, ConversionError
from baselines.choices import INPUTS, RESETS
from baselines.normalise import (NORMS, ActivationStats, applied_divisors, apply_factors, data_based_factors,
                                 model_based_factors)
from learning.datafiles import resolve_data_dir
from learning.datasets import load_dataset
from learning.graph_builder import build_graph, population_names
from learning.models import FORMAT, MODEL_FILE, Loaded, load, read_graph
from simcore import GraphError, Network, save_network
from simcore.fileio import write_json
from simcore.neuron import NeuronParams
from simcore.outputs import GRAPH_FILES, check_dir, output_dir
from simcore.provenance import environment

__all__ = ["DEFAULT_T", "DEFAULT_ROBUST_SAMPLES", "build_network", "ann_layers",
           "activation_stats", "scale_factors", "convert_ann", "convert", "load_converted_model"]

CONVERT_FILES = (*GRAPH_FILES, MODEL_FILE)  # what convert writes
DEFAULT_T = 100  # window recorded in model.json for `spikecount simulate` (override with --T)
DEFAULT_ROBUST_SAMPLES = 10_000  # default normalisation subset for the percentile (memory)


def ann_layers(net: ANN) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """The ANN's weights and biases (float64 numpy; biases None for a bias-free net), stage by stage."""
    ws, bs = [], []
    for m in net.layers:
        ws.append(m.weight.detach().cpu().double().numpy().copy())
        bs.append(None if m.bias is None else m.bias.detach().cpu().double().numpy().copy())
    return ws, bs


def conversion_neuron(reset: str = "subtract", threshold: float = 1.0) -> NeuronParams:
    """The converted network's neuron: non-leaky IF, ``>=``, ``reset`` ("subtract" | "zero"), bias as a current."""
    return NeuronParams(threshold=threshold, reset=reset, bias_mode="current")


def build_network(net: ANN, weights: list[np.ndarray], biases: list[np.ndarray | None],
                  reset: str = "subtract", threshold: float = 1.0) -> Network:
    """The simcore network of ``net``'s stage structure with the given (normalised) weights and biases
    (:func:`learning.graph_builder.build_graph`). Bias: a constant current every step
    (``bias_mode="current"``); conv biases are per map."""
    if reset not in RESETS:
        raise ConversionError(f"reset must be one of {RESETS}, got {reset!r}")
    try:
        return build_graph(net.arch, weights, biases, conversion_neuron(reset, threshold))
    except GraphError as e:
        raise ConversionError(f"cannot convert {net.arch.spec!r}: {e}") from None


def activation_stats(net: ANN, x: np.ndarray, keep_nonzero: bool, batch_size: int = 500) -> ActivationStats:
    """Per-layer maxima (and non-zero values) of the ANN's activations on x (N, D), float64."""
    stats = ActivationStats(len(net.layers), keep_nonzero)
    if next(net.parameters()).dtype != torch.float64:
        net = copy.deepcopy(net).double()
    net.eval()
    with torch.no_grad():
        for lo in range(0, len(x), batch_size):
            acts = net.activations(torch.from_numpy(np.asarray(x[lo:lo + batch_size], dtype=np.float64)))
            stats.update([a.numpy() for a in acts])
    return stats


def scale_factors(net: ANN, norm: str, x_norm: np.ndarray | None = None, percentile: float = 99.9,
                  previous: str = "scale_factor") -> list[float]:
    """lambda_l per weighted layer for ``norm`` in {"model", "data", "robust"} (see baselines.normalise)."""
    weights, _ = ann_layers(net)
    if norm == "model":
        return model_based_factors(weights)
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if x_norm is None or len(x_norm) == 0:
        raise ValueError(f"norm {norm!r} needs normalisation data (training samples)")
    stats = activation_stats(net, x_norm, keep_nonzero=norm == "robust")
    if norm == "data":
        return data_based_factors(weights, stats.max, previous=previous)
    return stats.percentiles(percentile)


def convert_ann(net: ANN, norm: str, x_norm: np.ndarray | None = None, *, percentile: float = 99.9,
                reset: str = "subtract", previous: str = "scale_factor") -> tuple[Network, list[float]]:
    """Normalise ``net`` and build its simcore network; returns (network, lambdas)."""
    lambdas = scale_factors(net, norm, x_norm, percentile, previous)
    weights, biases = ann_layers(net)
    weights, biases = apply_factors(weights, biases, lambdas)
    return build_network(net, weights, biases, reset=reset), lambdas


def convert(ann_dir: str | os.PathLike, norm: str, percentile: float | None = None, reset: str = "subtract",
            input: str = "poisson", out_dir: str | os.PathLike | None = None, *, data_dir=None,
            norm_samples: int | None = None, seed: int | None = None, previous: str = "scale_factor",
            T: int = DEFAULT_T) -> dict:
    """Convert the ANN in ``ann_dir`` and write the converted model to ``out_dir``; returns its model.json.

    norm: "model" | "data" | "robust"; percentile: robust only (default 99.9); reset: "subtract" |
    "zero"; input: "poisson" (= "bernoulli") | "analog". Normalisation data: the first
    ``norm_samples`` samples of the ANN's training split (default: all of it for "data",
    ``DEFAULT_ROBUST_SAMPLES`` for "robust"; "model" needs none). ``seed``: the input-encoding seed
    recorded for simulation (default: the ANN's seed). ``previous``: Diehl data-based variant
    ("scale_factor", or "applied" = the official MATLAB code).

    model.json fields: format, kind "converted", arch, dataset, norm, percentile, reset, input,
    encoding, bias_mode "current", theta 1.0, neuron (``NeuronParams.to_dict()``), max_rate 1.0,
    T (default window for simulate), scale_factors (lambda_l), applied_divisors
    (lambda_l/lambda_{l-1}), populations,
    ann_test_accuracy, ann_dir, bias, norm_samples, previous (data only), split_seed, seed, environment.
    """
    ann_dir = Path(ann_dir)
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
    if input not in INPUTS:
        raise ValueError(f"input must be one of {tuple(INPUTS)}, got {input!r}")
    if norm != "robust" and percentile is not None:
        raise ValueError("percentile applies only to norm 'robust'")
    if norm == "robust":
        percentile = 99.9 if percentile is None else float(percentile)
        if not 0 < percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    if norm_samples is not None and (int(norm_samples) != norm_samples or norm_samples < 1):
        raise ValueError(f"norm_samples must be an integer >= 1, got {norm_samples}")
    if int(T) != T or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T}")
    if out_dir is None:
        raise ValueError("out_dir is required")
    out = Path(out_dir)
    if not ann_dir.is_dir():
        raise ValueError(f"ANN directory not found: {ann_dir}")
    check_dir(out, "convert", adopt=CONVERT_FILES)  # refuse before the work; output_dir claims it below
    loaded = load(ann_dir, kinds=("ann",), purpose="conversion")
    net, meta = loaded.net, loaded.meta
    dataset = meta.get("dataset")
    split_seed = int(meta.get("split_seed", 0))
    x_norm, n_used = None, 0
    if norm != "model":
        if dataset is None:
            raise ValueError(f"{ann_dir}: model.json records no dataset; data-based normalisation needs one")
        limit = norm_samples if norm_samples is not None else (DEFAULT_ROBUST_SAMPLES if norm == "robust" else None)
        data_dir = resolve_data_dir(meta, dataset, data_dir, ann_dir)
        train = load_dataset(dataset, "train", data_dir, split_seed=split_seed, limit=limit)
        if train.x.shape[1] != net.arch.n_inputs:
            raise ConversionError(f"{ann_dir}: arch {net.arch.spec!r} takes {net.arch.n_inputs} inputs, "
                                  f"{dataset} has {train.x.shape[1]} features")
        x_norm, n_used = train.x.astype(np.float64), len(train.x)
    graph, lambdas = convert_ann(net, norm, x_norm, percentile=percentile or 99.9, reset=reset, previous=previous)
    info = {
        "format": FORMAT, "kind": "converted", "arch": net.arch.spec, "dataset": dataset,
        "norm": norm, "percentile": percentile if norm == "robust" else None, "reset": reset,
        "input": "analog" if INPUTS[input] == "analog" else "poisson", "encoding": INPUTS[input],
        "bias_mode": "current", "theta": 1.0, "neuron": conversion_neuron(reset).to_dict(), "max_rate": 1.0, "T": int(T),
        "scale_factors": [float(v) for v in lambdas], "applied_divisors": applied_divisors(lambdas),
        "populations": population_names(net.arch),
        "ann_test_accuracy": meta.get("test_accuracy"), "ann_dir": str(ann_dir), "bias": net.bias,
        "norm_samples": n_used if norm != "model" else None,
        **({"previous": previous} if norm == "data" else {}),
        "split_seed": split_seed, "seed": int(meta.get("seed", 0) if seed is None else seed),
        "data_dir": meta.get("data_dir"), "data_files": meta.get("data_files"),
        **{k: meta[k] for k in ("data_path", "data_sha256", "data_scaling") if k in meta},
        **environment(),
    }
    with output_dir(out, "convert", adopt=CONVERT_FILES):
        save_network(graph, out)
        write_json(out / MODEL_FILE, info)
    return info


def load_converted_model(path: Path, meta: dict) -> Loaded:
    """Loader of kind "converted" (:mod:`learning.models`): the simcore network of a directory written
    by :func:`convert`."""
    return Loaded("converted", path, meta, None, read_graph(path))
