"""SQLite files are read through a memory map of the configured size (store/database.py)."""

from __future__ import annotations

from pathlib import Path

from hostsync.config import Settings
from hostsync.store.database import SQLITE_MMAP_BYTES, Database
from hostsync.store.tenants import create_tenant, find_tenant_by_name


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
