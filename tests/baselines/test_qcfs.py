"""QCFS activation (Bu et al. 2022), its ANN and conversion with a theta/2 initial potential."""
import numpy as np
import pytest
import torch

from baselines.ann import ANN, ConversionError
from baselines.convert import convert_ann
from baselines.qcfs import qcfs
from simcore import simulate


def test_qcfs_forward_matches_formula_and_ste_gradient():
    z = torch.tensor([-0.3, 0.0, 0.1, 0.24, 0.26, 0.9, 1.4, 2.0], dtype=torch.float64, requires_grad=True)
    lam = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    L = 4
    h = qcfs(z, lam, L)
    zn = z.detach().numpy()
    ref = 1.5 / L * np.clip(np.floor(zn * L / 1.5 + 0.5), 0, L)
    assert np.allclose(h.detach().numpy(), ref)
    h.sum().backward()
    # straight-through: dh/dz = 1 inside (0, lambda), 0 outside
    assert z.grad[0] == 0 and z.grad[-1] == 0 and np.all(z.grad.numpy()[2:7] == 1)
    assert lam.grad is not None and torch.isfinite(lam.grad)


def test_qcfs_ann_validation():
    with pytest.raises(ConversionError, match="levels"):
        ANN("16-8-4", activation="qcfs")
    with pytest.raises(ConversionError, match="activation"):
        ANN("16-8-4", activation="tanh")
    net = ANN("16-8-4", activation="qcfs", levels=4)
    assert [k for k in net.state_dict() if k.startswith("thresholds")] == ["thresholds.0"]


def test_qcfs_conversion_counts_equal_the_quantised_activation():
    """A QCFS layer converted with threshold lambda, reset by subtraction and V(0) = theta/2, driven by
    a constant analog input for T = L steps, fires exactly L * h(z) / lambda spikes (bias-free hidden
    layer, dyadic weights so every sum is exact)."""
    rng = np.random.default_rng(0)
    L = 8
    net = ANN("16-6-3", bias=False, activation="qcfs", levels=L).double()
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.from_numpy(rng.integers(-16, 32, size=(6, 16)) / 64))
        net.layers[1].weight.copy_(torch.from_numpy(rng.integers(-16, 32, size=(3, 6)) / 64))
        net.thresholds[0].fill_(2.0)
    x = rng.integers(0, 5, size=(20, 16)) / 4
    graph, lambdas = convert_ann(net, "qcfs", x, v_init="half")
    assert lambdas[0] == 2.0
    res = simulate(graph, x, T=L, encoding="analog")
    with torch.no_grad():
        h = net.activations(torch.from_numpy(x))[0].numpy()
    assert np.array_equal(res.counts["dense1"], np.round(L * h / 2.0).astype(int))
    with pytest.raises(ConversionError, match="qcfs"):
        convert_ann(net, "robust", x)
