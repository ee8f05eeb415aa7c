"""Property: whatever tree of files, directories and symlinks already exists, and wherever in it a
command is told to write, no pre-existing file is removed or changed; the command either succeeds
(writing only new files, or with --overwrite replacing only files it wrote itself) or refuses with
one line and leaves nothing behind."""
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from reliability_helpers import kept, run, snapshot

NAMES = ["a", "b", "model.json", "graph.json", "weights.npz", "e.json", "index.html", "metrics.json"]
TINY = ["--dataset", "iris", "--arch", "4-3-3", "--epochs", "1", "--limit-train", "8", "--limit-test", "8", "--quiet"]
COMMANDS = {
    "export": lambda m, t: ["export", "--model", m / "snn", "--out", t],
    "evaluate": lambda m, t: ["evaluate", "--model", m / "snn", "--limit", "5", "--out", t],
    "convert": lambda m, t: ["convert", "--ann", m / "ann", "--norm", "model", "--out", t],
    "report": lambda m, t: ["report", "--runs", m / "snn", "--out", t],
    "train": lambda m, t: ["train", *TINY, "--out", t],
    "train-ann": lambda m, t: ["train-ann", *TINY, "--out", t],
}
SINGLE_FILE = {"evaluate"}  # with --overwrite these may replace a user's regular file, by design


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from analysis.cli import main

    root = tmp_path_factory.mktemp("models")
    assert main(["train", *TINY, "--out", str(root / "snn")]) == 0
    assert main(["train-ann", *TINY, "--out", str(root / "ann")]) == 0
    return root


def _build(root: Path, entries) -> None:
    for parts, kind, data in entries:
        p = root.joinpath(*parts)
        if any(q.is_file() or q.is_symlink() for q in [p, *p.parents] if root in q.parents) or p.exists():
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        if kind == "file":
            p.write_bytes(data)
        elif kind == "dir":
            p.mkdir()
        else:  # a symlink into a model's own files, or to a directory
            os.symlink(root / ("models/snn/model.json" if data else "models"), p)


def _tool_files(root: Path) -> set[str]:
    """Paths (relative to root) that the tool itself wrote, as its output markers list them."""
    own = set()
    for marker in root.rglob(".spikecount-output.json"):
        for f in json.loads(marker.read_text())["files"]:
            own.add(str((marker.parent / f).relative_to(root)))
    return own


entry = st.tuples(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3), st.sampled_from(["file", "dir", "link"]),
                  st.binary(max_size=8))
target = st.one_of(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3),
                   st.sampled_from([["models", "snn"], ["models", "snn", "model.json"], ["models", "ann"],
                                    ["models"], ["."]]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(entry, max_size=8), where=target, command=st.sampled_from(sorted(COMMANDS)),
       overwrite=st.booleans())
def test_no_command_removes_or_changes_a_file_it_did_not_create(models, capsys, entries, where, command, overwrite):
    root = Path(tempfile.mkdtemp())
    try:
        shutil.copytree(models, root / "models")
        _build(root, entries)
        before, own = snapshot(root), _tool_files(root)
        argv = COMMANDS[command](root / "models", root.joinpath(*where)) + (["--overwrite"] if overwrite else [])
        rc, err = run(argv, capsys)
        after = snapshot(root)
        assert rc in (0, 2), (argv, rc, err)
        event(f"{command}{' --overwrite' if overwrite else ''}: {'written' if rc == 0 else 'refused'}")
        changed = kept(before, after)
        if overwrite:  # only the tool's own files may be replaced (single-file results: any regular file)
            changed = [p for p in changed if p not in own and not (command in SINGLE_FILE and
                                                                   Path(root / p).resolve() == Path(argv[-2]).resolve())]
        assert not changed, (argv, err, changed)
        if rc == 2:
            assert err.startswith("spikecount") and "\n" not in err, err
            assert after == before, (argv, err, set(after) ^ set(before))
    finally:
        shutil.rmtree(root)
