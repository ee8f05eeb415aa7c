"""The fused sparse IF kernel against simcore.neuron.run (the one neuron definition) and the torch scan."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from learning.dense_if import dense_integrate_and_fire
from learning.model import _integrate_and_fire
from simcore.neuron import NeuronParams, run


def _reference(s, w, b, theta):
    B, T = s.shape[:2]
    step_in = (theta * torch.nn.functional.linear(s.flatten(0, 1), w)).view(B, T, -1)
    return _integrate_and_fire(step_in, b.view(1, -1), theta)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), density=st.sampled_from([0.05, 0.3, 1.0]),
       graded=st.booleans(), theta=st.sampled_from([1.0, 0.5, 2.0]))
def test_kernel_equals_product_and_scan_exactly(seed, density, graded, theta):
    # dyadic weights, biases and inputs: every sum is exact, so the order of summation cannot matter
    rng = np.random.default_rng(seed)
    B, T, D, O = 3, 9, 17, 6
    s = (rng.random((B, T, D)) < density).astype(np.float64)
    if graded:
        s *= rng.integers(1, 8, size=s.shape) / 4
    w = torch.from_numpy(rng.integers(-64, 65, size=(O, D)) / 64)
    b = torch.from_numpy(rng.integers(-32, 33, size=O) / 32)
    s = torch.from_numpy(s)
    got_s, got_v = dense_integrate_and_fire(s, w, b, theta)
    ref_s, ref_v = _reference(s, w, b, theta)
    assert torch.equal(got_s, ref_s)
    assert torch.equal(got_v, ref_v)
    for i in range(B):  # simcore.neuron.run of the paper's neuron on the same currents, sample by sample
        currents = theta * s[i].numpy() @ w.numpy().T
        spikes, v = run(NeuronParams(threshold=theta), currents, b.numpy())
        assert np.array_equal(got_s[i].numpy(), spikes.astype(np.float64))
        assert np.array_equal(got_v[i].numpy(), v)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kernel_keeps_dtype_and_matches_float_weights(dtype):
    g = torch.Generator().manual_seed(0)
    s = (torch.rand(4, 20, 30, generator=g) < 0.2).to(dtype)
    w = torch.randn(12, 30, generator=g, dtype=dtype) * 0.3
    b = torch.randn(12, generator=g, dtype=dtype) * 0.1
    got_s, got_v = dense_integrate_and_fire(s, w, b, 1.0)
    ref_s, ref_v = _reference(s, w, b, 1.0)
    assert got_s.dtype == dtype and got_v.dtype == dtype
    assert (got_s == ref_s).float().mean() >= 0.999
    torch.testing.assert_close(got_v, ref_v, rtol=0, atol=1e-4 if dtype == torch.float32 else 1e-10)
