#!/usr/bin/env bash
# spikecount's trainer against the plain reference, interleaved on the same machine (2 rounds).
# Usage: bash benchmarks/compare_training.sh ../shared/data/mnist
set -euo pipefail
data=${1:?data dir}
for round in 1 2; do
  for T in 50 10; do
    python benchmarks/plain_reference.py --data-dir "$data" --T $T --mode aggregate
    python benchmarks/bench_training.py --data-dir "$data" --modes aggregate --T $T
    python benchmarks/plain_reference.py --data-dir "$data" --T $T --mode stepped --batches 60
    python benchmarks/bench_training.py --data-dir "$data" --modes stepped --T $T
  done
done
