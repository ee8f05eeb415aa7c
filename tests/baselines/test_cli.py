"""spikecount train-ann / convert: thin wrappers, one-line errors."""
import json

from analysis.cli import main


def test_train_ann_then_convert(tmp_path, capsys):
    ann, conv = tmp_path / "ann", tmp_path / "conv"
    assert main(["train-ann", "--dataset", "digits", "--arch", "8x8-4c3-2a-10", "--seed", "1", "--epochs", "2",
                 "--no-bias", "--batch-size", "32", "--limit-train", "200", "--limit-test", "50",
                 "--out", str(ann), "--quiet"]) == 0
    assert json.loads((ann / "model.json").read_text())["bias"] is False
    assert main(["convert", "--ann", str(ann), "--norm", "robust", "--percentile", "99.99", "--reset", "zero",
                 "--input", "analog", "--norm-samples", "100", "--out", str(conv)]) == 0
    meta = json.loads((conv / "model.json").read_text())
    assert (meta["norm"], meta["percentile"], meta["reset"], meta["encoding"]) == ("robust", 99.99, "zero", "analog")
    assert "scale factors" in capsys.readouterr().out
    # a converted model is not an ANN: one-line error, exit status 2
    assert main(["convert", "--ann", str(conv), "--norm", "model", "--reset", "subtract", "--input", "poisson",
                 "--out", str(tmp_path / "again")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("spikecount: error:") and "needs a model of kind 'ann'" in err and "\n" not in err
