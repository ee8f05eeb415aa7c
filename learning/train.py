"""Training with the spike-count rule: cross-entropy on output spike counts (Eq. 8), Adam.

Reproducibility: the initial weights come from ``torch.manual_seed(seed)``; epoch ``e`` encodes
its inputs with the encoder seed ``epoch_seed(seed, e)`` (sample ids = indices in the training
split) and shuffles as :mod:`learning.loop` describes. Test inputs are encoded with ``seed`` itself
and sample ids 0..N-1, the trains that ``spikecount simulate`` regenerates for the same seed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from learning.constraints import check_rate_options, qmax, rate_penalty
from learning.datasets import Dataset
from learning.evaluate import evaluate
from learning.inputs import ENCODINGS, input_counts, input_trains
from learning.io import save_model
from learning.loop import fit, load_pair
from learning.model import BIAS_MODES, MODES, SpikingNet
from learning.spec import AvgPool, parse_spec
from simcore.decode import predict

__all__ = ["TrainConfig", "defaults_for", "config_from", "train", "epoch_seed"]

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
    rate_lambda: float | list[float] | None = None  # spike-rate penalty weight(s) (learning.constraints)
    rate_target: float | None = None  # penalise only counts above this (spikes per neuron per sample)
    weight_bits: int | None = None  # k-bit (2..8) quantisation-aware training; None: float weights
    bias: str = "initial"  # "initial": V(0) = b (the paper); "current": b every step (exact in NIR)
    data_dir: str | None = None
    split_seed: int = 0
    limit_train: int | None = None
    limit_test: int | None = None

    def validate(self) -> None:
        parse_spec(self.arch)
        if int(self.T) != self.T or self.T < 1:
            raise ValueError(f"T (number of time steps) must be an integer >= 1, got {self.T}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if not (self.lr > 0 and self.theta > 0 and self.batch_size >= 1 and self.seed >= 0):
            raise ValueError("lr, theta and batch_size must be positive and seed >= 0")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        n_stages = sum(not isinstance(layer, AvgPool) for layer in parse_spec(self.arch).layers)
        check_rate_options(self.rate_lambda, self.rate_target, n_stages)
        if self.weight_bits is not None:
            qmax(self.weight_bits)
        if self.bias not in BIAS_MODES:
            raise ValueError(f"bias must be one of {BIAS_MODES}, got {self.bias!r}")


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
    fn = input_trains if cfg.mode == "stepped" else input_counts
    return fn(data.x[idx], cfg.T, seed, cfg.encoding, cfg.max_rate, idx)


# -- the loop -----------------------------------------------------------------------------------
def train(cfg: TrainConfig, out_dir: str | os.PathLike, *, resume: bool = False, progress: bool = True,
          stop_after: int | None = None) -> dict:
    """Train, writing a checkpoint after every epoch, then model.json, weights and metrics.json.

    ``resume`` continues from out_dir's checkpoint. ``stop_after`` ends the run after that many
    epochs of this call (to simulate an interruption in tests). Returns the metrics dict.
    """
    cfg.validate()
    train_set, test_set = load_pair(cfg.dataset, cfg.arch, cfg.data_dir, cfg.split_seed, cfg.limit_train,
                                    cfg.limit_test)
    torch.manual_seed(cfg.seed)
    net = SpikingNet(parse_spec(cfg.arch), cfg.theta, cfg.init, cfg.init_std, cfg.dropout, cfg.weight_bits,
                     cfg.bias)

    def step(idx: np.ndarray, epoch: int):
        inp = _inputs(cfg, train_set, idx, epoch_seed(cfg.seed, epoch))
        if cfg.dropout:  # a generator per batch keeps resumed runs identical to uninterrupted ones
            net.generator = torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch) * 65_537 + int(idx[0]))
        out = net(inp, cfg.mode, cfg.T, cfg.bounded_output)
        loss = F.cross_entropy(out.output, torch.from_numpy(train_set.y[idx]))
        if cfg.rate_lambda is not None:
            loss = loss + rate_penalty(out.counts, cfg.rate_lambda, cfg.rate_target)
        return loss, predict(out.output.detach().numpy(), out.membrane[-1].detach().numpy())

    def test_accuracy() -> tuple[float, dict]:
        res = evaluate(net, test_set.x, test_set.y, cfg.T, cfg.mode, cfg.seed, encoding=cfg.encoding,
                       max_rate=cfg.max_rate, dtype=torch.float32)
        return res.accuracy, _activity(res)

    run = fit(net, step, test_accuracy, train_set.y, cfg, out_dir, resume=resume, progress=progress,
              stop_after=stop_after)
    final = None
    if run.complete:
        final = evaluate(net, test_set.x, test_set.y, cfg.T, cfg.mode, cfg.seed, encoding=cfg.encoding,
                         max_rate=cfg.max_rate)
        save_model(out_dir, net, {"T": cfg.T, "dataset": cfg.dataset, "mode": cfg.mode, "encoding": cfg.encoding,
                                  "max_rate": cfg.max_rate, "bias_mode": cfg.bias, "seed": cfg.seed,
                                  "split_seed": cfg.split_seed, "test_accuracy": final.accuracy})
    return run.write_metrics(final.accuracy if final else None,
                             **(_activity(final) if final else dict.fromkeys(_ACTIVITY_KEYS)))


_ACTIVITY_KEYS = ("spikes_per_neuron", "sops_per_sample", "sops_per_sample_by_population")


def _activity(res) -> dict:
    """Test-split activity of an Evaluation: spikes per neuron per sample per stage, SOPs per sample."""
    return {key: getattr(res, key) for key in _ACTIVITY_KEYS}


def config_from(dataset: str, arch: str, **overrides) -> TrainConfig:
    """A TrainConfig with the paper's defaults for ``dataset``; ``None`` overrides are ignored."""
    base = defaults_for(dataset)
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(dataset=dataset, arch=arch, **base)

