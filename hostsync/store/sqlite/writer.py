"""The process's one SQLite writer: its lock, connection pragmas, BEGIN, and log restarts.

SQLite lets one transaction write at a time. The writers of this process queue on
:attr:`SqliteWriter.lock` and the next starts the moment the last commits; without it they
would wait in SQLite's busy handler, which polls with sleeps (writers of other processes still
queue on ``busy_timeout``). Units of work (:mod:`hostsync.store.sqlite.units`) hold its lock
while they write, run the log restart the checkpointer asks for before they begin, and tell it
when they have ended, so that what a unit asked for then runs (:meth:`SqliteWriter.after_unit`).

Measured: bench/JOURNAL.md#sqlite-writer-lock
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from hostsync.store.sqlite.checkpoint import (
    BUSY_TIMEOUT_MS,
    IDLE_SECONDS,
    INTERVAL,
    LOG_FILE_LIMIT,
    RESTART_FRAMES,
    WalCheckpointer,
)

_WRITER = "hostsync_writer"  # the writer of a connection, in its pool record's info
_BEGIN = "hostsync_begin"  # the BEGIN statement SQLAlchemy's "begin" event sends


class SqliteWriter:
    """The writer lock and connection set-up of one SQLite database (module doc).

    ``path`` is the database file, None for a database in memory; ``mmap_bytes`` how much of
    a file is read through a memory map (``PRAGMA mmap_size``).
    """

    def __init__(self, path: str | None, *, mmap_bytes: int) -> None:
        self.path = path
        self.mmap_bytes = max(0, mmap_bytes)
        self.lock = threading.RLock()
        """Held by a write unit (or an open commit group) from its BEGIN to its end."""
        self.checkpointer: WalCheckpointer | None = None
        """The background checkpoints, once started; new connections then leave them to it."""
        self._after_unit: dict[int, list[Callable[[], None]]] = {}  # by id of the driver

    def on_connect(self, dbapi_connection: Any, record: Any) -> None:
        """The engine's ``connect`` event: the pragmas every connection runs with."""
        if record is not None:
            record.info[_WRITER] = self
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own handling is off).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if self.path is not None:  # a file: read it through a memory map
                cursor.execute(f"PRAGMA mmap_size={int(self.mmap_bytes)}")
            if self.checkpointer is not None:  # it checkpoints; commits need not
                cursor.execute("PRAGMA wal_autocheckpoint=0")
                # Never shrink the log file on the request path; the thread does, at a pause.
                cursor.execute("PRAGMA journal_size_limit=-1")
        finally:
            cursor.close()

    @staticmethod
    def on_begin(connection: Connection) -> None:
        """The engine's ``begin`` event: the BEGIN :meth:`use_begin` chose, on the driver."""
        statement = connection.info.get(_BEGIN, "BEGIN")
        # Straight on the driver: exec_driver_sql would run SQLAlchemy's execute machinery.
        driver = connection.connection.driver_connection
        assert driver is not None  # noqa: S101 - a live connection in its "begin" event
        if driver.in_transaction:  # begun on the driver (store/sqlite/units.py)
            return
        try:
            driver.execute(statement)
        except sqlite3.OperationalError as exc:  # "database is locked" past busy_timeout
            raise OperationalError(statement, None, exc) from exc

    @staticmethod
    def use_begin(connection: Connection, *, write: bool) -> None:
        """Have SQLAlchemy's next transaction on ``connection`` begin as a writer or a reader.

        A writer begins ``IMMEDIATE``: it takes SQLite's write lock at once, so concurrent
        writers queue at the start instead of failing half-way.
        """
        connection.info[_BEGIN] = "BEGIN IMMEDIATE" if write else "BEGIN"

    def restart_log_if_wanted(self, connection: Connection) -> None:
        """The log restart the checkpointer asked for (store/sqlite/checkpoint.py).

        Run between transactions, holding :attr:`lock`.
        """
        checkpointer = self.checkpointer
        if checkpointer is not None and checkpointer.restart_wanted.is_set():
            driver = connection.connection.driver_connection
            if isinstance(driver, sqlite3.Connection):
                checkpointer.restart(driver)

    def after_unit(self, connection: Connection, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the unit of work on ``connection`` has ended.

        Whether it committed or rolled back; an equal callback asked for twice in one unit
        runs once. Costs the units that ask for nothing one dictionary test.
        """
        driver = connection.connection.driver_connection
        callbacks = self._after_unit.setdefault(id(driver), [])
        if callback not in callbacks:
            callbacks.append(callback)

    def unit_ended(self, driver: object) -> None:
        """Run what the unit of work on ``driver`` asked for with :meth:`after_unit`.

        Called once the unit has committed or rolled back (and its writer released the lock).
        """
        if self._after_unit:
            for callback in self._after_unit.pop(id(driver), ()):
                callback()

    def start_checkpointer(
        self,
        interval: float = INTERVAL,
        restart_frames: int = RESTART_FRAMES,
        log_file_limit: int = LOG_FILE_LIMIT,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        """Checkpoint the file's log in a background thread from now on (a no-op in memory).

        Connections opened before keep checkpointing: the caller closes them first.
        """
        if self.path is None or self.checkpointer is not None:
            return
        self.checkpointer = WalCheckpointer(
            self.path,
            interval,
            restart_frames,
            log_file_limit,
            idle_seconds=idle_seconds,
            writer_lock=self.lock,
        )
        self.checkpointer.start()

    def stop_checkpointer(self) -> None:
        """Stop the background checkpoints (the server is stopping)."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None


def writer_of(connection: Connection) -> SqliteWriter | None:
    """The writer of the SQLite database under ``connection``; None for any other."""
    writer: SqliteWriter | None = connection.info.get(_WRITER)
    return writer
