"""Training the ANN twin: cross-entropy on the logits, Adam, analog intensities as input.

Uses the shared epoch loop :func:`learning.loop.fit` (checkpoint after every epoch, ``resume``,
provisional ``metrics.json``, progress bar) with the conventions of :mod:`learning.train`:
initial weights from ``torch.manual_seed(seed)`` (torch's default layer init), epoch ``e``
shuffled with ``seed * 100003 + e``; nothing else is random (the input is the analog intensity,
no encoder). Defaults per data set (lr, epochs, batch size) are :func:`learning.train.defaults_for`'s.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from baselines.ann import ANN, parse_convertible, save_ann
from learning.datafiles import data_files
from learning.datasets import Dataset
from learning.loop import RUN_FILES, check_pair, fit, load_pair, start_run
from learning.npz_data import provenance
from learning.resources import check_training_cost
from learning.train import check_common, defaults_for
from simcore.outputs import output_dir

__all__ = ["ANNConfig", "ann_config_from", "train_ann", "train_ann_network", "ann_accuracy"]


@dataclass
class ANNConfig:
    """Every setting of an ANN training run (recorded in metrics.json and model.json)."""

    dataset: str
    arch: str
    epochs: int
    seed: int = 0
    lr: float = 1e-3
    batch_size: int = 128
    bias: bool = True
    lr_decay: float = 1.0
    data_dir: str | None = None
    split_seed: int = 0
    limit_train: int | None = None
    limit_test: int | None = None

    def validate(self) -> None:
        parse_convertible(self.arch)
        if int(self.epochs) != self.epochs or self.epochs < 1:
            raise ValueError(f"epochs must be an integer >= 1, got {self.epochs}")
        check_common(self)


def ann_config_from(dataset: str, arch: str, **overrides) -> ANNConfig:
    """An ANNConfig with the data set's default lr / epochs / batch size; ``None`` overrides are ignored."""
    d = defaults_for(dataset)
    base = {k: d[k] for k in ("lr", "epochs", "batch_size")}
    base.update({k: v for k, v in overrides.items() if v is not None})
    return ANNConfig(dataset=dataset, arch=arch, **base)


def ann_accuracy(net: ANN, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """Top-1 accuracy of the logits (argmax, lowest index on ties)."""
    if len(y) == 0:
        return float("nan")
    dtype = next(net.parameters()).dtype
    correct = 0
    with torch.no_grad():
        for lo in range(0, len(x), batch_size):
            logits = net(torch.from_numpy(np.asarray(x[lo:lo + batch_size])).to(dtype))
            correct += int((logits.argmax(1).numpy() == y[lo:lo + batch_size]).sum())
    return correct / len(y)


def train_ann(cfg: ANNConfig, out_dir: str | os.PathLike, *, resume: bool = False, progress: bool = True,
              stop_after: int | None = None) -> dict:
    """Train, checkpointing every epoch; when complete write model.json (kind "ann") + weights.

    Returns the metrics dict (also written to out_dir/metrics.json).
    """
    return train_ann_network(cfg, out_dir=out_dir, resume=resume, progress=progress, stop_after=stop_after)[1]


def train_ann_network(cfg: ANNConfig, data: tuple[Dataset, Dataset] | None = None,
                      out_dir: str | os.PathLike | None = None, *, resume: bool = False, progress: bool = True,
                      stop_after: int | None = None) -> tuple[ANN, dict]:
    """Train and return (ANN in eval mode, metrics); data (train, test) and out_dir optional (None:
    ``cfg.dataset`` loaded; nothing written). The global random states are left as they were."""
    cfg.validate()
    if data is None:
        data = load_pair(cfg.dataset, cfg.arch, cfg.data_dir, cfg.split_seed, cfg.limit_train, cfg.limit_test)
        files = data_files(cfg.dataset, cfg.data_dir)
    else:
        check_pair(cfg.arch, *data)
        files = {}  # arrays given by the caller: no files were read
    train_set, test_set = data
    check_training_cost(cfg.arch, cfg.batch_size, 1, "aggregate", len(train_set.y), len(test_set.y), cfg.epochs,
                        "analog")
    if out_dir is None:
        return _train_ann(cfg, None, train_set, test_set, files, resume, progress, stop_after)
    with output_dir(out_dir, "train-ann", adopt=RUN_FILES):
        start_run(out_dir, resume)
        return _train_ann(cfg, out_dir, train_set, test_set, files, resume, progress, stop_after)


def _train_ann(cfg: ANNConfig, out_dir, train_set: Dataset, test_set: Dataset, files: dict, resume: bool,
               progress: bool, stop_after: int | None) -> tuple[ANN, dict]:
    with torch.random.fork_rng(devices=[]):  # the initial weights, without touching the caller's state
        torch.manual_seed(cfg.seed)
        net = ANN(parse_convertible(cfg.arch), bias=cfg.bias)
    x_train = torch.from_numpy(train_set.x)
    y_train = torch.from_numpy(train_set.y)

    def step(idx: np.ndarray, epoch: int):
        t = torch.from_numpy(idx)
        logits = net(x_train[t])
        loss = F.cross_entropy(logits, y_train[t])
        return loss, logits.detach().argmax(1).numpy()

    def test_accuracy() -> float:
        return ann_accuracy(net, test_set.x, test_set.y)

    run = fit(net, step, test_accuracy, train_set.y, cfg, out_dir, resume=resume, progress=progress,
              stop_after=stop_after, data_files=files)
    final = None
    net.eval()
    if run.complete:
        final = ann_accuracy(net, test_set.x, test_set.y)
        if out_dir is not None:
            save_ann(out_dir, net, {"dataset": cfg.dataset, "seed": cfg.seed, "split_seed": cfg.split_seed,
                                    "test_accuracy": final, "epochs": cfg.epochs, "lr": cfg.lr,
                                    "batch_size": cfg.batch_size, "limit_train": cfg.limit_train,
                                    "limit_test": cfg.limit_test, "data_files": files,
                                    "data_dir": None if cfg.data_dir is None else str(Path(cfg.data_dir).resolve()),
                                    **provenance(cfg.dataset)})
    return net, run.write_metrics(final)
