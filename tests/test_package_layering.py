"""Layering of the whole tree, read statically from every module's imports (module level AND inside
functions, found with ``ast``): packages depend one way, simcore -> learning -> baselines -> analysis
(each may import only itself and the packages before it; simcore never imports torch), and inside a
package the import graph has no cycle.

(``tests/simcore/test_layering.py`` also imports a few modules for real and checks ``sys.modules``.)
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("simcore", "learning", "baselines", "analysis")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in LAYERS:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports (anywhere in the file): ``from a import b`` counts as a.b when a.b
    is a module of the tree, else as a."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return found


GRAPH = nx.DiGraph()
for _name, _path in MODULES.items():
    GRAPH.add_node(_name)
    for _target in _imports(_name, _path):
        GRAPH.add_edge(_name, _target)


def test_every_package_module_is_seen():
    assert {"simcore.neuron", "learning.models", "learning.graph_builder", "baselines.convert", "analysis.cli"} <= set(MODULES)
    assert GRAPH.number_of_edges() > 50


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_one_way(module):
    rank = LAYERS.index(module.split(".")[0])
    for target in GRAPH.successors(module):
        top = target.split(".")[0]
        if top in LAYERS:
            assert LAYERS.index(top) <= rank, f"{module} imports {target} (a later layer)"
        if rank == 0:
            assert top != "torch", f"{module} imports torch"


@pytest.mark.parametrize("package", LAYERS)
def test_no_import_cycle_inside_a_package(package):
    inside = GRAPH.subgraph([m for m in MODULES if m.split(".")[0] == package])
    cycles = list(nx.simple_cycles(inside))
    assert not cycles, f"import cycle(s) in {package}: " + "; ".join(" -> ".join([*c, c[0]]) for c in cycles)
