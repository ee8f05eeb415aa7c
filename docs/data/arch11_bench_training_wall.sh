#!/bin/bash
# interleaved before/after: bench_training.py MNIST 784-800-10, T=50, aggregate and stepped
out=/tmp/arch-bench-raw.txt; : > $out
for rep in 1 2 3 4 5; do
  for side in before after; do
    if [ $side = before ]; then d=/tmp/arch-before; else d=/work/wt/arch-learning; fi
    echo "== rep $rep $side $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)" >> $out
    (cd $d && PYTHONPATH=$d /work/main/.venv/bin/python benchmarks/bench_training.py --data-dir /work/shared/data/mnist --T 50 --batches 60) >> $out 2>&1
  done
done
echo DONE >> $out
