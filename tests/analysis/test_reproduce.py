"""The reproduce command's code path on a reduced configuration."""
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
    import json

    data = json.loads((tmp_path / "table1.json").read_text())
    assert len(data["rows"]) == 4 and data["versions"]["torch"]
    for row in data["rows"]:
        assert all(0 <= row[k] <= 1 for k in ("tensor_test", "simcore_test", "ann_test"))
