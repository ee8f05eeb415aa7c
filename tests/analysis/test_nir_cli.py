"""spikecount export --format nir and simulate --model net.nir: round trips with identical counts."""
import numpy as np
import pytest

pytest.importorskip("nir")

from analysis.cli import main  # noqa: E402
from learning.models import load  # noqa: E402
from simcore import simulate  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from baselines.convert import convert
    from baselines.train_ann import ann_config_from, train_ann
    from learning.train import config_from, train

    root = tmp_path_factory.mktemp("nir_models")
    out = {}
    for name, arch in (("mlp", "64-20-10"), ("cnn", "8x8-6c3-2a-10")):
        train(config_from("digits", arch, T=8, epochs=2, limit_train=300, limit_test=50), root / name, progress=False)
        out[name] = root / name
    train_ann(ann_config_from("digits", "8x8-6c3-2a-10", epochs=2, limit_train=300, limit_test=50), root / "ann",
              progress=False)
    convert(root / "ann", "data", out_dir=root / "converted", norm_samples=200)
    out["converted"] = root / "converted"
    return out


def counts(model, x, semantics="nir"):
    loaded = load(model, semantics=semantics)
    net, meta = loaded.graph, loaded.meta
    res = simulate(net, x, int(meta["T"]), int(meta.get("seed", 0)), encoding=meta.get("encoding", "bernoulli"))
    return [res.counts[p] for p in net.populations]


@pytest.mark.parametrize("kind", ["mlp", "cnn", "converted"])
@pytest.mark.parametrize("exact", [False, True])
def test_round_trip_recorded_semantics_identical_counts(models, kind, exact, tmp_path, capsys):
    out = tmp_path / "net.nir"
    argv = ["export", "--model", str(models[kind]), "--format", "nir", "--out", str(out)]
    assert main(argv + (["--exact"] if exact else [])) == 0
    err = capsys.readouterr().err
    assert ("initial potential" in err) == (kind != "converted")
    x = np.random.default_rng(0).random((30, 64))
    for a, b in zip(counts(models[kind], x), counts(out, x, "recorded")):
        np.testing.assert_array_equal(a, b)


def test_simulate_a_nir_file_from_the_command_line(models, tmp_path, capsys):
    out = tmp_path / "net.nir"
    assert main(["export", "--model", str(models["converted"]), "--format", "nir", "--out", str(out)]) == 0
    assert main(["simulate", "--model", str(models["converted"]), "--limit", "40", "--quiet",
                 "--out", str(tmp_path / "a.json")]) == 0
    assert main(["simulate", "--model", str(out), "--semantics", "recorded", "--limit", "40", "--quiet",
                 "--out", str(tmp_path / "b.json")]) == 0
    import json

    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert a["accuracy"] == b["accuracy"] and a["spikes_per_neuron"] == b["spikes_per_neuron"]


def test_bad_nir_inputs_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.nir"
    bad.write_text("not a nir file")
    assert main(["simulate", "--model", str(bad), "--dataset", "digits", "--T", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("spikecount: error:") and "not a readable NIR file" in err and "\n" not in err
    assert main(["export", "--model", str(tmp_path), "--out", str(tmp_path / "x"), "--exact"]) == 2
    assert "--format nir" in capsys.readouterr().err


def test_load_a_nir_file_is_kind_nir_with_the_recorded_run(models, tmp_path):
    out = tmp_path / "net.nir"
    assert main(["export", "--model", str(models["mlp"]), "--format", "nir", "--out", str(out)]) == 0
    loaded = load(out)
    assert (loaded.kind, loaded.path, loaded.net) == ("nir", out, None)
    assert loaded.meta["T"] == 8 and loaded.meta["dataset"] == "digits"
    assert loaded.graph.populations == load(models["mlp"]).graph.populations


def test_export_nir_never_replaces_a_file_without_overwrite(models, tmp_path, capsys):
    out = tmp_path / "net.nir"
    out.write_text("a user's file")
    argv = ["export", "--model", str(models["mlp"]), "--format", "nir", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "\n" not in err.strip()
    assert out.read_text() == "a user's file"
    assert main(argv + ["--overwrite"]) == 0
    assert load(out).kind == "nir"
    assert [p.name for p in tmp_path.iterdir()] == ["net.nir"]  # no temporary file left
