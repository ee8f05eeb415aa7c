"""simcore.warmup compiles the kernel for both weight storage types (float32 and float64 tables)."""
import numpy as np

from simcore import compile_network
from simcore.kernels import run_samples
from simcore.warmup import _tiny, warm_up


def test_tiny_networks_cover_both_weight_dtypes():
    assert compile_network(_tiny(np.float32)).w_all.dtype == np.float32
    assert compile_network(_tiny(np.float64)).w_all.dtype == np.float64


def test_warm_up_compiles_both_signatures():
    assert warm_up() > 0.0
    w_types = {str(sig[0].types[sig[0].fields.index("w_all")].dtype) for sig in run_samples.signatures}
    assert {"float32", "float64"} <= w_types
