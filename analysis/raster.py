"""Spike rasters: record chosen samples and populations in simcore, draw the picture.

Recording simulates only the chosen samples with simcore's raster on, so memory is bounded by
those samples (samples x steps x neurons of the recorded samples only), whatever the data set
size. Sample ``k`` is encoded with sample id ``k``: the trains ``spikecount simulate`` sees.

The plot (:func:`raster_plot`) has one panel per population (input, each hidden layer, output),
time step on x and neuron index on y, one tick per spike; the output panel labels its neurons by
class and marks the true class; the last panel is the output's running decision after every step
(simcore's ``prediction_trace``: most spikes so far, ties by potential), against the true label.
"""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from simcore import Network, simulate  # noqa: E402
from simcore.fileio import atomic_write  # noqa: E402
from simcore.outputs import result_file  # noqa: E402

__all__ = ["Raster", "record_rasters", "raster_plot", "write_raster", "model_raster", "report_rasters", "CREATOR"]

CREATOR = "spikecount raster"  # PNG "Software" text
RESULT_KIND = "raster"  # PNG "spikecount_output" text: a single-file result of this kind (simcore.outputs)


@dataclass
class Raster:
    """One sample's spikes: population -> (times (n,), neuron indices (n,)) in emission order."""

    spikes: dict[str, tuple[np.ndarray, np.ndarray]]
    sizes: dict[str, int]
    decision: np.ndarray  # (steps,) predicted class after every step
    output: str
    T: int
    steps: int
    sample: int
    label: int | None = None


def record_rasters(graph: Network, intensity, T: int, seed: int, samples, *, populations=None, labels=None,
                   encoding: str = "bernoulli", max_rate: float = 1.0, mode: str = "sync") -> list[Raster]:
    """Rasters of ``samples`` (sample ids; rows of intensity (N, D)), only ``populations`` (default all)."""
    ids = np.atleast_1d(np.asarray(samples, dtype=np.int64))
    x = np.asarray(intensity, dtype=np.float64)
    if ids.size == 0 or ids.min() < 0 or ids.max() >= len(x):
        raise ValueError(f"samples must be indices 0..{len(x) - 1}, got {ids.tolist()}")
    pops = list(graph.populations) if populations is None else list(populations)
    unknown = [p for p in pops if p not in graph.populations]
    if unknown:
        raise ValueError(f"unknown population(s) {unknown}; the network has {list(graph.populations)}")
    res = simulate(graph, x[ids], T, seed, encoding=encoding, max_rate=max_rate, sample_ids=ids, mode=mode,
                   record_raster=True)
    return [Raster({p: res.raster[p][k] for p in pops}, {p: graph.size(p) for p in pops}, res.prediction_trace[k],
                   res.output, res.T, res.steps, int(s), None if labels is None else int(np.asarray(labels)[s]))
            for k, s in enumerate(ids)]


def _panel(ax, times, idx, size: int, name: str, steps: int, color: str, panel_px: float) -> None:
    """One population: a vertical tick per spike, at least ~2 px tall however many neurons there are."""
    half = max(0.4, size / panel_px)
    ax.vlines(times, np.asarray(idx) - half, np.asarray(idx) + half, color=color,
              linewidth=max(0.7, min(2.5, 250.0 / steps)))
    ax.set_ylim(size - 0.5, -0.5)
    ax.set_xlim(-0.5, steps - 0.5)
    rate = len(times) / (size * steps)
    ax.set_ylabel(f"{name}\nneuron", fontsize=9)
    ax.set_title(f"{name}: {size} neurons, {len(times)} spikes ({rate:.3f} per neuron per step)", fontsize=9,
                 loc="left")


def raster_plot(r: Raster, path: str | os.PathLike, title: str = "") -> Path:
    """Draw one sample's raster (see the module docstring); writes a PNG atomically."""
    pops = list(r.spikes)
    hidden = [p for p in pops if p != r.output]
    heights = [3.0 if r.sizes[p] > 50 else 1.6 for p in hidden] + ([1.8] if r.output in pops else []) + [1.4]
    fig, axes = plt.subplots(len(heights), 1, figsize=(8, 1.0 + 1.15 * sum(heights)), sharex=True,
                             gridspec_kw={"height_ratios": heights})
    colors = plt.get_cmap("tab10")
    px = 1.15 * 110 * 0.8  # pixels per height unit (figure inches per unit x dpi x the axes' share)
    for k, p in enumerate(hidden):
        _panel(axes[k], *r.spikes[p], r.sizes[p], p, r.steps, "0.2" if p == "input" else colors(k % 10),
               px * heights[k])
    n_classes = int(r.sizes.get(r.output, int(r.decision.max()) + 1))
    if r.output in pops:
        ax = axes[len(hidden)]
        _panel(ax, *r.spikes[r.output], n_classes, f"{r.output} (output)", r.steps, "C3", px * heights[len(hidden)])
        ax.set_yticks(range(n_classes))
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylabel("class", fontsize=9)
        if r.label is not None:
            ax.axhspan(r.label - 0.5, r.label + 0.5, color="C2", alpha=0.15, lw=0, label=f"true class {r.label}")
            ax.legend(loc="upper right", fontsize=7, frameon=False)
    ax = axes[-1]
    t = np.arange(r.steps)
    ax.step(t, r.decision, where="mid", color="k", lw=1.2, label="decision so far")
    if r.label is not None:
        right = r.decision == r.label
        ax.scatter(t[right], r.decision[right], s=10, color="C2", zorder=3, label="correct")
        ax.scatter(t[~right], r.decision[~right], s=10, color="C3", zorder=3, label="wrong")
        ax.axhline(r.label, color="C2", ls="--", lw=0.8)
    ax.set_ylim(-0.5, n_classes - 0.5)
    ax.set_yticks(range(n_classes))
    ax.tick_params(axis="y", labelsize=7)
    ax.set_ylabel("class", fontsize=9)
    ax.set_xlabel("time step")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_title("running decision (most output spikes so far, ties by potential)", fontsize=9, loc="left")
    ax.legend(loc="lower right", fontsize=7, ncol=3, frameon=False)
    if r.T < r.steps:
        for a in axes:
            a.axvline(r.T - 0.5, color="0.6", lw=0.6, ls=":")
    verdict = "" if r.label is None else f", label {r.label}"
    fig.suptitle(f"{title or f'sample {r.sample}'}: decision {int(r.decision[-1])}{verdict}", fontsize=10)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": CREATOR, "spikecount_output": RESULT_KIND})
    plt.close(fig)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def model_raster(model, sample: int = 0, *, dataset: str | None = None, split: str = "test", T: int | None = None,
                 seed: int | None = None, data_dir=None, split_seed: int | None = None, populations=None) -> Raster:
    """The raster of sample ``sample`` of a model directory's data split (settings as ``simulate``)."""
    from learning.simulate import prepare_run

    run = prepare_run(model, dataset, split=split, T=T, seed=seed, split_seed=split_seed, data_dir=data_dir,
                      limit=int(sample) + 1)
    if sample >= len(run.data.y):
        raise ValueError(f"--sample {sample}: the {split} split has {len(run.data.y)} samples")
    return record_rasters(run.graph, run.intensity, run.T, run.seed, [sample], populations=populations,
                          labels=run.data.y, encoding=run.encoding, max_rate=run.max_rate)[0]


def write_raster(model, out: str | os.PathLike, sample: int = 0, **options) -> Path:
    """``spikecount raster``: draw sample ``sample`` of a model into ``out`` (a PNG), a single-file
    result of kind "raster" (:func:`simcore.outputs.result_file`: an earlier raster is replaced,
    another file only with --overwrite)."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out {out}: the raster is a PNG; name it *.png")
    result_file(out, RESULT_KIND)  # refuse before the work
    r = model_raster(model, sample, **options)
    return raster_plot(r, out, title=f"{Path(str(model)).name}, sample {sample}, T={r.T}")


def report_rasters(runs: str | os.PathLike, out_dir: str | os.PathLike) -> list[tuple[str, Path]]:
    """One raster (test sample 0) per method among the models under ``runs`` (spike-count per T,
    conversion per normalisation); (title, PNG path) pairs written into out_dir. Models whose data
    cannot be loaded are skipped."""
    from learning.models import MODEL_FILE, read_meta

    methods: dict[str, Path] = {}
    for f in sorted(Path(runs).rglob(MODEL_FILE)):
        try:
            meta = read_meta(f.parent)
        except ValueError:
            continue
        if meta.get("kind") == "snn":
            methods.setdefault(f"spike-count T={meta.get('T')}", f.parent)
        elif meta.get("kind") == "converted":
            methods.setdefault(f"conversion ({meta.get('norm')})", f.parent)
    out = []
    for method, model in methods.items():
        try:
            r = model_raster(model, 0)
        except (ValueError, OSError):
            continue
        path = Path(out_dir) / ("raster_" + re.sub(r"[^A-Za-z0-9]+", "_", method).strip("_") + ".png")
        out.append((f"{method}: {model.relative_to(runs)}", raster_plot(r, path, title=f"{method}: test sample 0")))
    return out
