"""snnTorch's own NIR export imported into simcore, against snnTorch's forward pass (docs/results.md).

A dyadic 100-64-10 network of snnTorch ``Leaky(beta=0.75)`` neurons, exported by snnTorch 1.0.0's
``export_to_nir`` with the mends of tests/simcore/test_nir_peers.py, imported with NIR's semantics
at snnTorch's float32 dt; counts compared neuron by neuron with snnTorch's forward pass for each of
its reset settings, on 1,000 random input trains (p = 0.3, T = 50). For snnTorch's subtractive
reset also the counts simcore would give had the file said "subtract" (simcore's subtraction is
leaked with the potential: V = beta (V - theta s(t-1)) + I; snnTorch's is not: V = beta V + I -
theta s(t-1)).

    PYTHONPATH=. python benchmarks/nir_snntorch.py --out docs/data/nir_snntorch.json
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "simcore"))


def _agreement(ours, theirs) -> dict:
    return {"count_agreement": float(np.mean(ours == theirs)),
            "prediction_agreement": float(np.mean(ours.argmax(1) == theirs.argmax(1))),
            "spikes_simcore_import": int(ours.sum()), "spikes_snntorch": int(theirs.sum())}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--T", type=int, default=50)
    a = p.parse_args(argv)
    import conftest  # noqa: F401 -- registers the reference helpers
    import nir
    from simcore.nir_import import nir_to_plan
    from simcore_nir_reference import run_plan
    from test_nir_peers import SNNTORCH_DT, _dyadic_weights, _export_mended, _snntorch_counts, _snntorch_net

    rng = np.random.default_rng(0)
    sizes = [100, 64, 10]
    weights = _dyadic_weights(rng, sizes)
    trains = rng.random((a.n, a.T, sizes[0])) < 0.3
    res = {"network": "100-64-10 Leaky(beta=0.75), weights multiples of 2**-6", "images": a.n, "T": a.T}
    with tempfile.TemporaryDirectory() as tmp:
        for reset, delay in (("zero", True), ("zero", False), ("subtract", True), ("subtract", False)):
            net = _snntorch_net(weights, reset, delay)
            path = os.path.join(tmp, f"{reset}.nir")
            _export_mended(net, sizes[0], path)
            plan = nir_to_plan(nir.read(path), dt=SNNTORCH_DT)
            ours = run_plan(plan, trains)[plan.populations[-1].name]
            theirs = _snntorch_counts(net, trains)
            res[f"{reset}, reset_delay={delay}"] = _agreement(ours, theirs)
            if reset == "subtract":  # had the file said "subtract": simcore's (leaked) subtraction
                for pop in plan.populations[1:]:
                    pop.neuron = dataclasses.replace(pop.neuron, reset="subtract")
                leaked = run_plan(plan, trains)[plan.populations[-1].name]
                res[f"{reset}, reset_delay={delay}, imported as simcore's subtract"] = _agreement(leaked, theirs)
    from bench_report import dump_result

    return dump_result(res, a.out)


if __name__ == "__main__":
    main()
