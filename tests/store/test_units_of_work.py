"""Database.connect on a SQLite file: each thread reuses one connection, safely."""

from __future__ import annotations

import threading

import pytest

from hostsync.store.database import Database
from hostsync.store.tenants import create_tenant, find_tenant_by_name


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
        assert outer.in_transaction() and inner.in_transaction()
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
