import numba
import numpy as np
import pytest

from simcore.vector_ops import store8_plus


@numba.njit
def _store(dst, at, src, row, base):
    store8_plus(dst, at, src, row, base)


@pytest.mark.parametrize("at, row, base", [(0, 0, 0), (3, 5, 17), (9, 0, -4), (1, 8, 2**31 + 5)])
def test_store8_plus_writes_eight_entries_and_nothing_else(at, row, base):
    rng = np.random.default_rng(at)
    src = rng.integers(-1000, 1000, 20).astype(np.int32)
    dst = rng.integers(-1000, 1000, 20).astype(np.int32)
    want = dst.copy()
    want[at:at + 8] = (src[row:row + 8].astype(np.int64) + base).astype(np.int32)  # modulo 2**32
    _store(dst, np.uint64(at), src, np.int64(row), np.int64(base))
    np.testing.assert_array_equal(dst, want)


def test_store8_plus_refuses_other_arrays():
    with pytest.raises(numba.TypingError):
        _store(np.zeros(8, np.int64), 0, np.zeros(8, np.int32), 0, 0)
