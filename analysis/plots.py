"""Figures (PNG, matplotlib's Agg backend: no display needed). Every function writes one file
atomically and returns its path; axes carry units, every curve a legend entry."""
from __future__ import annotations

import io
import os
import re
from collections import defaultdict
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from simcore.fileio import atomic_write  # noqa: E402

__all__ = ["accuracy_vs_T", "decision_latency", "layer_errors_plot", "depth_series_plot", "pareto_plot"]


def _natural(label: str) -> str:
    """Sort key that orders numbers inside labels numerically ("T=5" before "T=10")."""
    return re.sub(r"\d+", lambda m: f"{int(m.group()):09d}", label)


def _save(fig, path: str | os.PathLike) -> Path:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def _curve_style(method: str, k: int) -> dict:
    """Colour k of tab20 (distinct for up to 20 curves); line by family (spike-count solid, QCFS
    dashed, other conversions dotted, anything else dash-dot); square markers for a theta/2 start."""
    family = ("-" if method.startswith("spike-count") else "--" if method.startswith("QCFS")
              else ":" if method.startswith("conversion") else "-.")
    return {"color": plt.get_cmap("tab20")(k % 20), "linestyle": family,
            "marker": "s" if "theta/2" in method else "o", "markersize": 4}


def accuracy_vs_T(rows: list[dict], path: str | os.PathLike, title: str = "") -> Path:
    """rows: dicts with method, T_infer, accuracy (seeds averaged, with a min-max band). When the
    curves span more than 5 points, a second panel zooms on the top 2.5 points, where converged
    methods are told apart; one legend beside both."""
    by = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by[r["method"]][r["T_infer"]].append(100 * r["accuracy"])
    curves = []
    for method, pts in sorted(by.items(), key=lambda kv: _natural(kv[0])):
        Ts = sorted(pts)
        curves.append((method, Ts, [np.mean(pts[t]) for t in Ts], [min(pts[t]) for t in Ts],
                       [max(pts[t]) for t in Ts], any(len(pts[t]) > 1 for t in Ts)))
    top = max(max(c[2]) for c in curves)
    zoom = top - min(min(c[2]) for c in curves) > 5
    fig, axes = plt.subplots(1, 2 if zoom else 1, figsize=(11.5 if zoom else 8.0, 4.6), squeeze=False)
    ticks = sorted({t for pts in by.values() for t in pts})
    for i, ax in enumerate(axes[0]):
        for k, (method, Ts, mean, lo, hi, band) in enumerate(curves):
            style = _curve_style(method, k)
            ax.plot(Ts, mean, label=method, **style)
            if band:
                ax.fill_between(Ts, lo, hi, alpha=0.15 if i == 0 else 0.07, color=style["color"])
        ax.set_xscale("log")
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel("inference time steps T (log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(True, which="both", alpha=0.3)
        if i == 1:
            ax.set_ylim(top - 2.5, top + 0.2)
            ax.set_title("top 2.5 points")
    axes[0][0].set_title(title or "Accuracy against latency")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return _save(fig, path)


def decision_latency(latencies: dict[str, np.ndarray], T: dict[str, int], path: str | os.PathLike) -> Path:
    """Cumulative distribution of the decision latency (first step after which the running
    prediction stays correct; -1 = never) per method."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, lat in sorted(latencies.items(), key=lambda kv: _natural(kv[0])):
        lat = np.asarray(lat)
        steps = np.arange(1, T[method] + 1)
        frac = [(100 * np.mean((lat >= 1) & (lat <= s))) for s in steps]
        ax.step(steps, frac, where="post", label=f"{method} (T={T[method]})")
    ax.set_xlabel("time step t")
    ax.set_ylabel("samples decided correctly by step t (%)")
    ax.set_title("Decision latency")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def layer_errors_plot(result: dict, path: str | os.PathLike) -> Path:
    """Per-layer residual and closed-form/event count differences of analysis.quantisation."""
    layers = result["layers"]
    names = [l["population"] for l in layers]
    x = np.arange(len(names))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.8))
    a1.bar(x, [l["residual_mean"] for l in layers], color="tab:gray")
    a1.set_xticks(x, names)
    a1.set_ylabel("mean residual V(T)/theta (threshold units)")
    a1.set_title("(a) surplus potential at the end")
    w = 0.38
    a2.bar(x - w / 2, [100 * l["local"]["differ_fraction"] for l in layers], w, label="local (this layer)")
    a2.bar(x + w / 2, [100 * l["propagated"]["differ_fraction"] for l in layers], w, label="propagated from input")
    a2.set_xticks(x, names)
    a2.set_ylabel("neurons whose count differs (%)")
    a2.set_title("(b) closed form vs events")
    a2.legend(fontsize=8)
    fig.suptitle(f"{result['arch'] or result['model']}  T={result['T']}  ({result['samples']} samples)", fontsize=10)
    return _save(fig, path)


def depth_series_plot(results: list[dict], path: str | os.PathLike) -> Path:
    """Count error against layer index for networks of increasing depth (one line per network)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for res in results:
        err = [100 * l["propagated"]["differ_fraction"] for l in res["layers"]]
        ax.plot(range(1, len(err) + 1), err, marker="o", label=f"{len(err) - 1} hidden")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("layer index (1 = first hidden layer; last = output)")
    ax.set_ylabel("neurons whose closed-form count differs (%)")
    ax.set_title("Quantisation error against depth")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, title="network")
    return _save(fig, path)


def pareto_plot(points: list[dict], path: str | os.PathLike, label_key: str = "label",
                xlabel: str = "synaptic operations per sample", title: str = "Accuracy against synaptic operations") -> Path:
    """Accuracy against SOPs per sample; points: dicts with sops_per_sample, accuracy, label."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    pts = sorted(points, key=lambda p: p["sops_per_sample"])
    ax.plot([p["sops_per_sample"] for p in pts], [100 * p["accuracy"] for p in pts], marker="o")
    for p in pts:
        ax.annotate(str(p[label_key]), (p["sops_per_sample"], 100 * p["accuracy"]), fontsize=7,
                    textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)
