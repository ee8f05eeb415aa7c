import pytest

from learning.spec import AvgPool, Conv, Dense, SpecError, parse_spec


def test_paper_specs():
    cnn = parse_spec("28x28-12c5-2a-64c5-2a-10")
    assert cnn.input_shape == (1, 28, 28)
    assert cnn.layers == (Conv(12, 5), AvgPool(2), Conv(64, 5), AvgPool(2), Dense(10))
    assert cnn.shapes() == [(12, 24, 24), (12, 12, 12), (64, 8, 8), (64, 4, 4), (10,)]
    assert parse_spec("784-800-800-10").shapes() == [(800,), (800,), (10,)]
    assert parse_spec("3x8x8-4c3-10").input_shape == (3, 8, 8)
    assert parse_spec("4-20-3").n_classes == 3 and parse_spec("4-20-3").n_inputs == 4


@pytest.mark.parametrize("spec, message", [
    ("", "empty"),
    ("784", "at least one layer"),
    ("78a4-10", "input"),
    ("784-8x00-10", "layer '8x00'"),
    ("784-0-10", "layer '0'"),
    ("784-2a-10", "needs an image"),
    ("28x28-12c5-5a-10", "does not divide"),
    ("8x8-12c9-10", "larger than"),
    ("28x28-12c5", "last layer must be dense"),
    ("784--10", "layer ''"),
])
def test_malformed_specs_name_the_problem(spec, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(spec)
