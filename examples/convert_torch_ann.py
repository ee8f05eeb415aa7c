"""Convert your own torch CNN (with batch norm) and find the T it needs in the spiking simulator.

    python examples/convert_torch_ann.py [--small] [--out DIR]

Trains a small torch CNN (Conv-BN-ReLU-AvgPool-Conv-BN-ReLU-Flatten-Dropout-Linear) on the 8x8
digits, converts it (batch norm folded, robust normalisation), simulates it in simcore at growing
T and prints the smallest T whose accuracy is within 1 point of the ANN's. It also saves the
state dict as safetensors and shows the equivalent command line.
``--small`` (or SPIKECOUNT_EXAMPLE_SMALL=1): fewer epochs and test samples, for the test suite.
"""
import os
import time

import numpy as np
import safetensors.torch
import torch
from torch import nn

import baselines
import learning
from simcore import simulate
from _example import example_args, example_parser


def train_cnn(x: torch.Tensor, y: torch.Tensor, epochs: int) -> nn.Module:
    """Your own ANN: any torch training loop; here Adam on cross-entropy, seed 0."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(2),
                              nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.Flatten(), nn.Dropout(0.1),
                              nn.Linear(64, 10))
        opt = torch.optim.Adam(model.parameters(), 3e-3)
        for _ in range(epochs):
            model.train()
            for idx in torch.randperm(len(y)).split(32):
                loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    return model.eval()


def main() -> None:
    a = example_args(example_parser(__doc__))
    t0 = time.perf_counter()
    epochs, n_test, windows = (4, 200, (10, 20, 50, 100)) if a.small else (15, 450, (10, 20, 50, 100, 200, 400))

    train = learning.load_dataset("digits", "train")
    test = learning.load_dataset("digits", "test", limit=n_test)
    model = train_cnn(torch.from_numpy(train.x).reshape(-1, 1, 8, 8), torch.from_numpy(train.y), epochs)
    with torch.no_grad():
        ann = float(np.mean(model(torch.from_numpy(test.x).reshape(-1, 1, 8, 8)).argmax(1).numpy() == test.y))
    print(f"torch CNN test accuracy {ann:.4f}")

    graph, lambdas, _ = baselines.convert_torch(model, (1, 8, 8), "robust", train.x)
    print("scale factors (robust, 99.9th percentile):", ", ".join(f"{v:.3g}" for v in lambdas))
    needed = None
    for T in windows:
        res = simulate(graph, test.x.astype(np.float64), T, seed=0)
        acc = float(np.mean(res.predictions == test.y))
        print(f"T={T:4d}  SNN accuracy {acc:.4f}  ({acc - ann:+.4f} against the ANN)  "
              f"{res.total_sops.mean():.0f} SOPs per sample")
        if needed is None and acc >= ann - 0.01:
            needed = T
    print(f"smallest T within 1 point of the ANN: {needed}")

    state = os.path.join(a.out, "cnn.safetensors")
    safetensors.torch.save_file(model.state_dict(), state)
    print("same from the command line:\n  spikecount convert --torch-state", state,
          "--arch 1x8x8-8c3p1-bn-relu-2a-16c3-bn-relu-flatten-drop-10 --dataset digits --norm robust --out DIR")
    print(f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
