"""What produced a result: package versions and machine, recorded with every result file."""
from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata

__all__ = ["environment"]

_PACKAGES = ("spikecount", "numpy", "numba", "networkx", "torch", "brian2", "safetensors", "scikit-learn")


def environment() -> dict:
    """Versions of Python and the main packages (read from installed metadata, nothing imported)."""
    versions = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "versions": versions,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
