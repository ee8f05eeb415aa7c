"""Sync and async wall times of a trained model on MNIST test images, alternating, one thread (17.16).

    PYTHONPATH=. python docs/data/final11/sync_async_times.py --model /work/models/mlp_T50 [--n 1000]
"""
import argparse
import time

import numpy as np

import simcore
from learning.datasets import load_dataset
from learning.models import load

ap = argparse.ArgumentParser()
ap.add_argument("--model", default="/work/models/mlp_T50")
ap.add_argument("--data-dir", default="/work/shared/data/mnist")
ap.add_argument("--n", type=int, default=1000)
args = ap.parse_args()
net = load(args.model).graph
d = load_dataset("mnist", "test", args.data_dir, limit=args.n)
x = np.asarray(d.x, dtype=np.float64).reshape(len(d.y), -1)
for mode in ["sync", "async"] * 3:
    t0 = time.perf_counter()
    simcore.simulate(net, x, T=50, seed=0, mode=mode, threads=1)
    print(mode, round(time.perf_counter() - t0, 3))
