"""Rules about the code's shape that no linter checks (docs/architecture.md, "Code rules").

- ``__all__`` is declared only by a package's ``__init__.py``, and there it names exactly the
  public names the package offers: those it defines and those it imports from its own modules.
- No import cycle between any two modules of hostsync, ``TYPE_CHECKING`` imports included
  (import-linter's ``acyclic_siblings`` contract sees cycles between sibling packages and
  modules, not between a package and a module inside it).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parents[1] / "hostsync"


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE.parent).as_posix(), ast.parse(path.read_text("utf-8"))


def _declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets):
                assert node.value is not None
                return list(ast.literal_eval(node.value))
    return None


def _offered(package: str, tree: ast.Module) -> set[str]:
    """Public names an ``__init__`` defines or imports from its own package's modules."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom) and (
            node.level > 0 or (node.module or "").startswith(package + ".")
        ):
            names.update(alias.asname or alias.name for alias in node.names)
    return {name for name in names if not name.startswith("_")}


def test_only_package_boundaries_declare_all() -> None:
    """A module that is not a package's __init__.py declares no __all__."""
    declaring = {path for path, tree in _modules() if _declared_all(tree) is not None}
    offenders = {path for path in declaring if not path.endswith("/__init__.py")}
    assert offenders == set()


def test_a_package_all_names_exactly_what_the_package_offers() -> None:
    """__all__ in an __init__.py equals the public names it defines or imports (ruff sorts it)."""
    checked = 0
    for path, tree in _modules():
        declared = _declared_all(tree)
        if declared is None or not path.endswith("/__init__.py"):
            continue
        package = path.removesuffix("/__init__.py").replace("/", ".")
        assert set(declared) == _offered(package, tree), path
        checked += 1
    assert checked > 0


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def edges(module: str) -> list[str]:
        return sorted(graph.find_modules_directly_imported_by(module) & modules)

    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(edges(root)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges(child))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_cycle_between_modules() -> None:
    """Every import between hostsync's modules, TYPE_CHECKING ones too, goes one way."""
    graph = grimp.build_graph("hostsync", cache_dir=None)
    modules = {module for module in graph.modules if module.startswith("hostsync")}
    assert _cycles(graph, modules) == []
