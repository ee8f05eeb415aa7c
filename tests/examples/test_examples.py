"""The examples run (on small data: --small) and say what they promise."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script, expected", [
    ("train_and_check.py", ["dense2  spike counts identical in simcore: True", "raster ->"]),
    ("convert_torch_ann.py", ["smallest T within 1 point of the ANN:", "spikecount convert --torch-state"]),
    ("latency_study_npz.py", ["| conversion (robust) | 16 |", "| spike-count T_train=4 | 4 |"]),
])
def test_example_runs(script, expected, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPIKECOUNT_EXAMPLE_SMALL": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--out", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    for line in expected:
        assert line in r.stdout, r.stdout
