"""Database.connect on a SQLite file: each thread reuses one connection, safely."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from hostsync.scim.errors import UnavailableError
from hostsync.scim.ports import Selection
from hostsync.store.database import Database
from hostsync.store.directory import SqlDirectory
from hostsync.store.sqlite.raw import run_prebuilt
from hostsync.store.tables import tenants
from hostsync.store.tenants import create_tenant, find_tenant_by_name
from tests.store.sqlite.locks import lock_is_free


def _driver(connection: object) -> object:
    return connection.connection.driver_connection  # type: ignore[attr-defined]


def test_a_thread_reuses_its_connection_and_other_threads_get_their_own(
    sqlite_db: Database,
) -> None:
    with sqlite_db.connect(write=False) as first:
        first_driver = _driver(first)
    with sqlite_db.connect(write=True) as second:
        assert _driver(second) is first_driver
    seen: list[object] = []

    def other() -> None:
        with sqlite_db.connect(write=False) as connection:
            seen.append(_driver(connection))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen and seen[0] is not first_driver


def test_a_nested_unit_gets_a_connection_of_its_own(sqlite_db: Database) -> None:
    with sqlite_db.connect(write=False) as outer, sqlite_db.connect(write=False) as inner:
        assert _driver(inner) is not _driver(outer)
        assert _driver(outer).in_transaction and _driver(inner).in_transaction
    with sqlite_db.connect(write=False) as again:
        assert _driver(again) is _driver(outer)  # the reused one is free again


def test_a_failed_unit_rolls_back_and_leaves_the_connection_usable(sqlite_db: Database) -> None:
    with pytest.raises(RuntimeError), sqlite_db.connect(write=True) as connection:
        create_tenant(connection, "Rolled back")
        raise RuntimeError("boom")
    with sqlite_db.connect(write=True) as connection:
        assert find_tenant_by_name(connection, "Rolled back") is None
        create_tenant(connection, "Kept")
    with sqlite_db.connect(write=False) as connection:
        assert find_tenant_by_name(connection, "Kept") is not None


def test_dispose_closes_reused_connections_and_the_database_still_works(
    sqlite_db: Database,
) -> None:
    with sqlite_db.connect(write=False) as connection:
        held = connection
    sqlite_db.dispose()
    assert held.closed
    with sqlite_db.connect(write=True) as connection:
        create_tenant(connection, "After dispose")
    with sqlite_db.connect(write=False) as connection:
        assert find_tenant_by_name(connection, "After dispose") is not None


def _names(database: Database) -> set[str]:
    with database.connect(write=False) as connection:
        return set(connection.execute(select(tenants.c.name)).scalars())


def _idle(connection: object) -> bool:
    return not _driver(connection).in_transaction and not connection.in_transaction()  # type: ignore[attr-defined]


@pytest.mark.parametrize("through_sqlalchemy", [False, True])
@pytest.mark.parametrize("fails", [False, True])
def test_a_unit_commits_or_rolls_back_whichever_way_its_statements_ran(
    sqlite_db: Database, through_sqlalchemy: bool, fails: bool
) -> None:
    """A unit of work's BEGIN and COMMIT go straight to the driver; a statement run through
    SQLAlchemy inside it (which begins SQLAlchemy's own transaction) joins it."""
    name = f"unit-{through_sqlalchemy}-{fails}"
    row = {"id": name, "name": name, "created_at": datetime.now(UTC)}
    expected: AbstractContextManager[object] = (
        pytest.raises(RuntimeError) if fails else nullcontext()
    )
    with expected, sqlite_db.connect(write=True) as connection:
        if through_sqlalchemy:
            connection.execute(tenants.insert().values(**row))
            assert connection.in_transaction()
        else:
            run_prebuilt(connection, tenants.insert(), row)
            assert not connection.in_transaction()
        assert _driver(connection).in_transaction
        held = connection
        if fails:
            raise RuntimeError("boom")
    assert _idle(held)
    assert (name in _names(sqlite_db)) is not fails


def test_a_savepoint_rolls_back_alone_inside_a_unit(sqlite_db: Database) -> None:
    with sqlite_db.connect(write=True) as connection:
        create_tenant(connection, "Outer")
        with pytest.raises(RuntimeError), connection.begin_nested():
            create_tenant(connection, "Inner")
            raise RuntimeError("the savepoint rolls back")
        held = connection
    assert _idle(held)
    names = _names(sqlite_db)
    assert "Outer" in names and "Inner" not in names


def test_a_write_unit_takes_the_write_lock_at_once_and_a_read_unit_does_not(
    sqlite_db: Database,
) -> None:
    """``BEGIN IMMEDIATE`` for writes: writers queue at the start, never fail half-way."""
    other = sqlite3.connect(sqlite_db.engine.url.database, timeout=0, isolation_level=None)
    try:
        with sqlite_db.connect(write=False):
            other.execute("BEGIN IMMEDIATE")  # a read unit leaves the lock free
            other.execute("ROLLBACK")
        with (
            sqlite_db.connect(write=True),
            pytest.raises(sqlite3.OperationalError, match="locked"),
        ):
            other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again after the commit
        other.execute("ROLLBACK")
    finally:
        other.close()


def _writer_is_free(database: Database) -> bool:
    """Whether another thread can take the process's writer lock right now."""
    assert database.writer is not None
    return lock_is_free(database.writer)


@pytest.mark.parametrize("where", ["body", "flush"])
def test_a_database_error_rolls_the_directory_unit_back_frees_the_writer_and_answers_503(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A failure in the work or in writing what the directory kept back (before COMMIT)."""
    with sqlite_db.connect(write=True) as connection:
        tenant_id = create_tenant(connection, "Unit").id
    failure = OperationalError("UPDATE groups", None, sqlite3.OperationalError("disk I/O error"))
    if where == "flush":

        def failing_flush(self: SqlDirectory) -> None:
            raise failure

        monkeypatch.setattr(SqlDirectory, "flush", failing_flush)
    document = {"userName": "rolled@back.example", "active": True}
    with pytest.raises(UnavailableError), sqlite_db.directory(tenant_id) as directory:
        directory.create_user(document)
        assert not _writer_is_free(sqlite_db)  # held for the whole write unit
        if where == "body":
            raise failure
    assert _writer_is_free(sqlite_db)
    monkeypatch.undo()
    with sqlite_db.directory(tenant_id, write=False) as directory:
        assert directory.list_users(Selection(filter=None)).total == 0
    with sqlite_db.directory(tenant_id) as directory:  # the connection is usable again
        directory.create_user(dict(document))
    with sqlite_db.directory(tenant_id, write=False) as directory:
        assert directory.list_users(Selection(filter=None)).total == 1
