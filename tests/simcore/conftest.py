"""Load this folder's helper modules under unique names (other test folders may have a reference.py too)."""
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name, filename):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(_HERE, filename))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)


_load("simcore_reference", "reference.py")
_load("simcore_helpers", "simcore_helpers.py")
_load("simcore_nir_reference", "nir_reference.py")
