"""CPU seconds (process_time, 1 torch thread, 1 numba thread) of N training steps of the spike-count rule,
MNIST 784-800-10, batch 128, T=50: input encoding + forward + loss + backward + Adam, in `mode`.
Run with PYTHONPATH=<tree>; prints JSON. CPU time, not wall time: the dev box is shared."""
import json, sys, time
import numpy as np
import torch
import torch.nn.functional as F
from learning.datasets import load_dataset
from learning.inputs import input_counts, input_trains
from learning.model import SpikingNet
from learning.spec import parse_spec

mode, T, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(1)
torch.manual_seed(0)
data = load_dataset("mnist", "train", "/work/shared/data/mnist", limit=128 * (n + 2))
net = SpikingNet(parse_spec("784-800-10"))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
def step(k):
    xb = data.x[128 * k:128 * (k + 1)]
    yb = torch.from_numpy(data.y[128 * k:128 * (k + 1)])
    ids = np.arange(128 * k, 128 * (k + 1))
    inp = input_trains(xb, T, 0, sample_ids=ids) if mode == "stepped" else input_counts(xb, T, 0, sample_ids=ids)
    out = net(inp, mode, T)
    loss = F.cross_entropy(out.output, yb)
    opt.zero_grad(); loss.backward(); opt.step()
for k in range(2):
    step(k)  # warm-up (numba cache, allocator)
t0 = time.process_time()
for k in range(2, n + 2):
    step(k)
print(json.dumps({"mode": mode, "T": T, "batches": n, "cpu_ms_per_batch": 1000 * (time.process_time() - t0) / n}))
