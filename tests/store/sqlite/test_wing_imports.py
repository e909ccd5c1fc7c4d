"""The SQLite wing sits under the store: it imports nothing of the store around it, and the
rest of hostsync never imports ``sqlite3`` (the import-linter contracts, as a test)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import hostsync

PACKAGE = Path(hostsync.__file__).parent
WING = PACKAGE / "store" / "sqlite"


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, wherever the import is (TYPE_CHECKING, functions)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _is_or_under(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")


def test_the_wing_imports_nothing_of_the_store_around_it() -> None:
    """No circle with store/database.py: the units take the writer, not the Database."""
    outside = [
        (path.name, name)
        for path in sorted(WING.glob("*.py"))
        for name in _imports(path)
        if _is_or_under(name, "hostsync")
        and not _is_or_under(name, "hostsync.store.sqlite")
        and not _is_or_under(name, "hostsync.scim")
    ]
    assert outside == []


def test_only_the_wing_imports_sqlite3() -> None:
    importers = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if WING not in path.parents and any(_is_or_under(n, "sqlite3") for n in _imports(path))
    ]
    assert importers == []


def test_the_store_reads_no_settings() -> None:
    readers = [
        str(path.relative_to(PACKAGE))
        for path in sorted((PACKAGE / "store").rglob("*.py"))
        if any(_is_or_under(name, "hostsync.config") for name in _imports(path))
    ]
    assert readers == []
