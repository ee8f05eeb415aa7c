"""The spikecount command: every subcommand is wired, and bad input is one line with exit 2."""
import pytest

from analysis.cli import build_parser, main

COMMANDS = ["train", "evaluate", "export", "simulate", "sweep", "quantisation", "depth-series", "report",
            "train-ann", "convert", "raster", "crosscheck", "reproduce", "demo", "fight"]


def test_every_subcommand_is_registered():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_works(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert "usage: spikecount" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["train", "--dataset", "digits", "--arch", "64-1x-10", "--out", "OUT"], "layer '1x'"),
    (["train", "--dataset", "digits", "--arch", "784-10", "--epochs", "1", "--out", "OUT"], "784 inputs"),
    (["evaluate", "--model", "MISSING"], "not found"),
    (["simulate", "--model", "MISSING"], "not found"),
    (["report", "--runs", "MISSING", "--out", "OUT"], "not found"),
    (["fight", "--sweep", "MISSING", "--sweep", "MISSING", "--out", "OUT"], "sweep not found"),
])
def test_errors_are_one_line_with_exit_2(argv, message, tmp_path, capsys):
    argv = [str(tmp_path / a) if a in ("OUT", "MISSING") else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("spikecount: error:") and message in err and "\n" not in err


def test_corrupt_weights_and_nan_weights_are_reported(tmp_path, capsys):
    import numpy as np

    from learning.io import WEIGHTS_FILE, save_arrays
    from learning.train import config_from, train

    train(config_from("digits", "64-10", T=5, epochs=1, limit_train=50, limit_test=20), tmp_path, progress=False)
    weights = tmp_path / WEIGHTS_FILE
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 2])
    assert main(["evaluate", "--model", str(tmp_path)]) == 2
    assert "corrupt weights file" in capsys.readouterr().err
    save_arrays(weights, {"layers.0.weight": np.full((10, 64), np.nan, np.float32),
                          "layers.0.bias": np.zeros(10, np.float32)})
    assert main(["simulate", "--model", str(tmp_path)]) == 2
    assert "NaN" in capsys.readouterr().err
