"""Training cost of the spike-count rule against backpropagation through time (BPTT).

Same network (784-800-10 IF neurons, threshold 1, reset by subtraction), batch, T and Bernoulli
input for every method; one process per measurement so peak memory is its own:

* ``aggregate``: the spike-count rule on closed-form counts (Eqs. 6-7, 10-14);
* ``stepped``: the spike-count rule on explicit IF dynamics, gradient on aggregated currents;
* ``bptt``: snnTorch's ``Leaky`` neuron with ``beta=1`` (no leak: IF) and subtractive reset,
  unrolled over T steps with its default surrogate gradient, cross-entropy on output spike
  counts -- the widely used reference for spike-timing backpropagation.

Reported per method: median seconds per training step (forward, backward, Adam; input encoding
excluded) over ``steps`` steps after 3 warm-up steps, and peak memory as the growth of the
process's peak RSS over all the steps, warm-up included, above what it held once the model,
optimiser and input were set up (MiB): the activations and gradients a step needs. Run: ``python -m analysis.cost --T 10 50``.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

__all__ = ["measure", "compare", "require_snntorch"]

METHODS = ("aggregate", "stepped", "bptt")


def require_snntorch() -> None:
    """ValueError (one line) when snnTorch, the BPTT reference, is not installed."""
    import importlib.util

    if importlib.util.find_spec("snntorch") is None:
        raise ValueError("reproduce cost needs snnTorch for the BPTT reference: pip install -e '.[bench]' "
                         "(snntorch==1.0.0)")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(method: str, T: int, batch: int = 128, steps: int = 20, threads: int = 2, seed: int = 0) -> dict:
    """Time ``steps`` training steps of one method in this process (see the module docstring)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from learning.inputs import input_trains
    from learning.model import SpikingNet
    from learning.spec import parse_spec

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.random((batch, 784)) * (rng.random((batch, 784)) < 0.2)  # MNIST-like sparsity
    y = torch.from_numpy(rng.integers(0, 10, batch))
    trains = input_trains(x, T, seed)
    if method == "bptt":
        import snntorch as snn
        from torch import nn

        fc1, fc2 = nn.Linear(784, 800), nn.Linear(800, 10)
        lif1 = snn.Leaky(beta=1.0, threshold=1.0, reset_mechanism="subtract")
        lif2 = snn.Leaky(beta=1.0, threshold=1.0, reset_mechanism="subtract")
        params = list(fc1.parameters()) + list(fc2.parameters())

        def forward():
            m1, m2 = lif1.init_leaky(), lif2.init_leaky()
            count = 0
            for t in range(T):
                s1, m1 = lif1(fc1(trains[:, t]), m1)
                s2, m2 = lif2(fc2(s1), m2)
                count = count + s2
            return count
    elif method in ("aggregate", "stepped"):
        net = SpikingNet(parse_spec("784-800-10"))
        params = list(net.parameters())
        inp = trains if method == "stepped" else trains.sum(1)

        def forward():
            return net(inp, method, T).output
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    opt = torch.optim.Adam(params, lr=1e-3)
    times, rss0 = [], _rss_mib()
    for i in range(steps + 3):
        t0 = time.perf_counter()
        loss = F.cross_entropy(forward(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return {"method": method, "T": T, "batch": batch, "steps": steps, "threads": threads,
            "seconds_per_step": statistics.median(times), "peak_rss_growth_mib": _rss_mib() - rss0,
            "peak_rss_mib": _rss_mib()}


def compare(Ts=(10, 50), batch: int = 128, steps: int = 20, methods=METHODS) -> list[dict]:
    """One subprocess per (method, T); adds the ratios BPTT / spike-count rule."""
    if "bptt" in methods:
        require_snntorch()
    rows = []
    for T in Ts:
        for method in methods:
            cmd = [sys.executable, "-m", "analysis.cost", "--one", method, "--T", str(T), "--batch", str(batch),
                   "--steps", str(steps)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"cost measurement {method} T={T} failed: {done.stderr.strip().splitlines()[-1]}")
            rows.append(json.loads(done.stdout))
        bptt = next((r for r in rows if r["T"] == T and r["method"] == "bptt"), None)
        for r in rows:
            if bptt and r["T"] == T and r["method"] != "bptt":
                r["bptt_time_ratio"] = bptt["seconds_per_step"] / r["seconds_per_step"]
                r["bptt_memory_ratio"] = bptt["peak_rss_growth_mib"] / max(r["peak_rss_growth_mib"], 1e-9)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one", choices=METHODS, help=argparse.SUPPRESS)
    ap.add_argument("--T", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(measure(a.one, a.T[0], a.batch, a.steps)))
        return
    for r in compare(a.T, a.batch, a.steps):
        print(json.dumps(r))


if __name__ == "__main__":
    main()
