"""analysis: latency-accuracy sweeps, quantisation error, the Brian2 cross-check, plots, reports, and the CLI.

Public names (imported on first use); see docs/api.md::

    rasters = analysis.record_rasters(graph, x, T=20, seed=0, samples=[0, 1])
    analysis.raster_plot(rasters[0], "raster.png")
    result = analysis.latency_sweep("npz:data.npz", "64-100-10", "runs/sweep", T_train=[5, 10])
"""
from __future__ import annotations

from learning.lazy import lazy_exports

_EXPORTS = {
    "Raster": "analysis.raster", "record_rasters": "analysis.raster", "raster_plot": "analysis.raster",
    "model_raster": "analysis.raster", "write_raster": "analysis.raster",
    "crosscheck_network": "analysis.crosscheck", "crosscheck_model": "analysis.crosscheck",
    "latency_sweep": "analysis.sweep", "decision_latency": "analysis.latency",
    "write_report": "analysis.report", "markdown_table": "analysis.report",
}
_ALIASES = {"crosscheck_model": "crosscheck", "latency_sweep": "sweep"}  # functions named like their modules
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS, _ALIASES)
