"""The dependency rule of docs/architecture.md, beyond what the layers contract checks.

`lint-imports` (in `make test`) checks that every import points down the layers. These
tests check what a layers contract cannot: that no group of modules imports itself in a
circle, whether or not `TYPE_CHECKING` imports count, and that the contract is exhaustive.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycles_finds_a_cycle() -> None:
    """The checker itself: a graph with a circle is reported, one without is not."""
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    assert cycles(graph) == []
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


@pytest.mark.parametrize("type_checking", [True, False], ids=["with-TYPE_CHECKING", "runtime"])
def test_no_import_cycles(type_checking: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    graph = grimp.build_graph(
        "orchestrator", exclude_type_checking_imports=not type_checking, cache_dir=None
    )
    assert len(graph.modules) > 50
    assert cycles(graph) == []


def test_the_layers_contract_names_every_top_level_module() -> None:
    """`exhaustive = true` makes import-linter refuse an unplaced module; this keeps the
    setting from being dropped quietly, and the contract from naming modules that are gone."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    assert contract["exhaustive"] is True
    assert contract["containers"] == ["orchestrator"]
    named = {
        part.strip() for layer in contract["layers"] for part in layer.replace("|", ":").split(":")
    }
    package = ROOT / "orchestrator"
    present = {
        p.stem if p.is_file() else p.name
        for p in package.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert named == present


def test_the_service_never_imports_development_tools() -> None:
    """Importing the app (what Lambda does) loads no development tool and no CLI module."""
    import subprocess

    code = (
        "import sys, orchestrator.main, orchestrator.product as p; "
        "p.bot(); p.events(); p.jobs(); "
        "print(' '.join(m for m in sys.modules if m.startswith('orchestrator.')))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    loaded = run.stdout.split()
    assert "orchestrator.commands.deploys" in loaded
    assert [m for m in loaded if m.startswith(("orchestrator.devtools", "orchestrator.cli"))] == []
