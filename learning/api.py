"""The Python API of :mod:`learning` for notebooks: build, train, evaluate, spike trains, simcore.

Layouts (all batch first, checked): intensities ``x`` (N, D) or (N, *input_shape) in [0, 1]
(flattened in C*H*W order); labels ``y`` (N,); spike trains (N, T, D). Nothing here changes
torch's or numpy's global random state: initial weights come from a local seed, inputs from
simcore's keyed encoder, dropout from per-batch generators.
"""
from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
import torch

from learning.datasets import Dataset, load_dataset
from learning.evaluate import Evaluation, evaluate
from learning.export import to_graph
from learning.graph_builder import population_names
from learning.inputs import input_trains
from learning.model import SpikingNet
from learning.spec import parse_spec
from learning.train import config_from, train_network
from simcore import simulate
from simcore import Network

__all__ = ["Trained", "build_net", "train_net", "evaluate_net", "spike_trains", "simulate_net",
           "check_intensity", "check_trains"]


class Trained(NamedTuple):
    """What :func:`train_net` returns: the trained network and its metrics dict."""

    net: SpikingNet
    metrics: dict


def build_net(spec: str, *, seed: int = 0, theta: float = 1.0, init: str = "default", init_std: float = 0.05,
              dropout: float = 0.0, weight_bits: int | None = None) -> SpikingNet:
    """A new spike-count network of a spec string (e.g. ``"784-800-10"``), weights drawn from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SpikingNet(parse_spec(spec), theta, init, init_std, dropout, weight_bits)


def _pair(data, data_dir=None, split_seed: int = 0) -> tuple[Dataset, Dataset]:
    if isinstance(data, str):
        return (load_dataset(data, "train", data_dir, split_seed=split_seed),
                load_dataset(data, "test", data_dir, split_seed=split_seed))
    if isinstance(data, (tuple, list)) and len(data) >= 2 and all(isinstance(d, Dataset) for d in data[:2]):
        return data[0], data[1]
    raise ValueError("data must be a data set name ('digits', 'npz:PATH', ...) or (train, test) Datasets "
                     "(learning.from_arrays(...) gives them)")


def train_net(model: SpikingNet | str, data, *, T: int | None = None, epochs: int | None = None, seed: int = 0,
              out_dir: str | os.PathLike | None = None, progress: bool = False, data_dir=None, **settings) -> Trained:
    """Train with the spike-count rule in memory; returns ``Trained(net, metrics)``.

    model: a spec string (a new network from ``seed``) or a :class:`SpikingNet` (trained further;
    its theta, dropout and weight_bits are used). data: a data set name or (train, test) Datasets.
    settings: any other :class:`learning.train.TrainConfig` field (mode, lr, batch_size, ...);
    defaults are the paper's for the data set. out_dir: write checkpoints, model and metrics there
    (default: nothing is written).
    """
    train_set, test_set = _pair(data, data_dir, settings.get("split_seed") or 0)
    net = model if isinstance(model, SpikingNet) else None
    if net is not None:
        settings.update(theta=net.theta, dropout=net.dropout, weight_bits=net.weight_bits)
    spec = net.arch.spec if net is not None else model
    cfg = config_from(train_set.name, spec, T=T, epochs=epochs, seed=seed, data_dir=data_dir, **settings)
    return Trained(*train_network(cfg, (train_set, test_set), out_dir, net=net, progress=progress))


def check_intensity(x, n_inputs: int) -> np.ndarray:
    """x (N, D) or (N, *input_shape) as float64 (N, D); ValueError naming the expected layout."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim < 2 or int(np.prod(a.shape[1:])) != n_inputs:
        raise ValueError(f"x must be intensities of shape (N, {n_inputs}) (batch first) or (N, *input_shape), "
                         f"got {a.shape}")
    return a.reshape(len(a), n_inputs)


def check_trains(trains, T: int | None, n_inputs: int) -> np.ndarray:
    """Spike trains (N, T, D), batch first, as a bool array; ValueError for any other layout."""
    a = np.asarray(trains)
    if a.ndim != 3 or a.shape[2] != n_inputs or (T is not None and a.shape[1] != T):
        t = "T" if T is None else T
        hint = " (time-first? use trains.transpose(1, 0, 2))" if a.ndim == 3 and T is not None and a.shape[0] == T else ""
        raise ValueError(f"spike trains must be batch first, shape (N, {t}, {n_inputs}); got {a.shape}{hint}")
    if not np.all((a == 0) | (a == 1)):
        raise ValueError("spike trains must hold 0/1 (or bool) values")
    return a.astype(bool)


def evaluate_net(net: SpikingNet, x, y, T: int, *, mode: str = "aggregate", seed: int = 0,
                 encoding: str = "bernoulli", max_rate: float = 1.0, batch_size: int = 500) -> Evaluation:
    """Accuracy and outputs of ``net`` on intensities x (N, D) and labels y (N,), always in eval mode.

    Inputs are encoded with ``seed`` and sample ids 0..N-1 (the trains simcore regenerates)."""
    xs = check_intensity(x, net.arch.n_inputs)
    ys = np.asarray(y)
    if ys.shape != (len(xs),):
        raise ValueError(f"y must have shape ({len(xs)},), one label per sample of x; got {ys.shape}")
    return evaluate(net, xs, ys, T, mode, seed, encoding=encoding, max_rate=max_rate, batch_size=batch_size)


def spike_trains(net: SpikingNet, x, T: int, *, seed: int = 0, encoding: str = "bernoulli",
                 max_rate: float = 1.0, sample_ids=None) -> dict[str, np.ndarray]:
    """Every population's spike trains in the tensor model's stepped mode, in eval mode.

    Returns {"input": (N, T, D), "dense1": (N, T, n1), ..., output: (N, T, C)} as uint8 0/1 arrays
    (conv populations (N, T, C, H, W); analog input: the intensities); names as in simcore."""
    xs = check_intensity(x, net.arch.n_inputs)
    ids = np.arange(len(xs)) if sample_ids is None else np.asarray(sample_ids)
    was_training = net.training
    net.eval()
    try:
        inp = input_trains(xs, T, seed, encoding, max_rate, ids, next(net.parameters()).dtype)
        with torch.no_grad():
            out = net(inp, "stepped", T, return_trains=True)
    finally:
        net.train(was_training)
    trains = {"input": inp.numpy() if encoding == "analog" else inp.numpy().astype(np.uint8)}
    trains.update({name: s.numpy().astype(np.uint8) for name, s in zip(population_names(net.arch), out.trains)})
    return trains


def simulate_net(model: SpikingNet | Network, x=None, T: int | None = None, *, trains=None, seed: int = 0,
                 encoding: str = "bernoulli", max_rate: float = 1.0, sample_ids=None, mode: str = "sync",
                 record_raster: bool = False):
    """Simulate a SpikingNet (pushed to simcore with :func:`to_graph`) or a simcore Network.

    Give intensities x (N, D) with T, or explicit batch-first trains (N, T, D) (T, if given, must
    match). Returns simcore's :class:`~simcore.SimResult`."""
    graph = to_graph(model) if isinstance(model, SpikingNet) else model
    if not isinstance(graph, Network):
        raise ValueError(f"model must be a SpikingNet or a simcore Network, got {type(model).__name__}")
    D = graph.size(graph.input_population)
    if trains is not None:
        if x is not None:
            raise ValueError("give either x (intensities) or trains, not both")
        return simulate(graph, trains=check_trains(trains, T, D), seed=seed, mode=mode, record_raster=record_raster)
    if T is None:
        raise ValueError("T (time steps) is required with intensities x")
    return simulate(graph, check_intensity(x, D), T, seed, encoding=encoding, max_rate=max_rate,
                    sample_ids=sample_ids, mode=mode, record_raster=record_raster)
