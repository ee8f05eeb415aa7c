"""Peer engines as independent checks of the NIR files (torch, nirtorch, Sinabs, snnTorch).

1. Our export, read back by ``nir.read`` and run by ``nirtorch.nir_to_torch`` with a node map onto
   Sinabs ``IAF(SingleSpike, MembraneSubtract, min_v_mem=None)`` (the paper's neuron: ``>=``,
   subtract, one spike per step, no floor), gives simcore's counts neuron by neuron. ``Affine`` is
   mapped here because nirtorch 2.6's default map keeps torch's random bias.
2. A network built and exported by snnTorch's own ``export_to_nir`` (Leaky, beta = 0.75), imported
   into simcore. snnTorch 1.0.0's exporter with nir 1.0.8 needs mends, applied here: type inference
   skipped during export, then the LIF parameters broadcast to arrays of the layer's shape (HDF5
   cannot chunk scalars) and the Input/Output types set without the batch axis (the exporter writes
   ``[1, n]`` or nothing, and ``nir.read`` re-runs type inference).
   The file's LIF says reset to ``v_reset = 0``: snnTorch writes no reset mechanism. simcore's import
   (NIR's semantics) equals snnTorch's forward pass exactly for ``Leaky(reset_mechanism="zero")``;
   for ``"subtract"`` it cannot (see ``test_snntorch_subtract_is_lost_by_its_exporter``).
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


def _snntorch_counts(net, trains):
    import snntorch.utils

    snntorch.utils.reset(net)
    x = torch.as_tensor(trains, dtype=torch.float32)
    total = 0
    with torch.no_grad():
        for t in range(x.shape[1]):
            spk, _ = net(x[:, t])
            total = total + spk
    return total.numpy().astype(np.int64)


def _export_mended(net, n_in, path):
    """snnTorch's export_to_nir with the mends nir 1.0.8 needs (module docstring), written to path."""
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
    graph.nodes["input"] = nir.Input(input_type={"input": np.array([n_in])})  # mend 3: types without batch
    graph.nodes["output"] = nir.Output(output_type={"output": np.array([last])})
    nir.write(str(path), graph)
    return graph


def _dyadic_weights(rng, sizes):
    q = lambda a: np.round(a * 64) / 64  # noqa: E731 -- multiples of 2**-6
    return [(q(rng.normal(0, 0.8, (n, m))).astype(np.float32), q(rng.normal(0, 0.2, n)).astype(np.float32))
            for m, n in zip(sizes[:-1], sizes[1:])]


# snnTorch computes tau = dt / (1 - beta) in float32 from its dt = 1e-4; importing at that float32 dt
# recovers beta = 0.75 exactly (at dt = 1e-4 in float64, beta = 0.74999999368...).
SNNTORCH_DT = float(np.float32(1e-4))


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
    got = run_plan(plan, trains)[plan.populations[-1].name]
    np.testing.assert_array_equal(got, want)
    assert want.sum() > 100
    # the same with reset_delay=False (snnTorch's importer's setting): identical too
    np.testing.assert_array_equal(got, _snntorch_counts(_snntorch_net(weights, "zero", False), trains))
    graph = load_nir(tmp_path / "snn.nir", dt=SNNTORCH_DT)  # and simcore's own kernels (leaky, strict >)
    np.testing.assert_array_equal(simulate(graph, trains=trains, steps=30).counts[graph.output], want)


def test_snntorch_subtract_is_lost_by_its_exporter(tmp_path):
    """Leaky(beta=0.75, subtract): the file is the same as for reset to zero (no reset field), so the
    import runs reset-to-zero and differs from snnTorch's forward pass. snnTorch's subtraction
    (V = beta V + I - theta s(t-1), reset_delay=True) is not simcore's leaked one either
    (V = beta (V - theta s(t-1)) + I), so no setting of the import could give its counts."""
    rng = np.random.default_rng(12)
    weights = _dyadic_weights(rng, [10, 8, 4])
    trains = random_trains(rng, 40, 30, 10, p=0.5)
    sub = _snntorch_net(weights, "subtract")
    g_sub = _export_mended(sub, 10, tmp_path / "sub.nir")
    g_zero = _export_mended(_snntorch_net(weights, "zero"), 10, tmp_path / "zero.nir")
    for k, n in g_sub.nodes.items():
        if isinstance(n, nir.LIF):
            for f in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
                np.testing.assert_array_equal(getattr(n, f), getattr(g_zero.nodes[k], f))
    plan = nir_to_plan(nir.read(str(tmp_path / "sub.nir")), dt=SNNTORCH_DT)
    got = run_plan(plan, trains)[plan.populations[-1].name]
    want = _snntorch_counts(sub, trains)
    assert np.mean(got == want) < 1.0  # differs, as it must
    assert got.sum() < want.sum()  # reset to zero throws away the surplus that subtraction keeps
