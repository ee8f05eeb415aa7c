#!/bin/bash
out=/tmp/arch-cpu-raw.txt; : > $out
for rep in 1 2 3 4 5 6 7; do
  for side in before after; do
    if [ $side = before ]; then d=/tmp/arch-before; else d=/work/wt/arch-learning; fi
    for mode in aggregate stepped; do
      r=$(cd $d && NUMBA_NUM_THREADS=1 PYTHONPATH=$d /work/main/.venv/bin/python /tmp/arch-cpu-bench.py $mode 50 40 2>&1 | tail -1)
      echo "$rep $side $(cut -d' ' -f1 /proc/loadavg) $r" >> $out
    done
  done
done
echo DONE >> $out
