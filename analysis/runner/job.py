"""A job: its full configuration in, its result files in its own directory out.

A job is identified by the sha256 of its configuration as canonical JSON (sorted keys, no
whitespace), so two runs with the same settings share a directory and any change of a setting
(architecture, epochs, sample limits, data files by content hash, T, seed, recipe, the ids of the
jobs it reads) gives another directory. ``ROOT/jobs/<kind>-<hash16>/`` holds

* ``job.json``: the configuration, written before the work starts (with versions),
* the kind's result files (a trained model, a converted model, ...),
* ``result.json``: the job's result dict, written atomically last; its presence marks the job done.

A directory whose ``job.json`` is missing or differs from the job's configuration is refused with
one line and never written into: results are never relabelled. Each job directory is a claimed
output directory of kind ``job`` (:mod:`simcore.outputs`: marker file, lock, writes only inside),
claimed by whoever runs the job (the serial runner, or a Dask worker process or thread, which
cannot share the claim that the command holds on ``ROOT``); the lock keeps two processes out of
one job.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from simcore.fileio import read_json, write_json
from simcore.outputs import LOCK, MARKER, output_dir
from simcore.provenance import environment

__all__ = ["Job", "JobDirError", "job_dir", "is_done", "read_result", "claim", "finish", "JOB_FILE",
           "RESULT_FILE", "JOB_KIND"]

JOB_FILE = "job.json"
RESULT_FILE = "result.json"
JOBS_DIR = "jobs"
JOB_KIND = "job"  # the output kind of a job directory (simcore.outputs)


class JobDirError(ValueError):
    """A job directory holds something that this job did not write (refused, never overwritten)."""


def canonical(config: dict) -> str:
    """Canonical JSON of a configuration: sorted keys, no whitespace, NaN refused."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Job:
    """One unit of work. ``config`` (JSON-able, with "kind") is the identity; ``needs`` maps a role
    ("model", "ann") to the id of the job whose directory this one reads (also inside the identity);
    ``data_dir`` says where this machine finds the data files whose hashes ``config`` holds."""

    config: dict
    needs: dict = field(default_factory=dict)
    data_dir: str | None = None

    @property
    def kind(self) -> str:
        return self.config["kind"]

    @property
    def id(self) -> str:
        text = canonical({"config": self.config, "needs": self.needs})
        return f"{self.kind}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"

    def describe(self) -> str:
        """One line naming the job by its settings (for progress and failure reports)."""
        keys = ("dataset", "arch", "T", "epochs", "seed", "norm", "measure", "split", "lo", "hi")
        return f"{self.id} " + " ".join(f"{k}={self.config[k]}" for k in keys if k in self.config)


def job_dir(root: str | os.PathLike, job: Job | str) -> Path:
    return Path(root) / JOBS_DIR / (job if isinstance(job, str) else job.id)


def _identity(job: Job) -> dict:
    return {"id": job.id, "config": job.config, "needs": job.needs}


def _check_owner(d: Path, job: Job) -> None:
    """Refuse a directory that exists and is not this job's (no job.json, or another configuration)."""
    if not d.exists():
        return
    if not d.is_dir():
        raise JobDirError(f"{d}: exists and is not a job directory; refusing to write there")
    if (d / JOB_FILE).is_file():
        recorded = read_json(d / JOB_FILE, "job description")
        if not isinstance(recorded, dict) or canonical({k: recorded.get(k) for k in ("id", "config", "needs")}) \
                != canonical(_identity(job)):
            raise JobDirError(f"{d}: {JOB_FILE} describes another configuration; refusing to reuse or overwrite it")
    elif any(d.iterdir()):
        raise JobDirError(f"{d}: holds files without a {JOB_FILE} (not written by this job); refusing to overwrite")


def is_done(root, job: Job) -> bool:
    """True if the job's directory holds its own job.json and a result.json (raises JobDirError if
    the directory belongs to something else)."""
    d = job_dir(root, job)
    _check_owner(d, job)
    return (d / RESULT_FILE).is_file()


def read_result(root, job: Job) -> dict:
    return read_json(job_dir(root, job) / RESULT_FILE, "job result")["result"]


def _create(d: Path, job: Job) -> None:
    """Make the job directory with its job.json: prepared as a claimed directory beside it and renamed
    into place, so it never exists without its job.json, even if the process is killed meanwhile."""
    stage = d.parent / f".{d.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    with output_dir(stage, JOB_KIND):
        write_json(stage / JOB_FILE, {**_identity(job), **environment()})
    try:
        os.rename(stage, d)
    except OSError:  # d appeared meanwhile (another process created it) or holds something
        for name in (JOB_FILE, MARKER, LOCK):  # all that the stage holds, written just above
            (stage / name).unlink()
        stage.rmdir()
        _check_owner(d, job)


@contextmanager
def claim(root, job: Job) -> Iterator[Path]:
    """Hold the job's directory (created if new; a matching one is kept: resume) as this thread's
    claimed output directory for the ``with`` block; yields its path."""
    d = job_dir(root, job)
    _check_owner(d, job)
    if not (d / JOB_FILE).is_file():
        _create(d, job)
    with output_dir(d, JOB_KIND):
        yield d


def finish(d: Path, result: dict, seconds: float) -> None:
    """Write result.json (atomically): the job is done."""
    write_json(d / RESULT_FILE, {"result": result, "seconds": seconds, "host": os.uname().nodename,
                                 "pid": os.getpid(), "finished": time.time()})
