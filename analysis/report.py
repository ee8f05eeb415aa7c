"""A self-contained report of a runs directory: ``index.html`` (figures embedded as data URIs,
readable offline, no scripts) and ``report.md`` (figures beside it as PNG files).

It collects what it finds under the runs directory:
``sweep.json`` (latency-accuracy rows), ``quantisation.json`` (per-layer errors),
``crosscheck.json`` (Brian2 agreement), every ``metrics.json`` (training runs), every ``*.png``.
"""
from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

from analysis.raster import report_rasters
from simcore.fileio import atomic_write

__all__ = ["write_report", "markdown_table"]


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """A Markdown table of ``rows`` (floats in [0, 1] named like accuracies shown as %)."""
    def fmt(key, v):
        if isinstance(v, float):
            if "accuracy" in key or "fraction" in key or "agreement" in key:
                return f"{100 * v:.2f}%"
            return f"{v:.4g}"
        return "" if v is None else str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(c, r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _load(path: Path):
    """The JSON in ``path``, None where there is no such file; ValueError naming a malformed one."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: malformed JSON ({e})") from None


def _sweep(sweep) -> list[tuple[str, str]]:
    rows = sweep["rows"] if isinstance(sweep, dict) else sweep
    return [("Latency against accuracy", markdown_table(
        rows, ["method", "T_train", "T_infer", "seed", "accuracy", "sops_per_sample"]))]


def _quantisation(quant) -> list[tuple[str, str]]:
    out = []
    for res in quant if isinstance(quant, list) else [quant]:
        rows = [{"population": l["population"], "spikes/neuron": l["spikes_per_neuron"],
                 "residual V/theta": l["residual_mean"],
                 "local differ_fraction": l["local"]["differ_fraction"],
                 "propagated differ_fraction": l["propagated"]["differ_fraction"],
                 "propagated mean abs diff": l["propagated"]["mean_abs_diff"]} for l in res["layers"]]
        out.append((f"Quantisation error per layer: {res['arch']} (T={res['T']})",
                    markdown_table(rows, list(rows[0]))))
    return out


def _crosscheck(cross) -> list[tuple[str, str]]:
    keys = ["samples", "identical_count_fraction", "identical_prediction_fraction", "brian2_seconds",
            "simcore_seconds"]
    body = markdown_table([{k: cross.get(k) for k in keys}], keys)
    body += f"\n\nMismatching neurons: {len(cross.get('mismatches', []))}"
    return [("Brian2 cross-check", body)]


def _training_row(runs: Path, m: Path, data) -> dict | None:
    if not isinstance(data, dict):
        raise TypeError("expected a JSON object")
    if not data.get("config"):
        return None
    cfg = data["config"]
    return {"run": str(m.parent.relative_to(runs)), "arch": cfg.get("arch"), "T": cfg.get("T"),
            "epochs": data.get("epochs_done"), "test_accuracy": data.get("test_accuracy"),
            "wall s": data.get("wall_seconds")}


def _read(path: Path, fn):
    """``fn(JSON of path)``, or None where there is no such file; ValueError naming a malformed file."""
    data = _load(path)
    if not data:
        return None
    try:
        return fn(data)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as e:
        raise ValueError(f"{path}: unexpected content for a {path.name} ({type(e).__name__}: {e})") from None


def _sections(runs: Path) -> list[tuple[str, str]]:
    """(title, markdown body) pairs for everything found under ``runs``."""
    out = []
    for name, fn in (("sweep.json", _sweep), ("quantisation.json", _quantisation), ("crosscheck.json", _crosscheck)):
        out += _read(runs / name, fn) or []
    trained = [r for m in sorted(runs.rglob("metrics.json")) if (r := _read(m, lambda d, m=m: _training_row(runs, m, d)))]
    if trained:
        out.append(("Training runs", markdown_table(trained, list(trained[0]))))
    return out


def write_report(runs_dir: str | os.PathLike, out_dir: str | os.PathLike, title: str = "spikecount report") -> Path:
    """Write ``out_dir/index.html`` and ``out_dir/report.md`` (+ the PNGs). Returns the HTML path."""
    runs, out = Path(runs_dir), Path(out_dir)
    if not runs.is_dir():
        raise ValueError(f"runs directory not found: {runs}")
    out.mkdir(parents=True, exist_ok=True)
    sections = _sections(runs)
    figures = sorted(p for p in runs.rglob("*.png") if out not in p.parents)
    if not sections and not figures:
        raise ValueError(f"{runs}: nothing to report (no sweep/quantisation/crosscheck/metrics JSON, no PNG)")
    md = [f"# {title}", ""]
    page = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}img{max-width:100%}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>"]
    for head, body in sections:
        md += [f"## {head}", "", body, ""]
        page += [f"<h2>{html.escape(head)}</h2>", _md_table_to_html(body)]
    rasters = report_rasters(runs, out)
    if rasters:
        md += ["## Spike rasters (test sample 0, one per method)", ""]
        page.append("<h2>Spike rasters (test sample 0, one per method)</h2>")
    for caption, png in rasters:
        md += [f"![{caption}]({png.name})", ""]
        data = base64.b64encode(png.read_bytes()).decode()
        page.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if figures:
        md += ["## Figures", ""]
        page.append("<h2>Figures</h2>")
    for fig in figures:
        name = str(fig.relative_to(runs)).replace(os.sep, "_")
        atomic_write(out / name, lambda f, fig=fig: f.write(fig.read_bytes()))
        md += [f"![{name}]({name})", ""]
        data = base64.b64encode(fig.read_bytes()).decode()
        page.append(f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"
                    f"<figcaption>{html.escape(name)}</figcaption></figure>")
    page.append("</body></html>")
    atomic_write(out / "report.md", lambda f: f.write("\n".join(md)), mode="w")
    return atomic_write(out / "index.html", lambda f: f.write("\n".join(page)), mode="w")


def _md_table_to_html(body: str) -> str:
    parts, rows = [], []
    for line in body.splitlines():
        if line.startswith("|"):
            if not line.startswith("|---"):
                rows.append([html.escape(c.strip()) for c in line.strip("|").split("|")])
            continue
        if rows:
            parts.append(_html_rows(rows))
            rows = []
        if line.strip():
            parts.append(f"<p>{html.escape(line)}</p>")
    if rows:
        parts.append(_html_rows(rows))
    return "\n".join(parts)


def _html_rows(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{c}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"
