"""The SQLite writer (store/sqlite/writer.py): pragmas, its lock, what a unit runs once ended."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import pytest

from hostsync.config import Settings
from hostsync.store.database import SQLITE_MMAP_BYTES, Database
from hostsync.store.sqlite.writer import SqliteWriter
from hostsync.store.tenants import create_tenant, find_tenant_by_name
from tests.store.sqlite.locks import lock_is_free


def _mmap_size(database: Database) -> int:
    with database.connect(write=False) as connection:
        return int(connection.exec_driver_sql("PRAGMA mmap_size").scalar_one())


def test_files_are_memory_mapped_by_default_and_the_setting_changes_it(tmp_path: Path) -> None:
    default = Database(f"sqlite:///{tmp_path / 'a.db'}")
    off = Database(f"sqlite:///{tmp_path / 'b.db'}", sqlite_mmap_bytes=0)
    try:
        assert _mmap_size(default) == SQLITE_MMAP_BYTES
        assert _mmap_size(off) == 0
    finally:
        default.dispose()
        off.dispose()
    assert Settings(sqlite_mmap_mb=64).sqlite_mmap_mb << 20 == 64 * 1024 * 1024


def test_reads_through_the_map_see_committed_writes(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'c.db'}")
    database.migrate()
    try:
        for i in range(200):
            with database.connect(write=True) as connection:
                create_tenant(connection, f"T{i}")
        with database.connect(write=False) as connection:
            assert find_tenant_by_name(connection, "T199") is not None
    finally:
        database.dispose()


def _writer(database: Database) -> SqliteWriter:
    writer = database.writer
    assert writer is not None
    return writer


@dataclass(frozen=True)
class _Note:
    """A callback that records its name when it runs (equal for one name)."""

    name: str
    heard: list[str]

    def __call__(self) -> None:
        self.heard.append(self.name)


@pytest.mark.parametrize("fails", [False, True])
def test_what_a_unit_asks_for_runs_once_it_has_ended(sqlite_db: Database, fails: bool) -> None:
    """After the commit or the rollback, after the lock is released; an equal callback once."""
    writer = _writer(sqlite_db)
    heard: list[str] = []
    lock_free_then: list[bool] = []

    def check_lock() -> None:
        lock_free_then.append(lock_is_free(writer))

    expected: AbstractContextManager[object] = (
        pytest.raises(RuntimeError) if fails else nullcontext()
    )
    with expected, sqlite_db.connect(write=True) as connection:
        writer.after_unit(connection, _Note("first", heard))
        writer.after_unit(connection, _Note("first", heard))  # equal: runs once
        writer.after_unit(connection, check_lock)
        assert heard == []
        if fails:
            raise RuntimeError("the unit rolls back")
    assert heard == ["first"]
    assert lock_free_then == [True]
    with sqlite_db.connect(write=True):
        pass
    assert heard == ["first"]  # asked for one unit only


def test_a_unit_on_a_connection_of_its_own_runs_what_it_asked_for(sqlite_db: Database) -> None:
    """A nested unit gets a fresh connection (Database._fresh_unit): same promise."""
    writer = _writer(sqlite_db)
    heard: list[str] = []
    with sqlite_db.connect(write=False), sqlite_db.connect(write=True) as inner:
        writer.after_unit(inner, _Note("inner", heard))
        assert heard == []
    assert heard == ["inner"]


def test_write_units_hold_the_writer_lock_and_read_units_do_not(sqlite_db: Database) -> None:
    writer = _writer(sqlite_db)
    with sqlite_db.connect(write=False):
        assert lock_is_free(writer)
    with sqlite_db.connect(write=True):
        assert not lock_is_free(writer)
    assert lock_is_free(writer)
