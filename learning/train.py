"""Training with the spike-count rule: cross-entropy on output spike counts (Eq. 8), Adam.

Reproducibility: the initial weights come from ``torch.manual_seed(seed)``; epoch ``e`` encodes
its inputs with the encoder seed ``epoch_seed(seed, e)`` (sample ids = indices in the training
split) and shuffles as :mod:`learning.loop` describes. Test inputs are encoded with ``seed`` itself
and sample ids 0..N-1, the trains that ``spikecount simulate`` regenerates for the same seed.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from learning.datasets import Dataset
from learning.evaluate import evaluate
from learning.choices import ENCODINGS, MODES
from learning.inputs import calling_thread_only, input_counts, input_trains
from learning.io import save_model
from learning.loop import RUN_FILES, fit, start_run, training_splits
from learning.model import BIAS_MODES, SpikingNet
from learning.npz_data import provenance
from learning.validation import DEFAULT_VAL_FRACTION, check_schedule, default_val_fraction
from learning.quantise import qmax
from learning.rate_penalty import check_rate_options, rate_penalty
from learning.resources import check_training_cost
from learning.spec import AvgPool, parse_spec
from simcore import NeuronParams, predict
from simcore.outputs import output_dir
from simcore.resources import MAX_SEED

__all__ = ["TrainConfig", "defaults_for", "config_from", "train", "train_network", "epoch_seed"]

UCI = ("iris", "wbc", "abalone", "yeast")
# The paper gives no epochs or batch size for UCI; these give each set about 12,000 Adam steps.
UCI_SCHEDULE = {"iris": (500, 4), "wbc": (200, 8), "abalone": (100, 16), "yeast": (100, 8)}


@dataclass
class TrainConfig:
    """Every setting of a training run (recorded in metrics.json and model.json)."""

    dataset: str
    arch: str
    T: int
    epochs: int
    seed: int = 0
    mode: str = "aggregate"
    lr: float = 1e-3
    theta: float = 1.0
    init: str = "default"
    init_std: float = 0.05
    batch_size: int = 128
    encoding: str = "bernoulli"
    max_rate: float = 1.0
    bounded_output: bool = True
    lr_decay: float = 1.0  # multiply lr by this after every epoch (1.0: constant, the paper)
    dropout: float = 0.0  # hidden-neuron dropout in training (0: none, the paper)
    rate_lambda: float | list[float] | None = None  # spike-rate penalty weight(s) (learning.rate_penalty)
    rate_target: float | None = None  # penalise only counts above this (spikes per neuron per sample)
    weight_bits: int | None = None  # k-bit (2..8) quantisation-aware training; None: float weights
    bias: str = "initial"  # "initial": V(0) = b (the paper); "current": b every step (exact in NIR)
    data_dir: str | None = None
    split_seed: int = 0
    limit_train: int | None = None
    limit_test: int | None = None
    val_fraction: float = DEFAULT_VAL_FRACTION  # held-out part of the training split (learning.validation)
    patience: int | None = None  # early stopping: epochs since the best epoch (None: run every epoch)
    select_on: str = "loss"  # best epoch by validation "loss" or "accuracy" (learning.validation)

    def validate(self) -> None:
        parse_spec(self.arch)
        check_schedule(self.val_fraction, self.patience, self.select_on)
        if int(self.T) != self.T or self.T < 1:
            raise ValueError(f"T (number of time steps) must be an integer >= 1, got {self.T}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        check_common(self)
        for name, lo, hi in (("theta", 0, math.inf), ("max_rate", 0, 1)):
            value = getattr(self, name)
            if not (math.isfinite(value) and lo < value <= hi):
                raise ValueError(f"{name} must be a finite number in ({lo}, {hi}], got {value}")
        if not (math.isfinite(self.init_std) and self.init_std > 0):
            raise ValueError(f"init_std must be a finite number > 0, got {self.init_std}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        n_stages = sum(not isinstance(layer, AvgPool) for layer in parse_spec(self.arch).layers)
        check_rate_options(self.rate_lambda, self.rate_target, n_stages)
        if self.weight_bits is not None:
            qmax(self.weight_bits)
        if self.bias not in BIAS_MODES:
            raise ValueError(f"bias must be one of {BIAS_MODES}, got {self.bias!r}")


def check_common(cfg) -> None:
    """Ranges shared by every trainer's config: lr finite > 0, lr_decay in (0, 1], batch size,
    seeds and limits integers in range."""
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {cfg.lr}")
    if not 0 < cfg.lr_decay <= 1:
        raise ValueError(f"lr_decay must be in (0, 1], got {cfg.lr_decay}")
    if int(cfg.batch_size) != cfg.batch_size or cfg.batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {cfg.batch_size}")
    for name in ("seed", "split_seed"):
        value = getattr(cfg, name)
        if int(value) != value or not 0 <= value <= MAX_SEED:
            raise ValueError(f"{name} must be an integer in 0..{MAX_SEED}, got {value}")
    for name in ("limit_train", "limit_test"):
        value = getattr(cfg, name)
        if value is not None and (int(value) != value or value < 1):
            raise ValueError(f"{name} must be an integer >= 1, got {value}")


def defaults_for(dataset: str) -> dict:
    """The paper's settings per data set (Sec. III): UCI lr 5e-4, N(0, 0.05) init, T 20; else lr 1e-3,
    torch's default init, T 50. Epochs and batch size are ours (the paper does not state them)."""
    if dataset in UCI:
        epochs, batch = UCI_SCHEDULE[dataset]
        return dict(T=20, lr=5e-4, init="normal", init_std=0.05, epochs=epochs, batch_size=batch)
    if dataset == "digits":
        return dict(T=20, lr=1e-3, init="default", epochs=30, batch_size=64)
    return dict(T=50, lr=1e-3, init="default", epochs=30, batch_size=128)


def epoch_seed(seed: int, epoch: int) -> int:
    """Encoder seed of training epoch ``epoch`` (distinct from the test-encoding seed ``seed``)."""
    return (int(seed) + 1) * 1_000_003 + int(epoch)


def _inputs(cfg: TrainConfig, data: Dataset, idx: np.ndarray, seed: int) -> torch.Tensor:
    if cfg.mode == "stepped":
        return input_trains(data.x[idx], cfg.T, seed, cfg.encoding, cfg.max_rate, idx)
    with calling_thread_only():  # a batch's counts: see calling_thread_only
        return input_counts(data.x[idx], cfg.T, seed, cfg.encoding, cfg.max_rate, idx)


# -- the loop -----------------------------------------------------------------------------------
def train(cfg: TrainConfig, out_dir: str | os.PathLike, *, resume: bool = False, progress: bool = True,
          stop_after: int | None = None) -> dict:
    """Train, writing a checkpoint after every epoch, then model.json, weights and metrics.json.

    ``resume`` continues from out_dir's checkpoint. ``stop_after`` ends the run after that many
    epochs of this call (to simulate an interruption in tests). Returns the metrics dict.
    """
    return train_network(cfg, out_dir=out_dir, resume=resume, progress=progress, stop_after=stop_after)[1]


def train_network(cfg: TrainConfig, data: tuple[Dataset, Dataset] | None = None,
                  out_dir: str | os.PathLike | None = None, *, net: SpikingNet | None = None, resume: bool = False,
                  progress: bool = True, stop_after: int | None = None) -> tuple[SpikingNet, dict]:
    """Train and return (network, metrics); :func:`train` with the data and the network optional.

    data: (train, test) splits (default: ``cfg.dataset`` loaded). out_dir: None trains in memory
    and writes nothing. net: a network to train further (default: a new one initialised from
    ``cfg.seed``). torch's and numpy's global random states are left as they were.
    """
    cfg.validate()
    train_set, val_set, test_set, files = training_splits(cfg, data)
    check_training_cost(cfg.arch, cfg.batch_size, cfg.T, cfg.mode, len(train_set.y), len(test_set.y), cfg.epochs,
                        cfg.encoding)
    if out_dir is None:
        return _train(cfg, None, train_set, val_set, test_set, files, net, resume, progress, stop_after)
    with output_dir(out_dir, "train", adopt=RUN_FILES):
        start_run(out_dir, resume)
        return _train(cfg, out_dir, train_set, val_set, test_set, files, net, resume, progress, stop_after)


def _train(cfg: TrainConfig, out_dir, train_set: Dataset, val_set: Dataset | None, test_set: Dataset, files: dict, net: SpikingNet | None,
           resume: bool, progress: bool, stop_after: int | None) -> tuple[SpikingNet, dict]:
    if net is None:
        with torch.random.fork_rng(devices=[]):  # the initial weights, without touching the caller's state
            torch.manual_seed(cfg.seed)
            net = SpikingNet(parse_spec(cfg.arch), cfg.theta, cfg.init, cfg.init_std, cfg.dropout, cfg.weight_bits,
                             neuron=NeuronParams(cfg.theta, bias_mode=cfg.bias))

    def step(idx: np.ndarray, epoch: int):
        inp = _inputs(cfg, train_set, idx, epoch_seed(cfg.seed, epoch))
        if cfg.dropout:  # a generator per batch keeps resumed runs identical to uninterrupted ones
            net.generator = torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch) * 65_537 + int(idx[0]))
        out = net(inp, cfg.mode, cfg.T, cfg.bounded_output)
        loss = F.cross_entropy(out.output, torch.from_numpy(train_set.y[idx]))
        if cfg.rate_lambda is not None:
            loss = loss + rate_penalty(out.counts, cfg.rate_lambda, cfg.rate_target)
        return loss, predict(out.output.detach().numpy(), out.membrane[-1].detach().numpy())

    def validate() -> tuple[float, float, dict]:
        res = evaluate(net, val_set.x, val_set.y, cfg.T, cfg.mode, cfg.seed, encoding=cfg.encoding,
                       max_rate=cfg.max_rate, dtype=torch.float32)
        loss = F.cross_entropy(torch.from_numpy(res.counts).double(), torch.from_numpy(val_set.y)).item()
        return res.accuracy, loss, _activity(res)

    run = fit(net, step, validate if val_set is not None else None, train_set.y, cfg, out_dir, resume=resume,
              progress=progress, stop_after=stop_after, data_files=files, n_val=0 if val_set is None else len(val_set))
    final = None
    if run.complete:  # evaluate() runs in eval mode (no dropout), also when a resumed run had no epoch left
        final = evaluate(net, test_set.x, test_set.y, cfg.T, cfg.mode, cfg.seed, encoding=cfg.encoding,
                         max_rate=cfg.max_rate)
        if out_dir is not None:
            save_model(out_dir, net, {"T": cfg.T, "dataset": cfg.dataset, "mode": cfg.mode, "encoding": cfg.encoding,
                                      "max_rate": cfg.max_rate, "bias_mode": cfg.bias, "seed": cfg.seed,
                                      "split_seed": cfg.split_seed, "test_accuracy": final.accuracy,
                                      "counts_only_test_accuracy": final.counts_only_accuracy,
                                      "test_tie_fraction": final.tie_fraction, "val_fraction": cfg.val_fraction,
                                      "val_accuracy": run.best.get("val_accuracy"), "best_epoch": run.best_epoch,
                                      "data_dir": _abs(cfg.data_dir), "data_files": files, **provenance(cfg.dataset)})
    return net, run.write_metrics(final.accuracy if final else None,
                                  counts_only_test_accuracy=final.counts_only_accuracy if final else None,
                                  test_tie_fraction=final.tie_fraction if final else None,
                                  **(_activity(final) if final else dict.fromkeys(_ACTIVITY_KEYS)))


def _abs(data_dir) -> str | None:
    return None if data_dir is None else str(Path(data_dir).expanduser().resolve())


_ACTIVITY_KEYS = ("spikes_per_neuron", "sops_per_sample", "sops_per_sample_by_population")


def _activity(res) -> dict:
    """Test-split activity of an Evaluation: spikes per neuron per sample per stage, SOPs per sample."""
    return {key: getattr(res, key) for key in _ACTIVITY_KEYS}


def config_from(dataset: str, arch: str, **overrides) -> TrainConfig:
    """A TrainConfig with the paper's defaults for ``dataset``; ``None`` overrides are ignored."""
    base = {**defaults_for(dataset), "val_fraction": default_val_fraction(dataset)}
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(dataset=dataset, arch=arch, **base)

