"""numba's on-disk cache keyed also on the sources a kernel inlines.

numba keys a cached function on its own file (modification time and size) and bytecode, not on the
functions it inlines from other modules: after an edit to :mod:`simcore.delivery` alone, the cached
machine code of :func:`simcore.kernels.run_samples` would load, silently running the old delivery.
:func:`key_on_sources` adds a hash of the named modules' sources to the cache key of the given
dispatchers, so any change there compiles anew (and an unchanged tree still loads from the cache).
It uses numba's ``FunctionCache`` and its ``_index_key`` hook (numba >= 0.59).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from numba.core.caching import FunctionCache

__all__ = ["sources_tag", "key_on_sources"]


def sources_tag(modules: Iterable[ModuleType]) -> str:
    """sha256 (hex) of the modules' source files, in the given order."""
    h = hashlib.sha256()
    for m in modules:
        h.update(Path(m.__file__).read_bytes())
    return h.hexdigest()


class _SourcesCache(FunctionCache):
    """numba's function cache with the sources tag in every index key."""

    def __init__(self, py_func, tag: str):
        super().__init__(py_func)
        self._sources_tag = tag

    def _index_key(self, sig, codegen):
        return (*super()._index_key(sig, codegen), self._sources_tag)


def key_on_sources(dispatchers: Iterable, modules: Iterable[ModuleType]) -> str:
    """Key the on-disk cache of each ``numba.njit(cache=True)`` dispatcher also on ``modules``'
    sources (call before their first compile); returns the tag."""
    tag = sources_tag(modules)
    for d in dispatchers:
        d._cache = _SourcesCache(d.py_func, tag)
    return tag
