"""Runner overhead per job: wall time of a grid of tiny jobs minus the time spent inside the jobs.

Usage: PYTHONPATH=. python docs/data/issue16/overhead.py OUT_DIR SEEDS [--workers N | --scheduler ADDR N]
Runs `reproduce table1 --seeds SEEDS --epochs 1 --limit 10` (32 jobs per seed: 4 data sets x
(2 trainings + 6 evaluations), tens of ms each) into a fresh OUT_DIR, then reads every job's result.json ("seconds": time inside the job). Overhead per job:
(wall x parallel slots - time inside jobs) / jobs, slots = N workers (1 serially); it includes
start-up (imports, kernel warm-up, cluster start) spread over the jobs.
"""
import json
import sys
import time
from pathlib import Path

from analysis.cli import main

if __name__ == "__main__":
    out, seeds, extra = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    t0 = time.perf_counter()
    assert main(["reproduce", "table1", "--seeds", seeds, "--epochs", "1", "--limit", "10", "--out", str(out),
                 *extra[:2]]) == 0
    wall = time.perf_counter() - t0
    inside = [json.loads(p.read_text())["seconds"] for p in out.glob("jobs/*/result.json")]
    n = len(inside)
    slots = int(extra[1]) if extra[:1] == ["--workers"] else int(extra[2]) if extra[:1] == ["--scheduler"] else 1
    print(json.dumps({"jobs": n, "wall_seconds": round(wall, 2), "seconds_inside_jobs": round(sum(inside), 2),
                      "slots": slots, "overhead_per_job_seconds": round((wall * slots - sum(inside)) / n, 4),
                      "seeds": int(seeds), "options": extra}))
