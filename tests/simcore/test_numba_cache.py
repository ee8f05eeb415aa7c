"""The compiled kernels' cache follows the helpers they inline (simcore.numba_cache)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import simcore
from simcore import decode, delivery, encoding, kernels, neuron_kernels, vector_ops

HELPER = """import numba
@numba.njit(cache=True, inline="always")
def value():
    return {v}
"""
KERNEL = """import numba
import helper
from simcore.numba_cache import key_on_sources
@numba.njit(cache=True)
def kernel():
    return helper.value()
key_on_sources([kernel], [helper])
print(kernel(), kernel.stats.cache_hits.get((), 0), kernel.stats.cache_misses.get((), 0))
"""


def _run(pkg: Path) -> tuple[int, int, int]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pkg), str(Path(simcore.__file__).parents[1])])}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, str(pkg / "kernel.py")], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    return tuple(int(x) for x in out)


def test_an_edit_to_an_inlined_helper_compiles_anew(tmp_path):
    (tmp_path / "helper.py").write_text(HELPER.format(v=1))
    (tmp_path / "kernel.py").write_text(KERNEL)
    assert _run(tmp_path) == (1, 0, 1)          # compiled and cached
    assert _run(tmp_path) == (1, 1, 0)          # unchanged: loaded from the cache
    (tmp_path / "helper.py").write_text(HELPER.format(v=2))  # kernel.py untouched
    assert _run(tmp_path) == (2, 0, 1)          # the helper's edit is compiled, not the stale code
    assert _run(tmp_path) == (2, 1, 0)


def test_the_kernels_are_keyed_on_every_module_they_inline():
    expected = simcore.numba_cache.sources_tag([delivery, neuron_kernels, encoding, decode, vector_ops])
    assert kernels.SOURCES_TAG == expected
    for d in (kernels.run_samples, kernels._run_chunk, kernels._population_sync, kernels._population_async):
        assert d._cache._sources_tag == expected
