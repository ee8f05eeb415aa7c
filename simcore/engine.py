"""Event-driven simulation of a :class:`simcore.network.Network` (the Python driver).

Event semantics (the contract; every engine in the project is checked against it)
---------------------------------------------------------------------------------
Time is discrete, steps ``t = 0 .. steps-1``. An *event* is a spike ``(t, population, neuron)``.
Spikes are kept in a calendar queue with one bucket per (step, population): the bucket holds the
neurons the population emitted at that step, in emission order. Buckets are processed by step,
then in the graph's topological order (ties: insertion order). A projection ``src -> tgt`` with
delay ``d`` delivers the bucket (t - d, src) to ``tgt`` at step ``t``; incoming projections of a
population are delivered in topological order of their sources, each bucket in emission order,
each spike to its targets in ascending target index. Delivering a spike of source ``i`` adds the
compiled weight ``w[i, j]`` to ``V_j`` (for analog input, ``x_i * w[i, j]``).

Neurons follow :mod:`simcore.neuron` (float64 potentials, one :class:`NeuronParams` per population):
``V(0) = bias`` (bias_mode "initial") or 0 ("current"); every step starts with the leak
``V <- beta * V`` (skipped when beta = 1), then for reset_leak "unleaked" ``V -= threshold`` for
the neurons that fired at the previous step, then for bias_mode "current", ``V += bias``; a neuron
fires when ``V >= threshold`` (threshold_test ">=") or ``V > threshold`` (">"), at most once per
step, and is reset by ``V -= threshold`` ("subtract", reset_leak "leaked"), ``V = v_reset``
("to_value"), or not until the next step's start ("unleaked").

``mode="sync"`` (clock-equivalent): at step ``t`` a population first integrates every spike
delivered to it for that step (after leak and bias current), then checks its neurons in ascending
index; each one past threshold fires once and is reset. Its bucket therefore lists neurons in
ascending order. With zero delays a spike reaches the next population in the same step. This
equals exactly (integer counts, same float operations per neuron) the clock loop that calls
:func:`simcore.neuron.step` layer by layer with ``I(t) = sum of W s_src(t - d)`` (the only freedom
is the float summation order inside ``W s``; here it is sequential in the order above, except for
Bernoulli input, see below, so weights whose sums are exact -- e.g. multiples of 2**-8 -- agree
exactly).

``mode="async"``: at step ``t`` a population first applies the leak and its bias current, then
checks every neuron (carry-over: potentials still past threshold from earlier steps fire now,
ascending index), then integrates the delivered spikes one at a time, checking each target right
after its increment: a target past threshold that has not fired in this step fires at once (and is
appended to the bucket, so downstream populations see spikes in firing order). A neuron can thus
fire on ``+w`` before a ``-w`` of the same step arrives; a potential left past threshold fires
at the start of the next step (after that step's leak). Deterministic.

Input population: spikes only at ``t < T``. Bernoulli input is regenerated inside the kernel
from ``(seed, sample_id, t, i)`` by :mod:`simcore.encoding` (spike iff ``uniform(key, t, i) <
clip(intensity_i * max_rate, 0, 1)``), identical to ``encoding.bernoulli_trains``; explicit
trains ``(N, T, D)`` bool are read as given; analog input delivers ``x_i`` (if non-zero) as a
graded spike every step ``t < T``. The simulation runs ``steps`` steps (default ``T`` + the
largest total delay along an input -> output path), so delayed activity can drain.

Counters: per population spike counts and final potentials; SOPs per source population =
delivered spikes (or non-zero graded inputs) x their fan-out (structural synapses in the
compiled table), counting only deliveries at ``t < steps``. The output population is decoded
after every step with :func:`simcore.decode.best_index`, the rule of :func:`simcore.decode.predict`.

Implementation (:mod:`simcore.kernels`): because the graph is acyclic and a population never
influences its sources, the kernel evaluates each sample population-major (all steps of a
population, in topological order, buckets kept per step) -- exactly the same float operations per
neuron in the same order as the step-major schedule above. A dense row add handles up to eight
spikes per pass over V as ``((V + w_a) + w_b) + ...`` (the same roundings, in the same order, as
one pass per spike). Convolution projections (``[Conv2d]`` or ``[AvgPool2d(k, stride=k), Conv2d]``,
when they reproduce the compiled table exactly) are delivered as runs of contiguous targets
(neighbouring kernel columns merged into one run): a population fed only by such projections is
stored channel-last inside the kernel; counts, potentials and the indices in buckets are in C order.
In sync mode a projection whose runs share their targets (on average at least
``compiler.BIN_RUNS_PER_KEY`` runs per target run: pooling, several input channels) bins a step's
runs by target run, then adds each target run's rows in bucket order, up to eight per pass: a
target's additions are summed grouped by target run rather than spike by spike (the float order
freedom again; exact sums agree exactly, and the trained MNIST CNN's potentials are bit for bit
those of spike-by-spike delivery). Pooled partners (sources with the very same runs, the k x k
inputs of an average pool) that spike in the same step share their rows: a count m adds one row per
binary digit of m, from copies of the weight table scaled by 2, 4, ... (exact: ``2w + w`` is
``(w + w) + w``). A sync population's firing flags are read eight at a time without branches; a
channel-last population's bucket stays in storage order inside the kernel (again only the summation
order of its deliveries), and recorded rasters are sorted back into ascending order.
In async mode a run is added first and then its targets are checked in ascending index (each
target occurs once, so this equals checking after each increment); a run's firings are sorted
into ascending C-order index. Async dense rows go eight spikes per pass: each neuron takes the
eight adds in order and is flagged if its running maximum reached its threshold (+inf once it
fired in the step); flagged neurons are redone spike by spike and their firings appended by
causing spike, then ascending index. Conv runs and single dense rows are added and tested against
the population's threshold (a superset of the targets that fire) in one vectorised pass; both
write flag bytes, searched eight at a time, so only flagged targets are checked one by one. Weights
are stored as float32 when every compiled weight is exactly a float32 (all arithmetic is float64).
Bernoulli draws compare the counter hash with an integer limit (:func:`simcore.encoding.draw_limit`,
exactly ``uniform < p``), vectorised over the non-zero inputs; a sync population is first tested for
any neuron at threshold in one vectorised pass.
Complement delivery (sync mode, Bernoulli input): a projection from the input sums the rows of the
sample's likely inputs (``p > 1/2``, ascending) once, into ``C``; at every input step it adds ``C``,
then the rows of the unlikely inputs that spiked, then subtracts the rows of the likely inputs that
did not (each list ascending, rows stored negated once more by the compiler). The same synapses
sum to the same value; only the float summation order differs from the bucket order above (exact
sums agree exactly; float32 weights summed in float64 are usually exact -- the trained MNIST
networks' potentials agree bit for bit on the whole test set). The work falls from ``sum(p)`` rows a
step to ``sum(min(p, 1 - p))`` plus one (MNIST: from 104 to 22). Async mode cannot take it: there a
neuron fires on the running sum in bucket order.
Samples run in parallel threads (``numba.prange``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numba
import numpy as np

from simcore import encoding as encoding_mod
from simcore.compiler import compile_network
from simcore.decode import predict
from simcore.kernels import ANALOG, BERNOULLI, TRAINS, KernelInput, KernelOutputs, run_samples
from simcore.network import Network

__all__ = ["simulate", "SimResult"]


@dataclass
class SimResult:
    """Outputs of :func:`simulate` (arrays indexed by sample first). The populations' counts (and
    potentials) are C-contiguous views into one buffer per kind (written in place by the kernel, no
    copy): keeping any one of them keeps that whole buffer alive."""

    counts: dict  # population -> (N, n) int32 (input: delivered input events per input neuron)
    membrane: dict  # neuron population -> (N, n) float64 final potentials
    sops: dict  # source population -> (N,) int64 synaptic operations
    predictions: np.ndarray  # (N,) int64, decode.predict(counts_out, membrane_out)
    prediction_trace: np.ndarray  # (N, steps) int64, decode after every step
    raster: dict | None  # population -> list over samples of (times int32, indices int32), emission order
    output: str
    T: int
    steps: int
    mode: str
    elapsed: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def total_sops(self) -> np.ndarray:
        """(N,) SOPs summed over source populations."""
        return sum(self.sops.values())


def _input_record(comp, intensity, T, seed, trains, encoding, max_rate, sample_ids):
    """(KernelInput, N, T) from the user's input arguments (ValueError with one line on bad input)."""
    D = int(comp.sizes[comp.input_index])
    if trains is not None:
        if intensity is not None:
            raise ValueError("give either intensity or trains, not both")
        tr = np.asarray(trains)
        if tr.ndim != 3 or tr.shape[2] != D:
            raise ValueError(f"trains must have shape (N, T, {D}), got {tr.shape}")
        tr = np.ascontiguousarray(tr, dtype=np.bool_)
        T, N = tr.shape[1], tr.shape[0]
        if T < 1:
            raise ValueError("trains must cover T >= 1 steps")
        return KernelInput(TRAINS, np.zeros((N, D)), np.zeros(N, dtype=np.uint64), tr, T), N, T
    if intensity is None:
        raise ValueError("give intensity (N, D) or trains (N, T, D)")
    if int(T) != T or T < 1:
        raise ValueError(f"T (number of time steps) must be an integer >= 1, got {T}")
    T = int(T)
    x = np.asarray(intensity, dtype=np.float64)
    if x.ndim > 2:
        x = x.reshape(x.shape[0], -1)
    x = encoding_mod.validate_intensity(x, max_rate)
    if x.shape[1] != D:
        raise ValueError(f"intensity has {x.shape[1]} features, input population '{comp.names[comp.input_index]}' has {D}")
    N = x.shape[0]
    no_trains = np.zeros((1, 1, 1), dtype=np.bool_)
    if encoding == "bernoulli":
        p = encoding_mod.spike_probability(x, max_rate)
        keys = encoding_mod._keys(seed, encoding_mod._sample_ids(N, sample_ids))
        return KernelInput(BERNOULLI, np.ascontiguousarray(p), keys, no_trains, T), N, T
    if encoding == "analog":
        return KernelInput(ANALOG, np.ascontiguousarray(x), np.zeros(N, dtype=np.uint64), no_trains, T), N, T
    raise ValueError(f"encoding must be 'bernoulli' or 'analog', got {encoding!r}")


def _rasters(comp, r_idx, r_ptr, N: int, steps: int, mode: str) -> dict:
    """The kernel's buckets as per-sample (times, indices); a channel-last population's sync buckets
    are in storage order inside the kernel and are sorted here into the ascending order of the contract."""
    raster = {}
    for k, name in enumerate(comp.names):
        per = []
        for s in range(N):
            ptr = r_ptr[s, k * (steps + 1):(k + 1) * (steps + 1)]
            idx = r_idx[s, int(ptr[0]):int(ptr[-1])]
            times = np.repeat(np.arange(steps, dtype=np.int32), np.diff(ptr)).astype(np.int32)
            if mode == "sync" and comp.pop_perm[k]:
                idx = idx[np.lexsort((idx, times))]
            per.append((times, idx.copy()))
        raster[name] = per
    return raster


def simulate(net: Network, intensity=None, T: int = 50, seed: int = 0, *, trains=None,
             encoding: str = "bernoulli", max_rate: float = 1.0, sample_ids=None, mode: str = "sync",
             steps: int | None = None, record_raster: bool = False, threads: int | None = None) -> SimResult:
    """Simulate ``net`` on N samples (see the module docstring for the exact semantics).

    intensity: (N, D) float64 in [0, 1] for Bernoulli input (spike probability
    ``clip(intensity * max_rate, 0, 1)``, regenerated from ``seed`` and ``sample_ids``, default
    ``arange(N)``), or the analog values for ``encoding="analog"``.
    trains: (N, T, D) bool explicit input spike trains instead (then T = trains.shape[1]).
    steps: simulated steps (default T + largest input->output path delay); input only at t < T.
    threads: numba threads (default: numba's current setting).
    """
    t_start = time.perf_counter()
    comp = compile_network(net)
    if mode not in ("sync", "async"):
        raise ValueError(f"mode must be 'sync' or 'async', got {mode!r}")
    inp, N, T = _input_record(comp, intensity, T, seed, trains, encoding, max_rate, sample_ids)
    if steps is None:
        steps = T + comp.max_path_delay
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps}")
    steps = int(steps)
    P, total = len(comp.names), int(comp.offsets[-1])
    rN, rT = (N, steps * total) if record_raster else (1, 1)
    out = KernelOutputs(counts=np.zeros(N * total, dtype=np.int32), membrane=np.zeros(N * total),
                        sops=np.zeros((N, P), dtype=np.int64), trace=np.zeros((N, steps), dtype=np.int64),
                        r_idx=np.zeros((rN, rT), dtype=np.int32),
                        r_ptr=np.zeros((rN, P * (steps + 1) if record_raster else 1), dtype=np.int64))
    old_threads = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        if N:
            nchunks = max(1, min(N, 8 * numba.get_num_threads()))
            run_samples(comp.tables, inp, out, steps, mode == "async", record_raster, nchunks)
    finally:
        numba.set_num_threads(old_threads)
    res_counts, res_mem, res_sops = {}, {}, {}
    for k, name in enumerate(comp.names):  # contiguous (N, n) views of the population-major blocks
        sl = slice(N * int(comp.offsets[k]), N * int(comp.offsets[k + 1]))
        res_counts[name] = out.counts[sl].reshape(N, int(comp.sizes[k]))
        if k != comp.input_index:
            res_mem[name] = out.membrane[sl].reshape(N, int(comp.sizes[k]))
        if np.any(comp.p_src == k):
            res_sops[name] = out.sops[:, k].copy()
    name_out = comp.names[comp.output_index]
    raster = _rasters(comp, out.r_idx, out.r_ptr, N, steps, mode) if record_raster else None
    return SimResult(
        counts=res_counts, membrane=res_mem, sops=res_sops,
        predictions=predict(res_counts[name_out], res_mem[name_out]) if N else np.zeros(0, np.int64),
        prediction_trace=out.trace, raster=raster,
        output=name_out, T=T, steps=steps, mode=mode, elapsed=time.perf_counter() - t_start,
    )
