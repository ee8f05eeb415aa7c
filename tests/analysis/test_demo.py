"""The demo's code path (sweep, quantisation, Brian2 cross-check, report) on a reduced size."""
import csv
import json

import pytest

from analysis.demo import demo
from analysis.report import write_report


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = demo(out, epochs=1, ann_epochs=2, limit_train=150, limit_test=40, crosscheck_samples=2, brian2_target="numpy",
                   progress=False)
    return out, summary


def test_demo_writes_tidy_tables_plots_and_report(demo_dir):
    out, summary = demo_dir
    sweep = json.loads((out / "sweep.json").read_text())
    methods = {r["method"] for r in sweep["rows"]}
    conversions = {f"{m}, V(0)={v}" for m in ("conversion (model)", "conversion (data)", "conversion (robust)",
                                               "QCFS L=8") for v in ("0", "theta/2")}
    snn = {f"spike-count T_train={T}{v}" for T in (10, 20) for v in ("", ", V(0)=b+theta/2")}
    assert methods == snn | conversions
    with open(out / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(sweep["rows"]) == 12 * 4  # methods x T_infer (5, 10, 20, 50)
    assert set(rows[0]) >= {"method", "T_train", "T_infer", "seed", "accuracy", "counts_only_accuracy",
                            "tie_fraction", "ann_accuracy", "sops_per_sample"}
    assert all(0 <= r["accuracy"] <= 1 and r["sops_per_sample"] > 0 for r in sweep["rows"])
    assert all(0 <= r["counts_only_accuracy"] <= 1 and 0 <= r["tie_fraction"] <= 1 for r in sweep["rows"])
    assert all((r["ann_accuracy"] is None) == r["method"].startswith("spike-count") for r in sweep["rows"])
    for png in ("accuracy_vs_T.png", "decision_latency.png", "quantisation.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report" / "index.html").read_text()
    assert "data:image/png;base64," in html and "Latency against accuracy" in html
    assert "Brian2 cross-check" in (out / "report" / "report.md").read_text()
    assert summary["crosscheck_identical_count_fraction"] == 1.0


def test_report_needs_something_to_report(tmp_path):
    with pytest.raises(ValueError, match="nothing to report"):
        write_report(tmp_path, tmp_path / "r")
    with pytest.raises(ValueError, match="not found"):
        write_report(tmp_path / "missing", tmp_path / "r")
