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


def _write_users_steadily(
    database: Database, tenant_id: str, count: int, wal: Path
) -> tuple[int, str]:
    """Create users one transaction at a time, as a busy server does: the log's largest size
    and the last user's id."""
    largest, last = 0, ""
    for i in range(count):
        with database.directory(tenant_id, write=True) as directory:
            last = directory.create_user(
                {"userName": f"steady{i}@contoso.example", "active": True, "title": "x" * 200}
            ).id
        if wal.exists():
            largest = max(largest, wal.stat().st_size)
    return largest, last


def test_a_steady_stream_of_writes_does_not_grow_the_log_without_bound(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'steady.db'}")
    database.migrate()
    with database.connect(write=True) as connection:
        tenant_id = create_tenant(connection, "Steady").id
    database.start_checkpointer(interval=0.01, restart_frames=300)
    try:
        checkpointer = database.checkpointer
        assert checkpointer is not None
        largest, last = _write_users_steadily(database, tenant_id, 3000, tmp_path / "steady.db-wal")
        # 3,000 creates write ~10 pages each: ~120 MB of log if it never started over (the
        # file keeps its largest size, so this bounds the log at every moment of the run).
        assert largest < 16 * 1024 * 1024, largest
        assert checkpointer.restarts >= 1
        with database.directory(tenant_id, write=False) as directory:
            user = directory.get_user(last)
        assert user is not None and user.document["userName"] == "steady2999@contoso.example"
    finally:
        database.stop_checkpointer()
        database.dispose()
