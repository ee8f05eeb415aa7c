"""baselines' model kinds in the registry of learning.models: registered on import and as entry points."""
import sys
import tomllib
from pathlib import Path

import numpy as np
import torch

import learning.models as models
from simcore import compile_network, save_network
from baselines.ann import ANN, save_ann
from baselines.convert import convert
from learning.models import load

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_entry_points_match_the_registration():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][models.ENTRY_POINT_GROUP]
    assert declared == {k: models._REGISTRY[k] for k in ("ann", "converted")}
    for target in declared.values():  # every declared loader exists
        module, _, name = target.partition(":")
        __import__(module)
        assert callable(getattr(sys.modules[module], name))


def test_ann_and_converted_load_through_the_one_loader(tmp_path):
    torch.manual_seed(0)
    net = ANN("8x8-2c3-2a-5")
    save_ann(tmp_path / "ann", net, {"dataset": "digits", "seed": 1, "test_accuracy": 0.5})
    got = load(tmp_path / "ann")
    assert got.kind == "ann" and isinstance(got.net, ANN) and got.graph is None and not got.net.training
    assert all(torch.equal(a.double(), b) for a, b in zip(net.state_dict().values(), got.net.state_dict().values()))
    convert(tmp_path / "ann", "model", out_dir=tmp_path / "conv")
    conv = load(tmp_path / "conv")
    assert conv.kind == "converted" and conv.net is None and conv.meta["norm"] == "model"
    assert conv.meta["neuron"] == {"threshold": 1.0, "threshold_test": ">=", "reset": "subtract", "v_reset": 0.0,
                                   "beta": 1.0, "bias_mode": "current"}
    assert conv.graph.populations == ["input", "conv1", "dense2"]
    assert np.all(compile_network(conv.graph).bias_mode[1:] == 1)  # bias as a current
