"""The code blocks of docs/api.md run, in order, as one notebook would run them."""
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_api_doc_code_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for k, code in enumerate(blocks):
        exec(compile(code, f"{DOC.name} block {k + 1}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "spike trains must be batch first" in out and "minmax-train" in out
    assert (tmp_path / "raster.png").is_file() and (tmp_path / "runs" / "sweep" / "sweep.json").is_file()
