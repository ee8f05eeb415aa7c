"""Dask's nanny starts each worker with MALLOC_TRIM_THRESHOLD_=65536 (distributed.yaml,
``distributed.nanny.pre-spawn-environ``); setting it turns off glibc's adaptive mmap threshold, so
every allocation over 128 KiB becomes a fresh mmap (and page faults). This times the same work in
the parent, in a worker started the Dask default way, and in a worker started as the runner starts
them (analysis.runner.backend.NANNY_UNSET). Thread CPU seconds, so other load does not count.

    PYTHONPATH=. python docs/data/issue16/malloc_trim.py
"""
import sys


def work():
    import os
    import time

    import numpy as np
    import torch

    torch.set_num_threads(1)
    out = {"MALLOC_TRIM_THRESHOLD_": os.environ.get("MALLOC_TRIM_THRESHOLD_")}
    z = np.full(100_000, 1e-3)  # 800 KB arrays: an MNIST batch of 128 x 784 float64 is 803 KB
    t = time.thread_time()
    for _ in range(200):
        z * 0.9 + z
    out["numpy 800 KB, 200x (s)"] = round(time.thread_time() - t, 4)
    x = torch.rand(128, 784)
    w = torch.rand(800, 784, requires_grad=True)
    t = time.thread_time()
    for _ in range(50):
        (x @ w.T).relu().sum().backward()
    out["torch 128x784 @ 784x800 fwd+bwd, 50x (s)"] = round(time.thread_time() - t, 4)
    return out


if __name__ == "__main__":
    from distributed import Client, LocalCluster

    from analysis.runner.backend import WORKER_ENV, _connect

    print("parent          ", work())
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      env=WORKER_ENV) as cl, Client(cl) as c:
        print("worker, Dask default", c.submit(work, pure=False).result())
    with _connect(1, None) as c:  # the runner's cluster (also undoes the variable the first one leaked)
        print("worker, runner      ", c.submit(work, pure=False).result())
    sys.stdout.flush()
