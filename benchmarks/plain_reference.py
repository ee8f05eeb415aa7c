"""A plain implementation of the spike-count rule, to time spikecount's trainer against on the same machine.

What the issue's speed reference describes: about 30 lines of torch; ``aggregate`` mode with input
counts sampled directly as binomial counts (``torch.binomial``: the trains' count distribution),
or ``stepped`` mode with Bernoulli trains and a per-step loop of the IF equations (backward at the
aggregated currents); Eq. 7 forward and Eq. 10 backward, cross-entropy, Adam; MNIST 784-800-10,
batch 128, 2 threads.
It has none of the trainer's extras (seeded counter-based encoder, tie-aware decoding for the
training accuracy, bounded output gradient, checkpoints). Usage::

    python benchmarks/plain_reference.py --data-dir ../shared/data/mnist --T 50 [--mode stepped]

Prints the seconds of its second epoch (the first warms up) as JSON.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn


class SpikeCount(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, T):
        ctx.save_for_backward(z)
        return torch.clamp(torch.floor(z), 0, T)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * (z > 0).to(g.dtype), None


class Counts(torch.autograd.Function):
    """Counts from the IF dynamics forward, Eq. 10 at the aggregated current z backward."""

    @staticmethod
    def forward(ctx, z, counts):
        ctx.save_for_backward(z)
        return counts

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * (z > 0).to(g.dtype), None


def stepped(layers, trains):
    """trains (T, B, 784) -> output counts (B, 10); V(0) = b, reset by subtraction, theta 1."""
    s_in, a_in = trains, trains.sum(0)
    for layer in layers:
        with torch.no_grad():
            v = layer.bias.expand(s_in.shape[1], -1).clone()
            spikes = []
            for t in range(s_in.shape[0]):
                v += s_in[t] @ layer.weight.T
                s = (v >= 1).to(v.dtype)
                v -= s
                spikes.append(s)
            s_in = torch.stack(spikes)
        a_in = Counts.apply(layer(a_in), s_in.sum(0))
    return a_in


def epoch_seconds(x: torch.Tensor, y: torch.Tensor, T: int, mode: str, epochs: int = 2) -> float:
    torch.manual_seed(0)
    l1, l2 = nn.Linear(784, 800), nn.Linear(800, 10)
    opt = torch.optim.Adam([*l1.parameters(), *l2.parameters()], lr=1e-3)
    for _ in range(epochs):
        t0 = time.perf_counter()
        for idx in torch.randperm(len(y)).split(128):
            if mode == "aggregate":
                counts = torch.binomial(torch.full((len(idx), 784), float(T)), x[idx])
                out = SpikeCount.apply(l2(SpikeCount.apply(l1(counts), T)), T)
            else:
                out = stepped((l1, l2), torch.bernoulli(x[idx].expand(T, -1, -1)))
            loss = F.cross_entropy(out, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--mode", choices=("aggregate", "stepped"), default="aggregate")
    ap.add_argument("--batches", type=int, help="epochs of only this many batches (extrapolated)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    from learning.datasets import load_dataset

    data = load_dataset("mnist", "train", a.data_dir)
    n = len(data.y) if a.batches is None else 128 * a.batches
    s = epoch_seconds(torch.from_numpy(data.x[:n]), torch.from_numpy(data.y[:n]).long(), a.T, a.mode)
    per_batch = s / -(-n // 128)
    print(json.dumps({"method": "plain reference", "mode": a.mode, "T": a.T, "batches": -(-n // 128),
                      "seconds_per_batch": per_batch, "seconds_per_epoch": per_batch * 469}))


if __name__ == "__main__":
    main()
