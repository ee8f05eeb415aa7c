"""Your own torch ANN: batch norm folded exactly, unsupported layers named, a trained CNN converts."""
import json

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from analysis.cli import main
from baselines.ann import ConversionError
from baselines.torch_ann import convert_torch, fold_chain, load_torch_state
from learning.datasets import load_dataset
from simcore import simulate


def _randomise_bn(model: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g))
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            with torch.no_grad():
                m.weight.copy_(torch.randn(n, generator=g))
                m.bias.copy_(torch.randn(n, generator=g))
    return model.eval()


def test_batch_norm_folding_formula():
    lin, bn = nn.Linear(5, 3), nn.BatchNorm1d(3, eps=1e-3)
    model = _randomise_bn(nn.Sequential(lin, bn, nn.ReLU(), nn.Linear(3, 2)))
    folded = fold_chain(model, (5,))
    s = bn.weight.double() / torch.sqrt(bn.running_var.double() + 1e-3)
    torch.testing.assert_close(folded.layers[0].weight, lin.weight.double() * s[:, None])
    torch.testing.assert_close(folded.layers[0].bias, (lin.bias.double() - bn.running_mean) * s + bn.bias.double())
    assert model[0].weight.dtype == torch.float32  # the user's module is untouched


def test_nested_and_child_chains_with_stride_padding():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU())
            self.pool = nn.AvgPool2d(2)
            self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(16, 3))

        def forward(self, x):
            return self.head(self.pool(self.features(x)))

    model = _randomise_bn(Net())
    graph, lambdas, folded = convert_torch(model, (2, 8, 8), "model")
    x = torch.rand(3, 2 * 8 * 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(folded(x), model.double()(x.reshape(3, 2, 8, 8)))
    assert graph.size("conv1") == 4 * 4 * 4 and graph.size("dense2") == 3


@pytest.mark.parametrize("layers, message", [
    ([nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 2)],
     "module 2 (MaxPool2d) cannot be converted"),
    ([nn.Flatten(), nn.Linear(36, 4), nn.Sigmoid(), nn.Linear(4, 2)], "module 2 (Sigmoid) cannot be converted"),
    ([nn.Flatten(), nn.Linear(36, 4), nn.Linear(4, 2)], "module 2 (Linear) follows 1 without a ReLU between"),
    ([nn.Flatten(), nn.Linear(36, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2)],
     "module 3 (BatchNorm1d) does not directly follow a Linear/Conv2d"),
    ([nn.Conv2d(1, 2, 3), nn.AvgPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2)],
     "module 1 (AvgPool2d) comes before the ReLU of 0"),
    ([nn.Linear(36, 2)], "module 0 (Linear) takes 36 inputs but gets shape (1, 6, 6) (add nn.Flatten)"),
])
def test_unsupported_layers_stop_with_one_line(layers, message):
    with pytest.raises(ConversionError) as e:
        fold_chain(nn.Sequential(*layers), (1, 6, 6))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_skip_connection_is_refused():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.r, self.b = nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)

        def forward(self, x):
            return self.b(self.r(self.a(x)) + x)

    with pytest.raises(ConversionError, match="not the chain of its children in order"):
        fold_chain(Residual(), (4,))


def _train_cnn(train, epochs=6):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.AvgPool2d(2),
                              nn.Conv2d(6, 12, 3), nn.BatchNorm2d(12), nn.ReLU(), nn.Flatten(), nn.Dropout(0.1),
                              nn.Linear(48, 10))
        opt = torch.optim.Adam(model.parameters(), 3e-3)
        x, y = torch.from_numpy(train.x).reshape(-1, 1, 8, 8), torch.from_numpy(train.y)
        for _ in range(epochs):
            perm = torch.randperm(len(y))
            model.train()
            for i in range(0, len(y), 32):
                idx = perm[i:i + 32]
                loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    return model.eval()


def test_trained_cnn_with_batch_norm_converts_to_its_ann_accuracy(tmp_path, capsys):
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    model = _train_cnn(train)
    with torch.no_grad():
        ann_acc = float(np.mean(model(torch.from_numpy(test.x).reshape(-1, 1, 8, 8)).argmax(1).numpy() == test.y))
    assert ann_acc > 0.9
    graph, _, _ = convert_torch(model, (1, 8, 8), "robust", train.x)
    res = simulate(graph, test.x.astype(np.float64), 300, 0)
    assert abs(float(np.mean(res.predictions == test.y)) - ann_acc) <= 0.01
    # the CLI: a safetensors state dict plus a chain spec, never a pickle
    state = tmp_path / "cnn.safetensors"
    safetensors.torch.save_file(model.state_dict(), state)
    spec = "1x8x8-6c3p1-bn-relu-2a-6c3-bn-relu-flatten-drop-10".replace("2a-6c3", "2a-12c3")
    torch.testing.assert_close(load_torch_state(state, spec)(torch.ones(1, 1, 8, 8)), model(torch.ones(1, 1, 8, 8)))
    out = tmp_path / "conv"
    assert main(["convert", "--torch-state", str(state), "--arch", spec, "--dataset", "digits", "--norm", "data",
                 "--out", str(out)]) == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["kind"] == "converted" and meta["ann_test_accuracy"] == pytest.approx(ann_acc)
    assert main(["simulate", "--model", str(out), "--T", "200", "--quiet"]) == 0
    assert main(["convert", "--torch-state", str(state), "--arch", "1x8x8-6c3-bn-relu-flatten-10", "--dataset",
                 "digits", "--norm", "model", "--out", str(tmp_path / "x")]) == 2
    assert "state dict does not match chain" in capsys.readouterr().err
