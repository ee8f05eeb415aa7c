"""NIR export and import: exact counts against simcore's engine and two independent references."""
import numpy as np
import pytest

nir = pytest.importorskip("nir")

from simcore import simulate  # noqa: E402
from simcore.neuron import NeuronParams  # noqa: E402
from simcore.nir_export import to_nir, write_nir  # noqa: E402
from simcore.nir_import import load_nir, nir_to_plan  # noqa: E402
from simcore.nir_plan import NirError, Plan, lattice_step  # noqa: E402
from simcore_helpers import dyadic, mlp, random_trains  # noqa: E402
from simcore_nir_reference import dyadic_cnn, run_nir, run_plan  # noqa: E402


def nets(rng, bias_mode):
    return {"mlp": mlp(rng, [12, 9, 7, 4], bias_mode=bias_mode), "cnn": dyadic_cnn(rng, bias_mode),
            "delayed": mlp(rng, [12, 9, 7, 4], bias_mode=bias_mode, delays=[1, 0, 2])}


def engine_counts(net, trains):
    """simcore's counts over the input window only (the references simulate T steps)."""
    res = simulate(net, trains=trains, steps=trains.shape[1])
    return {p: res.counts[p] for p in net.populations}


def roundtrip(net, tmp_path, exact, semantics):
    path = tmp_path / "net.nir"
    write_nir(net, path, exact=exact)
    return nir.read(str(path)), nir_to_plan(nir.read(str(path)), semantics=semantics)


@pytest.mark.parametrize("kind", ["mlp", "cnn", "delayed"])
def test_exact_export_runs_identically_under_nir_semantics(kind, tmp_path):
    """--exact export, per-step bias: NIR's own semantics (the independent NIR stepper) give simcore's counts."""
    rng = np.random.default_rng(1)
    net = nets(rng, "current")[kind]
    trains = random_trains(rng, 6, 24, net.size("input"), p=0.4)
    want = engine_counts(net, trains)
    graph, plan = roundtrip(net, tmp_path, exact=True, semantics="nir")
    got = run_nir(graph, trains)
    for pop in net.populations[1:]:
        np.testing.assert_array_equal(got[pop].sum(1).reshape(len(trains), -1), want[pop], err_msg=pop)
    assert max(int(want[p].max()) for p in net.populations[1:]) > 1  # the networks do spike
    for pop, counts in run_plan(plan, trains).items():  # the import reads the loop back as the paper's neuron
        np.testing.assert_array_equal(counts, want[pop], err_msg=pop)
    assert all(p.neuron.is_paper for p in plan.populations[1:])


@pytest.mark.parametrize("kind", ["mlp", "cnn", "delayed"])
@pytest.mark.parametrize("bias_mode", ["initial", "current"])
def test_round_trip_recorded_semantics(kind, bias_mode, tmp_path):
    """IF + metadata export read back with the recorded semantics: the same network, the same counts."""
    rng = np.random.default_rng(2)
    net = nets(rng, bias_mode)[kind]
    trains = random_trains(rng, 5, 20, net.size("input"), p=0.4)
    want = engine_counts(net, trains)
    _, plan = roundtrip(net, tmp_path, exact=False, semantics="recorded")
    back = plan.network()
    got = engine_counts(back, trains)
    for pop in net.populations:
        np.testing.assert_array_equal(got[pop], want[pop], err_msg=pop)
    np.testing.assert_array_equal(run_plan(plan, trains)[net.output], want[net.output])


def test_initial_bias_export_warns_and_records_v_initial(tmp_path):
    rng = np.random.default_rng(3)
    net = mlp(rng, [6, 5, 3], bias_mode="initial")
    graph, warnings = to_nir(net, exact=True)
    assert sum("initial potential" in w for w in warnings) == 1
    np.testing.assert_array_equal(graph.nodes["l1"].metadata["v_initial"], net.population("l1").bias)
    assert isinstance(graph.nodes["l1_input_0"], nir.Linear)  # no per-step bias in NIR's own semantics


def test_exact_export_lattice_threshold_and_no_lattice_warning():
    rng = np.random.default_rng(4)
    net = mlp(rng, [6, 5, 3], bias_mode="current")  # multiples of 2**-8
    graph, warnings = to_nir(net, exact=True)
    assert warnings == []
    assert graph.nodes["l1"].threshold.flat[0] == 1.0 - 2.0**-9
    net2 = mlp(np.random.default_rng(4), [6, 5, 3], exact=False, bias_mode="current")
    graph2, warnings2 = to_nir(net2, exact=True)
    assert graph2.nodes["l1"].threshold.flat[0] == 1.0 and any("not on a power-of-two lattice" in w for w in warnings2)


def test_pooling_is_a_sumpool_with_the_quarter_folded():
    net = dyadic_cnn(np.random.default_rng(5))
    graph, _ = to_nir(net, exact=True)
    assert isinstance(graph.nodes["c2_c1_0"], nir.SumPool2d)
    np.testing.assert_array_equal(graph.nodes["c2_c1_1"].weight, net.projection("c1", "c2").ops[1].weight / 4)


def test_lattice_step():
    assert lattice_step(np.array([0.5, 0.75, -1.25]), 1.0) == 0.25
    assert lattice_step(np.zeros(3)) == 1.0
    assert lattice_step(np.array([3.0, 6.0])) == 1.0
    assert lattice_step(np.array([0.1])) is None
    assert lattice_step(np.array([np.nan])) is None


# -- import: NIR's semantics, against the direct NIR stepper -------------------------------------
def g(nodes, edges, dt=None):
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={} if dt is None else {"dt": dt}, type_check=False)


def test_import_if_lif_scale_pool_delay_match_the_nir_stepper():
    rng = np.random.default_rng(6)
    w1 = dyadic(rng, (3, 1, 3, 3), 0.6)
    w2 = dyadic(rng, (5, 12), 0.8)
    nodes = {
        "in": nir.Input(input_type={"input": np.array([1, 6, 6])}),
        "conv": nir.Conv2d(input_shape=(6, 6), weight=w1, stride=1, padding=0, dilation=1, groups=1,
                           bias=np.array([0.125, 0.0, -0.25])),
        "if1": nir.IF(r=2 * np.ones((3, 4, 4)), v_threshold=0.75 * np.ones((3, 4, 4)),
                      v_reset=0.25 * np.ones((3, 4, 4))),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([3, 2, 2])}, start_dim=0),
        "scale": nir.Scale(scale=np.array([0.5])),
        "fc": nir.Affine(weight=w2, bias=dyadic(rng, (5,), 0.3)),
        "delay": nir.Delay(delay=np.full(12, 1.0)),
        "lif": nir.LIF(tau=2 * np.ones(5), r=np.ones(5), v_leak=0.5 * np.ones(5), v_threshold=np.ones(5),
                       v_reset=np.zeros(5)),
        "out": nir.Output(output_type={"output": np.array([5])}),
    }
    edges = [("in", "conv"), ("conv", "if1"), ("if1", "pool"), ("pool", "flat"), ("flat", "scale"),
             ("scale", "delay"), ("delay", "fc"), ("fc", "lif"), ("lif", "out")]
    graph = g(nodes, edges, dt=0.5)
    trains = random_trains(rng, 8, 16, 36, p=0.5)  # 16 steps: 0.75**t * v stays exact in float64
    want = run_nir(graph, trains, dt=0.5)
    plan = nir_to_plan(graph)
    got = run_plan(plan, trains)
    assert plan.population("if1").neuron == NeuronParams(0.75, ">", "to_value", 0.25, 1.0, "current")
    assert plan.population("lif").neuron.beta == 0.75 and plan.projections[-1].delay == 2
    engine = engine_counts(plan.network(), trains)  # simcore's kernels: strict >, to_value, leak, bias current
    for n in ("if1", "lif"):
        np.testing.assert_array_equal(got[n], want[n].sum(1).reshape(8, -1), err_msg=n)
        np.testing.assert_array_equal(engine[n], want[n].sum(1).reshape(8, -1), err_msg=n)
    assert got["lif"].sum() > 0 and got["if1"].sum() > 0


def test_import_leaky_loop_is_simcores_leaky_subtraction():
    rng = np.random.default_rng(7)
    w = dyadic(rng, (4, 6), 0.8)
    beta, theta = 0.75, 1.0
    nodes = {"in": nir.Input(input_type={"input": np.array([6])}), "fc": nir.Linear(weight=w),
             "v": nir.LI(tau=4 * np.ones(4), r=4 * np.ones(4), v_leak=np.zeros(4)),
             "thr": nir.Threshold(threshold=theta * np.ones(4)), "fb": nir.Scale(scale=-beta * theta * np.ones(4)),
             "out": nir.Output(output_type={"output": np.array([4])})}
    edges = [("in", "fc"), ("fc", "v"), ("v", "thr"), ("thr", "fb"), ("fb", "v"), ("thr", "out")]
    graph = g(nodes, edges, dt=1.0)
    trains = random_trains(rng, 8, 16, 6, p=0.6)
    plan = nir_to_plan(graph)
    assert plan.population("thr").neuron == NeuronParams(1.0, ">", "subtract", 0.0, 0.75, "current")
    want = run_nir(graph, trains)["thr"].sum(1)
    np.testing.assert_array_equal(run_plan(plan, trains)["thr"], want)
    np.testing.assert_array_equal(engine_counts(plan.network(), trains)["thr"], want)  # simcore's kernels
    assert want.sum() > 0


@pytest.mark.parametrize("r, scale", [(4.0, -1.0), (2.0, -2.0)])  # input gain dt*r/tau 1 and 1/2
def test_import_loop_subtracting_after_the_leak_is_reset_leak_unleaked(r, scale):
    """``LI -> Threshold -> Scale -> LI`` subtracting gain*c = theta (snnTorch's subtraction, after the
    leak): reset_leak "unleaked", = the NIR stepper in the pure reference and simcore's kernels."""
    rng = np.random.default_rng(8)
    w = dyadic(rng, (4, 6), 0.8)
    nodes = {"in": nir.Input(input_type={"input": np.array([6])}), "fc": nir.Affine(weight=w, bias=dyadic(rng, (4,), 0.2)),
             "v": nir.LI(tau=4 * np.ones(4), r=r * np.ones(4), v_leak=np.zeros(4)),
             "thr": nir.Threshold(threshold=np.ones(4)), "fb": nir.Scale(scale=scale * np.ones(4)),
             "out": nir.Output(output_type={"output": np.array([4])})}
    edges = [("in", "fc"), ("fc", "v"), ("v", "thr"), ("thr", "fb"), ("fb", "v"), ("thr", "out")]
    graph = g(nodes, edges, dt=1.0)
    trains = random_trains(rng, 8, 16, 6, p=0.6)
    plan = nir_to_plan(graph)
    assert plan.population("thr").neuron == NeuronParams(1.0, ">", "subtract", 0.0, 0.75, "current", "unleaked")
    want = run_nir(graph, trains)["thr"].sum(1)
    np.testing.assert_array_equal(run_plan(plan, trains)["thr"], want)
    np.testing.assert_array_equal(engine_counts(plan.network(), trains)["thr"], want)  # simcore's kernels
    leaked = nir_to_plan(g({**nodes, "fb": nir.Scale(scale=0.75 * scale * np.ones(4))}, edges, dt=1.0))
    assert leaked.population("thr").neuron.reset_leak == "leaked"
    assert not np.array_equal(run_plan(leaked, trains)["thr"], want)  # the two timings differ here
    assert want.sum() > 0


def test_unleaked_network_exports_exactly_and_round_trips(tmp_path):
    """A leaky network with the subtraction after the leak: the --exact loop (Scale(-theta)) under NIR's
    semantics and the IF/LIF + metadata read back with the recorded semantics both give simcore's counts."""
    from simcore import Dense, Network

    rng = np.random.default_rng(9)
    nr = NeuronParams(1.0, ">", beta=0.75, bias_mode="current", reset_leak="unleaked")
    net = Network()
    net.add_input("input", (10,))
    net.add_neurons("h", (8,), nr, bias=dyadic(rng, (8,), 0.2))
    net.add_neurons("o", (4,), nr, bias=dyadic(rng, (4,), 0.2))
    net.connect("input", "h", [Dense(dyadic(rng, (8, 10), 0.8))])
    net.connect("h", "o", [Dense(dyadic(rng, (4, 8), 0.8))])
    trains = random_trains(rng, 6, 16, 10, p=0.5)
    want = engine_counts(net, trains)
    graph, plan = roundtrip(net, tmp_path, exact=True, semantics="nir")
    assert np.all(np.asarray(graph.nodes["h_reset"].scale) == -1.0)
    got = run_nir(graph, trains)
    for pop in ("h", "o"):
        np.testing.assert_array_equal(got[pop].sum(1), want[pop], err_msg=pop)
    assert all(p.neuron == nr for p in plan.populations[1:])
    _, plan = roundtrip(net, tmp_path, exact=False, semantics="recorded")
    assert all(p.neuron == nr for p in plan.populations[1:])
    assert want["o"].sum() > 0


def test_recorded_reset_of_a_foreign_lif():
    """Another exporter's LIF whose metadata records the reset (NIR's LIF cannot say "subtract"):
    read with the recorded semantics; NIR's own semantics reset to v_reset."""
    lif = nir.LIF(tau=4 * np.ones(3), r=4 * np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3),
                  v_reset=np.zeros(3), metadata={"reset": "subtract", "reset_leak": "unleaked"})
    nodes = {"in": nir.Input(input_type={"input": np.array([2])}), "fc": nir.Linear(weight=np.ones((3, 2))),
             "lif": lif, "out": nir.Output(output_type={"output": np.array([3])})}
    graph = g(nodes, [("in", "fc"), ("fc", "lif"), ("lif", "out")], dt=1.0)
    assert nir_to_plan(graph, semantics="recorded").population("lif").neuron == \
        NeuronParams(1.0, ">", "subtract", 0.0, 0.75, "current", "unleaked")
    assert nir_to_plan(graph).population("lif").neuron.reset == "to_value"
    lif.metadata = {"reset": "subtract", "reset_leak": "later"}
    with pytest.raises(NirError, match="node 'lif': metadata"):
        nir_to_plan(graph, semantics="recorded")


def _bad(nodes, edges, dt=None):
    with pytest.raises(NirError) as e:
        nir_to_plan(g(nodes, edges, dt))
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_import_rejections_name_the_node():
    i = nir.Input(input_type={"input": np.array([3])})
    o = nir.Output(output_type={"output": np.array([2])})
    lin = nir.Linear(weight=np.ones((2, 3)))
    iff = nir.IF(r=np.ones(2), v_threshold=np.ones(2), v_reset=np.zeros(2))
    cuba = nir.CubaLIF(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2), v_leak=np.zeros(2),
                       v_threshold=np.ones(2))
    assert "'n': NIR CubaLIF" in _bad({"in": i, "fc": lin, "n": cuba, "out": o},
                                      [("in", "fc"), ("fc", "n"), ("n", "out")])
    rec = nir.Linear(weight=np.eye(2))
    assert "recurrent edge" in _bad({"in": i, "fc": lin, "n": iff, "rec": rec, "out": o},
                                    [("in", "fc"), ("fc", "n"), ("n", "rec"), ("rec", "n"), ("n", "out")])
    big = nir.IF(r=np.ones(5), v_threshold=np.ones(5), v_reset=np.zeros(5))
    assert "'n'" in _bad({"in": i, "fc": lin, "n": big, "out": o}, [("in", "fc"), ("fc", "n"), ("n", "out")])
    lif = nir.LIF(tau=np.ones(2) * 4, r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    assert "'n'" in _bad({"in": i, "fc": lin, "n": lif, "out": o}, [("in", "fc"), ("fc", "n"), ("n", "out")])
    r2 = nir.IF(r=2 * np.ones(2), v_threshold=np.ones(2), v_reset=np.zeros(2))
    assert "r = 2.0" in _bad({"in": i, "fc": lin, "n": r2, "out": o}, [("in", "fc"), ("fc", "n"), ("n", "out")])
    loop = {"in": i, "fc": lin, "v": nir.LI(tau=4 * np.ones(2), r=4 * np.ones(2), v_leak=np.zeros(2)),
            "thr": nir.Threshold(threshold=np.ones(2)), "fb": nir.Scale(scale=-0.5 * np.ones(2)), "out": o}
    assert "subtracts 0.5 but fires above 1.0" in _bad(loop, [("in", "fc"), ("fc", "v"), ("v", "thr"),
                                                             ("thr", "fb"), ("fb", "v"), ("thr", "out")], dt=1.0)


def test_load_nir_bad_file(tmp_path):
    bad = tmp_path / "x.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(NirError, match="not a readable NIR file"):
        load_nir(bad)
    with pytest.raises(NirError, match="not found"):
        load_nir(tmp_path / "missing.nir")


def test_plan_of_network_round_trips_through_network():
    net = mlp(np.random.default_rng(8), [5, 4, 3], bias_mode="current", reset="zero")
    plan = Plan.from_network(net)
    assert plan.population("l1").neuron == NeuronParams(1.0, ">=", "to_value", 0.0, 1.0, "current")
    trains = random_trains(np.random.default_rng(9), 4, 15, 5, p=0.5)
    np.testing.assert_array_equal(engine_counts(plan.network(), trains)["l2"], engine_counts(net, trains)["l2"])
