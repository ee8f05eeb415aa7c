"""The CLI's side of the job runner: ``--workers`` / ``--scheduler`` and the Runner they select
(imported lazily, so ``spikecount --help`` does not load torch or Dask)."""
from __future__ import annotations

import argparse

__all__ = ["runner_options", "runner"]


def runner_options(p: argparse.ArgumentParser, positive_int) -> None:
    """--workers N (a local Dask cluster) and --scheduler tcp://HOST:PORT (a running one)."""
    p.add_argument("--workers", type=positive_int, help="run the jobs on a local Dask cluster of N worker "
                   "processes (needs: pip install 'spikecount[dist]')")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run the jobs on the Dask cluster of this scheduler")


def runner(a: argparse.Namespace):
    """The analysis.runner.Runner that the parsed options ask for (serial when neither is given)."""
    from analysis.runner import Runner

    return Runner(workers=a.workers, scheduler=a.scheduler, progress=not getattr(a, "quiet", False))
