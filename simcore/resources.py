"""Memory estimates before a run: refuse with one line, rather than die half-way, unless ``--force``.

The available memory is psutil's ``virtual_memory().available`` when psutil is installed, else
``MemAvailable`` of ``/proc/meminfo``; where neither exists no check is made.
"""
from __future__ import annotations

from simcore.outputs import current_options

__all__ = ["MAX_SEED", "ResourceError", "available_bytes", "require_memory", "simulation_bytes", "human",
           "encoding_seconds", "require_time"]


ENCODER_DRAWS_PER_SECOND = 2e9  # simcore's Bernoulli counts, measured on the development machine (1.7-2.0e9)
MAX_RUN_SECONDS = 86_400.0  # a run whose input encoding alone would take longer than a day is refused
MAX_SEED = 2**32 - 1  # largest seed a command accepts (seeds are mixed into 64-bit encoder keys)


class ResourceError(ValueError):
    """A run that would need more memory than the machine has (one line stating the estimate)."""


def available_bytes() -> int | None:
    """Memory available to a new allocation (bytes), or None where it cannot be read."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def human(n: float) -> str:
    """Bytes as a short string (KiB .. PiB)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024:
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def require_memory(estimate: float, what: str) -> None:
    """ResourceError when ``estimate`` bytes exceed the available memory (unless --force)."""
    avail = available_bytes()
    if avail is not None and estimate > avail and not current_options().force:
        raise ResourceError(f"{what} needs about {human(estimate)} of memory, {human(avail)} available; "
                            "use a smaller size, batch, T or --limit, or pass --force to try anyway")


def simulation_bytes(net, samples: int, steps: int, threads: int | None = None) -> int:
    """Bytes simcore's ``simulate`` allocates for ``samples`` samples of ``steps`` steps: per sample
    counts (int32) and potentials (float64) of every neuron, SOPs per projection, the prediction
    trace; per thread the step-by-step spike list of every neuron and the output raster, the
    sync complement delivery's per-step input lists and its sum of likely rows, and the sync conv
    runs' bins (:func:`simcore.delivery.run_scratch_bytes`)."""
    import numba

    from simcore.compiler import compile_network
    from simcore.delivery import run_scratch_bytes

    tb = compile_network(net).tables
    sizes = [net.size(p) for p in net.populations]
    total, widest = sum(sizes), max(sizes)
    n_in = net.size(net.input_population)
    threads = threads or numba.get_num_threads()
    per_sample = 12 * total + 8 * len(net.projections) + 8 * steps
    per_thread = steps * (4 * total + widest + 8 * n_in) + 64 * total + 8 * widest
    per_thread += run_scratch_bytes(tb)
    return samples * per_sample + threads * per_thread


def encoding_seconds(samples: float, features: int, T: int, encoding: str = "bernoulli") -> float:
    """Lower bound of the time (s) to draw the Bernoulli inputs of ``samples`` samples (0 for analog input)."""
    return samples * features * T / ENCODER_DRAWS_PER_SECOND if encoding == "bernoulli" else 0.0


def require_time(seconds: float, what: str) -> None:
    """ResourceError when a run's time bound exceeds ``MAX_RUN_SECONDS`` (unless --force)."""
    if seconds > MAX_RUN_SECONDS and not current_options().force:
        raise ResourceError(f"{what} would take at least {seconds / 3600:.3g} h (drawing the input spikes alone); "
                            "use a smaller T, --epochs or --limit, or pass --force to try anyway")
