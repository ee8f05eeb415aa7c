#!/bin/bash
out=/tmp/arch-cpu-raw2.txt; : > $out
for rep in 1 2 3 4 5 6; do
  if [ $((rep % 2)) = 1 ]; then order="before after"; else order="after before"; fi
  for side in $order; do
    if [ $side = before ]; then d=/tmp/arch-before; else d=/work/wt/arch-learning; fi
    r=$(cd $d && NUMBA_NUM_THREADS=1 PYTHONPATH=$d /work/main/.venv/bin/python /tmp/arch-cpu-bench.py aggregate 50 120 2>&1 | tail -1)
    echo "$rep $side $(cut -d' ' -f1 /proc/loadavg) $r" >> $out
  done
done
echo DONE >> $out
