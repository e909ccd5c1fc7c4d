"""Background WAL checkpoints (store/checkpoint.py): commits stop checkpointing, the thread does."""

from __future__ import annotations

import time
from pathlib import Path

from hostsync.store.database import Database
from hostsync.store.tenants import create_tenant, find_tenant_by_name


def _autocheckpoint(database: Database) -> int:
    with database.connect(write=False) as connection:
        return int(connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def test_server_connections_leave_checkpoints_to_the_thread(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'ckpt.db'}")
    database.migrate()
    assert _autocheckpoint(database) == 1000  # SQLite's default, before the server starts
    database.start_checkpointer(interval=0.05)
    try:
        assert database.checkpointer is not None
        assert _autocheckpoint(database) == 0
        for i in range(50):
            with database.connect(write=True) as connection:
                create_tenant(connection, f"T{i}")
        deadline = time.monotonic() + 5
        while database.checkpointer.checkpoints < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert database.checkpointer.checkpoints >= 2
        with database.connect(write=False) as connection:
            busy, frames, done = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        assert busy == 0 and done == frames  # the thread had already copied the log
        with database.connect(write=False) as connection:
            assert find_tenant_by_name(connection, "T49") is not None
    finally:
        database.stop_checkpointer()
        database.dispose()
    assert database.checkpointer is None


def test_an_in_memory_database_gets_no_checkpointer() -> None:
    memory = Database("sqlite://")
    memory.start_checkpointer()
    assert memory.checkpointer is None
