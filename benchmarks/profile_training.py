"""Where a training step's time goes: the parts of one ``aggregate`` step of the MNIST 784-800-10 trainer.

    PYTHONPATH=. python benchmarks/profile_training.py [--package learning] [--old-root DIR] [--batches 400]
        [--threads 1] [--clock cpu|wall]

Runs the parts of ``learning.train``'s step and ``learning.loop.fit``'s loop body one after another,
each timed on its own (batch 128, T = 50, seed 0, torch's default init): indexing the batch, the
encoder (counts of the seeded Bernoulli trains), forward, cross-entropy, decoding for the training
accuracy, the loss finiteness check, zero_grad, backward, fused Adam, the weights finiteness check
and the loss/accuracy bookkeeping. Medians over ``--batches`` batches after 10 warm-up batches, per
batch and extrapolated to a 60,000-image epoch. ``--clock cpu`` (process CPU time; with one thread
the figure other jobs on the machine disturb least) or ``wall``. ``--package``/``--old-root``: profile
an older copy of ``learning`` renamed to that package (as in ``compare_trainer.py``).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
MNIST = os.path.join(HERE, "..", "..", "shared", "data", "mnist")
PARTS = ("index", "encode", "forward", "loss", "decode", "loss finite", "zero_grad", "backward", "adam",
         "weights finite", "bookkeeping")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", default="learning")
    ap.add_argument("--old-root")
    ap.add_argument("--batches", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--data-dir", default=MNIST)
    a = ap.parse_args(argv)
    if a.old_root:
        sys.path.insert(0, a.old_root)
    torch.set_num_threads(a.threads)
    clock = time.process_time if a.clock == "cpu" else time.perf_counter
    train = importlib.import_module(f"{a.package}.train")
    loop = importlib.import_module(f"{a.package}.loop")
    model = importlib.import_module(f"{a.package}.model")
    from simcore import NeuronParams, predict

    cfg = train.config_from("mnist", "784-800-10", T=50, mode="aggregate", epochs=1, seed=0, data_dir=a.data_dir)
    data = importlib.import_module(f"{a.package}.datasets").load_dataset("mnist", "train", a.data_dir)
    torch.manual_seed(0)
    net = model.SpikingNet(importlib.import_module(f"{a.package}.spec").parse_spec(cfg.arch), 1.0,
                           neuron=NeuronParams(1.0))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, fused=True)
    perm = np.random.default_rng(0).permutation(len(data.y))
    times = {k: [] for k in PARTS}
    for b in range(10 + a.batches):
        idx = perm[(b * 128) % 59_904:][:128]
        t = [clock()]
        data.x[idx]
        t.append(clock())
        inp = train._inputs(cfg, data, idx, train.epoch_seed(0, 0))
        t.append(clock())
        out = net(inp, "aggregate", cfg.T, cfg.bounded_output)
        t.append(clock())
        loss = F.cross_entropy(out.output, torch.from_numpy(data.y[idx]))
        t.append(clock())
        pred = predict(out.output.detach().numpy(), out.membrane[-1].detach().numpy())
        t.append(clock())
        bool(torch.isfinite(loss))
        t.append(clock())
        opt.zero_grad(set_to_none=True)
        t.append(clock())
        loss.backward()
        t.append(clock())
        opt.step()
        t.append(clock())
        loop._finite(net)
        t.append(clock())
        _ = loss.item() * len(idx), int((pred == data.y[idx]).sum())
        t.append(clock())
        if b >= 10:
            for k, t0, t1 in zip(PARTS, t, t[1:]):
                times[k].append(t1 - t0)
    total = 0.0
    print(f"{a.package}, {a.threads} torch thread(s), {a.clock} clock, median of {a.batches} batches "
          f"(load {os.getloadavg()[0]:.2f})")
    for k in PARTS:
        ms = float(np.median(times[k])) * 1e3
        total += ms
        print(f"  {k:15s} {ms:7.3f} ms/batch  {ms * 469 / 1e3:6.3f} s/epoch")
    print(f"  {'sum':15s} {total:7.3f} ms/batch  {total * 469 / 1e3:6.3f} s/epoch")


if __name__ == "__main__":
    main()
