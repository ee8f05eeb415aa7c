"""Job constructors shared by sweep, reproduce and demo: training, conversion and evaluation jobs
whose configuration holds every setting, the data files' sha256 and the ids of the jobs they read."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from analysis.runner.job import Job
from learning.datafiles import data_fingerprint

__all__ = ["train_job", "convert_job", "eval_job"]


def train_job(cfg) -> Job:
    """A train-snn (learning.train.TrainConfig) or train-ann (baselines.train_ann.ANNConfig) job."""
    from learning.train import TrainConfig

    settings = asdict(cfg)
    data_dir = settings.pop("data_dir")
    data_dir = None if data_dir is None else str(Path(data_dir).expanduser().resolve())  # same path on workers
    kind = "train-snn" if isinstance(cfg, TrainConfig) else "train-ann"
    return Job({"kind": kind, **settings, "data": data_fingerprint(cfg.dataset, data_dir)}, data_dir=data_dir)


def convert_job(ann: Job, norm: str, seed: int) -> Job:
    """Convert the ANN of job ``ann`` with normalisation ``norm``; ``seed`` the recorded encoding seed."""
    c = ann.config
    return Job({"kind": "convert", "dataset": c["dataset"], "arch": c["arch"], "norm": norm, "seed": seed,
                "data": c["data"]}, needs={"ann": ann.id}, data_dir=ann.data_dir)


def eval_job(model: Job, measure: str, **settings) -> Job:
    """Measure the model of job ``model`` (see analysis.runner.kinds._evaluate for the measures)."""
    c = model.config
    return Job({"kind": "evaluate", "measure": measure, "dataset": c["dataset"], "arch": c["arch"], **settings,
                "data": c["data"]}, needs={"model": model.id}, data_dir=model.data_dir)
