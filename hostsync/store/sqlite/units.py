"""SQLite units of work on a reused connection, one by one or committed in groups.

A unit of work is one request's transaction. On SQLite the event loop's units reuse one
connection (the store's ``Database.connect``) and begin and end on the driver
(:class:`SqliteUnit`), through the database's writer.

**Group commit** (:class:`CommitGroup`). Every commit writes each page its transaction changed
to the write-ahead log (two ``pwrite`` calls a page, the frame checksummed) and takes and
releases the log's locks; consecutive creates change many of the same pages (the tables' and
indexes' last leaves, the live count). When several requests wait for their turn on the event
loop (:mod:`hostsync.web.turns`), their units share one transaction instead: each runs inside
a ``SAVEPOINT`` of the group's transaction, so a unit that fails is rolled back alone, and the
group commits once, after the last of them. No answer leaves before the commit that holds its
work: the scheduler keeps each unit's outcome until :meth:`CommitGroup.settle`, and if that
commit fails every unit of the group answers 503 (their work is gone, as a lone unit's
would be). A unit that reads while a group is open reads inside it, so it sees the group's
writes, and waits for the same commit before it answers.

The group holds the writer's lock (:class:`~hostsync.store.sqlite.writer.SqliteWriter`) from
its first unit to its commit, so writers of other threads (the console, the checkpointer's log
restarts) queue behind the whole group, as they queue behind a lone unit. It stays open only
while units wait for the next turn: the scheduler settles it when none is waiting or when it
has :attr:`CommitGroup.limit` units.

A class per context manager, not generators: a generator layer costs every request.
Measured: bench/JOURNAL.md#group-commit, bench/JOURNAL.md#units-as-classes
"""

from __future__ import annotations

import sqlite3
import threading
from types import TracebackType

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError

from hostsync.scim.errors import InvalidValueError, UnavailableError
from hostsync.store.sqlite.writer import SqliteWriter

RETRY_AFTER = 5
GROUP_LIMIT = 16
"""Units in one group commit at most (the first unit's answer waits for the last's work)."""

_SAVEPOINT = "hostsync_unit"


def unit_error(exc: Exception) -> InvalidValueError | UnavailableError:
    """What a unit of work's database error becomes on the wire."""
    if isinstance(exc, DataError):  # PostgreSQL refuses some text SQLite keeps, such as U+0000
        return InvalidValueError("A value cannot be stored (it may hold U+0000)")
    return UnavailableError("The database is unavailable; retry shortly", RETRY_AFTER)


def driver_of(connection: Connection) -> sqlite3.Connection:
    """The ``sqlite3`` connection under a SQLAlchemy one."""
    return connection.connection.driver_connection  # type: ignore[return-value]


def end_sqlite_unit(connection: Connection, driver: sqlite3.Connection, *, commit: bool) -> None:
    """Commit or roll back a transaction begun on the driver (:class:`SqliteUnit`)."""
    if connection.in_transaction():  # SQLAlchemy began its own inside: it ends both
        if commit:
            connection.commit()
        else:
            connection.rollback()
    elif commit:
        driver.commit()
    else:
        driver.rollback()


def roll_back_after_failed_commit(connection: Connection, driver: sqlite3.Connection) -> None:
    """Roll back both layers after a COMMIT failed.

    SQLAlchemy keeps its transaction as failed until it is rolled back. A connection that
    cannot be rolled back is invalidated, so the next unit opens a new one.
    """
    try:
        connection.rollback()
        if driver.in_transaction:
            driver.rollback()
    except (sqlite3.Error, SQLAlchemyError):
        connection.invalidate()


def commit_sqlite_unit(connection: Connection, driver: sqlite3.Connection) -> None:
    """Commit a transaction begun on the driver; if the COMMIT fails, roll back and raise 503."""
    try:
        end_sqlite_unit(connection, driver, commit=True)
    except (sqlite3.Error, SQLAlchemyError) as error:
        roll_back_after_failed_commit(connection, driver)
        raise unit_error(error) from error


def _begin(
    writer: SqliteWriter, connection: Connection, driver: sqlite3.Connection, write: bool
) -> None:
    """BEGIN on the driver, a writer holding the writer's lock (released on failure)."""
    if write:
        writer.lock.acquire()
    try:
        if write and writer.checkpointer is not None:
            writer.restart_log_if_wanted(connection)
        try:
            driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:  # "database is locked" past busy_timeout
            raise unit_error(exc) from exc
    except BaseException:
        if write:
            writer.lock.release()
        raise


class SqliteUnit:
    """A unit of work on this thread's SQLite connection: BEGIN and COMMIT on the driver.

    The driver's own BEGIN and COMMIT cost a fraction of SQLAlchemy's transaction handling
    (bench/JOURNAL.md#driver-begin-commit). Statements built per request still run through
    SQLAlchemy, whose transaction (begun automatically, its BEGIN left out by the writer's
    ``begin`` listener) then ends this one.
    """

    __slots__ = ("connection", "driver", "write", "writer")

    def __init__(self, writer: SqliteWriter, connection: Connection, *, write: bool) -> None:
        self.writer = writer
        self.connection = connection
        self.driver = driver_of(connection)
        self.write = write

    def __enter__(self) -> Connection:
        _begin(self.writer, self.connection, self.driver, self.write)
        return self.connection

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection, driver = self.connection, self.driver
        try:
            if exc is not None:
                end_sqlite_unit(connection, driver, commit=False)
                if isinstance(exc, DataError | OperationalError):
                    raise unit_error(exc) from exc
                return
            commit_sqlite_unit(connection, driver)
        finally:
            if self.write:
                self.writer.lock.release()
            self.writer.unit_ended(driver)


class CommitGroup:
    """The event loop's units of work, committed together while more wait (module doc).

    The scheduler sets :attr:`collecting` around each unit it runs; the store's ``connect`` then
    hands out :meth:`unit` instead of a transaction of the unit's own. A writing unit opens
    the group's transaction if none is open; a reading unit joins an open one, and otherwise
    runs alone. :meth:`settle` commits, and must follow before the units' answers leave.
    """

    __slots__ = (
        "_collector",
        "_running",
        "connection",
        "driver",
        "failed",
        "limit",
        "units",
        "writer",
    )

    def __init__(self, writer: SqliteWriter, limit: int = GROUP_LIMIT) -> None:
        self.writer = writer
        self.limit = limit
        self._collector: int | None = None  # the thread whose units join, while it collects
        self.connection: Connection | None = None  # the open transaction's, else None
        self.driver: sqlite3.Connection | None = None
        self.units = 0  # units in the open transaction
        self.failed: Exception | None = None  # the transaction is lost: settle fails
        self._running = False  # a unit of the group is running (a nested one runs apart)

    @property
    def collecting(self) -> bool:
        """Whether this thread's units of work join the group now."""
        return self._collector == threading.get_ident()

    @collecting.setter
    def collecting(self, on: bool) -> None:
        self._collector = threading.get_ident() if on else None

    @property
    def open(self) -> bool:
        """Whether units are waiting for the group's commit."""
        return self.connection is not None

    def takes(self, *, write: bool) -> bool:
        """Whether a unit begun now belongs to the group."""
        return (
            (write or self.connection is not None)
            and not self._running
            and self._collector == threading.get_ident()
        )

    def unit(self, connection: Connection, *, write: bool) -> GroupedUnit:
        """A unit of work inside the group's transaction (opened on ``connection`` if none)."""
        return GroupedUnit(self, connection, write=write)

    def settle(self) -> None:
        """Commit the open transaction; if that fails, roll it back and raise 503."""
        self._close(commit=True)

    def abandon(self) -> None:
        """Roll the open transaction back (its only unit failed) and close the group."""
        self._close(commit=False)

    def _close(self, *, commit: bool) -> None:
        connection, driver, failed = self.connection, self.driver, self.failed
        if connection is None or driver is None:
            return
        self.connection = self.driver = self.failed = None
        self.units = 0
        try:  # the answers of every unit wait on this
            if not commit:
                end_sqlite_unit(connection, driver, commit=False)
                return
            if failed is not None or not driver.in_transaction:  # SQLite gave it up
                roll_back_after_failed_commit(connection, driver)
                raise unit_error(failed or sqlite3.OperationalError("transaction lost"))
            commit_sqlite_unit(connection, driver)
        finally:
            self.writer.lock.release()
            self.writer.unit_ended(driver)


class GroupedUnit:
    """One unit of work in a :class:`CommitGroup`.

    A writer that joins an open group runs in a SAVEPOINT, which it releases or rolls back.
    The writer that opens the group needs none: if it fails, the group's transaction holds
    nothing else and is rolled back whole, and a savepoint has SQLite copy each page the unit
    changes into a statement journal (bench/JOURNAL.md#group-savepoints).
    """

    __slots__ = ("connection", "group", "opened", "write")

    def __init__(self, group: CommitGroup, connection: Connection, *, write: bool) -> None:
        self.group = group
        self.connection = connection
        self.write = write
        self.opened = False  # it began the group's transaction

    def __enter__(self) -> Connection:
        group = self.group
        connection, driver = group.connection, group.driver
        if connection is None or driver is None:  # a writer opens the group
            connection, driver = self.connection, driver_of(self.connection)
            _begin(group.writer, connection, driver, write=True)
            group.connection, group.driver = connection, driver
            self.opened = True
        elif connection is not self.connection:
            raise RuntimeError("a commit group's units share its connection")
        elif group.failed is not None or not driver.in_transaction:  # the group's is lost
            raise unit_error(group.failed or sqlite3.OperationalError("transaction lost"))
        if self.write and not self.opened:
            try:
                driver.execute(f"SAVEPOINT {_SAVEPOINT}")
            except sqlite3.Error as exc:
                group.failed = exc
                raise unit_error(exc) from exc
        group.units += 1
        group._running = True
        return connection

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        group = self.group
        group._running = False
        driver = group.driver
        assert driver is not None  # noqa: S101 - the group stays open until settled
        if self.opened:
            if exc is not None:
                group.abandon()
        elif self.write:
            end = (
                (f"RELEASE {_SAVEPOINT}",)
                if exc is None
                else (
                    f"ROLLBACK TO {_SAVEPOINT}",
                    f"RELEASE {_SAVEPOINT}",
                )
            )
            try:
                for statement in end:
                    driver.execute(statement)
            except sqlite3.Error as error:  # the transaction itself is in doubt
                group.failed = error
                raise unit_error(error) from error
        if isinstance(exc, DataError | OperationalError):
            raise unit_error(exc) from exc
