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


def _sweep(path, rows, **settings):
    base = {"dataset": "digits", "arch": "8x8-12c3-2a-10", "T_infer": [4], "epochs": 30}
    path.write_text(json.dumps({**base, **settings, "rows": rows}))
    return path


def _seed(rows, seed):
    return [r for r in rows if r["seed"] == seed]


def test_pooled_sweeps_equal_one_sweep(tmp_path):
    whole = write_fight(_sweep(tmp_path / "all.json", _rows()), tmp_path / "one")
    pooled = write_fight([_sweep(tmp_path / "s0.json", _seed(_rows(), 0)),
                          _sweep(tmp_path / "s1.json", _seed(_rows(), 1))], tmp_path / "two")
    assert pooled.split("\n\n", 2)[2] == whole.split("\n\n", 1)[1]  # same table, after the sources line
    assert f"Pooled from `{tmp_path / 's0.json'}` (seeds [0]); `{tmp_path / 's1.json'}` (seeds [1])." in pooled


def test_pooling_refuses_other_settings_and_shared_seeds(tmp_path):
    s0 = _sweep(tmp_path / "s0.json", _seed(_rows(), 0))
    with pytest.raises(ValueError, match="epochs differs \\(30 vs 40\\)"):
        write_fight([s0, _sweep(tmp_path / "s1.json", _seed(_rows(), 1), epochs=40)], tmp_path / "out")
    with pytest.raises(ValueError, match="both hold seed 0"):
        write_fight([s0, _sweep(tmp_path / "again.json", _rows())], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_csv_rows_pooled_unchecked(tmp_path):
    import csv

    from analysis.sweep import COLUMNS

    with open(tmp_path / "s0.csv", "w", newline="") as f:  # as analysis.sweep writes it
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: r.get(k) for k in COLUMNS} for r in _seed(_rows(), 0))
    md = write_fight([tmp_path / "s0.csv", _sweep(tmp_path / "s1.json", _seed(_rows(), 1))], tmp_path / "out")
    assert "(seeds [0], rows only: settings not recorded, not checked)" in md
    assert "| spike-count T_train=4 |  | 91.00 ± 1.41 (89.00; 10.0% tied) |" in md
    (tmp_path / "bad.csv").write_text("method,accuracy\nx,0.5\n")
    with pytest.raises(ValueError, match="bad.csv: not a sweep.csv"):
        write_fight(tmp_path / "bad.csv", tmp_path / "out2")


def test_a_rerun_stopped_halfway_never_leaves_old_beside_new(tmp_path, monkeypatch, capsys):
    import analysis.fight
    from analysis.cli import main

    s0, s1 = _sweep(tmp_path / "s0.json", _seed(_rows(), 0)), _sweep(tmp_path / "s1.json", _seed(_rows(), 1))
    out = tmp_path / "out"
    assert main(["fight", "--sweep", str(s0), "--out", str(out)]) == 0

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(analysis.fight, "accuracy_vs_T", stopped)  # Ctrl-C while the plot is drawn
    assert main(["fight", "--sweep", str(s0), "--sweep", str(s1), "--out", str(out)]) != 0
    assert "seeds [0, 1]" in (out / "fight.md").read_text() and not (out / "fight.png").exists()
