"""The code's structure: an import graph without cycles or private names across modules, no UI in the engine,
no long functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGES = ("indexer", "search_ui")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import of our own packages in `path`, lazy ones included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.split(".")[0] in PACKAGES]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] in PACKAGES:
                out.append((target, [a.name for a in node.names]))
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for target, names in imports(name, path):
            # `from package import module` imports the module, not the package's __init__ only
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in mods]
            for t in subs or [target]:
                if t in mods and t != name:
                    edges[name].add(t)
    return edges


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t, stack + [t])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_no_private_names_imported_across_modules():
    private = [(name, target, n) for name, path in modules().items() for target, names in imports(name, path)
               for n in names if n.startswith("_") and not n.startswith("__")]
    assert not private, private


def test_the_engine_does_not_import_the_ui():
    assert not {(m, t) for m, ts in graph().items() if m.startswith("indexer") for t in ts
                if t.startswith("search_ui")}


@pytest.mark.parametrize("module", ["indexer.writer", "search_ui.cli", "indexer.search"])
def test_the_graph_sees_imports(module):
    assert graph()[module]  # the checks above would pass vacuously on an empty graph


def test_no_function_over_60_lines():
    """Long functions hide their steps; split them into named ones."""
    long = [(name, node.name, node.end_lineno - node.lineno + 1) for name, path in modules().items()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60]
    assert not long, long
