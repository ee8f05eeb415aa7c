"""Where rounding spike counts loses information, layer by layer.

For a trained spike-count network, simulated event by event in simcore (``sync``):

(a) **residual**: the surplus potential left at the end of the window, ``V(T)/theta`` per neuron.
    A spike count is ``floor`` of the integrated input only because this surplus is discarded
    (Eq. 7); we report its mean over all neurons, over the neurons that spiked, and the fraction
    of neurons with ``V(T) >= theta`` (input that arrived too late to be spent).
(b) **closed form against events**: ``aggregate`` counts against simulated counts, per layer, in
    two ways. *local*: Eq. 7 applied to the simulated counts of the layer below (the error made
    by this layer alone); *propagated*: the closed form run through the whole network from the
    input counts (errors of lower layers carried upwards, the paper's "accumulates over
    layers"). Both as mean absolute difference (spikes per neuron) and fraction of neurons whose
    counts differ.

(c) for converted networks lives in :mod:`baselines` (``|normalised activation x T - count|``)
and is collected by :func:`conversion_errors`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from learning.activation import count_from_current
from learning.graph_builder import INPUT, population_names
from learning.model import SpikingNet
from learning.simulate import prepare_run
from simcore import Network, SimResult, compile_network, simulate
from simcore.provenance import environment

__all__ = ["layer_errors", "write_layer_errors", "depth_series", "network_layer_errors", "graph_layer_errors",
           "graph_closed_form", "summarise_residual", "compare_counts"]


def summarise_residual(membrane: np.ndarray, counts: np.ndarray, theta: float) -> dict:
    """Residual statistics of one population: membrane, counts (N, n)."""
    r = membrane / theta
    spiked = counts > 0
    return {
        "residual_mean": float(np.mean(np.clip(r, 0.0, None))),
        "residual_mean_spiking": float(np.mean(r[spiked])) if spiked.any() else None,
        "above_threshold_fraction": float(np.mean(r >= 1.0)),
    }


def compare_counts(closed: np.ndarray, simulated: np.ndarray) -> dict:
    """Mean absolute difference and fraction of differing neurons between two (N, n) count arrays."""
    diff = np.abs(closed.astype(np.float64) - simulated.astype(np.float64))
    return {"mean_abs_diff": float(diff.mean()), "differ_fraction": float(np.mean(diff > 0))}


def network_layer_errors(net: SpikingNet, res: SimResult, T: int) -> list[dict]:
    """Per-layer errors of ``net`` from a simcore result ``res`` of its exported graph (sync mode)."""
    n = res.counts[INPUT].shape[0]
    a_in = torch.from_numpy(res.counts[INPUT].astype(np.float64))
    with torch.no_grad():
        propagated = net.aggregate(a_in, T)
    layers, below = [], a_in.reshape(n, *net.arch.input_shape)
    for k, name in enumerate(population_names(net.arch)):
        sim = res.counts[name]
        with torch.no_grad():
            z = net.aggregated_current(k, below, T)
        local = count_from_current(z, net.theta, T).reshape(n, -1).numpy()
        layers.append({
            "population": name, "neurons": int(sim.shape[1]), "spikes_per_neuron": float(sim.mean()),
            **summarise_residual(res.membrane[name], sim, net.theta),
            "local": compare_counts(local, sim),
            "propagated": compare_counts(propagated.counts[k].reshape(n, -1).numpy(), sim),
        })
        below = torch.from_numpy(sim.astype(np.float64)).reshape(n, *propagated.counts[k].shape[1:])
    return layers


def _closed_form_population(comp, k: int, below: dict, T: int) -> torch.Tensor:
    """Eq. 7 for population k of a compiled graph from its sources' counts ``below`` (name -> (N, n)):
    z = sum over incoming projections of (composed matrix (n_tgt, n_src) @ counts) + T*bias ("current")
    or + bias ("initial"), divided by the per-neuron threshold; returns (N, n_k) float64 counts."""
    off, n = int(comp.offsets[k]), int(comp.sizes[k])
    bias = comp.bias[off:off + n] * (T if comp.bias_mode[k] == 1 else 1)
    z = torch.from_numpy(np.broadcast_to(bias, (len(next(iter(below.values()))), n)).copy())
    for cp in comp.projections:
        if cp.tgt == k:
            a = torch.from_numpy(np.asarray(below[comp.names[cp.src]], dtype=np.float64))
            z += a @ torch.from_numpy(cp.matrix()).t()
    return count_from_current(z / torch.from_numpy(comp.threshold[off:off + n]), 1.0, T)


def _paper_neurons(comp) -> None:
    """Raise unless every neuron population is the paper's (>=, subtract at the spike, beta 1): Eq. 7 is
    its count and V(T) its residual."""
    for name, nrn in zip(comp.names, comp.neurons):
        if nrn is not None and not nrn.is_paper:
            raise ValueError(f"population {name!r} (threshold test {nrn.threshold_test!r}, reset {nrn.reset!r}, "
                             f"reset_leak {nrn.reset_leak!r}, beta {nrn.beta}): the closed form (Eq. 7) applies "
                             "only to the paper's neuron (>=, subtract, leaked, beta 1)")


def graph_closed_form(graph: Network, input_counts: np.ndarray, T: int) -> dict[str, np.ndarray]:
    """Counts by the closed form (Eq. 7) run through ``graph`` from input counts (N, D), layer by
    layer in topological order (delays ignored); name -> (N, n) float64 for every neuron population."""
    comp = compile_network(graph)
    _paper_neurons(comp)
    counts = {comp.names[comp.input_index]: np.asarray(input_counts, dtype=np.float64)}
    for name in graph.populations:
        if name not in counts:
            counts[name] = _closed_form_population(comp, comp.names.index(name), counts, T).numpy()
    return counts


def graph_layer_errors(graph: Network, res: SimResult, T: int) -> list[dict]:
    """:func:`network_layer_errors` from the simcore graph itself (no tensor twin, e.g. an imported .nir)."""
    comp = compile_network(graph)
    propagated = graph_closed_form(graph, res.counts[graph.input_population], T)
    layers = []
    for name in graph.populations:
        k = comp.names.index(name)
        if k == comp.input_index:
            continue
        sim, theta = res.counts[name], comp.neurons[k].threshold
        local = _closed_form_population(comp, k, res.counts, T).numpy()
        layers.append({
            "population": name, "neurons": int(sim.shape[1]), "spikes_per_neuron": float(sim.mean()),
            **summarise_residual(res.membrane[name], sim, theta),
            "local": compare_counts(local, sim), "propagated": compare_counts(propagated[name], sim),
        })
    return layers


def layer_errors(
    model: str | os.PathLike, dataset: str | None = None, *, T: int | None = None, limit: int | None = 1000,
    seed: int | None = None, data_dir=None, split: str = "test", semantics: str = "nir",
) -> dict:
    """Per-layer quantisation error of a trained spike-count model (its tensor twin) or of any graph
    (a graph directory, a ``.nir`` file read with ``semantics``) on a data split."""
    run = prepare_run(model, dataset, split=split, T=T, seed=seed, data_dir=data_dir, limit=limit,
                      semantics=semantics)
    if run.twin is None:
        try:
            _paper_neurons(compile_network(run.graph))
        except ValueError as e:
            raise ValueError(f"{model}: {e}") from None
    n = len(run.data.y)
    res = simulate(run.graph, run.intensity, run.T, run.seed, encoding=run.encoding, max_rate=run.max_rate,
                   sample_ids=np.arange(n), mode="sync")
    layers = (network_layer_errors(run.twin, res, run.T) if run.twin is not None
              else graph_layer_errors(run.graph, res, run.T))
    return {"model": str(model), "arch": run.meta.get("arch"), "dataset": run.data.name, "T": run.T, "samples": n,
            "seed": run.seed, "accuracy": float(np.mean(res.predictions == run.data.y)), "layers": layers}


def write_layer_errors(model: str | os.PathLike, out_dir: str | os.PathLike, **kwargs) -> dict:
    """:func:`layer_errors`, written to ``out_dir/quantisation.json`` and ``quantisation.png``."""
    from analysis.plots import layer_errors_plot
    from simcore.fileio import write_json

    res = {**layer_errors(model, **kwargs), **environment()}
    out = Path(out_dir)
    write_json(out / "quantisation.json", res)
    layer_errors_plot(res, out / "quantisation.png")
    return res


def depth_series(out_dir: str | os.PathLike, dataset: str = "mnist", hidden: int = 400, depths=(1, 2, 3, 4, 5, 6), *,
                 T: int = 20, epochs: int = 5, seed: int = 0, data_dir=None, limit: int = 1000,
                 lr_decay: float | None = 0.9) -> list[dict]:
    """MLPs with 1..6 hidden layers of ``hidden`` neurons, trained the same way (spike-count rule,
    ``aggregate``), each measured with :func:`layer_errors`; writes ``depth_series.json`` and
    ``depth_series.png``. Models already complete in out_dir are reused."""
    from analysis.plots import depth_series_plot
    from learning.datasets import load_dataset
    from learning.models import MODEL_FILE
    from learning.train import config_from, train
    from simcore.fileio import write_json

    out = Path(out_dir)
    n_in = load_dataset(dataset, "test", data_dir, limit=1).x.shape[1]
    n_out = load_dataset(dataset, "test", data_dir, limit=None).n_classes
    results = []
    for depth in depths:
        arch = "-".join([str(n_in)] + [str(hidden)] * depth + [str(n_out)])
        d = out / f"depth{depth}"
        if not (d / MODEL_FILE).is_file():
            train(config_from(dataset, arch, T=T, epochs=epochs, seed=seed, data_dir=data_dir, lr_decay=lr_decay),
                  d, progress=False)
        results.append(layer_errors(d, data_dir=data_dir, limit=limit))
    write_json(out / "depth_series.json", {"results": results, "T": T, "epochs": epochs, "hidden": hidden,
                                            **environment()})
    depth_series_plot(results, out / "depth_series.png")
    return results
