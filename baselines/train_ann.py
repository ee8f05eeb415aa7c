"""Training the ANN twin: cross-entropy on the logits, Adam, analog intensities as input.

Uses the shared epoch loop :func:`learning.loop.fit` (checkpoint after every epoch, ``resume``,
provisional ``metrics.json``, progress bar) with the conventions of :mod:`learning.train`:
initial weights from ``torch.manual_seed(seed)`` (torch's default layer init), epoch ``e``
shuffled with ``seed * 100003 + e``; nothing else is random (the input is the analog intensity,
no encoder).

The ANN has its own recipe (:data:`ANN_RECIPE`): Adam, up to ``epochs`` epochs with early stopping
once the validation loss (10% of the training split for MNIST and digits,
:mod:`learning.validation`) has not improved for ``patience`` epochs, the best-validation-loss epoch
kept. Test accuracy is computed once, at the end. digits (8x8-12c3-2a-10, seed 0): lr chosen on
validation among 3e-3 / 1e-2 / 3e-2 (best validation loss 0.064 / 0.046 / 0.033, validation
accuracy 97.8 / 97.8 / 99.3%) -> 3e-2 (docs/results.md, issue 15). MNIST: lr 1e-3 (the paper's),
not re-validated.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from baselines.ann import ANN, parse_convertible, save_ann
from learning.datasets import Dataset
from learning.loop import RUN_FILES, fit, start_run, training_splits
from learning.npz_data import provenance
from learning.resources import check_training_cost
from learning.train import check_common, defaults_for
from learning.validation import DEFAULT_VAL_FRACTION, check_schedule, default_val_fraction
from simcore.outputs import output_dir

__all__ = ["ANN_RECIPE", "ANNConfig", "ann_config_from", "train_ann", "train_ann_network", "ann_accuracy"]


# data set -> (lr, max epochs, patience): the ANN trains to convergence on validation (see the docstring)
ANN_RECIPE = {"digits": (3e-2, 300, 30), "mnist": (1e-3, 100, 10)}


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
    activation: str = "relu"  # or "qcfs" (baselines.qcfs) with ``levels``
    levels: int | None = None
    lr_decay: float = 1.0
    data_dir: str | None = None
    split_seed: int = 0
    limit_train: int | None = None
    limit_test: int | None = None
    val_fraction: float = DEFAULT_VAL_FRACTION
    patience: int | None = None
    select_on: str = "loss"  # best epoch by validation "loss" or "accuracy" (learning.validation)

    def validate(self) -> None:
        check_schedule(self.val_fraction, self.patience, self.select_on)
        ANN(parse_convertible(self.arch), self.bias, self.activation, self.levels)  # one-line errors
        if int(self.epochs) != self.epochs or self.epochs < 1:
            raise ValueError(f"epochs must be an integer >= 1, got {self.epochs}")
        check_common(self)


def ann_config_from(dataset: str, arch: str, **overrides) -> ANNConfig:
    """An ANNConfig with the data set's default batch size, its validation fraction and the ANN
    recipe's lr, epochs and patience (:data:`ANN_RECIPE`; else the spike-count lr and epochs, no
    early stopping); ``None`` overrides are ignored."""
    d = defaults_for(dataset)
    base = {k: d[k] for k in ("lr", "epochs", "batch_size")}
    base["val_fraction"] = default_val_fraction(dataset)
    if dataset in ANN_RECIPE:
        base["lr"], base["epochs"], base["patience"] = ANN_RECIPE[dataset]
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
    train_set, val_set, test_set, files = training_splits(cfg, data)
    check_training_cost(cfg.arch, cfg.batch_size, 1, "aggregate", len(train_set.y), len(test_set.y), cfg.epochs,
                        "analog")
    if out_dir is None:
        return _train_ann(cfg, None, train_set, val_set, test_set, files, resume, progress, stop_after)
    with output_dir(out_dir, "train-ann", adopt=RUN_FILES):
        start_run(out_dir, resume)
        return _train_ann(cfg, out_dir, train_set, val_set, test_set, files, resume, progress, stop_after)


def _train_ann(cfg: ANNConfig, out_dir, train_set: Dataset, val_set: Dataset | None, test_set: Dataset,
               files: dict, resume: bool, progress: bool, stop_after: int | None) -> tuple[ANN, dict]:
    with torch.random.fork_rng(devices=[]):  # the initial weights, without touching the caller's state
        torch.manual_seed(cfg.seed)
        net = ANN(parse_convertible(cfg.arch), bias=cfg.bias, activation=cfg.activation, levels=cfg.levels)
    x_train = torch.from_numpy(train_set.x)
    y_train = torch.from_numpy(train_set.y)

    def step(idx: np.ndarray, epoch: int):
        t = torch.from_numpy(idx)
        logits = net(x_train[t])
        loss = F.cross_entropy(logits, y_train[t])
        return loss, logits.detach().argmax(1).numpy()

    def validate() -> tuple[float, float, dict]:
        with torch.no_grad():
            logits = net(torch.from_numpy(val_set.x))
            loss = F.cross_entropy(logits, torch.from_numpy(val_set.y)).item()
        return float((logits.argmax(1).numpy() == val_set.y).mean()), loss, {}

    run = fit(net, step, validate if val_set is not None else None, train_set.y, cfg, out_dir, resume=resume,
              progress=progress, stop_after=stop_after, data_files=files, n_val=0 if val_set is None else len(val_set))
    final = None
    net.eval()
    if run.complete:
        final = ann_accuracy(net, test_set.x, test_set.y)
        if out_dir is not None:
            save_ann(out_dir, net, {"dataset": cfg.dataset, "seed": cfg.seed, "split_seed": cfg.split_seed,
                                    "test_accuracy": final, "val_accuracy": run.best.get("val_accuracy"),
                                    "best_epoch": run.best_epoch, "epochs_done": len(run.history),
                                    "val_fraction": cfg.val_fraction, "patience": cfg.patience,
                                    "epochs": cfg.epochs, "lr": cfg.lr,
                                    "batch_size": cfg.batch_size, "limit_train": cfg.limit_train,
                                    "limit_test": cfg.limit_test, "data_files": files,
                                    "data_dir": None if cfg.data_dir is None else str(Path(cfg.data_dir).resolve()),
                                    **provenance(cfg.dataset)})
    return net, run.write_metrics(final)
