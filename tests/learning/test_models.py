"""One model-directory format, one loader: learning.models.load and its registry of kinds."""
import json
from importlib.metadata import EntryPoint

import numpy as np
import pytest
import torch

import learning.models as models
from simcore import compile_network, save_network
from learning.export import to_graph
from learning.io import save_model
from learning.model import SpikingNet
from learning.models import GRAPH_FILE, MODEL_FILE, Loaded, ModelKindError, load, register
from learning.spec import parse_spec


def _snn_dir(path, spec="8x8-2c3-2a-6"):
    torch.manual_seed(0)
    net = SpikingNet(parse_spec(spec), theta=0.5)
    save_model(path, net, {"T": 5, "dataset": "digits"})
    return net


def test_snn_loads_as_tensor_model_and_graph(tmp_path):
    net = _snn_dir(tmp_path)
    got = load(tmp_path)
    assert got.kind == "snn" and got.meta["T"] == 5 and got.path == tmp_path
    assert isinstance(got.net, SpikingNet) and next(got.net.parameters()).dtype == torch.float64
    for a, b in zip(net.state_dict().values(), got.net.state_dict().values()):
        assert torch.equal(a.double(), b)
    assert got.graph.populations == ["input", "conv1", "dense2"]
    assert np.array_equal(compile_network(got.graph).bias, compile_network(to_graph(net)).bias)


def test_bare_graph_directory_is_kind_graph(tmp_path):
    save_network(to_graph(_snn_dir(tmp_path / "m")), tmp_path / "g")
    got = load(tmp_path / "g")
    assert got.kind == "graph" and got.meta == {} and got.net is None
    assert got.graph.populations == ["input", "conv1", "dense2"]


def test_kinds_restrict_before_loading(tmp_path):
    _snn_dir(tmp_path)
    (tmp_path / "weights.safetensors").write_bytes(b"garbage")  # never read: the kind is checked first
    with pytest.raises(ModelKindError, match=r"simulate needs a model of kind 'graph' or 'converted', this one is 'snn'"):
        load(tmp_path, kinds=("graph", "converted"), purpose="simulate")


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "model directory not found"),
    (lambda d: d.mkdir(), "neither a model directory"),
    (lambda d: (d.mkdir(), (d / MODEL_FILE).write_text("{not json")), "corrupt model description"),
    (lambda d: (d.mkdir(), (d / MODEL_FILE).write_text('{"format": "other"}')), "not a spikecount model"),
    (lambda d: (d.mkdir(), (d / MODEL_FILE).write_text('{"format": "spikecount-model", "kind": "snn"}')),
     "missing field 'arch'"),
    (lambda d: (d.mkdir(), (d / MODEL_FILE).write_text(
        '{"format": "spikecount-model", "kind": "hologram", "arch": "4-3"}')), "unknown model kind 'hologram'"),
    (lambda d: (d.mkdir(), (d / GRAPH_FILE).write_text("[1, 2")), "graph.json: not valid JSON"),
])
def test_one_line_errors(tmp_path, setup, message):
    d = tmp_path / "m"
    setup(d)
    with pytest.raises(ValueError, match=message) as e:
        load(d)
    assert "\n" not in str(e.value)


def test_snn_with_broken_fields_is_one_line(tmp_path):
    _snn_dir(tmp_path)
    meta = json.loads((tmp_path / MODEL_FILE).read_text())
    (tmp_path / MODEL_FILE).write_text(json.dumps({**meta, "theta": "high"}))
    with pytest.raises(ValueError, match="'theta'"):
        load(tmp_path)


def test_registered_loader_by_name_is_imported_only_when_used(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "_REGISTRY", dict(models._REGISTRY))
    register("toy", "tests_toy_kind_missing_module:load")  # never imported unless a "toy" model is loaded
    assert "toy" in models.kinds()
    d = tmp_path / "m"
    d.mkdir()
    (d / MODEL_FILE).write_text('{"format": "spikecount-model", "kind": "toy", "arch": "4-3"}')
    with pytest.raises(ValueError, match="the loader of model kind 'toy' .* cannot be imported") as e:
        load(d)
    assert "\n" not in str(e.value)
    register("toy", lambda path, meta: Loaded("toy", path, meta))
    assert load(d).kind == "toy"


def test_entry_points_provide_kinds_not_registered(tmp_path, monkeypatch):
    """A kind declared only in the spikecount.model_kinds entry-point group (a plugin) loads too."""
    ep = EntryPoint("plug", "learning.models:load_graph", models.ENTRY_POINT_GROUP)
    monkeypatch.setattr(models, "entry_points", lambda group: [ep] if group == models.ENTRY_POINT_GROUP else [])
    save_network(to_graph(_snn_dir(tmp_path / "m")), tmp_path / "g")
    (tmp_path / "g" / MODEL_FILE).write_text('{"format": "spikecount-model", "kind": "plug", "arch": "8x8-2c3-2a-6"}')
    assert "plug" in models.kinds()
    got = load(tmp_path / "g")
    assert got.graph.populations == ["input", "conv1", "dense2"] and got.meta["kind"] == "plug"


def test_snn_records_its_neuron_and_refuses_one_it_cannot_run(tmp_path):
    _snn_dir(tmp_path)
    meta = json.loads((tmp_path / MODEL_FILE).read_text())
    assert meta["neuron"] == {"threshold": 0.5, "threshold_test": ">=", "reset": "subtract", "v_reset": 0.0,
                              "beta": 1.0, "bias_mode": "initial"}
    assert load(tmp_path).net.neuron.threshold == 0.5
    (tmp_path / MODEL_FILE).write_text(json.dumps({**meta, "neuron": {**meta["neuron"], "beta": 0.5}}))
    with pytest.raises(ValueError, match="the tensor model trains only the paper's neuron") as e:
        load(tmp_path)
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)
    old = {k: v for k, v in meta.items() if k != "neuron"}  # saved before the neuron was recorded
    (tmp_path / MODEL_FILE).write_text(json.dumps(old))
    assert load(tmp_path).net.theta == 0.5
