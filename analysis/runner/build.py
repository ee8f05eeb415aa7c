"""Job constructors shared by sweep, reproduce and demo: training, conversion and evaluation jobs
whose configuration holds every setting, the data files' sha256 and the ids of the jobs they read."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from analysis.runner.job import Job
from learning.datafiles import data_fingerprint, sha256_file

__all__ = ["train_job", "convert_job", "eval_job", "given_model_eval_job"]


# settings added after grids were run, with the value every earlier job had: left out of a job's id
# at that value, so grids run before the setting existed resume (the model's metrics record it)
_LATER_SETTINGS = {"select_on": "loss"}


def train_job(cfg) -> Job:
    """A train-snn (learning.train.TrainConfig) or train-ann (baselines.train_ann.ANNConfig) job."""
    from learning.train import TrainConfig

    settings = asdict(cfg)
    for key, value in _LATER_SETTINGS.items():
        if settings.get(key) == value:
            del settings[key]
    data_dir = settings.pop("data_dir")
    data_dir = None if data_dir is None else str(Path(data_dir).expanduser().resolve())  # same path on workers
    kind = "train-snn" if isinstance(cfg, TrainConfig) else "train-ann"
    return Job({"kind": kind, **settings, "data": data_fingerprint(cfg.dataset, data_dir)}, data_dir=data_dir)


def convert_job(ann: Job, norm: str, seed: int, v_init: str = "zero") -> Job:
    """Convert the ANN of job ``ann`` with normalisation ``norm`` and initial potential ``v_init``
    (baselines.choices.V_INITS); ``seed`` the recorded encoding seed."""
    c = ann.config
    return Job({"kind": "convert", "dataset": c["dataset"], "arch": c["arch"], "norm": norm, "seed": seed,
                "v_init": v_init, "data": c["data"]}, needs={"ann": ann.id}, data_dir=ann.data_dir)


def eval_job(model: Job, measure: str, **settings) -> Job:
    """Measure the model of job ``model`` (see analysis.runner.kinds._evaluate for the measures)."""
    c = model.config
    return Job({"kind": "evaluate", "measure": measure, "dataset": c["dataset"], "arch": c["arch"], **settings,
                "data": c["data"]}, needs={"model": model.id}, data_dir=model.data_dir)


def given_model_eval_job(path, dataset: str, data_dir, measure: str, **settings) -> Job:
    """Measure a given model (a ``.nir`` file, a model or graph directory; not a job's): its absolute path
    and the sha256 of each of its files are in the configuration, so the job changes when the model does."""
    p = Path(path).expanduser().resolve()
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    if not files:
        raise ValueError(f"{path}: no model file or directory there")
    data_dir = None if data_dir is None else str(Path(data_dir).expanduser().resolve())
    return Job({"kind": "evaluate", "measure": measure, "dataset": dataset, "model": str(p),
                "model_sha256": {q.relative_to(p).as_posix() if q != p else p.name: sha256_file(q) for q in files},
                **settings, "data": data_fingerprint(dataset, data_dir)}, data_dir=data_dir)
