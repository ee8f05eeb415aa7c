"""Every field of every file format, tampered with (removed, null, wrong type, negative, inf): the
command that reads it either works or stops with ONE line; never a traceback."""
import copy
import json
import shutil

import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from reliability_helpers import run

MUTATIONS = ("<removed>", None, "x", -1, [], {}, float("inf"))
PROVENANCE = {"versions", "platform", "created", "cpus"}  # recorded for people, read by nothing


def _paths(doc, prefix=()):
    """Every key / list index path in a JSON document (the first two items of each list)."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc[:2]) if isinstance(doc, list) else []
    for key, value in items:
        if not (prefix == () and key in PROVENANCE):
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


def _mutated(doc, path, value):
    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if value == "<removed>":
        parent.pop(path[-1])
    else:
        parent[path[-1]] = value
    return doc


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from analysis.cli import main

    root = tmp_path_factory.mktemp("fields")
    tiny = ["--dataset", "iris", "--arch", "4-5-3", "--epochs", "1", "--quiet"]
    assert main(["train", *tiny, "--out", str(root / "snn")]) == 0
    assert main(["train-ann", *tiny, "--out", str(root / "ann")]) == 0
    assert main(["convert", "--ann", str(root / "ann"), "--norm", "model", "--out", str(root / "conv")]) == 0
    assert main(["export", "--model", str(root / "snn"), "--out", str(root / "graph")]) == 0
    return root


READERS = {  # (model directory, file, command reading it)
    "snn model.json": ("snn", "model.json", lambda d: ["evaluate", "--model", d, "--limit", "5"]),
    "ann model.json": ("ann", "model.json", lambda d: ["convert", "--ann", d, "--norm", "model", "--out", d.parent / "c"]),
    "converted model.json": ("conv", "model.json", lambda d: ["simulate", "--model", d, "--limit", "3", "--quiet"]),
    "graph.json": ("graph", "graph.json", lambda d: ["simulate", "--model", d, "--dataset", "iris", "--T", "3",
                                                     "--limit", "3", "--quiet"]),
}


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_every_json_field(models, tmp_path, capsys, fmt):
    src, name, argv = READERS[fmt]
    doc = json.loads((models / src / name).read_text())
    failures, cases = [], 0
    for path in _paths(doc):
        for value in MUTATIONS:
            d = tmp_path / f"case{cases}"
            shutil.copytree(models / src, d)
            (d / name).write_text(json.dumps(_mutated(doc, path, value)))
            rc, err = run(argv(d), capsys)
            cases += 1
            if rc not in (0, 2) or (rc == 2 and ("\n" in err or not err.startswith("spikecount"))):
                failures.append((path, value, rc, err[-300:]))
            shutil.rmtree(d)
    assert cases > 50 and not failures, failures


def test_every_checkpoint_field(models, tmp_path, capsys):
    with safe_open(str(models / "snn/checkpoint.safetensors"), "numpy") as f:
        meta, arrays = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    variants = [{k: v for k, v in meta.items() if k != key} for key in meta]
    variants += [{**meta, key: text} for key in meta for text in ("x", "-1", "[]", "{}", "1e400", "null")]
    config = json.loads(meta["config"])
    variants += [{**meta, "config": json.dumps(_mutated(config, (key,), value))}
                 for key in config for value in MUTATIONS]
    failures = []
    for k, variant in enumerate(variants):
        d = tmp_path / f"case{k}"
        shutil.copytree(models / "snn", d)
        save_file(arrays, d / "checkpoint.safetensors", metadata=variant)
        rc, err = run(["train", "--dataset", "iris", "--arch", "4-5-3", "--epochs", "1", "--quiet", "--out", d,
                       "--resume"], capsys)
        if rc not in (0, 2) or (rc == 2 and "\n" in err):
            failures.append((variant, rc, err[-300:]))
        shutil.rmtree(d)
    assert len(variants) > 100 and not failures, failures
