"""Who wins at which latency: a sweep's rows summarised over seeds (issue 15, "a fair fight").

From the rows of :func:`analysis.sweep.sweep` (one per method, T_infer and seed): per method and
T_infer the mean and standard deviation over seeds of the tie-broken accuracy, the counts-only
accuracy, the fraction of tied samples and, for converted models, the ANN's test accuracy
(:func:`summarise`); per T_infer the best method by each accuracy (:func:`winners`); a Markdown
table of both and one plot (:func:`write_fight`).

Several sweeps of one experiment run apart (other seeds, other machines) are pooled by
:func:`pool_sweeps`: their settings must agree and their seeds must not overlap. A ``sweep.csv``
is accepted too, as rows only: it records no settings, so it is pooled unchecked and the table says so.
"""
from __future__ import annotations

import csv
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from analysis.plots import accuracy_vs_T
from analysis.report import markdown_table
from analysis.sweep import COLUMNS
from simcore.fileio import atomic_write, read_json
from simcore.outputs import remove_stale

__all__ = ["summarise", "winners", "read_sweep", "pool_sweeps", "write_fight"]

# What must agree between pooled sweeps (a key an older sweep.json lacks counts as its default, None).
SETTINGS = ("dataset", "arch", "T_train", "T_infer", "norms", "qcfs_levels", "v_inits", "epochs", "ann_epochs",
            "lr_decay", "dropout", "lr", "patience", "select_on", "limit_train", "limit_test", "extra_models")
# How a sweep.csv cell is read back (an empty cell is None; other columns stay strings).
_PARSE = {**dict.fromkeys(("T_train", "T_infer", "seed", "samples"), int),
          **dict.fromkeys(("accuracy", "counts_only_accuracy", "tie_fraction", "ann_accuracy",
                           "sops_per_sample"), float)}


def _csv_rows(path: Path) -> list[dict]:
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise ValueError(f"{path}: not a sweep.csv (columns {reader.fieldnames}, expected {list(COLUMNS)})")
            rows = []
            for n, r in enumerate(reader, start=2):
                try:
                    rows.append({k: None if r[k] == "" else _PARSE.get(k, str)(r[k]) for k in COLUMNS})
                except (TypeError, ValueError):
                    raise ValueError(f"{path}: line {n} is not a sweep row") from None
    except FileNotFoundError:
        raise ValueError(f"sweep not found: {path}") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise ValueError(f"{path}: not a sweep.csv") from None
    return rows


def read_sweep(path: str | os.PathLike) -> dict:
    """A ``sweep.json`` (its settings and rows) or a ``sweep.csv`` (rows only, settings None) as
    ``{"path", "settings", "rows", "seeds"}``; ValueError naming the file if it is neither."""
    path = Path(path)
    if path.suffix == ".csv":
        settings, rows = None, _csv_rows(path)
    else:
        sweep = read_json(path, "sweep")
        if not isinstance(sweep, dict) or not isinstance(sweep.get("rows"), list):
            raise ValueError(f"{path}: not a sweep.json (no rows)")
        settings, rows = {k: sweep.get(k) for k in SETTINGS}, sweep["rows"]
    if not rows:
        raise ValueError(f"{path}: the sweep has no rows")
    return {"path": str(path), "settings": settings, "rows": rows, "seeds": sorted({r["seed"] for r in rows})}


def pool_sweeps(sweeps: list[dict]) -> tuple[dict | None, list[dict]]:
    """The common settings (None if only CSVs) and all rows of :func:`read_sweep` results; ValueError
    if two sweeps' recorded settings differ or two sweeps share a seed."""
    recorded = [s for s in sweeps if s["settings"] is not None]
    for s in recorded[1:]:
        for k in SETTINGS:
            if s["settings"][k] != recorded[0]["settings"][k]:
                raise ValueError(f"cannot pool {recorded[0]['path']} and {s['path']}: {k} differs "
                                 f"({recorded[0]['settings'][k]!r} vs {s['settings'][k]!r})")
    holder = {}
    for s in sweeps:
        for seed in s["seeds"]:
            if seed in holder:
                raise ValueError(f"cannot pool {holder[seed]} and {s['path']}: both hold seed {seed}")
            holder[seed] = s["path"]
    return (recorded[0]["settings"] if recorded else None), [r for s in sweeps for r in s["rows"]]


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


def _sources(sweeps: list[dict]) -> str:
    """The "Pooled from ..." paragraph of fight.md (empty for one sweep.json)."""
    if len(sweeps) == 1 and sweeps[0]["settings"] is not None:
        return ""
    unchecked = ", rows only: settings not recorded, not checked"
    return "Pooled from " + "; ".join(
        f"`{s['path']}` (seeds {s['seeds']}{'' if s['settings'] is not None else unchecked})" for s in sweeps) + ".\n\n"


def _pm(mean, std) -> str:
    return "" if mean is None else f"{100 * mean:.2f} ± {100 * std:.2f}"


def write_fight(sweep_files, out_dir: str | os.PathLike, title: str = "") -> str:
    """Write ``fight.md`` (table per method x T_infer, and the winners per T) and ``fight.png``
    (mean tie-broken accuracy against T, one curve per method) into out_dir; return the Markdown.
    sweep_files: one path or several (pooled by :func:`pool_sweeps`)."""
    files = [sweep_files] if isinstance(sweep_files, (str, os.PathLike)) else list(sweep_files)
    sweeps = [read_sweep(f) for f in files]
    settings, rows = pool_sweeps(sweeps)
    what = "unknown data set and network" if settings is None else f"{settings['dataset']} {settings['arch']}"
    summary = summarise(rows)
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
    seeds = sorted({r["seed"] for r in rows})
    md = (f"# {title or 'Accuracy against latency'}\n\n{_sources(sweeps)}{what}, seeds {seeds}. "
          "Each cell: test accuracy with ties broken by the membrane potential, mean ± std over seeds (%), "
          "then (counts-only accuracy; fraction of test samples with a tied top count). ANN: the converted "
          "model's ANN, test accuracy.\n\n" + markdown_table(table, list(table[0])) +
          "\n\n## Who wins at which latency\n\n" + markdown_table(win, list(win[0])) + "\n")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale([out / "fight.md", out / "fight.png"])  # the sweeps are read and checked: now replace
    atomic_write(out / "fight.md", lambda f: f.write(md), mode="w")
    accuracy_vs_T(rows, out / "fight.png", title=title or what)
    return md
