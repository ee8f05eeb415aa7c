"""One runner for every list of jobs: serial by default, or on Dask (a LocalCluster of N worker
processes, or a scheduler started elsewhere).

Jobs are given in dependency order (a job's ``needs`` come before it). Finished jobs are read back
from their directories, not run again; each job writes its results as it finishes, so a rerun after
a crash or Ctrl-C does only what is missing. A job that fails is reported with its settings and a
one-line error while the others go on; jobs that need it are skipped; :class:`JobsFailed` is raised
at the end. A Dask worker that dies mid-job has its job run again elsewhere (the scheduler's
``allowed-failures``; ``retries`` covers exceptions). Each job claims its own directory
(:func:`analysis.runner.job.claim`) in whichever process runs it, so workers write inside a ``ROOT``
that the command holds as its claimed output directory.
"""
from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from analysis.runner.job import Job, is_done, read_result
from analysis.runner.kinds import PERSISTENT, execute
from simcore.outputs import current_options

__all__ = ["Runner", "JobsFailed", "WORKER_ENV", "NANNY_UNSET"]

# Dask pins OMP/MKL/OpenBLAS to one thread per worker but not numba (simcore's parallel kernels).
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}
# Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which turns off glibc's adaptive mmap
# threshold: every array over 128 KiB is then a fresh mmap with page faults, and numpy/torch work on
# such arrays ran 8-10x slower in a worker than in the parent (docs/results.md, issue 16). Unset it in
# the nanny's configuration and in this process's environment, which workers inherit (a nanny writes
# its pre-spawn variables into the parent's os.environ and never takes them out).
NANNY_UNSET = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
INSTALL_HINT = "--workers/--scheduler need Dask: pip install 'spikecount[dist]'"


class JobsFailed(ValueError):
    """Some jobs failed (each was reported with its settings); the others finished."""


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


@dataclass
class Runner:
    """How to run jobs: ``workers`` (a LocalCluster of that many processes, one thread each) or
    ``scheduler`` (``tcp://HOST:PORT`` of a running Dask scheduler), else serially here."""

    workers: int | None = None
    scheduler: str | None = None
    progress: bool = True
    retries: int = 1

    def __post_init__(self) -> None:
        if self.workers is not None and self.scheduler is not None:
            raise ValueError("give --workers or --scheduler, not both")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {self.workers}")
        if self.distributed:
            try:
                import distributed  # noqa: F401
            except ImportError:
                raise ValueError(INSTALL_HINT) from None

    @property
    def distributed(self) -> bool:
        return self.workers is not None or self.scheduler is not None

    def run(self, jobs: list[Job], root) -> dict[str, dict]:
        """Run ``jobs`` (dependency order; ``root`` holds the job directories, None for result-only
        jobs); returns {job id: result}. Raises JobsFailed after the others finished if any failed."""
        root = None if root is None else Path(root).resolve()  # workers may run in another directory
        ids = [j.id for j in jobs]
        if len(set(ids)) != len(ids):
            jobs = list({j.id: j for j in jobs}.values())
        results, todo = {}, []
        for job in jobs:
            if job.kind in PERSISTENT and is_done(root, job):
                results[job.id] = read_result(root, job)
            else:
                todo.append(job)
        failed: dict[str, str] = {}
        with tqdm(total=len(jobs), initial=len(results), desc="jobs", unit="job", disable=not self.progress) as bar:
            tally = _Tally(bar, reused=len(results))
            (self._dask if self.distributed else self._serial)(todo, root, results, failed, tally)
        if failed:
            by_id = {j.id: j for j in jobs}
            for jid, err in failed.items():
                tqdm.write(f"failed: {by_id[jid].describe()}: {err}")
            raise JobsFailed(f"{len(failed)} of {len(jobs)} jobs failed (listed above); the others are kept, "
                             "a rerun does only what is missing")
        return results

    def _serial(self, todo, root, results, failed, tally) -> None:
        for job in todo:
            if any(n in failed for n in job.needs.values()):
                failed[job.id] = "skipped: a job it needs failed"
                tally.fail()
                continue
            tally.start()
            try:
                results[job.id] = execute(job, root)
                tally.done()
            except Exception as e:  # any error of one job is reported; the others go on
                failed[job.id] = _one_line(e)
                tally.fail()

    def _dask(self, todo, root, results, failed, tally) -> None:
        from distributed import as_completed

        run_options = current_options()  # --overwrite/--force, for the workers
        with _connect(self.workers, self.scheduler) as client:
            futures, jobs = {}, {}
            for job in todo:
                after = [futures[n] for n in job.needs.values() if n in futures]
                futures[job.id] = client.submit(execute, job, root, *after, run_options=run_options,
                                                key=f"{job.id}-{uuid.uuid4().hex[:8]}", retries=self.retries)
                jobs[futures[job.id].key] = job
            for fut in as_completed(list(futures.values())):
                job = jobs[fut.key]
                if fut.status == "finished":
                    results[job.id] = fut.result()
                    tally.done(_running(client))
                    continue
                needs_failed = any(futures.get(n) is not None and futures[n].status == "error"
                                   for n in job.needs.values())
                if fut.status != "error":
                    failed[job.id] = f"{fut.status} (the cluster dropped it)"
                elif needs_failed:
                    failed[job.id] = "skipped: a job it needs failed"
                else:
                    failed[job.id] = _one_line(fut.exception())
                tally.fail(_running(client))


def _running(client) -> int:
    return sum(len(v) for v in client.processing().values())


class _connect:
    """Context manager: a Dask client on a new LocalCluster (kernels warmed first) or on a scheduler."""

    def __init__(self, workers: int | None, scheduler: str | None):
        self.workers, self.scheduler, self.cluster = workers, scheduler, None

    def __enter__(self):
        import dask
        from distributed import Client, LocalCluster

        from analysis.runner.worker import PinThreads
        from learning.warmup import warm_up_tensor
        from simcore.warmup import warm_up

        warm_up()  # compile here once: workers then load numba's cache
        warm_up_tensor()
        if self.scheduler is not None:
            try:
                self.client = Client(self.scheduler, timeout="20s")
            except OSError as e:
                raise ValueError(f"--scheduler {self.scheduler}: cannot connect ({e})") from None
        else:
            os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            with dask.config.set(NANNY_UNSET):
                self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, env=WORKER_ENV,
                                            silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        self.client.register_plugin(PinThreads())
        return self.client

    def __exit__(self, *exc) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class _Tally:
    """The one progress bar's postfix: jobs done, running, failed (and reused)."""

    def __init__(self, bar, reused: int):
        self.bar, self.n_done, self.n_failed, self.running, self.reused = bar, 0, 0, 0, reused
        self._show()

    def _show(self) -> None:
        self.bar.set_postfix(done=self.n_done, running=self.running, failed=self.n_failed, reused=self.reused,
                             refresh=False)

    def start(self) -> None:
        self.running = 1
        self._show()
        self.bar.refresh()

    def done(self, running: int = 0) -> None:
        self.n_done, self.running = self.n_done + 1, running
        self._show()
        self.bar.update(1)

    def fail(self, running: int = 0) -> None:
        self.n_failed, self.running = self.n_failed + 1, running
        self._show()
        self.bar.update(1)

