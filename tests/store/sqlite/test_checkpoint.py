"""Background WAL checkpoints (store/sqlite/checkpoint.py): the thread checkpoints, not commits."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from hostsync.scim.ports import Selection
from hostsync.store.database import Database
from hostsync.store.sqlite.checkpoint import Lock, WalCheckpointer
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


def test_the_thread_syncs_the_database_file_before_it_asks_for_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The RESTART on the request path then finds the copied pages already on disk."""
    path = tmp_path / "presync.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.connect(write=True) as connection:
        tenant_id = create_tenant(connection, "Presync").id
    synced: list[tuple[str, bool]] = []
    real_fdatasync = os.fdatasync

    def fdatasync(descriptor: int) -> None:
        target = os.readlink(f"/proc/self/fd/{descriptor}")
        if target == str(path):
            assert database.checkpointer is not None
            synced.append((target, database.checkpointer.restart_wanted.is_set()))
        real_fdatasync(descriptor)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    checkpointer = WalCheckpointer(str(path), interval=1, restart_frames=50)
    writer = database.writer
    assert writer is not None
    writer.checkpointer = checkpointer  # as start_checkpointer does, without the thread
    with database.connect(write=True) as connection:
        for i in range(40):
            create_tenant(connection, f"P{i}")
    with database.directory(tenant_id) as directory:
        for i in range(30):
            directory.create_user({"userName": f"p{i}", "active": True})
    connection = sqlite3.connect(path)
    try:
        checkpointer.round(connection)  # the log is past 50 frames: sync, then ask
    finally:
        connection.close()
    assert checkpointer.syncs == 1
    assert (str(path), False) in synced  # synced before restart_wanted was raised
    assert checkpointer.restart_wanted.is_set()
    writer.checkpointer = None
    database.dispose()


def test_the_log_file_is_cut_back_when_the_writes_pause(tmp_path: Path) -> None:
    """No write shrinks the log file (that wait was on the request path); the thread does,
    once the log has stayed fully copied for a while."""
    path = tmp_path / "pause.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.connect(write=True) as connection:
        tenant_id = create_tenant(connection, "Pause").id
    database.start_checkpointer(interval=0.02, log_file_limit=64 * 1024, idle_seconds=0.1)
    wal = Path(f"{path}-wal")
    try:
        checkpointer = database.checkpointer
        assert checkpointer is not None
        with database.connect(write=False) as connection:
            assert connection.exec_driver_sql("PRAGMA journal_size_limit").scalar_one() == -1
        with database.directory(tenant_id) as directory:  # one large write: a long log
            directory.import_users(
                [{"userName": f"pause{i}", "active": True, "title": "x" * 300} for i in range(2000)]
            )
        assert wal.stat().st_size > 1024 * 1024
        deadline = time.monotonic() + 10
        while checkpointer.truncations == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert checkpointer.truncations >= 1
        assert wal.stat().st_size == 0
        with database.directory(tenant_id, write=False) as directory:
            page = directory.list_users(Selection(count=1, start_index=2000))
        assert page.total == 2000 and page.resources[0].document["userName"] == "pause1999"
    finally:
        database.stop_checkpointer()
        database.dispose()


def test_the_cut_back_gives_up_at_once_while_someone_writes(tmp_path: Path) -> None:
    """A pending TRUNCATE would hold off new writers, asleep on the event loop: it never waits."""
    path = tmp_path / "busy.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    checkpointer = WalCheckpointer(str(path))
    writer = sqlite3.connect(path, isolation_level=None)
    thread_side = sqlite3.connect(path, timeout=30)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO tenants (id, name, created_at) VALUES ('b', 'B', '2026')")
        began = time.monotonic()
        assert checkpointer.truncate(thread_side) is False
        assert time.monotonic() - began < 1
        assert thread_side.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        writer.execute("COMMIT")
        assert checkpointer.truncate(thread_side) is True
        assert Path(f"{path}-wal").stat().st_size == 0
    finally:
        writer.close()
        thread_side.close()
        database.dispose()


def test_the_cut_back_holds_the_writer_lock_and_gives_up_if_a_write_has_it(
    tmp_path: Path,
) -> None:
    """This process's writers queue on its writer lock while the log file is cut back, and a
    cut back never waits for a write of this process."""
    path = tmp_path / "locked.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    lock = threading.RLock()
    held_during: list[bool] = []

    checkpointer = WalCheckpointer(str(path), writer_lock=lock)
    thread_side = sqlite3.connect(path, timeout=30)
    thread_side.set_trace_callback(
        lambda sql: (
            held_during.append(_held_elsewhere(lock)) if "wal_checkpoint(TRUNCATE)" in sql else None
        )
    )
    try:
        with lock:  # a write of this process is under way (in another thread)
            outcome: list[bool] = []
            other = threading.Thread(
                target=lambda: outcome.append(checkpointer.truncate(thread_side))
            )
            began = time.monotonic()
            other.start()
            other.join(5)
            assert outcome == [False] and time.monotonic() - began < 1
        assert held_during == []  # it never ran the TRUNCATE
        assert checkpointer.truncate(thread_side) is True
        assert held_during == [True]  # the lock was held while it ran
        assert Path(f"{path}-wal").stat().st_size == 0
    finally:
        thread_side.close()
        database.dispose()


def _held_elsewhere(lock: Lock) -> bool:
    """Whether someone holds ``lock`` (asked from a thread of its own, which cannot take it)."""
    free: list[bool] = []

    def probe() -> None:
        taken = lock.acquire(blocking=False)
        if taken:
            lock.release()
        free.append(taken)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(5)
    return free == [False]


def test_a_round_reports_whether_the_log_changed_since_the_last(tmp_path: Path) -> None:
    path = tmp_path / "changed.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    checkpointer = WalCheckpointer(str(path))  # rounds called here, no thread
    connection = sqlite3.connect(path)
    try:
        with database.connect(write=True) as writer:
            create_tenant(writer, "A")
        assert checkpointer.round(connection) is True
        assert checkpointer.round(connection) is False  # nothing written since
        with database.connect(write=True) as writer:
            create_tenant(writer, "B")
        assert checkpointer.round(connection) is True
    finally:
        connection.close()
        database.dispose()


def test_the_thread_checkpoints_often_while_the_log_grows_and_seldom_while_it_does_not(
    tmp_path: Path,
) -> None:
    """Short rounds spread the copying and syncing thinly over the writes (a short tail on a
    server's one core); a quiet log is looked at every ``quiet_interval`` only."""
    path = tmp_path / "cadence.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    checkpointer = WalCheckpointer(str(path), interval=0.01, quiet_interval=0.25)
    checkpointer.start()
    try:
        time.sleep(0.3)  # the first round finds the migration's log; then nothing changes
        quiet_began = checkpointer.checkpoints
        time.sleep(1.0)
        quiet = checkpointer.checkpoints - quiet_began
        busy_began = checkpointer.checkpoints
        deadline = time.monotonic() + 1.0
        i = 0
        while time.monotonic() < deadline:
            with database.connect(write=True) as writer:
                create_tenant(writer, f"T{i}")
            i += 1
            time.sleep(0.002)
        busy = checkpointer.checkpoints - busy_began
    finally:
        checkpointer.stop()
        database.dispose()
    # Every 0.25 s: about 4 rounds in the quiet second (every 0.01 s would make about 100);
    # every 0.01 s while writing: about 100 rounds (every 0.25 s would make about 4).
    assert quiet <= 8, quiet
    assert busy >= 20, busy


def test_the_thread_counts_the_cpu_time_of_its_rounds(tmp_path: Path) -> None:
    path = tmp_path / "cpu.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    checkpointer = WalCheckpointer(str(path), interval=0.01, quiet_interval=0.01)
    checkpointer.start()
    try:
        deadline = time.monotonic() + 5
        while checkpointer.checkpoints < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        checkpointer.stop()
        database.dispose()
    assert checkpointer.checkpoints >= 5
    assert 0 < checkpointer.cpu_seconds < 5
