"""Where a simcore run spends its time inside numba's machine code, with Linux ``perf``.

    perf record -F 2000 -o DATA python benchmarks/perf_jit.py run --model MODEL --mode async \
        [--n 100] [--seconds 15] --dumps DIR
    python benchmarks/perf_jit.py report --perf-data DATA --dumps DIR [--top 12]

numba's compiled code lives in anonymous memory, so ``perf report`` shows bare addresses. ``run``
simulates MODEL (a trained model directory, MNIST test images, its T and encoding, seed 0) in a
loop for ``--seconds`` and then writes every executable anonymous mapping of its own process to
``DIR`` (``<start address>.bin``). ``report`` reads the samples (``perf script``), places each in
one of those mappings, and prints the shares of: numba's reference counting (the ``NRT_incref`` /
``NRT_decref`` helpers, found by their instruction bytes: an atomic ``lock inc`` / ``lock dec`` of
the count), the rest of the compiled code, and everything else (Python, numpy, the kernel); then
the hottest 128-byte blocks of compiled code (disassemble them with ``objdump -D -b binary
-m i386:x86-64 --adjust-vma=START DIR/START.bin``).
"""
from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

# NRT_incref / NRT_decref as numba emits them: test rdi; je; lock incq/decq (rdi)
_INCREF = bytes.fromhex("4885ff7404f048ff07c3")
_DECREF = bytes.fromhex("4885ff7406f048ff0f")


def run(args) -> int:
    """Simulate in a loop, then dump this process's executable anonymous mappings."""
    import numpy as np

    import simcore
    from bench_simcore import MNIST
    from learning.datasets import load_dataset
    from learning.models import load

    loaded = load(args.model)
    T, enc = int(loaded.meta.get("T", 50)), loaded.meta.get("encoding", "bernoulli")
    d = load_dataset("mnist", "test", MNIST, limit=args.n)
    x = np.asarray(d.x, dtype=np.float64).reshape(len(d.y), -1)
    simcore.simulate(loaded.graph, x[:5], T=T, seed=0, mode=args.mode, encoding=enc)
    t0, runs = time.time(), 0
    while time.time() - t0 < args.seconds:
        simcore.simulate(loaded.graph, x, T=T, seed=0, mode=args.mode, encoding=enc)
        runs += 1
    os.makedirs(args.dumps, exist_ok=True)
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb") as mem:
        for line in maps:
            parts = line.split()
            if "x" not in parts[1] or len(parts) > 5:  # executable and not backed by a file
                continue
            a, b = (int(v, 16) for v in parts[0].split("-"))
            mem.seek(a)
            with open(os.path.join(args.dumps, f"{a:x}.bin"), "wb") as f:
                f.write(mem.read(b - a))
    print(f"{runs} runs of {args.n} images in {time.time() - t0:.1f} s; mappings in {args.dumps}")
    return 0


def report(args) -> int:
    """Shares of reference counting, other compiled code and the rest; the hottest blocks."""
    regions = []
    for name in os.listdir(args.dumps):
        start = int(name.split(".")[0], 16)
        data = open(os.path.join(args.dumps, name), "rb").read()
        nrt = [start + data.find(p) for p in (_INCREF, _DECREF) if data.find(p) >= 0]
        regions.append((start, start + len(data), nrt))
    out = subprocess.run(["perf", "script", "-i", args.perf_data, "-F", "ip"], capture_output=True, text=True,
                         check=True).stdout.split()
    kinds, blocks = collections.Counter(), collections.Counter()
    for ip in (int(v, 16) for v in out):
        for a, b, nrt in regions:
            if a <= ip < b:
                if any(0 <= ip - f < 32 for f in nrt):
                    kinds["reference counting"] += 1
                else:
                    kinds["other compiled code"] += 1
                    blocks[(a, (ip - a) >> 7 << 7)] += 1
                break
        else:
            kinds["outside compiled code"] += 1
    total = sum(kinds.values())
    for k in ("reference counting", "other compiled code", "outside compiled code"):
        print(f"{k:22s} {kinds[k]:7d} samples  {kinds[k] / max(total, 1):.3f}")
    jit = kinds["reference counting"] + kinds["other compiled code"]
    print(f"reference counting / all compiled code: {kinds['reference counting'] / max(jit, 1):.3f}")
    for (a, off), v in blocks.most_common(args.top):
        print(f"  block {a:x}+{off:#x}: {v / max(jit, 1):.3f}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--model", required=True)
    r.add_argument("--mode", default="async", choices=("sync", "async"))
    r.add_argument("--n", type=int, default=100)
    r.add_argument("--seconds", type=float, default=15.0)
    r.add_argument("--dumps", required=True)
    p = sub.add_parser("report")
    p.add_argument("--perf-data", required=True)
    p.add_argument("--dumps", required=True)
    p.add_argument("--top", type=int, default=12)
    args = ap.parse_args(argv)
    return run(args) if args.cmd == "run" else report(args)


if __name__ == "__main__":
    sys.exit(main())
