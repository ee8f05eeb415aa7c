"""Who wins at which latency: a sweep's rows summarised over seeds (issue 15, "a fair fight").

From the rows of :func:`analysis.sweep.sweep` (one per method, T_infer and seed): per method and
T_infer the mean and standard deviation over seeds of the tie-broken accuracy, the counts-only
accuracy, the fraction of tied samples and, for converted models, the ANN's test accuracy
(:func:`summarise`); per T_infer the best method by each accuracy (:func:`winners`); a Markdown
table of both and one plot (:func:`write_fight`).
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from analysis.plots import accuracy_vs_T
from analysis.report import markdown_table
from simcore.fileio import atomic_write, read_json

__all__ = ["summarise", "winners", "write_fight"]


def _stat(values) -> tuple[float | None, float | None]:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return None, None
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def summarise(rows: list[dict]) -> list[dict]:
    """One dict per (method, T_infer): seeds, accuracy / counts-only / tie fraction / ANN accuracy as
    mean and std over seeds (fractions in [0, 1]); sorted by method then T_infer."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["method"], r["T_infer"])].append(r)
    out = []
    for (method, T), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        entry = {"method": method, "T_infer": T, "seeds": len(rs)}
        for key in ("accuracy", "counts_only_accuracy", "tie_fraction", "ann_accuracy"):
            entry[key], entry[key + "_std"] = _stat(r.get(key) for r in rs)
        out.append(entry)
    return out


def winners(summary: list[dict], key: str = "accuracy") -> dict[int, tuple[str, float]]:
    """T_infer -> (method with the highest mean ``key``, that mean); ties: first method by name."""
    best: dict[int, tuple[str, float]] = {}
    for e in summary:
        if e[key] is not None and (e["T_infer"] not in best or e[key] > best[e["T_infer"]][1]):
            best[e["T_infer"]] = (e["method"], e[key])
    return dict(sorted(best.items()))


def _pm(mean, std) -> str:
    return "" if mean is None else f"{100 * mean:.2f} ± {100 * std:.2f}"


def write_fight(sweep_json: str | os.PathLike, out_dir: str | os.PathLike, title: str = "") -> str:
    """Write ``fight.md`` (table per method x T_infer, and the winners per T) and ``fight.png``
    (mean tie-broken accuracy against T, one curve per method) into out_dir; return the Markdown."""
    sweep = read_json(Path(sweep_json), "sweep")
    summary = summarise(sweep["rows"])
    methods = sorted({e["method"] for e in summary})
    Ts = sorted({e["T_infer"] for e in summary})
    by = {(e["method"], e["T_infer"]): e for e in summary}
    table = []
    for m in methods:
        row = {"method": m, "ANN": _pm(*(by[(m, Ts[-1])][k] for k in ("ann_accuracy", "ann_accuracy_std")))}
        for T in Ts:
            e = by.get((m, T))
            row[f"T={T}"] = "" if e is None else (f"{_pm(e['accuracy'], e['accuracy_std'])} "
                                                  f"({100 * e['counts_only_accuracy']:.2f}; "
                                                  f"{100 * e['tie_fraction']:.1f}% tied)")
        table.append(row)
    win = [{"T_infer": T, "best (tie-broken)": f"{a[0]} ({100 * a[1]:.2f})",
            "best (counts only)": f"{c[0]} ({100 * c[1]:.2f})"}
           for (T, a), c in zip(winners(summary).items(), winners(summary, "counts_only_accuracy").values())]
    seeds = sorted({r["seed"] for r in sweep["rows"]})
    md = (f"# {title or 'Accuracy against latency'}\n\n{sweep['dataset']} {sweep['arch']}, seeds {seeds}. "
          "Each cell: test accuracy with ties broken by the membrane potential, mean ± std over seeds (%), "
          "then (counts-only accuracy; fraction of test samples with a tied top count). ANN: the converted "
          "model's ANN, test accuracy.\n\n" + markdown_table(table, list(table[0])) +
          "\n\n## Who wins at which latency\n\n" + markdown_table(win, list(win[0])) + "\n")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "fight.md", lambda f: f.write(md), mode="w")
    accuracy_vs_T(sweep["rows"], out / "fight.png", title=title or f"{sweep['dataset']} {sweep['arch']}")
    return md
