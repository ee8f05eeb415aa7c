"""Memory estimates of the tensor model's training and evaluation (see :mod:`simcore.resources`)."""
from __future__ import annotations

from math import prod

from learning.spec import Arch, AvgPool, Conv, parse_spec
from simcore.resources import encoding_seconds, require_memory, require_time

__all__ = ["parameter_count", "neuron_count", "training_bytes", "evaluation_bytes", "check_training_cost"]


def parameter_count(arch: Arch) -> int:
    """Weights and biases of every weighted layer."""
    n, shape = 0, arch.input_shape
    for layer, out in zip(arch.layers, arch.shapes()):
        if isinstance(layer, Conv):
            n += layer.channels * shape[0] * layer.kernel**2 + layer.channels
        elif not isinstance(layer, AvgPool):
            n += prod(shape) * out[0] + out[0]
        shape = out
    return n


def neuron_count(arch: Arch) -> int:
    """Input features plus the neurons of every weighted layer."""
    return arch.n_inputs + sum(prod(s) for layer, s in zip(arch.layers, arch.shapes()) if not isinstance(layer, AvgPool))


def training_bytes(arch: str | Arch, batch: int, T: int, mode: str) -> int:
    """float32 training: weights, gradients and two Adam moments (16 bytes a parameter), plus about four
    saved tensors per neuron and sample (``stepped``: per time step too)."""
    arch = parse_spec(arch) if isinstance(arch, str) else arch
    steps = T if mode == "stepped" else 1
    return 16 * parameter_count(arch) + 16 * batch * steps * neuron_count(arch)


def evaluation_bytes(arch: str | Arch, batch: int, T: int, mode: str, itemsize: int = 8) -> int:
    """Evaluation in batches of ``batch`` (float64 by default): weights plus three tensors per neuron
    and sample (``stepped``: per time step)."""
    arch = parse_spec(arch) if isinstance(arch, str) else arch
    steps = T if mode == "stepped" else 1
    return itemsize * (parameter_count(arch) + 3 * batch * steps * neuron_count(arch))


def check_training_cost(arch: str, batch: int, T: int, mode: str, n_train: int, n_test: int, epochs: int,
                        encoding: str = "bernoulli") -> None:
    """ResourceError (one line with the estimate) when training or its per-epoch test evaluation would
    not fit in the available memory, or its input encoding alone would take more than a day."""
    need = max(training_bytes(arch, batch, T, mode), evaluation_bytes(arch, min(500, max(n_test, 1)), T, mode, 4))
    what = f"training {arch} (batch {batch}, T {T}, {mode})"
    require_memory(need, what)
    require_time(epochs * encoding_seconds(n_train + n_test, parse_spec(arch).n_inputs, T, encoding), what)
