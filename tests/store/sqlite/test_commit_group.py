"""CommitGroup (store/sqlite/units.py): the event loop's units of work share one transaction.

Each test drives the group as the turns do (web/turns.py): ``collecting`` around a unit,
``settle`` once no unit waits, and reads the file through a connection of its own, which
sees only what was committed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from hostsync.scim.errors import UnavailableError
from hostsync.store.database import Database
from hostsync.store.sqlite.units import CommitGroup


@pytest.fixture
def database(sqlite_db: Database) -> Iterator[Database]:
    with sqlite_db.connect(write=True) as connection:
        connection.exec_driver_sql("CREATE TABLE parents (id INTEGER PRIMARY KEY)")
        connection.exec_driver_sql("CREATE TABLE notes (body TEXT UNIQUE NOT NULL)")
        connection.exec_driver_sql(
            "CREATE TABLE children (parent INTEGER REFERENCES parents (id)"
            " DEFERRABLE INITIALLY DEFERRED)"
        )
    yield sqlite_db


def _group(database: Database) -> CommitGroup:
    group = database.commit_group
    assert group is not None
    return group


def _committed(database: Database) -> list[str]:
    path = database.engine.url.database
    assert path is not None
    with sqlite3.connect(Path(path)) as outside:
        return [row[0] for row in outside.execute("SELECT body FROM notes ORDER BY rowid")]


def _write(database: Database, body: str, *, fail: bool = False) -> None:
    group = _group(database)
    group.collecting = True
    try:
        with database.connect(write=True) as connection:
            connection.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": body})
            if fail:
                raise ValueError(f"{body} failed after its insert")
    finally:
        group.collecting = False


def test_units_share_one_transaction_committed_when_the_group_settles(database: Database) -> None:
    group = _group(database)
    _write(database, "first")
    _write(database, "second")
    assert group.open and group.units == 2
    assert _committed(database) == []  # nothing visible before the commit
    group.settle()
    assert not group.open
    assert _committed(database) == ["first", "second"]


def test_a_failing_unit_that_joined_is_rolled_back_alone(database: Database) -> None:
    group = _group(database)
    _write(database, "kept")
    with pytest.raises(ValueError, match="failed after its insert"):
        _write(database, "dropped", fail=True)
    _write(database, "kept too")
    group.settle()
    assert _committed(database) == ["kept", "kept too"]


def test_a_failing_unit_that_opened_the_group_rolls_it_back_and_closes_it(
    database: Database,
) -> None:
    group = _group(database)
    with pytest.raises(ValueError, match="failed after its insert"):
        _write(database, "dropped", fail=True)
    assert not group.open  # nothing waits for a commit
    _write(database, "next")
    group.settle()
    assert _committed(database) == ["next"]


def test_a_uniqueness_error_in_a_joined_unit_keeps_the_others(database: Database) -> None:
    group = _group(database)
    _write(database, "one")
    with pytest.raises(Exception, match="UNIQUE"):
        _write(database, "one")  # the statement fails inside the unit's savepoint
    _write(database, "two")
    group.settle()
    assert _committed(database) == ["one", "two"]


def test_a_failed_commit_loses_the_whole_group_and_answers_503(database: Database) -> None:
    group = _group(database)
    _write(database, "lost")
    group.collecting = True
    try:  # a deferred foreign key is checked at COMMIT, and fails it
        with database.connect(write=True) as connection:
            connection.exec_driver_sql("INSERT INTO children (parent) VALUES (42)")
    finally:
        group.collecting = False
    with pytest.raises(UnavailableError) as raised:
        group.settle()
    assert raised.value.status == 503
    assert not group.open
    assert _committed(database) == []
    _write(database, "after")  # the connection is usable again, the writer lock free
    group.settle()
    assert _committed(database) == ["after"]


def test_a_read_joins_an_open_group_and_sees_its_writes(database: Database) -> None:
    group = _group(database)
    _write(database, "pending")
    group.collecting = True
    try:
        with database.connect(write=False) as connection:
            seen = connection.exec_driver_sql("SELECT body FROM notes").scalars().all()
    finally:
        group.collecting = False
    assert seen == ["pending"]
    assert group.units == 2
    group.settle()


def test_a_read_with_no_group_open_runs_alone(database: Database) -> None:
    group = _group(database)
    group.collecting = True
    try:
        with database.connect(write=False) as connection:
            connection.exec_driver_sql("SELECT count(*) FROM notes").scalar()
    finally:
        group.collecting = False
    assert not group.open


def test_units_outside_collecting_and_other_threads_stay_out_and_wait_for_the_commit(
    database: Database,
) -> None:
    group = _group(database)
    _write(database, "grouped")
    group.collecting = True  # this thread collects; another thread's unit must not join
    done = threading.Event()

    def other() -> None:
        with database.connect(write=True) as connection:
            connection.execute(text("INSERT INTO notes (body) VALUES ('other')"))
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert not done.wait(0.3)  # queued on the writer lock the group holds
        assert group.units == 1
    finally:
        group.collecting = False
        group.settle()
    thread.join(10)
    assert done.is_set()
    assert _committed(database) == ["grouped", "other"]


def test_memory_databases_have_no_group() -> None:
    assert Database("sqlite://").commit_group is None


def test_a_lone_unit_whose_commit_fails_answers_503_and_leaves_the_connection_usable(
    database: Database,
) -> None:
    with pytest.raises(UnavailableError), database.connect(write=True) as connection:
        connection.execute(text("INSERT INTO notes (body) VALUES ('lost')"))
        connection.execute(text("INSERT INTO children (parent) VALUES (42)"))  # fails COMMIT
    assert _committed(database) == []
    with database.connect(write=True) as connection:  # the same reused connection
        connection.execute(text("INSERT INTO notes (body) VALUES ('after')"))
    assert _committed(database) == ["after"]
