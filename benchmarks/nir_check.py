"""NIR measurements on a trained or converted model (docs/results.md, "NIR in and out").

For a model directory, on the first ``--limit`` test images (the model's own seeded Bernoulli
trains, generated once and fed to every engine):

* ``roundtrip_recorded``: export (IF + metadata), import with the recorded semantics, simcore.
* ``roundtrip_exact``: ``--exact`` export, import with NIR's own semantics, simcore (for an
  initial-bias model this drops V(0) = b: the predictions that change are the cost of NIR).
* ``nir_semantics_if``: the IF export run with NIR's own semantics (strict ``>``, reset to 0, no
  initial bias).
Imports whose neuron simcore's kernels do not have yet (strict ``>``, reset to a value: until the
NeuronParams network lands) run in the numpy reference of ``tests/simcore/nir_reference.py``
(``engine`` says which, on the first ``--reference-limit`` images).
* ``peer_sinabs`` (``--peers``): the IF export run by nirtorch + Sinabs IAF(SingleSpike,
  MembraneSubtract, no floor), the harness of tests/simcore/test_nir_peers.py, batched.
* ``stock`` (``--stock``): the stock importers of Norse, Sinabs and snnTorch on the IF export.

Each comparison against simcore's counts of the original model: the fraction of (image, neuron)
counts equal per population (output only for the peers), and the fraction of predictions equal
(prediction = the output neuron with the most spikes, lowest index on ties, for every engine).

    PYTHONPATH=. python benchmarks/nir_check.py --model runs/nir/mlp_T50_current --data-dir DIR \\
        --limit 10000 --peers --stock --out docs/data/nir_mlp_T50_current.json
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "simcore"))  # the numpy references (not a package)

from bench_report import add_output_args, check_outputs, print_and_write, run_script  # noqa: E402

CHUNK = 250


def counts_simcore(net, trains):
    from simcore import simulate

    out = {p: [] for p in net.populations[1:]}
    for lo in range(0, len(trains), 1000):
        res = simulate(net, trains=trains[lo:lo + 1000], steps=trains.shape[1])
        for p in out:
            out[p].append(res.counts[p])
    return {p: np.concatenate(v) for p, v in out.items()}


def counts_reference(plan, trains):
    import conftest  # noqa: F401 -- registers simcore_reference / simcore_nir_reference
    from simcore_nir_reference import run_plan

    parts = [run_plan(plan, trains[lo:lo + CHUNK]) for lo in range(0, len(trains), CHUNK)]
    return {p.name: np.concatenate([c[p.name] for c in parts]) for p in plan.populations[1:]}


def counts_imported(path, trains, want, semantics, n_ref):
    """Import a file and compare with simcore's counts ``want``: in simcore where its kernels have the
    neuron, else in the numpy reference on the first n_ref images."""
    import nir
    from simcore.nir_import import nir_to_plan
    from simcore.nir_plan import NirError

    plan = nir_to_plan(nir.read(path), semantics=semantics)
    out = plan.populations[-1].name
    try:
        return {"engine": "simcore", **compare(want, counts_simcore(plan.network(), trains), out)}
    except NirError:
        sub = {k: v[:n_ref] for k, v in want.items()}
        return {"engine": "numpy reference", "images": n_ref,
                **compare(sub, counts_reference(plan, trains[:n_ref]), out)}


def compare(want: dict, got: dict, output: str) -> dict:
    """Fractions of equal counts per population and of equal predictions."""
    res = {"count_agreement": {p: float(np.mean(want[p] == got[p])) for p in got if p in want}}
    res["prediction_agreement"] = float(np.mean(want[output].argmax(1) == got[output].argmax(1)))
    return res


def counts_torch(run, trains, shape, batch=50):
    import torch

    out = []
    with torch.no_grad():
        for lo in range(0, len(trains), batch):
            x = torch.as_tensor(trains[lo:lo + batch], dtype=torch.float32)
            out.append(run(x, shape))
    return np.concatenate(out)


def stock_importers(path, trains, shape):
    """Output counts (N, C) per stock importer, or the error it raised."""
    import nir

    def norse(x, shape):
        import norse.torch as nt

        m, state, total = nt.from_nir(nir.read(str(path))), None, 0
        for t in range(x.shape[1]):
            out, state = m(x[:, t].reshape(len(x), *shape), state)
            total = total + out
        return total.reshape(len(x), -1).numpy()

    def sinabs(x, shape):
        import sinabs as sn

        m = sn.from_nir(nir.read(str(path)), batch_size=len(x), num_timesteps=x.shape[1])
        out = m(x.reshape(-1, *shape))
        out = out[0] if isinstance(out, tuple) else out
        return out.reshape(len(x), x.shape[1], -1).sum(1).numpy()

    def snntorch(x, shape):
        from snntorch.import_nir import import_from_nir

        m, total = import_from_nir(nir.read(str(path))), 0
        for t in range(x.shape[1]):
            out = m(x[:, t].reshape(len(x), *shape))
            total = total + (out[0] if isinstance(out, tuple) else out)
        return total.reshape(len(x), -1).numpy()

    res = {}
    # Norse applies Flatten(start_dim=0) verbatim, flattening the batch axis too: one image at a time
    for name, fn, batch in (("norse", norse, 1), ("sinabs", sinabs, 50), ("snntorch", snntorch, 50)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res[name] = counts_torch(fn, trains, shape, batch)
        except Exception as e:  # a stock importer's failure is a measured result
            res[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
    return res


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data-dir")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--reference-limit", type=int, help="images for nir_semantics_if (default: --limit)")
    p.add_argument("--peers", action="store_true")
    p.add_argument("--stock", type=int, default=0, help="images for the stock importers (0: skip)")
    add_output_args(p, required=True)
    a = p.parse_args(argv)
    check_outputs(p, a)

    from learning.datasets import load_dataset
    from learning.export import export_nir
    from learning.models import load
    from simcore.encoding import bernoulli_trains

    loaded = load(a.model)
    net, meta = loaded.graph, loaded.meta
    data = load_dataset(meta["dataset"], "test", a.data_dir, split_seed=int(meta.get("split_seed", 0)), limit=a.limit)
    T, out = int(meta["T"]), net.output
    trains = bernoulli_trains(data.x.astype(np.float64), T, int(meta.get("seed", 0)), float(meta.get("max_rate", 1.0)))
    shape = net.shape(net.input_population)
    t0 = time.perf_counter()
    want = counts_simcore(net, trains)
    res = {"model": a.model, "images": len(trains), "T": T, "bias_mode": net.population(out).neuron.bias_mode,
           "simcore_accuracy": float(np.mean(want[out].argmax(1) == data.y))}
    with tempfile.TemporaryDirectory() as tmp:
        f_if, f_exact = os.path.join(tmp, "if.nir"), os.path.join(tmp, "exact.nir")
        res["warnings_if"] = export_nir(a.model, f_if)
        res["warnings_exact"] = export_nir(a.model, f_exact, exact=True)
        n_ref = a.reference_limit or len(trains)
        res["roundtrip_recorded"] = counts_imported(f_if, trains, want, "recorded", n_ref)
        res["roundtrip_exact"] = counts_imported(f_exact, trains, want, "nir", n_ref)
        res["nir_semantics_if"] = counts_imported(f_if, trains, want, "nir", n_ref)
        if a.peers:
            from analysis.nir_peer import sinabs_harness

            model = sinabs_harness(f_if, T)
            got = counts_torch(lambda x, s: model(x.reshape(-1, *s))[0].reshape(len(x), T, -1).sum(1).numpy(),
                               trains, shape)
            res["peer_sinabs"] = compare({out: want[out]}, {out: got}, out)
        if a.stock:
            n = a.stock
            res["stock"] = {"images": n}
            for name, got in stock_importers(f_if, trains[:n], shape).items():
                res["stock"][name] = got if isinstance(got, str) else compare({out: want[out][:n]}, {out: got}, out)
    res["seconds"] = time.perf_counter() - t0
    return print_and_write(a, res)


if __name__ == "__main__":
    run_script(main)
