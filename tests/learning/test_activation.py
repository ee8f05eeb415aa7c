import torch

from learning.activation import count_from_current, spike_count


def test_forward_is_eq7_floor_clamped():
    z = torch.tensor([-1.0, 0.0, 0.5, 1.0, 1.99, 2.0, 7.3, 100.0], dtype=torch.float64)
    a = spike_count(z, theta=1.0, r_max=10)
    assert a.tolist() == [0, 0, 0, 1, 1, 2, 7, 10]
    # theta scales the current: z / theta
    a2 = spike_count(z, theta=0.5, r_max=10)
    assert a2.tolist() == [0, 0, 1, 2, 3, 4, 10, 10]
    assert torch.equal(count_from_current(z, 1.0, 10), a)


def test_backward_is_eq10_indicator_over_theta():
    z = torch.tensor([-1.0, 0.0, 0.5, 3.0, 100.0], dtype=torch.float64, requires_grad=True)
    a = spike_count(z, theta=2.0, r_max=5)
    a.backward(torch.ones_like(z))
    # (1/theta)[z > 0]; the cap r_max is not in the derivative (z = 100 still gets 1/theta)
    assert z.grad.tolist() == [0.0, 0.0, 0.5, 0.5, 0.5]


def test_bounded_backward_blocks_only_out_of_range_pushes():
    z = torch.tensor([-1.0, -1.0, 3.0, 3.0, 50.0, 50.0], dtype=torch.float64, requires_grad=True)
    a = spike_count(z, theta=1.0, r_max=10, bounded=True)
    g = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    a.backward(g)
    # silent neuron: a push up (dL/da < 0) passes, a push further down is blocked;
    # saturated neuron (a == r_max): a push down passes, a push further up is blocked
    assert z.grad.tolist() == [0.0, -1.0, 1.0, -1.0, 1.0, 0.0]


def test_hidden_backward_equals_the_masked_gradient_on_random_currents():
    """The unbounded backward (a product with the 0/1 mask) gives torch.where(z > 0, grad, 0)'s values."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(64, 300, generator=gen, dtype=torch.float32).requires_grad_()
    g = torch.randn(64, 300, generator=gen, dtype=torch.float32)
    spike_count(z, theta=1.0, r_max=50).backward(g)
    assert torch.equal(z.grad, torch.where(z > 0, g, 0.0)) and 0 < int((z.grad != 0).sum()) < z.numel()
