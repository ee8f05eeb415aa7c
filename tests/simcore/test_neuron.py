"""simcore.neuron: the parameter record and the pure step function."""
import numpy as np
import pytest

from simcore.neuron import NeuronError, NeuronParams, initial_potential, run, step


def test_paper_neuron_step_by_step():
    p = NeuronParams()  # threshold 1, >=, subtract, no leak, bias as V(0)
    spikes, v = run(p, np.array([[0.5], [0.5], [2.5], [0.0], [0.0]]), bias=np.array([0.0]))
    assert spikes[:, 0].tolist() == [False, True, True, True, False]
    assert v[0] == 0.5


def test_strict_test_and_reset_to_value():
    p = NeuronParams(threshold_test=">", reset="to_value", v_reset=-0.25)
    v, s = step(p, np.array([0.5, 0.75]), np.array([0.5, 0.5]))
    assert s.tolist() == [False, True]
    assert v.tolist() == [1.0, -0.25]


def test_leak_before_input_and_current_bias():
    p = NeuronParams(beta=0.5, bias_mode="current")
    v, s = step(p, np.array([0.5]), np.array([0.25]), bias=np.array([0.125]))
    assert v.tolist() == [0.625] and not s[0]
    assert initial_potential(p, np.array([3.0])).tolist() == [0.0]
    assert initial_potential(NeuronParams(), np.array([3.0])).tolist() == [3.0]


def test_zero_is_reset_to_value_zero_and_round_trip():
    p = NeuronParams(reset="zero")
    assert (p.reset, p.v_reset) == ("to_value", 0.0)
    assert NeuronParams.from_dict(p.to_dict()) == p
    assert NeuronParams().is_paper and not p.is_paper


@pytest.mark.parametrize("kw, msg", [
    (dict(threshold=0), "threshold"), (dict(threshold=float("nan")), "threshold"),
    (dict(beta=0.0), "beta"), (dict(beta=1.5), "beta"), (dict(threshold_test="=>"), "threshold_test"),
    (dict(reset="hard"), "reset"), (dict(bias_mode="x"), "bias_mode"), (dict(v_reset="a"), "v_reset"),
])
def test_bad_parameters_name_the_field(kw, msg):
    with pytest.raises(NeuronError, match=msg):
        NeuronParams(**kw)


def test_unleaked_subtraction_comes_after_the_next_leak():
    """snnTorch's subtraction: V(t) = beta V(t-1) - theta s(t-1) + I(t); the leaked one scales it by beta."""
    currents = np.array([[1.5], [0.0], [0.25], [0.0]])
    unleaked = NeuronParams(beta=0.5, reset_leak="unleaked")
    spikes, v = run(unleaked, currents)  # 1.5 fires (kept), .75 - 1 = -.25, -.125 + .25 = .125, .0625
    assert spikes[:, 0].tolist() == [True, False, False, False] and v[0] == 0.0625
    spikes, v = run(NeuronParams(beta=0.5), currents)  # 1.5 -> .5, .25, .375, .1875
    assert spikes[:, 0].tolist() == [True, False, False, False] and v[0] == 0.1875
    v, s = step(unleaked, np.array([1.5, 1.5]), np.zeros(2), fired=np.array([True, False]))
    assert v.tolist() == [-0.25, 0.75] and not s.any()
    with pytest.raises(NeuronError, match="previous step's spikes"):
        step(unleaked, np.array([0.0]), np.array([0.0]))
    assert NeuronParams.from_dict(unleaked.to_dict()) == unleaked and not unleaked.is_paper
    assert "reset_leak" not in NeuronParams().to_dict()  # existing records unchanged


def test_unleaked_needs_reset_by_subtraction():
    with pytest.raises(NeuronError, match="reset_leak"):
        NeuronParams(reset="zero", reset_leak="unleaked")
    with pytest.raises(NeuronError, match="reset_leak"):
        NeuronParams(reset_leak="later")
