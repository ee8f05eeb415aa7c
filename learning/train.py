"""Training with the spike-count rule: cross-entropy on output spike counts (Eq. 8), Adam.

Reproducibility: the initial weights come from ``torch.manual_seed(seed)``; epoch ``e`` shuffles
with a generator seeded by ``(seed, e)`` and encodes its inputs with the encoder seed
``epoch_seed(seed, e)`` (sample ids = indices in the training split). Nothing else is random, so
a run resumed from the checkpoint of epoch ``e`` ends with the same weights as an uninterrupted
one. Test inputs are encoded with ``seed`` itself and sample ids 0..N-1, the trains that
``spikecount simulate`` regenerates for the same seed.

Checkpoint: ``checkpoint.safetensors`` (weights, Adam moments and steps; the epoch, history and
config in its metadata), written atomically after every epoch.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import safetensors.numpy
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from learning.datasets import Dataset, load_dataset
from learning.evaluate import evaluate
from learning.inputs import ENCODINGS, input_counts, input_trains
from learning.io import save_model, state_arrays
from learning.model import MODES, SpikingNet
from learning.spec import parse_spec
from simcore.decode import predict
from simcore.fileio import atomic_write, write_json
from simcore.provenance import environment

__all__ = ["TrainConfig", "defaults_for", "config_from", "train", "CHECKPOINT_FILE", "METRICS_FILE"]

CHECKPOINT_FILE = "checkpoint.safetensors"
METRICS_FILE = "metrics.json"
UCI = ("iris", "wbc", "abalone", "yeast")


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


def defaults_for(dataset: str) -> dict:
    """The paper's settings per data set (Sec. III): UCI lr 5e-4, N(0, 0.05) init, T 20; else lr 1e-3,
    torch's default init, T 50."""
    if dataset in UCI:
        return dict(T=20, lr=5e-4, init="normal", init_std=0.05, epochs=300, batch_size=16)
    if dataset == "digits":
        return dict(T=20, lr=1e-3, init="default", epochs=30, batch_size=64)
    return dict(T=50, lr=1e-3, init="default", epochs=30, batch_size=128)


def epoch_seed(seed: int, epoch: int) -> int:
    """Encoder seed of training epoch ``epoch`` (distinct from the test-encoding seed ``seed``)."""
    return (int(seed) + 1) * 1_000_003 + int(epoch)


def _inputs(cfg: TrainConfig, data: Dataset, idx: np.ndarray, seed: int) -> torch.Tensor:
    fn = input_trains if cfg.mode == "stepped" else input_counts
    return fn(data.x[idx], cfg.T, seed, cfg.encoding, cfg.max_rate, idx)


# -- checkpoints --------------------------------------------------------------------------------
def _save_checkpoint(path: Path, net, opt, epoch: int, history: list, cfg: TrainConfig) -> None:
    arrays = {f"model.{k}": v for k, v in state_arrays(net).items()}
    for i, p in enumerate(net.parameters()):
        st = opt.state.get(p)
        if st:
            arrays[f"adam.{i}.exp_avg"] = st["exp_avg"].numpy()
            arrays[f"adam.{i}.exp_avg_sq"] = st["exp_avg_sq"].numpy()
            arrays[f"adam.{i}.step"] = np.asarray(float(st["step"]), dtype=np.float64)
    meta = {"epoch": str(epoch), "history": json.dumps(history), "config": json.dumps(asdict(cfg))}
    data = safetensors.numpy.save(arrays, metadata=meta)
    atomic_write(path, lambda f: f.write(data))


def _load_checkpoint(path: Path, net, opt, cfg: TrainConfig) -> tuple[int, list]:
    try:
        with safetensors.safe_open(str(path), framework="numpy") as f:
            meta = f.metadata()
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        raise ValueError(f"{path}: corrupt checkpoint ({e})") from None
    saved = json.loads(meta["config"])
    for key in ("dataset", "arch", "T", "mode", "seed", "encoding", "theta"):
        if saved.get(key) != getattr(cfg, key):
            raise ValueError(f"{path}: checkpoint was made with {key}={saved.get(key)!r}, this run has {getattr(cfg, key)!r}")
    net.load_state_dict({k[6:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("model.")})
    for i, p in enumerate(net.parameters()):
        if f"adam.{i}.exp_avg" in arrays:
            opt.state[p] = {
                "step": torch.tensor(float(arrays[f"adam.{i}.step"])),
                "exp_avg": torch.from_numpy(arrays[f"adam.{i}.exp_avg"].copy()),
                "exp_avg_sq": torch.from_numpy(arrays[f"adam.{i}.exp_avg_sq"].copy()),
            }
    return int(meta["epoch"]), json.loads(meta["history"])


# -- the loop -----------------------------------------------------------------------------------
def train(cfg: TrainConfig, out_dir: str | os.PathLike, *, resume: bool = False, progress: bool = True,
          stop_after: int | None = None) -> dict:
    """Train, writing a checkpoint after every epoch, then model.json, weights and metrics.json.

    ``resume`` continues from out_dir's checkpoint. ``stop_after`` ends the run after that many
    epochs of this call (to simulate an interruption in tests). Returns the metrics dict.
    """
    cfg.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_set = load_dataset(cfg.dataset, "train", cfg.data_dir, split_seed=cfg.split_seed, limit=cfg.limit_train)
    test_set = load_dataset(cfg.dataset, "test", cfg.data_dir, split_seed=cfg.split_seed, limit=cfg.limit_test)
    arch = parse_spec(cfg.arch)
    if arch.n_inputs != train_set.x.shape[1]:
        raise ValueError(f"arch {cfg.arch!r} takes {arch.n_inputs} inputs, {cfg.dataset} has {train_set.x.shape[1]} features")
    if arch.n_classes != train_set.n_classes:
        raise ValueError(f"arch {cfg.arch!r} has {arch.n_classes} outputs, {cfg.dataset} has {train_set.n_classes} classes")

    torch.manual_seed(cfg.seed)
    net = SpikingNet(arch, cfg.theta, cfg.init, cfg.init_std)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    start, history = 0, []
    ckpt = out / CHECKPOINT_FILE
    if resume:
        if not ckpt.is_file():
            raise ValueError(f"--resume: no checkpoint in {out}")
        start, history = _load_checkpoint(ckpt, net, opt, cfg)

    n = len(train_set.y)
    for epoch in range(start, cfg.epochs):
        if stop_after is not None and epoch - start >= stop_after:
            break
        for group in opt.param_groups:
            group["lr"] = cfg.lr * cfg.lr_decay**epoch
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)).numpy()
        net.train()
        loss_sum, correct = 0.0, 0
        bar = tqdm(range(0, n, cfg.batch_size), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress,
                   leave=False, unit="batch")
        for lo in bar:
            idx = perm[lo : lo + cfg.batch_size]
            inp = _inputs(cfg, train_set, idx, epoch_seed(cfg.seed, epoch))
            target = torch.from_numpy(train_set.y[idx])
            out_fwd = net(inp, cfg.mode, cfg.T, cfg.bounded_output)
            loss = F.cross_entropy(out_fwd.output, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            pred = predict(out_fwd.output.detach().numpy(), out_fwd.membrane[-1].detach().numpy())
            correct += int((pred == train_set.y[idx]).sum())
            bar.set_postfix(loss=f"{loss_sum / (lo + len(idx)):.4f}", acc=f"{correct / (lo + len(idx)):.4f}")
        train_seconds = time.perf_counter() - t0
        test = evaluate(net, test_set.x, test_set.y, cfg.T, cfg.mode, cfg.seed, encoding=cfg.encoding,
                        max_rate=cfg.max_rate, dtype=torch.float32)
        history.append({
            "epoch": epoch + 1, "loss": loss_sum / n, "train_accuracy": correct / n,
            "test_accuracy": test.accuracy, "train_seconds": train_seconds,
            "seconds": time.perf_counter() - t0,
        })
        if progress:
            tqdm.write(f"epoch {epoch + 1}/{cfg.epochs}  loss {loss_sum / n:.4f}  train {correct / n:.4f}  "
                       f"test {test.accuracy:.4f}  ({history[-1]['seconds']:.1f} s)")
        _save_checkpoint(ckpt, net, opt, epoch + 1, history, cfg)

    done = bool(history) and history[-1]["epoch"] == cfg.epochs
    final = evaluate(net, test_set.x, test_set.y, cfg.T, cfg.mode, cfg.seed, encoding=cfg.encoding,
                     max_rate=cfg.max_rate) if done else None
    metrics = {
        "test_accuracy": final.accuracy if final else None,
        "train_accuracy": history[-1]["train_accuracy"] if history else None,
        "complete": done,
        "epochs_done": len(history),
        "spikes_per_neuron": final.spikes_per_neuron if final else None,
        "history": history,
        "wall_seconds": sum(h["seconds"] for h in history),
        "config": asdict(cfg),
        "seed": cfg.seed,
        "samples": {"train": n, "test": len(test_set.y)},
        **environment(),
    }
    if done:
        save_model(out, net, {"T": cfg.T, "dataset": cfg.dataset, "mode": cfg.mode, "encoding": cfg.encoding,
                              "max_rate": cfg.max_rate, "bias_mode": "initial", "seed": cfg.seed,
                              "split_seed": cfg.split_seed, "test_accuracy": final.accuracy})
    write_json(out / METRICS_FILE, metrics)
    return metrics


def config_from(dataset: str, arch: str, **overrides) -> TrainConfig:
    """A TrainConfig with the paper's defaults for ``dataset``; ``None`` overrides are ignored."""
    base = defaults_for(dataset)
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(dataset=dataset, arch=arch, **base)

