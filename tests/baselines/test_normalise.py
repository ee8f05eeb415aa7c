"""Normalisation factors on hand-made weights and activations whose maxima and percentiles are known."""
import numpy as np
import pytest
import torch

from baselines.ann import ANN
from baselines.convert import scale_factors
from baselines.normalise import (ActivationStats, applied_divisors, apply_factors, data_based_factors,
                                 model_based_factors, nonzero_percentile, positive_fanin_max, robust_factors)

W1 = np.array([[1.0, -2.0, 0.5], [0.25, 0.25, 3.0]])  # positive row sums 1.5, 3.5; max weight 3
W2 = np.array([[0.5, 0.5], [-1.0, 0.25]])  # positive row sums 1.0, 0.25; max weight 0.5


def test_positive_fanin_dense_and_conv():
    assert positive_fanin_max(W1) == 3.5
    conv = np.zeros((2, 2, 2, 2))
    conv[0, 0] = [[1, -1], [0.5, 0]]  # map 0: 1.5 from input map 0
    conv[0, 1] = [[0.25, 0], [0, -3]]  # + 0.25 from input map 1 -> 1.75
    conv[1, 1] = [[2, 0], [0, 0]]  # map 1: 2.0
    assert positive_fanin_max(conv) == 2.0


def test_model_based_is_per_layer_and_cumulative_lambda():
    lam = model_based_factors([W1, W2])
    assert lam == [3.5, 3.5 * 1.0]
    assert applied_divisors(lam) == [3.5, 1.0]
    w, _ = apply_factors([W1, W2], [None, None], lam)
    assert np.allclose(w[0], W1 / 3.5) and np.allclose(w[1], W2 / 1.0)
    # every neuron's positive fan-in is now <= 1 (one step of input cannot exceed the threshold)
    assert max(positive_fanin_max(x) for x in w) <= 1.0 + 1e-12
    w3 = np.array([[0.1, 0.2]])  # fan-in 0.3 < 1: strong normalisation divides, Diehl's weak one does not
    assert model_based_factors([w3]) == pytest.approx([0.3])
    assert model_based_factors([w3], only_above_one=True) == [1.0]


def test_data_based_consistent_and_official_variant():
    W3 = np.array([[4.0, -1.0]])
    weights = [np.full((2, 2), 0.5), np.array([[3.0, 0.0]]) , W3]
    act_max = [2.0, 1.0, 0.5]  # layer 1: activation wins; layers 2, 3: the weight max wins
    lam = data_based_factors(weights, act_max)
    assert lam == [2.0, 3.0, 4.0]
    w, b = apply_factors(weights, [np.ones(2), np.ones(1), np.ones(1)], lam)
    assert np.allclose(w[0], weights[0] / 2) and np.allclose(w[1], weights[1] * 2 / 3)
    assert np.allclose(w[2], W3 * 3 / 4)
    assert np.allclose(b[0], 1 / 2) and np.allclose(b[1], 1 / 3) and np.allclose(b[2], 1 / 4)
    # Diehl's MATLAB code: applied = sf / previous; previous = applied
    lam_code = data_based_factors(weights, act_max, previous="applied")
    assert applied_divisors(lam_code) == pytest.approx([2.0, 1.5, 4.0 / 1.5])
    assert lam_code == pytest.approx([2.0, 3.0, 8.0])
    # negative activations and weights never give a factor below 0; a dead layer gets 1
    assert data_based_factors([-np.ones((1, 1))], [-5.0]) == [1.0]


def test_robust_percentile_of_nonzero_activations():
    a = np.concatenate([np.zeros(5000), np.arange(1.0, 1001.0)])  # zeros are excluded
    assert nonzero_percentile(a, 99.9) == pytest.approx(999.001)
    assert nonzero_percentile(a, 50) == pytest.approx(500.5)
    assert nonzero_percentile(a, 100) == 1000.0
    logits = np.array([[-3.0, 2.0], [4.0, -1.0], [6.0, 0.0]])  # output layer: ReLU'd, positives 2, 4, 6
    lam = robust_factors([a.reshape(10, -1), logits], 50)
    assert lam == pytest.approx([500.5, 4.0])
    assert robust_factors([np.zeros(10)], 99.9) == [1.0]
    with pytest.raises(ValueError):
        robust_factors([a], 0)


def test_stats_stream_like_whole_array():
    rng = np.random.default_rng(0)
    a = np.maximum(rng.normal(size=(100, 7)), 0)
    st = ActivationStats(1, keep_nonzero=True)
    for lo in range(0, 100, 30):
        st.update([a[lo:lo + 30]])
    assert st.max[0] == a.max() and st.samples == 100
    assert st.percentiles(99.9) == [pytest.approx(np.percentile(a[a > 0], 99.9))]


def _hand_ann():
    """3-2-2 ANN with known activations on the data below."""
    net = ANN("3-2-2").double()
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, -1.0]]))
        net.layers[0].bias.copy_(torch.tensor([0.0, 0.5]))
        net.layers[1].weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, 0.5]]))
        net.layers[1].bias.copy_(torch.tensor([0.0, 0.0]))
    return net


def test_scale_factors_from_ann_activations():
    net = _hand_ann()
    x = np.array([[1.0, 1.0, 0.0], [0.5, 0.0, 1.0], [0.0, 0.5, 0.5]])
    # hidden: [1, 2.5], [0.5, 0 (relu of -0.5)], [0, 1.0]; logits: [3.5, 0.25], [0.5, -0.5], [1.0, 0.5]
    assert scale_factors(net, "data", x) == [2.5, 3.5]
    assert scale_factors(net, "robust", x, percentile=100) == [2.5, 3.5]
    assert scale_factors(net, "robust", x, percentile=50) == [pytest.approx(1.0), pytest.approx(0.5)]
    assert scale_factors(net, "model", None) == [2.0, 2.0 * 2.0]
