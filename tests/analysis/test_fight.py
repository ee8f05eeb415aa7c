"""analysis.fight: a sweep's rows summarised over seeds, winners per latency, table and plot."""
import json

import pytest

from analysis.fight import summarise, winners, write_fight


def _rows():
    rows = []
    for seed, (a, b) in enumerate([(0.90, 0.80), (0.92, 0.84)]):
        rows += [
            {"method": "spike-count T_train=4", "T_infer": 4, "seed": seed, "accuracy": a,
             "counts_only_accuracy": a - 0.02, "tie_fraction": 0.1, "ann_accuracy": None},
            {"method": "QCFS L=4, V(0)=theta/2", "T_infer": 4, "seed": seed, "accuracy": b,
             "counts_only_accuracy": b + 0.10, "tie_fraction": 0.3, "ann_accuracy": 0.97},
        ]
    return rows


def test_summarise_and_winners():
    s = summarise(_rows())
    snn = next(e for e in s if e["method"].startswith("spike"))
    assert snn["seeds"] == 2 and snn["accuracy"] == pytest.approx(0.91) and snn["accuracy_std"] == pytest.approx(0.01414, abs=1e-4)
    assert snn["ann_accuracy"] is None
    assert winners(s) == {4: ("spike-count T_train=4", pytest.approx(0.91))}
    assert winners(s, "counts_only_accuracy")[4][0] == "QCFS L=4, V(0)=theta/2"


def test_write_fight(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"dataset": "digits", "arch": "8x8-12c3-2a-10", "rows": _rows()}))
    md = write_fight(tmp_path / "sweep.json", tmp_path / "out")
    assert "| spike-count T_train=4 |  | 91.00 ± 1.41 (89.00; 10.0% tied) |" in md
    assert "QCFS L=4, V(0)=theta/2 (92.00)" in md and "97.00 ± 0.00" in md
    assert (tmp_path / "out" / "fight.png").read_bytes()[:4] == b"\x89PNG"
