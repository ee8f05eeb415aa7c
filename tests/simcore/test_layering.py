"""Dependencies point one way: analysis -> baselines -> learning -> simcore; simcore never imports torch."""
import subprocess
import sys

import pytest

CHECK = """
import sys, importlib
importlib.import_module({mod!r})
for pkg in {forbidden!r}:
    assert not any(m == pkg or m.startswith(pkg + '.') for m in sys.modules), pkg
"""


@pytest.mark.parametrize("mod, forbidden", [
    ("simcore", ["torch", "learning", "baselines", "analysis"]),
    ("simcore.engine", ["torch", "learning"]),
    ("simcore.nir_import", ["torch", "learning"]),
    ("simcore.nir_export", ["torch", "learning"]),
    ("nir", ["torch"]),
    ("simcore.graphfile", ["torch", "learning"]),
    ("learning.simulate", ["baselines", "analysis"]),
    ("baselines.convert", ["analysis"]),
])
def test_imports_point_one_way(mod, forbidden):
    code = CHECK.format(mod=mod, forbidden=forbidden)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1]


def _simcore_imports() -> dict:
    """simcore module -> the simcore modules it imports (module level or not), from the source."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2] / "simcore"
    mods = {p.stem for p in root.glob("*.py") if p.stem != "__init__"}
    deps = {}
    for m in mods:
        found = set()
        for node in ast.walk(ast.parse((root / f"{m}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "simcore":
                found |= {a.name for a in node.names if a.name in mods}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("simcore."):
                found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("simcore.")}
        deps[m] = found
    return deps


def test_no_import_cycle_inside_simcore():
    import networkx as nx

    deps = _simcore_imports()
    g = nx.DiGraph([(m, d) for m, ds in deps.items() for d in ds])
    assert nx.is_directed_acyclic_graph(g), nx.find_cycle(g)
    assert {"ops", "network", "compiler", "graphfile", "kernels", "delivery", "neuron_kernels", "engine"} <= set(deps)
    assert "network" not in deps["ops"] and "engine" not in deps["compiler"]
