"""simcore.sops: SOPs from spike counts equal the engine's event-by-event counters."""
import numpy as np
import pytest

from simcore import compile_network, simulate
from simcore.sops import input_events, sops_from_counts
from simcore_helpers import mlp, random_trains, small_cnn


@pytest.mark.parametrize("make", ["mlp", "cnn"])
@pytest.mark.parametrize("encoding", ["trains", "analog"])
def test_sops_from_counts_equal_the_engine(make, encoding):
    rng = np.random.default_rng(3)
    net = mlp(rng, (12, 9, 4)) if make == "mlp" else small_cnn(rng)
    comp = compile_network(net)
    D, T, N = int(comp.sizes[comp.input_index]), 9, 5
    if encoding == "trains":
        inp = random_trains(rng, N, T, D)
        res = simulate(net, trains=inp, mode="sync")
        events = input_events(inp, T)
    else:
        inp = rng.random((N, D)) * (rng.random((N, D)) < 0.6)
        res = simulate(net, inp, T, 0, encoding="analog", mode="sync")
        events = input_events(inp, T, "analog")
    chain = net.populations  # each of these nets is a chain: input -> ... -> output
    fan = [comp.projections[k].fanout().astype(np.float64) for k in range(len(chain) - 1)]
    for s in range(N):
        got = sops_from_counts(fan, events[s:s + 1], [res.counts[p][s:s + 1] for p in chain[1:]])
        want = [res.sops[p][s] for p in chain[:-1]]
        assert got.tolist() == [*map(float, want), 0.0]
    assert res.total_sops.sum() > 0
