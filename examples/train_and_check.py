"""Train a spiking network in memory, then check it spike by spike in the event-driven simulator.

    python examples/train_and_check.py [--small] [--out DIR]

Trains 64-100-10 on scikit-learn's 8x8 digits with the spike-count rule, evaluates it in the
tensor model's stepped mode (explicit IF dynamics), pushes it to simcore, simulates the same
spike trains, checks that every neuron's spike count is identical, and draws one raster.
``--small`` (or SPIKECOUNT_EXAMPLE_SMALL=1): fewer epochs and samples, for the test suite.
"""
import os
import time

import numpy as np

import analysis
import learning
from _example import example_args, example_parser


def main() -> None:
    a = example_args(example_parser(__doc__))
    t0 = time.perf_counter()
    T, epochs, n_check = (10, 2, 50) if a.small else (20, 15, 450)

    train = learning.load_dataset("digits", "train")
    test = learning.load_dataset("digits", "test")
    net = learning.build_net("64-100-10", seed=0)
    net, metrics = learning.train_net(net, (train, test), T=T, epochs=epochs, batch_size=32)
    print(f"trained {epochs} epochs at T={T}: test accuracy {metrics['test_accuracy']:.4f} (aggregate mode)")

    x, y = test.x[:n_check], test.y[:n_check]
    net = net.double()  # simcore simulates in float64
    stepped = learning.evaluate_net(net, x, y, T, mode="stepped", seed=1)
    trains = learning.spike_trains(net, x, T, seed=1)  # {"input": (N, T, 64), "dense1": ..., "dense2": ...}
    sim = learning.simulate_net(net, x, T, seed=1)  # simcore regenerates the same input trains
    for pop in ("input", "dense1", "dense2"):
        same = np.array_equal(trains[pop].sum(1), sim.counts[pop])
        print(f"{pop:7s} spike counts identical in simcore: {same}")
        assert same, pop
    assert np.array_equal(stepped.predictions, sim.predictions)
    print(f"stepped accuracy {stepped.accuracy:.4f} = simcore accuracy {np.mean(sim.predictions == y):.4f}")

    graph = learning.to_graph(net)
    raster = analysis.record_rasters(graph, x, T, seed=1, samples=[0], labels=y)[0]
    png = analysis.raster_plot(raster, os.path.join(a.out, "raster.png"), title="digits 64-100-10, test sample 0")
    print(f"raster -> {png}   ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
