"""Database: the engine, schema migration, and units of work, whichever the database.

SQLite (the default) runs in WAL mode with ``synchronous=NORMAL``: a committed transaction
survives a crash of the server process (SIGKILL included); on power loss the last transactions
may be lost (docs/architecture.md, "Durability"). Its writer lock, pragmas and BEGIN live in
the SQLite wing (:mod:`hostsync.store.sqlite.writer`), and this module hands its units of work
the writer, never itself. PostgreSQL (psycopg 3) runs with its defaults
(``synchronous_commit=on``); write units lock the rows they read (``SELECT … FOR UPDATE``), so
concurrent PATCHes of one resource apply one after the other and none is lost. Read units run
in autocommit: at PostgreSQL's READ COMMITTED every statement sees the data as of its own
start, in a transaction or not, so a read unit's statements each see committed data, as they
did with BEGIN and COMMIT around them, for two round trips fewer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DataError, OperationalError
from sqlalchemy.pool import NullPool

from hostsync.store.budget import BudgetedUnit, QueryBudget
from hostsync.store.directory import SqlDirectory
from hostsync.store.idle_ping import IdlePing
from hostsync.store.migrate import upgrade
from hostsync.store.paging import PageAnchors
from hostsync.store.sqlite.checkpoint import (
    IDLE_SECONDS,
    INTERVAL,
    LOG_FILE_LIMIT,
    RESTART_FRAMES,
    WalCheckpointer,
)
from hostsync.store.sqlite.units import CommitGroup, SqliteUnit, driver_of, unit_error
from hostsync.store.sqlite.writer import SqliteWriter

log = logging.getLogger(__name__)

DEFAULT_SQLITE_FILE = "hostsync.db"
SQLITE_MMAP_BYTES = 128 << 20
"""How much of a SQLite file is read through a memory map (``PRAGMA mmap_size``).

Pages outside SQLite's own cache are then memory accesses instead of a ``pread`` each. The
mapped pages count in the process's RSS (and for the OOM killer), so only the first 128 MiB
are mapped. Measured: bench/JOURNAL.md#sqlite-mmap
"""


POSTGRES_CONNECTIONS = 16
"""PostgreSQL connections a process keeps open (``Settings.postgres_connections``)."""
POSTGRES_OVERFLOW = 8
"""Connections opened beyond them when needed, and closed when given back."""


class DatabaseUrlError(ValueError):
    """The database URL cannot be used."""


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and select psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUrlError(f"invalid database URL '{url}': {exc}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUrlError(
            f"unsupported database '{parsed.get_backend_name()}': use sqlite:/// or postgresql://"
        )
    return url


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL; None for PostgreSQL, an in-memory database or a bad URL."""
    try:
        parsed = make_url(normalize_url(url))
    except DatabaseUrlError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return str(parsed.database)


class Database:
    """One database: SQLite file or PostgreSQL server, with units of work per tenant."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        sqlite_mmap_bytes: int = SQLITE_MMAP_BYTES,
        postgres_connections: int = POSTGRES_CONNECTIONS,
    ) -> None:
        self.url = normalize_url(url)
        # PostgreSQL: the pool keeps this many connections open; the web layer runs no more
        # units of work at once (web/scheduling.py), so none is opened per request.
        self.postgres_connections = max(1, postgres_connections)
        self.dialect = make_url(self.url).get_backend_name()
        # SQLite's writer lock, pragmas and BEGIN (store/sqlite/writer.py); None on PostgreSQL.
        self.writer: SqliteWriter | None = None
        if self.dialect == "sqlite":
            database = make_url(self.url).database
            path = database if database not in (None, "", ":memory:") else None
            self.writer = SqliteWriter(path, mmap_bytes=sqlite_mmap_bytes)
        # A file database's units of work reuse one open Connection per thread (the event
        # loop's, each worker thread's) and begin on its writer: checking a connection out of
        # the pool and building the Connection object cost more than a lookup's SQL.
        self._reusing = self.writer if self.writer is not None and self.writer.path else None
        self.idle_ping: IdlePing | None = None  # PostgreSQL's (store/idle_ping.py)
        self.engine = self._create_engine(echo)
        self._local = threading.local()
        self.page_anchors = PageAnchors()
        self._held: list[Connection] = []
        self._held_lock = threading.Lock()
        # The event loop's units of work, committed together while more wait for their turn
        # (store/sqlite/units.py); None where units do not run on the loop (PostgreSQL, memory).
        self.commit_group = CommitGroup(self._reusing) if self._reusing is not None else None

    @property
    def checkpointer(self) -> WalCheckpointer | None:
        """The background WAL checkpoints, once started (:meth:`start_checkpointer`)."""
        return None if self.writer is None else self.writer.checkpointer

    def _create_engine(self, echo: bool) -> Engine:
        if self.dialect == "sqlite":
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                if not Path(database).exists():  # owner-only; SQLite gives -wal/-shm its mode
                    Path(database).touch(mode=0o600)
            memory = database in (None, "", ":memory:")
            # A file database keeps its connections (and their pragmas) across requests: the
            # pool holds as many as the worker threads that may use one at once (anyio's
            # default limit is 40), so no request pays for opening a connection.
            sizing = {} if memory else {"pool_size": 40, "max_overflow": 10}
            engine = create_engine(
                self.url,
                echo=echo,
                hide_parameters=True,  # errors and echo never log bound values (personal data)
                connect_args={"check_same_thread": False, "timeout": 30},
                poolclass=NullPool if memory else None,
                json_serializer=_json_text,
                json_deserializer=orjson.loads,
                **sizing,
            )
            assert self.writer is not None  # noqa: S101 - made for every SQLite database
            event.listen(engine, "connect", self.writer.on_connect)
            event.listen(engine, "begin", self.writer.on_begin)
            return engine
        engine = create_engine(
            self.url,
            echo=echo,
            hide_parameters=True,
            json_serializer=_json_text,
            json_deserializer=orjson.loads,
            # Kept open, as many as the units of work in flight: fewer, and the pool would
            # close and reopen one per request (bench/JOURNAL.md#postgres-pool-kept-open).
            # The overflow serves what runs outside that limit: the console, background threads.
            pool_size=self.postgres_connections,
            max_overflow=POSTGRES_OVERFLOW,
            connect_args={"connect_timeout": 5},
        )
        # Not pool_pre_ping: it costs every request a round trip (store/idle_ping.py).
        self.idle_ping = IdlePing(engine)
        return engine

    def start_checkpointer(
        self,
        interval: float = INTERVAL,
        restart_frames: int = RESTART_FRAMES,
        log_file_limit: int = LOG_FILE_LIMIT,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        """Checkpoint the log in a background thread from now on (store/sqlite/checkpoint.py).

        For a long-running server on a SQLite file; a no-op otherwise. Connections opened
        before are closed, so that every connection from now on leaves checkpoints to it.
        """
        writer = self.writer
        if writer is None or writer.path is None or writer.checkpointer is not None:
            return
        self.dispose()
        writer.start_checkpointer(interval, restart_frames, log_file_limit, idle_seconds)

    def stop_checkpointer(self) -> None:
        """Stop the background checkpoints (the server is stopping)."""
        if self.writer is not None:
            self.writer.stop_checkpointer()

    def migrate(self, progress: Callable[[str], None] | None = None) -> None:
        """Create or upgrade the schema to the newest Alembic revision.

        ``progress`` hears of an upgrade's steps (:func:`hostsync.store.migrate.upgrade`).
        """
        upgrade(self.engine, progress)

    def _held_connection(self) -> Connection:
        """This thread's reused connection, opened if it has none (or a broken one)."""
        held: Connection | None = getattr(self._local, "connection", None)
        if held is None or held.closed or held.invalidated:
            held = self.engine.connect()
            self._local.connection = held
            with self._held_lock:
                self._held.append(held)
        return held

    def _checkout(self) -> tuple[Connection, SqliteWriter | None]:
        """A connection for one unit of work, and the writer if it is this thread's reused one."""
        writer = self._reusing
        if writer is not None:
            held = self._held_connection()
            # Busy (a nested unit of work, an open commit group): it needs its own.
            if not driver_of(held).in_transaction and not held.in_transaction():
                return held, writer
        return self.engine.connect(), None

    def connect(self, *, write: bool) -> AbstractContextManager[Connection]:
        """A transaction: committed when the block ends, rolled back if it raises.

        Inside a collecting :class:`CommitGroup` (the event loop's turns), a part of the
        group's transaction instead, committed when the group settles.
        """
        group = self.commit_group
        if group is not None and group.takes(write=write):
            try:
                connection = self._held_connection()
            except OperationalError as exc:
                raise unit_error(exc) from exc
            return group.unit(connection, write=write)
        try:
            connection, writer = self._checkout()
        except OperationalError as exc:
            raise unit_error(exc) from exc
        if writer is not None:
            return SqliteUnit(writer, connection, write=write)
        return self._fresh_unit(connection, write=write)

    @contextmanager
    def _fresh_unit(self, connection: Connection, *, write: bool) -> Iterator[Connection]:
        """A unit of work on a connection of its own, closed at the end."""
        writer = self.writer
        try:
            serialized: AbstractContextManager[object] = nullcontext()
            if writer is not None:
                writer.use_begin(connection, write=write)
                if write:
                    serialized = writer.lock
            try:
                with serialized:
                    if write and writer is not None and writer.checkpointer is not None:
                        writer.restart_log_if_wanted(connection)
                    if not write and self.dialect == "postgresql":
                        # READ COMMITTED gives each statement its own snapshot inside a
                        # transaction too, so BEGIN and COMMIT would buy a read unit nothing
                        # but two round trips (module doc). The pool resets it on return.
                        connection.execution_options(isolation_level="AUTOCOMMIT")
                    with connection.begin():
                        yield connection
            except (DataError, OperationalError) as exc:
                raise unit_error(exc) from exc
        finally:
            if writer is not None and not connection.invalidated:
                writer.unit_ended(connection.connection.driver_connection)
            connection.close()

    def directory(
        self, tenant_id: str, *, write: bool = True
    ) -> AbstractContextManager[SqlDirectory]:
        """One tenant's directory as a unit of work (one transaction)."""
        return _DirectoryUnit(self, self.connect(write=write), tenant_id, write=write)

    def costly_directory(
        self, tenant_id: str, budget: QueryBudget
    ) -> AbstractContextManager[SqlDirectory]:
        """A read unit of one tenant's directory whose SQL is held to ``budget``.

        For the costly list queries (store/budget.py); past the budget it raises 400
        ``tooMany``, its transaction rolled back.
        """
        return BudgetedUnit(self.directory(tenant_id, write=False), budget)

    def dispose(self) -> None:
        """Close every pooled connection (and every thread's reused one)."""
        with self._held_lock:
            held, self._held = self._held, []
        for connection in held:
            connection.close()
        self._local = threading.local()
        self.engine.dispose()


class _DirectoryUnit:
    """``Database.directory``: a unit of work with one tenant's directory on it.

    What the directory kept back is written before the commit (``SqlDirectory.flush``); a
    failure to write it rolls the unit back like any other.
    """

    __slots__ = ("database", "directory", "tenant_id", "unit", "write")

    def __init__(
        self,
        database: Database,
        unit: AbstractContextManager[Connection],
        tenant_id: str,
        *,
        write: bool,
    ) -> None:
        self.database = database
        self.unit = unit
        self.tenant_id = tenant_id
        self.write = write

    def __enter__(self) -> SqlDirectory:
        connection = self.unit.__enter__()
        database = self.database
        self.directory = SqlDirectory(
            connection,
            self.tenant_id,
            dialect=database.dialect,
            lock=self.write,
            anchors=database.page_anchors,
        )
        return self.directory

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        if exc is None:
            try:
                self.directory.flush()  # what it kept back, before the commit
            except BaseException as error:
                if not self.unit.__exit__(type(error), error, error.__traceback__):
                    raise
                return None
        return self.unit.__exit__(exc_type, exc, traceback)


def _json_text(value: Any) -> str:
    """JSON columns are written with orjson (documents hold only JSON values)."""
    return orjson.dumps(value).decode()
