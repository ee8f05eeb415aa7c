"""The seeded encoder against an independent plain-numpy implementation of its documented definition."""
import numpy as np
import pytest
import torch

from learning.inputs import input_counts, input_trains
from simcore import encoding

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(z):
    with np.errstate(over="ignore"):
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & M64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & M64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & M64
        return z ^ (z >> np.uint64(31))


def numpy_trains(x, T, seed, max_rate=1.0, sample_ids=None):
    """The module docstring's definition, vectorised in numpy."""
    n, d = x.shape
    ids = np.arange(n, dtype=np.uint64) if sample_ids is None else np.asarray(sample_ids, dtype=np.uint64)
    keys = _mix(_mix(np.full(n, seed, dtype=np.uint64)) ^ ids)
    t = np.arange(T, dtype=np.uint64)[:, None]
    i = np.arange(d, dtype=np.uint64)[None, :]
    counter = (t << np.uint64(32)) | i
    u = (_mix(keys[:, None, None] ^ counter[None]) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return u < np.clip(x * max_rate, 0, 1)[:, None, :]


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**40 + 7])
def test_trains_match_independent_definition(seed):
    x = np.random.default_rng(seed % 1000).random((5, 37))
    x[0, :5] = 0.0
    x[1, :5] = 1.0
    got = encoding.bernoulli_trains(x, 23, seed, max_rate=0.8, sample_ids=[3, 9, 0, 100, 2**33])
    ref = numpy_trains(x, 23, seed, max_rate=0.8, sample_ids=[3, 9, 0, 100, 2**33])
    assert np.array_equal(got, ref)


def test_integer_threshold_equals_float_rule_at_the_boundary():
    # p set exactly to a draw u, and one ulp either side: spike iff u < p, nothing else
    seed, T, d = 11, 30, 8
    u = (_mix(_mix(np.uint64(seed)) ^ np.uint64(0) ^ ((np.arange(T, dtype=np.uint64)[:, None] << np.uint64(32))
                                                    | np.arange(d, dtype=np.uint64)[None]))
         >> np.uint64(11)).astype(np.float64) * 2.0**-53
    picks = u[np.arange(d) % T, np.arange(d)]
    for p in (picks, np.nextafter(picks, 0), np.nextafter(picks, 1)):
        x = np.clip(p, 0, np.nextafter(1, 0))[None]
        ref = numpy_trains(x, T, seed)
        assert np.array_equal(encoding.bernoulli_trains(x, T, seed), ref)
        assert np.array_equal(encoding.bernoulli_counts(x, T, seed), ref.sum(1))


def test_simulator_input_equals_float_rule_at_the_boundary():
    # simcore regenerates the input with the integer draw limit: the same spikes as u < p for p a
    # draw, one ulp either side, 1, the largest p below 1 and the smallest subnormal
    from simcore import Dense, Network, simulate

    seed, T, d = 11, 30, 8
    u = (_mix(_mix(np.uint64(seed)) ^ np.uint64(0) ^ ((np.arange(T, dtype=np.uint64)[:, None] << np.uint64(32))
                                                    | np.arange(d, dtype=np.uint64)[None]))
         >> np.uint64(11)).astype(np.float64) * 2.0**-53
    picks = u[np.arange(d) % T, np.arange(d)]
    extremes = np.array([1.0, np.nextafter(1, 0), 5e-324, 2.0**-53, 0.5, 0.0, 1.0, np.nextafter(2.0**-53, 1)])
    net = Network()
    net.add_input("input", (d,))
    net.add_neurons("out", (1,))
    net.connect("input", "out", [Dense(np.zeros((1, d)))])
    x = np.stack([picks, np.nextafter(picks, 0), np.nextafter(picks, 1), extremes])
    res = simulate(net, x, T=T, seed=seed, sample_ids=np.zeros(4, dtype=np.int64), record_raster=True)
    ref = numpy_trains(x, T, seed, sample_ids=np.zeros(4, dtype=np.uint64))
    np.testing.assert_array_equal(res.counts["input"], ref.sum(1))
    for s in range(4):
        times, idx = res.raster["input"][s]
        rebuilt = np.zeros((T, d), bool)
        rebuilt[times, idx] = True
        assert np.array_equal(rebuilt, ref[s]) and np.all(np.diff(times * d + idx) > 0)  # ascending per step


def test_trains_in_another_dtype_are_the_same_trains():
    x = np.random.default_rng(1).random((4, 30))
    ref = encoding.bernoulli_trains(x, 12, seed=3)
    got = encoding.bernoulli_trains(x, 12, seed=3, dtype=np.float32)
    assert got.dtype == np.float32 and np.array_equal(got, ref.astype(np.float32))


def test_counts_prefix_rates_and_independence():
    x = np.random.default_rng(0).random((200, 50))
    trains = encoding.bernoulli_trains(x, 40, seed=7)
    assert np.array_equal(encoding.bernoulli_counts(x, 40, seed=7), trains.sum(1))
    assert np.array_equal(encoding.bernoulli_trains(x, 10, seed=7), trains[:, :10])  # prefix property
    # a sample's train depends only on (seed, its id), not on its neighbours
    assert np.array_equal(encoding.bernoulli_trains(x[5:6], 40, 7, sample_ids=[5])[0], trains[5])
    # unbiased rates: mean spikes per step equals intensity (binomial error << 0.01 at 400k draws)
    assert abs(trains.mean() - x.mean()) < 0.005
    assert not np.array_equal(encoding.bernoulli_trains(x, 40, seed=8), trains)
    assert encoding.bernoulli_counts(np.ones((1, 3)), 9, 0).tolist() == [[9, 9, 9]]
    assert encoding.bernoulli_counts(np.zeros((1, 3)), 9, 0).tolist() == [[0, 0, 0]]


def test_learning_uses_the_same_encoder():
    x = np.random.default_rng(1).random((4, 16))
    ids = np.array([10, 11, 12, 13])
    assert torch.equal(input_trains(x, 12, 3, sample_ids=ids), torch.from_numpy(numpy_trains(x, 12, 3, sample_ids=ids)).float())
    assert torch.equal(input_counts(x, 12, 3, sample_ids=ids), input_trains(x, 12, 3, sample_ids=ids).sum(1))
    assert torch.allclose(input_counts(x, 12, 3, "analog"), torch.from_numpy(12 * x).float())


def test_encoder_errors():
    with pytest.raises(ValueError, match="T"):
        encoding.bernoulli_trains(np.zeros((1, 2)), 0, 0)
    with pytest.raises(ValueError, match="NaN"):
        encoding.bernoulli_counts(np.array([[np.nan]]), 3, 0)
    with pytest.raises(ValueError, match="2-D"):
        encoding.bernoulli_counts(np.zeros(3), 3, 0)
    with pytest.raises(ValueError, match="seed"):
        encoding.bernoulli_counts(np.zeros((1, 2)), 3, -1)
