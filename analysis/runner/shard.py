"""``spikecount simulate`` over a cluster: the split cut into sample-id ranges, one job each, merged.

Each range is simulated with the global sample ids (the encoder's spikes depend on (seed, sample
id, t, i) only), so the merged counts, SOPs and agreement equal the single-process run exactly.
Workers read the model and the data from the same paths, so these must be visible to them.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from analysis.runner.backend import Runner
from analysis.runner.job import Job
from learning.simulate import merge_ranges, prepare_run, simulate_dataset
from simcore.provenance import environment

__all__ = ["simulate_sharded", "ranges"]


def ranges(n: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous ranges (lo, hi) covering 0..n-1, sizes differing by at most one."""
    shards = max(1, min(shards, n))
    cuts = [n * k // shards for k in range(shards + 1)]
    return [(lo, hi) for lo, hi in zip(cuts, cuts[1:])]


def simulate_sharded(model: str | os.PathLike, dataset: str | None = None, *, split: str = "test",
                     T: int | None = None, mode: str = "sync", limit: int | None = None, data_dir=None,
                     seed: int | None = None, split_seed: int | None = None, runner: Runner | None = None,
                     shards: int | None = None, chunk: int = 1000, compare: bool = True,
                     dt: float | None = None, semantics: str = "nir") -> dict:
    """learning.simulate.simulate_dataset's result, computed by ``runner`` in ``shards`` ranges
    (default: one per worker). Serially (no --workers/--scheduler) it is simulate_dataset itself."""
    runner = runner or Runner()
    if not runner.distributed:
        return simulate_dataset(model, dataset, split=split, T=T, mode=mode, limit=limit, data_dir=data_dir,
                                seed=seed, split_seed=split_seed, chunk=chunk, progress=runner.progress,
                                compare=compare, dt=dt, semantics=semantics)
    path = str(Path(model).resolve())
    run = prepare_run(path, dataset, split=split, T=T, seed=seed, split_seed=split_seed, data_dir=data_dir,
                      limit=limit, dt=dt, semantics=semantics)
    base = {"kind": "simulate-shard", "model": path, "dataset": run.data.name, "split": split, "T": run.T,
            "seed": run.seed, "split_seed": int(run.meta.get("split_seed", 0) if split_seed is None else split_seed),
            "limit": limit, "mode": mode, "compare": compare, "chunk": chunk,
            "dt": dt, "semantics": semantics}
    jobs = [Job({**base, "lo": lo, "hi": hi}, data_dir=None if data_dir is None else str(Path(data_dir).resolve()))
            for lo, hi in ranges(len(run.data.y), shards or runner.workers or 2)]
    t0 = time.perf_counter()
    results = runner.run(jobs, None)
    result = merge_ranges(run, [results[j.id] for j in jobs], mode=mode, model=str(model))
    result.update(wall_seconds=time.perf_counter() - t0, shards=len(jobs), **environment())
    return result
