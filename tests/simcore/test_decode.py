import numpy as np
import pytest

from simcore.decode import predict


def test_argmax_then_membrane_then_lower_index():
    counts = np.array([[3, 5, 5, 1], [2, 2, 2, 2], [0, 0, 0, 0], [4, 4, 1, 0]])
    membrane = np.array([[9.0, 0.2, 0.7, 0.0], [0.1, 0.3, 0.3, 0.2], [-1.0, -0.5, -0.5, -2.0], [0.5, 0.5, 0.9, 0.0]])
    # row 0: tie 1/2 -> larger potential (2); row 1: tie all -> potentials 0.3, 0.3 -> lower index (1);
    # row 2: silent -> larger potential, lower index (1); row 3: tie 0/1 with equal potential -> 0 (2 has fewer spikes)
    assert predict(counts, membrane).tolist() == [2, 1, 1, 0]
    assert predict(counts).tolist() == [1, 0, 0, 0]


def test_shape_errors():
    with pytest.raises(ValueError, match="2-D"):
        predict(np.zeros(3))
    with pytest.raises(ValueError, match="does not match"):
        predict(np.zeros((2, 3)), np.zeros((2, 2)))


def test_predict_is_the_vectorised_rule_bit_for_bit():
    """predict (the compiled best_index per row) equals the vectorised formulation of the rule."""
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 4, (2000, 7))  # many ties
    membrane = rng.integers(-3, 3, (2000, 7)) / 4.0  # ties in potential too
    top = counts == counts.max(axis=1, keepdims=True)
    np.testing.assert_array_equal(predict(counts, membrane), np.argmax(np.where(top, membrane, -np.inf), axis=1))
    np.testing.assert_array_equal(predict(counts), np.argmax(top, axis=1))
    np.testing.assert_array_equal(predict(counts.astype(np.float32), membrane), predict(counts, membrane))
