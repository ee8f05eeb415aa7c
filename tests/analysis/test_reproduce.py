"""The reproduce command's code path on a reduced configuration."""
import json


from tests.shared_data import shared_path

from analysis.cli import main


def test_table1_reduced_writes_a_well_formed_table(tmp_path, capsys):
    assert main(["reproduce", "table1", "--seeds", "1", "--epochs", "1", "--limit", "40", "--out", str(tmp_path)]) == 0
    md = (tmp_path / "table1.md").read_text()
    lines = [l for l in md.splitlines() if l.startswith("|")]
    assert len(lines) == 2 + 4  # header, rule, one row per UCI set
    assert all(l.count("|") == lines[0].count("|") for l in lines)
    for name in ("iris", "wbc", "abalone", "yeast"):
        assert name in md
    assert "100.0 / 96.7" in md  # reference [23], Iris
    data = json.loads((tmp_path / "table1.json").read_text())
    assert len(data["rows"]) == 4 and data["versions"]["torch"]
    for row in data["rows"]:
        assert all(0 <= row[k] <= 1 for k in ("tensor_test", "simcore_test", "ann_test"))


def test_table2_reduced_uses_each_rows_recipe(tmp_path):
    mnist = shared_path("data", "mnist")
    out = tmp_path / "t2"
    assert main(["reproduce", "table2", "--seeds", "1", "--epochs", "1", "--limit", "40", "--configs", "2,3",
                 "--data-dir", str(mnist), "--out", str(out)]) == 0
    md = (out / "table2.md").read_text()
    lines = [l for l in md.splitlines() if l.startswith("|")]
    assert len(lines) == 2 + 2 and all(l.count("|") == lines[0].count("|") for l in lines)
    assert "| 99.26 |" in md and "| 98.40 |" in md
    assert "1 ep, decay 0.85, dropout 0.2" in md and "1 ep, decay 0.9, dropout 0.2" in md
    data = json.loads((out / "table2.json").read_text())
    assert [r["arch"] for r in data["rows"]] == ["28x28-12c5-2a-64c5-2a-10", "784-800-10"]
    for row in data["rows"]:
        assert all(0 <= row[k] <= 1 for k in ("tensor", "simcore", "conversion_robust"))


def test_seeds_for_given_twice_keeps_both_rows():
    """`--seeds-for 1=2 --seeds-for 2=1` and `--seeds-for 1=2 2=1` limit both rows (a repeated
    option used to replace the earlier one)."""
    from analysis.cli import _row_seeds, build_parser
    from analysis.reproduce import TABLE2

    for argv in (["--seeds-for", "1=2", "--seeds-for", "2=1"], ["--seeds-for", "1=2", "2=1"]):
        a = build_parser().parse_args(["reproduce", "table2", "--out", "x", *argv])
        assert _row_seeds(a.seeds_for, TABLE2) == {"784-800-800-10": 2, "28x28-12c5-2a-64c5-2a-10": 1}
