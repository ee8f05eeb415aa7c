"""Peer engines as independent checks of the NIR files (torch, nirtorch, Sinabs, snnTorch).

1. Our export, read back by ``nir.read`` and run by ``nirtorch.nir_to_torch`` with a node map onto
   Sinabs ``IAF(SingleSpike, MembraneSubtract, min_v_mem=None)`` (the paper's neuron: ``>=``,
   subtract, one spike per step, no floor), gives simcore's counts neuron by neuron. ``Affine`` is
   mapped here because nirtorch 2.6's default map keeps torch's random bias.
2. A network built and exported by snnTorch's own ``export_to_nir`` (Leaky, beta = 0.75), imported
   into simcore. snnTorch 1.0.0's exporter with nir 1.0.8 needs mends, applied here: type inference
   skipped during export, then the LIF parameters broadcast to arrays of the layer's shape (HDF5
   cannot chunk scalars) and the Input/Output types set without the batch axis (the exporter writes
   ``[1, n]`` or nothing, and ``nir.read`` re-runs type inference). A third mend records the reset
   mechanism, which the exporter drops (it writes every Leaky as ``LIF(v_reset=0)``, the same file
   for "zero" and "subtract"): a ``Leaky(reset_mechanism="subtract")`` becomes NIR's explicit loop
   ``LI -> Threshold(theta) -> Scale(-c) -> LI``, c = theta for ``reset_delay=True`` (snnTorch's
   subtraction after the leak: V = beta V + I - theta s(t-1)) and c = beta*theta for
   ``reset_delay=False`` (the subtraction at the spike, leaked with the potential). The loop rather
   than metadata on the LIF, because the loop is NIR's own semantics: any NIR consumer runs it
   as snnTorch does, with no convention to agree on (the metadata form, ``{"reset": "subtract",
   "reset_leak": "unleaked"}`` on the LIF, is read only by ``semantics="recorded"``; checked too).
   With dyadic weights simcore's import (NIR's semantics, its kernels) equals snnTorch's forward
   pass neuron by neuron for "zero" and for "subtract" with ``reset_delay=True`` (the default).
"""
import numpy as np
import pytest

nir = pytest.importorskip("nir")
torch = pytest.importorskip("torch")
nirtorch = pytest.importorskip("nirtorch")

from analysis.nir_peer import sinabs_harness  # noqa: E402
from simcore import simulate  # noqa: E402
from simcore.nir_export import write_nir  # noqa: E402
from simcore.nir_import import load_nir, nir_to_plan  # noqa: E402
from simcore_helpers import mlp, random_trains  # noqa: E402
from simcore_nir_reference import dyadic_cnn, run_plan  # noqa: E402


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_sinabs_runs_our_export_with_our_counts(kind, tmp_path):
    rng = np.random.default_rng(11)
    net = mlp(rng, [20, 16, 12, 6], bias_mode="current") if kind == "mlp" else dyadic_cnn(rng, "current")
    trains = random_trains(rng, 5, 25, net.size("input"), p=0.4)
    want = simulate(net, trains=trains).counts[net.output]
    write_nir(net, tmp_path / "net.nir")
    shape = net.shape("input")
    for s in range(len(trains)):
        model = sinabs_harness(tmp_path / "net.nir", len(trains[s]))  # starts from the initial state
        x = torch.as_tensor(trains[s].reshape(len(trains[s]), *shape), dtype=torch.float32)  # dyadic: exact
        out = model(x)
        out = out[0] if isinstance(out, tuple) else out
        np.testing.assert_array_equal(out.sum(0).detach().numpy().ravel(), want[s], err_msg=f"sample {s}")
    assert want.sum() > 0


# -- snnTorch's own exporter --------------------------------------------------------------------
def _snntorch_net(weights, reset, reset_delay=True):
    snn = pytest.importorskip("snntorch")
    (w1, b1), (w2, b2) = weights
    lin1, lin2 = torch.nn.Linear(*w1.shape[::-1]), torch.nn.Linear(*w2.shape[::-1])
    with torch.no_grad():
        for m, w, b in ((lin1, w1, b1), (lin2, w2, b2)):
            m.weight.copy_(torch.as_tensor(w))
            m.bias.copy_(torch.as_tensor(b))
    opts = dict(beta=0.75, reset_mechanism=reset, reset_delay=reset_delay, init_hidden=True)
    return torch.nn.Sequential(lin1, snn.Leaky(**opts), lin2, snn.Leaky(**opts, output=True))


def _snntorch_counts(net, trains) -> dict:
    """snnTorch's forward pass over trains (N, T, n_in): spike counts of every Leaky, keyed by its
    index in the Sequential (= its node name in the exported graph), (N, n) int64."""
    import snntorch.utils

    snntorch.utils.reset(net)
    x = torch.as_tensor(trains, dtype=torch.float32)
    leaky = {str(k): m for k, m in enumerate(net) if isinstance(m, snntorch.Leaky)}
    totals = {k: 0 for k in leaky}
    hooks = [m.register_forward_hook(lambda mod, i, out, k=k: totals.__setitem__(
        k, totals[k] + (out[0] if isinstance(out, tuple) else out))) for k, m in leaky.items()]
    try:
        with torch.no_grad():
            for t in range(x.shape[1]):
                net(x[:, t])
    finally:
        for h in hooks:
            h.remove()
    return {k: v.numpy().astype(np.int64) for k, v in totals.items()}


def _record_reset(graph, net, form="loop"):
    """Mend 3: write each Leaky's reset mechanism into the graph (module docstring), as ``form``
    "loop" (NIR's explicit subtraction loop) or "metadata" (on the LIF node)."""
    for k in [k for k, n in graph.nodes.items() if isinstance(n, nir.LIF)]:
        mod, lif = net[int(k)], graph.nodes[k]
        if mod.reset_mechanism != "subtract":
            continue
        leak = "unleaked" if mod.reset_delay else "leaked"
        if form == "metadata":
            lif.metadata = {"reset": "subtract", "reset_leak": leak}
            continue
        theta = np.asarray(lif.v_threshold)
        beta = mod.beta.detach().numpy()  # float32 0.75: exact
        graph.nodes.update({f"{k}_v": nir.LI(tau=lif.tau, r=lif.r, v_leak=lif.v_leak), k: nir.Threshold(theta),
                            f"{k}_reset": nir.Scale(-theta if leak == "unleaked" else -beta * theta)})
        graph.edges[:] = [(a, f"{k}_v" if b == k else b) for a, b in graph.edges]
        graph.edges.extend([(f"{k}_v", k), (k, f"{k}_reset"), (f"{k}_reset", f"{k}_v")])


def _export_mended(net, n_in, path, record="loop"):
    """snnTorch's export_to_nir with the mends of the module docstring (``record``: the form of
    mend 3, or None to leave the reset as the exporter writes it), written to path."""
    from snntorch.export_nir import export_to_nir

    infer = nir.NIRGraph.infer_types
    nir.NIRGraph.infer_types = lambda self: None  # mend 1: type inference fails inside the exporter
    try:
        graph = export_to_nir(net, torch.zeros(1, n_in))
    finally:
        nir.NIRGraph.infer_types = infer
    sizes = {k: n.weight.shape[0] for k, n in graph.nodes.items() if isinstance(n, nir.Affine)}
    for k, n in graph.nodes.items():
        if isinstance(n, nir.LIF):  # mend 2: scalars -> arrays of the layer's shape
            shape = (sizes[str(int(k) - 1)],)
            for f in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
                setattr(n, f, np.broadcast_to(np.asarray(getattr(n, f)), shape).copy())
    last = sizes[max(sizes, key=int)]
    graph.nodes["input"] = nir.Input(input_type={"input": np.array([n_in])})  # (mend 2: types without batch)
    graph.nodes["output"] = nir.Output(output_type={"output": np.array([last])})
    if record:
        _record_reset(graph, net, record)
    nir.write(str(path), graph)
    return graph


def _dyadic_weights(rng, sizes):
    q = lambda a: np.round(a * 64) / 64  # noqa: E731 -- multiples of 2**-6
    return [(q(rng.normal(0, 0.8, (n, m))).astype(np.float32), q(rng.normal(0, 0.2, n)).astype(np.float32))
            for m, n in zip(sizes[:-1], sizes[1:])]


# snnTorch computes tau = dt / (1 - beta) in float32 from its dt = 1e-4; importing at that float32 dt
# recovers beta = 0.75 exactly (at dt = 1e-4 in float64, beta = 0.74999999368...).
SNNTORCH_DT = float(np.float32(1e-4))


def _kernel_counts(path, trains, semantics="nir") -> dict:
    """simcore's kernels on the imported file: counts per population (named as snnTorch's nodes)."""
    net = load_nir(path, dt=SNNTORCH_DT, semantics=semantics)
    res = simulate(net, trains=trains, steps=trains.shape[1])
    return {p: res.counts[p] for p in net.populations[1:]}


def _assert_counts_equal(got: dict, want: dict):
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=f"population {k}")


def test_snntorch_export_imports_with_snntorchs_counts(tmp_path):
    """Leaky(beta=0.75, reset to zero) exported by snnTorch: simcore's import gives snnTorch's counts."""
    rng = np.random.default_rng(12)
    weights = _dyadic_weights(rng, [10, 8, 4])
    trains = random_trains(rng, 40, 30, 10, p=0.5)
    net = _snntorch_net(weights, "zero")
    _export_mended(net, 10, tmp_path / "snn.nir")
    plan = nir_to_plan(nir.read(str(tmp_path / "snn.nir")), dt=SNNTORCH_DT)
    assert all(p.neuron.beta == 0.75 and p.neuron.reset == "to_value" for p in plan.populations[1:])
    want = _snntorch_counts(net, trains)
    _assert_counts_equal(run_plan(plan, trains), {"input": trains.sum(1), **want})
    assert want["3"].sum() > 100
    # the same with reset_delay=False (snnTorch's importer's setting): identical too
    _assert_counts_equal(_snntorch_counts(_snntorch_net(weights, "zero", False), trains), want)
    _assert_counts_equal(_kernel_counts(tmp_path / "snn.nir", trains), want)  # simcore's kernels


@pytest.mark.parametrize("seed", [12, 13, 14])
def test_snntorch_subtract_with_its_reset_recorded_gives_its_counts(seed, tmp_path):
    """Leaky(beta=0.75, subtract, reset_delay=True): the exporter writes the same file as for reset to
    zero; with the reset recorded (mend 3) the import is reset_leak "unleaked" and simcore's kernels
    give snnTorch's counts, every neuron of both layers; the metadata form read with the recorded
    semantics too."""
    rng = np.random.default_rng(seed)
    weights = _dyadic_weights(rng, [10, 8, 4])
    trains = random_trains(rng, 40, 30, 10, p=0.5)
    sub = _snntorch_net(weights, "subtract")
    g_sub = _export_mended(sub, 10, tmp_path / "sub_as_exported.nir", record=None)
    g_zero = _export_mended(_snntorch_net(weights, "zero"), 10, tmp_path / "zero.nir", record=None)
    for k, n in g_sub.nodes.items():  # what snnTorch writes does not say "subtract"
        if isinstance(n, nir.LIF):
            for f in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
                np.testing.assert_array_equal(getattr(n, f), getattr(g_zero.nodes[k], f))
    want = _snntorch_counts(sub, trains)
    assert not np.array_equal(_kernel_counts(tmp_path / "sub_as_exported.nir", trains)["3"], want["3"])
    _export_mended(sub, 10, tmp_path / "sub.nir")
    plan = nir_to_plan(nir.read(str(tmp_path / "sub.nir")), dt=SNNTORCH_DT)
    assert [p.neuron.reset_leak for p in plan.populations[1:]] == ["unleaked", "unleaked"]
    _assert_counts_equal(_kernel_counts(tmp_path / "sub.nir", trains), want)
    _export_mended(sub, 10, tmp_path / "sub_meta.nir", record="metadata")
    _assert_counts_equal(_kernel_counts(tmp_path / "sub_meta.nir", trains, semantics="recorded"), want)
    assert want["1"].sum() > 100 and want["3"].sum() > 50
