"""snnTorch's own NIR export imported into simcore, against snnTorch's forward pass (docs/results.md).

A dyadic 100-64-10 network of snnTorch ``Leaky(beta=0.75)`` neurons, exported by snnTorch 1.0.0's
``export_to_nir`` with the mends of tests/simcore/test_nir_peers.py, imported with NIR's semantics
at snnTorch's float32 dt and run by simcore's kernels; spike counts compared neuron by neuron (both
layers) with snnTorch's forward pass for each of its reset settings, on random input trains
(default 1,000 trains, p = 0.3, T = 50). Per setting: the file as the exporter writes it (mends 1-2),
with the reset recorded as NIR's subtraction loop (mend 3), and for "subtract" also as LIF metadata
read with ``semantics="recorded"``. For ``reset_delay=False`` it also counts the trains in which
some snnTorch neuron ends a step with its reset potential still above threshold (where snnTorch's
"avoid double reset" rule departs from a plain subtraction), whether every mismatch lies there, and
the counts of that rule written out in numpy (:func:`_double_reset_rule`).

    PYTHONPATH=. python benchmarks/nir_snntorch.py --out docs/data/nir_snntorch.json
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "simcore"))

from bench_report import add_output_args, check_outputs, print_and_write, run_script  # noqa: E402


def _agreement(ours: dict, theirs: dict) -> dict:
    out = {f"counts_equal_layer_{k}": float(np.mean(ours[k] == theirs[k])) for k in sorted(theirs)}
    last = max(theirs, key=int)
    out["samples_all_counts_equal"] = float(np.mean([all(np.array_equal(ours[k][s], theirs[k][s]) for k in theirs)
                                                     for s in range(len(theirs[last]))]))
    out["predictions_equal"] = float(np.mean(ours[last].argmax(1) == theirs[last].argmax(1)))
    out["spikes_ours"] = int(sum(v.sum() for v in ours.values()))
    out["spikes_snntorch"] = int(sum(v.sum() for v in theirs.values()))
    return out


def _above_after_reset(net, trains) -> np.ndarray:
    """(N,) bool: some Leaky of ``net`` ends a step with its potential (after reset) above threshold."""
    import snntorch
    import snntorch.utils
    import torch

    snntorch.utils.reset(net)
    flags = np.zeros(len(trains), dtype=bool)
    leaky = [m for m in net if isinstance(m, snntorch.Leaky)]
    with torch.no_grad():
        for t in range(trains.shape[1]):
            net(torch.as_tensor(trains[:, t], dtype=torch.float32))
            for m in leaky:
                flags |= (m.mem > m.threshold).reshape(len(trains), -1).any(1).numpy()
    return flags


def _double_reset_rule(weights, trains) -> dict:
    """Counts per layer of the rule snnTorch's ``reset_delay=False`` subtraction works out to (float64):
    A = beta U(t-1) + I(t); r = U(t-1) > theta; s = A - r theta > theta; U(t) = A - s theta. It is
    simcore's leaked subtraction except that a neuron whose potential after a reset is still above
    threshold needs A > 2 theta to fire again (snnTorch's "avoid double reset")."""
    x, out = trains.astype(np.float64), {}
    for k, (w, b) in zip(("1", "3"), weights):
        current = x @ w.T.astype(np.float64) + b
        U, spikes = np.zeros(current[:, 0].shape), np.zeros_like(current)
        for t in range(current.shape[1]):
            A = 0.75 * U + current[:, t]
            spikes[:, t] = (A - (U > 1.0)) > 1.0
            U = A - spikes[:, t]
        out[k], x = spikes.sum(1).astype(np.int64), spikes
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--T", type=int, default=50)
    add_output_args(p, required=True)
    a = p.parse_args(argv)
    check_outputs(p, a)
    import conftest  # noqa: F401 -- registers the reference helpers
    from test_nir_peers import _dyadic_weights, _export_mended, _kernel_counts, _snntorch_counts, _snntorch_net

    rng = np.random.default_rng(0)
    sizes = [100, 64, 10]
    weights = _dyadic_weights(rng, sizes)
    trains = rng.random((a.n, a.T, sizes[0])) < 0.3
    res = {"network": "100-64-10 Leaky(beta=0.75), weights and biases multiples of 2**-6", "trains": a.n, "T": a.T,
           "engine": "simcore kernels (sync) on the imported file; snnTorch 1.0.0 forward pass, float32"}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for reset, delay in (("zero", True), ("zero", False), ("subtract", True), ("subtract", False)):
            net = _snntorch_net(weights, reset, delay)
            theirs = _snntorch_counts(net, trains)
            row = {}
            forms = [("as exported (mends 1-2)", None, "nir"), ("reset recorded as the NIR loop", "loop", "nir")]
            if reset == "subtract":
                forms.append(("reset recorded as LIF metadata, --semantics recorded", "metadata", "recorded"))
            for label, record, semantics in forms:
                path = os.path.join(tmp, f"{reset}_{delay}_{record}.nir")
                _export_mended(net, sizes[0], path, record=record)
                ours = _kernel_counts(path, trains, semantics)
                row[label] = _agreement(ours, theirs)
                if record == "loop":
                    mismatch = np.array([any(not np.array_equal(ours[k][s], theirs[k][s]) for k in theirs)
                                         for s in range(a.n)])
            if reset == "subtract" and not delay:
                above = _above_after_reset(net, trains)
                row["trains with a potential above threshold after a reset"] = int(above.sum())
                row["mismatching trains (loop) outside those"] = int((mismatch & ~above).sum())
                row["the double-reset rule in numpy"] = _agreement(_double_reset_rule(weights, trains), theirs)
            res[f"{reset}, reset_delay={delay}"] = row
    res["wall_seconds"] = round(time.perf_counter() - t0, 1)
    res["load_average_1min"] = round(os.getloadavg()[0], 2)
    return print_and_write(a, res)


if __name__ == "__main__":
    run_script(main)
