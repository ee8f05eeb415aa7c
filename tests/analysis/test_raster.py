"""Rasters: only the chosen samples are simulated, they match the full run, the CLI never clobbers."""
import numpy as np
import pytest

from analysis.cli import main
from analysis.raster import record_rasters, report_rasters
from analysis.report import write_report
from learning import build_net, load_dataset, to_graph
from simcore import simulate


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "snn"
    assert main(["train", "--dataset", "digits", "--arch", "64-20-10", "--epochs", "1", "--T", "8",
                 "--limit-train", "300", "--limit-test", "30", "--out", str(out), "--quiet"]) == 0
    return out


def test_chosen_samples_equal_the_full_run():
    test = load_dataset("digits", "test", limit=12)
    graph = to_graph(build_net("64-20-10", seed=4).double())
    x = test.x.astype(np.float64)
    full = simulate(graph, x, 9, 3, record_raster=True)
    rasters = record_rasters(graph, x, 9, 3, [2, 7], populations=["input", "dense2"], labels=test.y)
    for r, k in zip(rasters, (2, 7)):
        assert set(r.spikes) == {"input", "dense2"} and r.label == test.y[k]
        for pop in r.spikes:
            for a, b in zip(r.spikes[pop], full.raster[pop][k]):
                np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(r.decision, full.prediction_trace[k])
    with pytest.raises(ValueError, match="unknown population"):
        record_rasters(graph, x, 9, 3, [0], populations=["conv9"])


def test_cli_raster_writes_png_and_refuses_foreign_files(model_dir, tmp_path, capsys):
    png = tmp_path / "r.png"
    assert main(["raster", "--model", str(model_dir), "--sample", "4", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["raster", "--model", str(model_dir), "--sample", "5", "--out", str(png)]) == 0  # ours: replaced
    foreign = tmp_path / "photo.png"
    foreign.write_bytes(b"not ours")
    assert main(["raster", "--model", str(model_dir), "--out", str(foreign)]) == 2
    assert foreign.read_bytes() == b"not ours"
    assert "photo.png: exists and is not an earlier `raster` result; pass --overwrite" in capsys.readouterr().err
    assert main(["raster", "--model", str(model_dir), "--sample", "1000", "--out", str(tmp_path / "x.png")]) == 2


def test_report_has_one_raster_per_method(model_dir, tmp_path):
    out = tmp_path / "report"
    write_report(model_dir.parent, out)
    assert (out / "raster_spike_count_T_8.png").is_file()
    assert "Spike rasters" in (out / "report.md").read_text()
    assert len(report_rasters(model_dir.parent, tmp_path)) == 1
