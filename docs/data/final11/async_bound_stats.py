"""How much work an exact async delivery of the MNIST MLP's input would need with the complement sum
and a bound (17.16): per step, the hidden neurons that fire, the candidates of several bounds, and the
work of walking the candidates range by range (blocks of likely inputs). numpy, plain loops.

    PYTHONPATH=. python docs/data/final11/async_bound_stats.py [--n 50] [--block 8]
"""
import argparse

import numpy as np

from learning.datasets import load_dataset
from learning.models import load
from simcore import encoding
from simcore.compiler import compile_network

ap = argparse.ArgumentParser()
ap.add_argument("--model", default="/work/models/mlp_T50")
ap.add_argument("--data-dir", default="/work/shared/data/mnist")
ap.add_argument("--n", type=int, default=50)
ap.add_argument("--block", type=int, default=8)
args = ap.parse_args()

comp = compile_network(load(args.model).graph)
proj = [p for p in comp.projections if p.src == comp.input_index][0]
W = proj.weights.astype(np.float64)  # (784, n) rows of the input projection
n = W.shape[1]
theta = 1.0
bias = comp.bias[comp.offsets[proj.tgt]:comp.offsets[proj.tgt] + n]
d = load_dataset("mnist", "test", args.data_dir, limit=args.n)
x = np.asarray(d.x, dtype=np.float64).reshape(len(d.y), -1)
T, B = 50, args.block
trains = encoding.bernoulli_trains(x, T, seed=0)
Wp = np.maximum(W, 0.0)
st = dict(steps=0, spikes=0, surprises=0, fire=0, sure=0, late=0, bound_sample_pos=0, bound_step_pos=0,
          bound_M_Q=0, ranges=0, gathers_surprise=0, walked_ranges=0, gathers_walk=0)
for s in range(len(x)):
    hl = np.nonzero(x[s] > 0.5)[0]  # likely inputs, ascending
    lik = np.zeros(784, bool)
    lik[hl] = True
    nb = (len(hl) + B - 1) // B
    edges = [0] + [hl[b * B] for b in range(nb)] + [784]
    acc = np.zeros(n)
    Cst, Cmx = [], []
    for b in range(nb):  # per sample: likely rows by block, with the largest partial sum
        Cst.append(acc.copy())
        mx = np.full(n, -np.inf)
        for i in hl[b * B:(b + 1) * B]:
            acc = acc + W[i]
            mx = np.maximum(mx, acc)
        Cmx.append(mx)
    M = np.maximum(0.0, np.max(Cmx, 0)) if nb else np.zeros(n)
    P = Wp[x[s] > 0].sum(0)
    V = bias.copy()
    for t in range(T):
        carried = V >= theta
        V[carried] -= theta
        tep = np.where(carried, np.inf, theta)
        sp = trains[s, t]
        spikes = np.nonzero(sp)[0]
        uh, lm = np.nonzero(sp & ~lik)[0], np.nonzero(lik & ~sp)[0]
        pre = V + np.cumsum(W[spikes], 0) if len(spikes) else V[None]
        fires = pre.max(0) >= tep
        final = pre[-1]
        Q = Wp[uh].sum(0) + np.maximum(-W[lm], 0.0).sum(0)
        cand = np.nonzero(V + M + Q >= tep)[0]
        assert not (fires & ~(V + M + Q >= tep)).any()  # the bound misses no firing
        st["steps"] += 1
        st["spikes"] += len(spikes)
        st["surprises"] += len(uh) + len(lm)
        st["fire"] += fires.sum()
        st["sure"] += (final >= tep).sum()
        st["late"] += (fires & (final < tep)).sum()
        st["bound_sample_pos"] += (V + P >= tep).sum()
        st["bound_step_pos"] += (V + Wp[spikes].sum(0) >= tep).sum()
        st["bound_M_Q"] += len(cand)
        for j in cand:  # the walk of a candidate, range by range (as the prototype does)
            sur = sorted([(i, W[i, j]) for i in uh] + [(i, -W[i, j]) for i in lm])
            dd, used = 0.0, 0
            for r in range(nb + 1):
                lo, hi = edges[r], edges[r + 1]
                cmx = Cmx[r - 1][j] if r else 0.0
                st["ranges"] += 1
                if V[j] + cmx + Q[j] < tep[j]:
                    continue
                while used < len(sur) and sur[used][0] < lo:
                    dd += sur[used][1]
                    used += 1
                    st["gathers_surprise"] += 1
                inr = [w for (i, w) in sur if lo <= i < hi]
                st["gathers_surprise"] += len(inr)
                if V[j] + dd + cmx + sum(max(w, 0.0) for w in inr) >= tep[j]:
                    st["walked_ranges"] += 1
                    a = V[j] + (Cst[r - 1][j] if r else 0.0) + dd
                    hit = False
                    for i in spikes[(spikes >= lo) & (spikes < hi)]:
                        st["gathers_walk"] += 1
                        a += W[i, j]
                        if a >= tep[j]:
                            hit = True
                            break
                    if hit:
                        break
                dd += sum(inr)
                used += len(inr)
        V = final.copy()
        V[fires] -= theta
steps = st.pop("steps")
print(f"{args.n} images x {T} steps, block {B}, {n} hidden neurons; per step:")
for k, v in st.items():
    print(f"  {k}: {v / steps:.2f}")
