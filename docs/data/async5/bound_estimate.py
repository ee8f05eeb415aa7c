"""Estimate (numpy, sync-like reset): per 8-row batch of the trained MLP, the fraction of neurons whose block bound (block max V + sum of the block max positive weight per row) stays below fire_at, for blocks of 8 to 800 neurons."""
import numpy as np
from learning.models import load
from learning.datasets import load_dataset
L = load("/work/models/mlp_T50")
from simcore.compiler import compile_network
c = compile_network(L.graph)
W = c.projections[0].weights  # (784, 800) src x tgt
W = np.asarray(W).reshape(784, 800)
d = load_dataset("mnist", "test", "/work/shared/data/mnist", limit=20)
x = np.asarray(d.x, dtype=np.float64).reshape(len(d.y), -1)
rng = np.random.default_rng(0)
BS = (8, 16, 32, 64, 800)
tot = dict.fromkeys(BS, 0); skip = dict.fromkeys(BS, 0)
for s in range(len(x)):
    V = np.zeros(800)
    for t in range(50):
        spk = np.nonzero(rng.random(784) < x[s])[0]
        for b in range(0, len(spk) - 7, 8):
            rows = W[spk[b:b + 8]]                       # (8, 800)
            for bs in BS:
                nb = 800 // bs
                bmax = np.maximum(rows[:, :nb * bs].reshape(8, nb, bs).max(axis=2), 0).sum(axis=0)
                vmax = V[:nb * bs].reshape(nb, bs).max(axis=1)
                skip[bs] += np.sum(vmax + bmax < 1.0) * bs; tot[bs] += nb * bs
            for r in rows:                                # sync-like update with subtract reset
                V += r
                f = V >= 1.0
                V[f] -= 1.0
for bs in BS: print(f"blocks of {bs}: fraction of neuron-passes whose block bound stays below fire_at {skip[bs] / tot[bs]:.3f}")
