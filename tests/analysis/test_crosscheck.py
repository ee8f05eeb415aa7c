"""Brian2 cross-check (analysis.crosscheck): Brian2 with its default schedule == simcore with delay + 1
("delayed"), and Brian2 ordered per layer == the zero-delay network itself ("same_step", the default).

The cython target needs ~3 minutes of cold compilation for one network on the 2-core dev box
(measured: 40 s building synapses + 140 s before_run; warm cache < 1 s), far over this file's
budget, so these tests use Brian2's numpy target (no compilation; the generated abstract code is the
same). Set SPIKECOUNT_TEST_CYTHON=1 to also run one check on the cython target.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("brian2")

from analysis.brian2_net import population_neurons  # noqa: E402
from analysis.crosscheck import _trace, crosscheck, crosscheck_network, delayed_copy  # noqa: E402
from simcore import simulate  # noqa: E402
from simcore import AvgPool2d, Conv2d, Dense, Flatten, Network, compile_network, save_network  # noqa: E402

TARGET = "numpy"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # brian2 uses old pyparsing names


def dyadic(rng, shape, scale):
    """Multiples of 2**-8: every sum is exact in float64, so both engines must agree bit for bit."""
    return np.round(rng.normal(0.0, scale, shape) * 256) / 256


def mlp(seed=0, sizes=(20, 15, 5), bias_mode="initial", reset="subtract", delays=(0, 0)):
    rng = np.random.default_rng(seed)
    net = Network()
    net.add_input("input", (sizes[0],))
    prev = "input"
    for k, n in enumerate(sizes[1:]):
        name = f"l{k + 1}"
        net.add_neurons(name, (n,), threshold=1.0, bias=dyadic(rng, (n,), 0.2), bias_mode=bias_mode, reset=reset)
        net.connect(prev, name, [Dense(dyadic(rng, (n, sizes[k]), 0.6))], delay=delays[k])
        prev = name
    return net


def tiny_cnn(seed=0, bias_mode="current"):
    rng = np.random.default_rng(seed)
    net = Network()
    net.add_input("input", (1, 6, 6))
    net.add_neurons("c1", (2, 4, 4), bias=dyadic(rng, (2, 4, 4), 0.1), bias_mode=bias_mode)
    net.add_neurons("out", (3,), threshold=0.75, bias_mode=bias_mode, reset="zero")
    net.connect("input", "c1", [Conv2d(dyadic(rng, (2, 1, 3, 3), 0.5))])
    net.connect("c1", "out", [AvgPool2d(2), Flatten(), Dense(dyadic(rng, (3, 8), 1.0))])
    return net


@pytest.fixture(scope="module")
def x20():
    return np.random.default_rng(7).uniform(0.0, 1.0, (5, 20))


@pytest.fixture(scope="module")
def mlp_result(x20):
    """The shared small check (initial bias, subtract reset)."""
    return crosscheck_network(mlp(), x20, 12, seed=3, target=TARGET, schedule="delayed")


def _assert_identical(res):
    assert res["identical_count_fraction"] == 1.0, res["mismatches"][:5]
    assert all(v == 1.0 for v in res["identical_count_fraction_by_population"].values())
    assert all(v == 1.0 for v in res["identical_spike_times_fraction_by_population"].values())
    assert res["identical_prediction_fraction"] == 1.0
    assert res["output_membrane_max_abs_diff"] == 0.0
    assert res["mismatches"] == [] and res["mismatch_count"] == 0


def test_mlp_identical_to_simcore_with_delay_one(mlp_result, x20):
    res = mlp_result
    _assert_identical(res)
    assert res["samples"] == 5 and res["T"] == 12 and res["steps"] == 14 and res["window"] == 14
    assert res["reference_delays"] == [1, 1] and res["brian2_synapse_delays"] == [0, 0]
    assert res["brian2_target"] == TARGET
    for key in ("brian2_seconds", "brian2_build_seconds", "brian2_compile_seconds", "simcore_seconds"):
        assert res[key] >= 0.0
    # the check is not vacuous: every layer is active
    ref = simulate(delayed_copy(mlp()), x20, 12, 3, steps=14)
    assert all(c.sum() > 0 for c in ref.counts.values())
    assert res["predictions_brian2"] == ref.predictions.tolist()


@pytest.mark.parametrize("bias_mode,reset", [("current", "subtract"), ("current", "zero"), ("initial", "zero")])
def test_bias_current_and_reset_zero(x20, bias_mode, reset):
    res = crosscheck_network(mlp(1, bias_mode=bias_mode, reset=reset), x20, 12, seed=5, target=TARGET, schedule="delayed")
    _assert_identical(res)


def test_tiny_conv_identical():
    x = np.random.default_rng(2).uniform(0.0, 1.0, (4, 36))
    _assert_identical(crosscheck_network(tiny_cnn(), x, 10, seed=1, target=TARGET, schedule="delayed"))


def test_graph_delays_and_explicit_trains():
    """Brian2 synapse delay d == simcore delay d + 1; spikes queued past a window do not leak."""
    net = mlp(2, delays=(2, 1))
    trains = np.random.default_rng(4).random((4, 9, 20)) < 0.4
    res = crosscheck_network(net, trains=trains, target=TARGET, schedule="delayed")
    _assert_identical(res)
    assert res["reference_delays"] == [3, 2] and res["steps"] == 9 + 5 and res["window"] == 9 + 5 + 2


def test_analog_input(x20):
    _assert_identical(crosscheck_network(mlp(3), x20, 8, encoding="analog", target=TARGET, schedule="delayed"))


def test_wrong_schedule_is_detected(x20):
    """simcore with delay 0 (same-step propagation) is NOT what Brian2's default schedule computes."""
    net = mlp()
    res = crosscheck_network(net, x20, 12, seed=3, target=TARGET, reference=net, schedule="delayed")
    assert res["identical_count_fraction"] < 1.0
    assert res["identical_count_fraction_by_population"]["input"] == 1.0
    assert res["mismatch_count"] == len(res["mismatches"]) > 0
    ref = simulate(net, x20, 12, 3, steps=res["steps"])
    for m in res["mismatches"]:
        assert set(m) >= {"sample", "population", "neuron", "brian2_count", "simcore_count", "explanation"}
        assert m["brian2_count"] != m["simcore_count"]
        assert m["simcore_count"] == ref.counts[m["population"]][m["sample"], m["neuron"]]
    # every (sample, neuron) whose counts differ is listed
    bad = {(m["sample"], m["population"], m["neuron"]) for m in res["mismatches"]}
    frac = res["identical_count_fraction_by_population"]
    for p in ("l1", "l2"):
        n_p = sum(1 for b in bad if b[1] == p)
        assert n_p == round((1.0 - frac[p]) * 5 * net.size(p))


def _chain(bias_h=0.0, delay=0):
    net = Network()
    net.add_input("input", (1,))
    net.add_neurons("h", (1,), threshold=1.0, bias=bias_h)
    net.add_neurons("o", (1,), threshold=1.0)
    net.connect("input", "h", [Dense([[0.5]])], delay=delay)
    net.connect("h", "o", [Dense([[1.0]])], delay=delay)
    return net


def test_explanations_rounding_and_upstream():
    """A hidden potential 1e-12 below threshold in the reference: blamed on rounding; its target: upstream."""
    trains = np.ones((1, 4, 1), dtype=bool)
    res = crosscheck_network(_chain(), trains=trains, target=TARGET, reference=_chain(-1e-12, delay=1), schedule="delayed")
    by_pop = {m["population"]: m for m in res["mismatches"]}
    assert set(by_pop) == {"h", "o"}
    assert (by_pop["h"]["brian2_count"], by_pop["h"]["simcore_count"]) == (2, 1)
    assert by_pop["h"]["explanation"].startswith("rounding")
    assert by_pop["h"]["first_divergent_step"] == 2
    assert by_pop["h"]["min_distance_to_threshold"] < 1e-9
    assert by_pop["o"]["explanation"].startswith("upstream: spike trains of h")


def test_trace_reproduces_simcore_counts(x20):
    """The potential trace behind the explanations re-derives simcore's spike counts exactly."""
    ref_net = delayed_copy(mlp(1, bias_mode="current", reset="zero"))
    res = simulate(ref_net, x20, 12, 5, steps=14, record_raster=True)
    comp = compile_network(ref_net)
    for k, name in enumerate(comp.names):
        if k == comp.input_index:
            continue
        for s in (0, 3):
            neuron = population_neurons(ref_net)[name]
            got = [int(_trace(comp, res.raster, s, k, j, 14, None, neuron)[1].sum()) for j in range(ref_net.size(name))]
            assert got == res.counts[name][s].tolist()


def test_crosscheck_graph_dir_on_digits(tmp_path):
    net = mlp(4, sizes=(64, 12, 10))
    save_network(net, tmp_path / "g")
    res = crosscheck(tmp_path / "g", dataset="digits", limit=4, T=6, seed=2, target=TARGET, schedule="delayed")
    _assert_identical(res)
    assert res["samples"] == 4 and res["dataset"] == "digits" and 0.0 <= res["accuracy_brian2"] <= 1.0
    assert res["accuracy_brian2"] == res["accuracy_simcore"]
    with pytest.raises(ValueError, match="no T recorded"):
        crosscheck(tmp_path / "g", dataset="digits", limit=2, target=TARGET, schedule="delayed")


def test_cli_crosscheck_writes_json(tmp_path, capsys):
    import json

    from analysis.cli import main

    save_network(mlp(5, sizes=(64, 8, 10)), tmp_path / "g")
    out = tmp_path / "xc.json"
    rc = main(["crosscheck", "--model", str(tmp_path / "g"), "--dataset", "digits", "--limit", "3", "--T", "5",
               "--target", TARGET, "--out", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["identical_count_fraction"] == 1.0 and doc["samples"] == 3 and doc["mismatches"] == []
    assert '"identical_prediction_fraction": 1.0' in capsys.readouterr().out


# ---------------------------------------------------------------- the network as reported (zero delay)
SAME = dict(target=TARGET, schedule="same_step")


@pytest.mark.parametrize("bias_mode,reset", [("initial", "subtract"), ("current", "subtract"), ("current", "zero"),
                                             ("initial", "zero")])
def test_same_step_mlp_identical_to_the_zero_delay_network(x20, bias_mode, reset):
    net = mlp(1, bias_mode=bias_mode, reset=reset)
    res = crosscheck_network(net, x20, 12, seed=5, **SAME)
    _assert_identical(res)
    assert res["schedule"] == "same_step" and res["reference_delays"] == [0, 0] and res["steps"] == 12
    assert res["brian2_code_objects"] == ["NumpyCodeObject"]
    ref = simulate(net, x20, 12, 5)  # exactly the run behind a reported accuracy
    assert res["predictions_simcore"] == ref.predictions.tolist() == res["predictions_brian2"]
    assert all(c.sum() > 0 for c in ref.counts.values())


def test_same_step_conv_analog_delays_and_v_init():
    from learning.graph_builder import build_graph
    from learning.spec import parse_spec
    from simcore.neuron import NeuronParams

    x = np.random.default_rng(2).uniform(0.0, 1.0, (4, 36))
    _assert_identical(crosscheck_network(tiny_cnn(), x, 10, seed=1, **SAME))
    _assert_identical(crosscheck_network(tiny_cnn(bias_mode="initial"), x, 6, encoding="analog", **SAME))
    trains = np.random.default_rng(4).random((4, 9, 20)) < 0.4
    res = crosscheck_network(mlp(2, delays=(2, 1)), trains=trains, **SAME)
    _assert_identical(res)
    assert res["reference_delays"] == [2, 1] and res["steps"] == 9 + 3
    rng = np.random.default_rng(5)  # conversion's theta/2 start with a bias current (v_init_* sources)
    arch = parse_spec("6x6-2c3-2a-3")
    g = build_graph(arch, [dyadic(rng, (2, 1, 3, 3), 0.5), dyadic(rng, (3, 8), 1.0)],
                    [dyadic(rng, (2,), 0.1), dyadic(rng, (3,), 0.1)], NeuronParams(bias_mode="current"), v_init=0.5)
    _assert_identical(crosscheck_network(g, x, 10, seed=2, **SAME))


def test_same_step_detects_a_delayed_reference(x20):
    """Brian2 ordered per layer is NOT the delayed copy: the schedule really propagates in the same step."""
    net = mlp()
    res = crosscheck_network(net, x20, 12, seed=3, target=TARGET, reference=delayed_copy(net), schedule="same_step")
    assert res["identical_count_fraction"] < 1.0 and res["mismatch_count"] > 0
    with pytest.raises(ValueError, match="schedule"):
        crosscheck_network(net, x20, 12, target=TARGET, schedule="late")


@pytest.mark.skipif(os.environ.get("SPIKECOUNT_TEST_CYTHON") != "1", reason="cold cython compile takes minutes")
def test_cython_target_is_the_one_used(x20):
    """Asked for cython, the run uses cython: no fallback, and every generated code object is a
    CythonCodeObject (a silent numpy run would list NumpyCodeObject). Run by .ci/run."""
    import brian2

    before = brian2.prefs.codegen.target
    res = crosscheck_network(mlp(sizes=(20, 6, 3)), x20, 6, seed=3, target="cython", schedule="same_step")
    _assert_identical(res)
    assert res["brian2_target"] == "cython" and res["brian2_target_fallback"] is None
    assert res["brian2_code_objects"] == ["CythonCodeObject"]
    assert brian2.prefs.codegen.target == before  # the preference is restored after the run
    numpy_res = crosscheck_network(mlp(sizes=(20, 6, 3)), x20, 6, seed=3, **SAME)
    assert numpy_res["brian2_code_objects"] == ["NumpyCodeObject"]
    assert res["predictions_brian2"] == numpy_res["predictions_brian2"]


@pytest.mark.parametrize("schedule", ["same-step", "delayed"])
def test_cli_crosscheck_an_imported_nir_network(tmp_path, schedule):
    """issue 13: a .nir file is cross-checked like any graph (NIR semantics: '>' test, reset to zero)."""
    import json

    pytest.importorskip("nir")
    from analysis.cli import main
    from learning.models import load
    from simcore.nir_export import write_nir

    net = mlp(6, sizes=(64, 12, 10), bias_mode="current")
    write_nir(net, tmp_path / "net.nir")
    out = tmp_path / "xc.json"
    assert main(["crosscheck", "--model", str(tmp_path / "net.nir"), "--dataset", "digits", "--limit", "4",
                 "--T", "6", "--seed", "3", "--target", TARGET, "--schedule", schedule, "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["identical_count_fraction"] == 1.0 and doc["mismatches"] == [] and doc["samples"] == 4
    assert doc["model"] == str(tmp_path / "net.nir")
    assert set(doc["identical_count_fraction_by_population"]) == {"input", "l1", "l2"}
    assert doc["predictions_brian2"] == doc["predictions_simcore"]
    assert population_neurons(load(tmp_path / "net.nir").graph)["l1"].reset == "to_value"


def _unleaked_mlp(seed=3, delays=(0, 1)):
    """mlp() with snnTorch's subtraction (reset_leak "unleaked"), leak 0.75, strict test, bias current."""
    from simcore.neuron import NeuronParams

    base, net = mlp(seed, delays=delays), Network()
    nr = NeuronParams(threshold_test=">", beta=0.75, bias_mode="current", reset_leak="unleaked")
    net.add_input("input", (20,))
    for p in base.projections:
        net.add_neurons(p.tgt, base.shape(p.tgt), neuron=nr, bias=base.population(p.tgt).bias)
        net.connect(p.src, p.tgt, p.ops, delay=p.delay)
    return net


def test_unleaked_subtraction_brian2_both_schedules_and_trace(x20):
    """Brian2's 'pend' flag (the subtraction after the next leak) = simcore's kernels, both schedules;
    the explanation trace re-derives simcore's counts."""
    net = _unleaked_mlp()
    for kw in (dict(target=TARGET), SAME):
        res = crosscheck_network(net, x20, 12, seed=5, **kw)
        _assert_identical(res)
    ref = simulate(net, x20, 12, 5, record_raster=True)
    assert all(c.sum() > 0 for c in ref.counts.values())
    comp = compile_network(net)
    k = comp.names.index("l1")
    got = [int(_trace(comp, ref.raster, 2, k, j, ref.steps, None, population_neurons(net)["l1"])[1].sum())
           for j in range(15)]
    assert got == ref.counts["l1"][2].tolist()
