import numpy as np

from simcore import AvgPool2d, Conv2d, Dense, Flatten, Network


def dyadic(rng, shape, scale=1.0, bits=8):
    """Random weights that are multiples of 2**-bits (sums of them are exact in float64)."""
    return np.round(rng.normal(0.0, scale, shape) * 2**bits) / 2**bits


def mlp(rng, sizes, scale=0.6, exact=True, bias_mode="initial", reset="subtract", delays=None, thr=None):
    net = Network()
    net.add_input("input", (sizes[0],))
    gen = dyadic if exact else (lambda r, shape, scale: r.normal(0.0, scale, shape))
    names = ["input"]
    for k, n in enumerate(sizes[1:]):
        name = f"l{k + 1}"
        bias = gen(rng, (n,), 0.2)
        th = thr if thr is not None else 1.0
        net.add_neurons(name, (n,), threshold=th, bias=bias, bias_mode=bias_mode, reset=reset)
        w = gen(rng, (n, sizes[k]), scale)
        net.connect(names[-1], name, [Dense(w)], delay=0 if delays is None else delays[k])
        names.append(name)
    return net


def small_cnn(rng, exact=True, scale=0.5, bias_mode="initial", reset="subtract"):
    gen = dyadic if exact else (lambda r, shape, scale: r.normal(0.0, scale, shape))
    net = Network()
    net.add_input("input", (1, 10, 10))
    net.add_neurons("c1", (3, 8, 8), bias=gen(rng, (3, 8, 8), 0.1), bias_mode=bias_mode, reset=reset)
    net.add_neurons("c2", (4, 2, 2), bias=gen(rng, (16,), 0.1), bias_mode=bias_mode, reset=reset)
    net.add_neurons("out", (5,), threshold=0.75, bias_mode=bias_mode, reset=reset)
    net.connect("input", "c1", [Conv2d(gen(rng, (3, 1, 3, 3), scale))])
    net.connect("c1", "c2", [AvgPool2d(2), Conv2d(gen(rng, (4, 3, 3, 3), scale * 2), padding=0)])
    net.connect("c2", "out", [Flatten(), Dense(gen(rng, (5, 16), scale * 2))])
    return net


def random_trains(rng, N, T, D, p=0.3):
    return rng.random((N, T, D)) < p
