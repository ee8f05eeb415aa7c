"""Dependencies point one way: analysis -> baselines -> learning -> simcore; simcore never imports torch."""
import subprocess
import sys

import pytest

CHECK = """
import sys, importlib
importlib.import_module({mod!r})
for pkg in {forbidden!r}:
    assert not any(m == pkg or m.startswith(pkg + '.') for m in sys.modules), pkg
"""


@pytest.mark.parametrize("mod, forbidden", [
    ("simcore", ["torch", "learning", "baselines", "analysis"]),
    ("simcore.engine", ["torch", "learning"]),
    ("simcore.nir_import", ["torch", "learning"]),
    ("simcore.nir_export", ["torch", "learning"]),
    ("nir", ["torch"]),
    ("learning.simulate", ["baselines", "analysis"]),
    ("baselines.convert", ["analysis"]),
])
def test_imports_point_one_way(mod, forbidden):
    code = CHECK.format(mod=mod, forbidden=forbidden)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]
