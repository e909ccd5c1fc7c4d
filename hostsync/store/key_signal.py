"""Key changes every server process sees before it trusts a credential it cached.

A process caches verified API keys (web/auth.py) so that a request costs no key lookup. A key
revoked by another process (the CLI, another worker) or by the console must stop working on
the next request, so the cache asks a :class:`KeySignal` for the current *generation* before
it trusts an entry, and trusts only entries made at that same generation.

Every transaction that creates or revokes a key calls :func:`announce`, which increments the
one row of ``key_changes`` (taking effect at the commit, with the change; a creation voids
cached refusals).

**SQLite**: the generation is that row, read on a connection of the signal's own whenever
the WAL index shows that something was committed since the last check (a read transaction on
a one-row table; the check itself compares 48 memory-mapped bytes, no system call). A revocation
is visible to every process the moment it commits, so the first request after the revoke
returned sees the new generation.

**PostgreSQL**: a read there is a network round trip per request, so each process instead
keeps one connection that listens on the ``hostsync_keys`` channel (application name
``hostsync-keys``), and each check reads, without blocking, what has reached that socket
(one non-blocking ``recv``). A notification sent at the commit would race the revoking client's next
request, so a revocation is a handshake that completes before the revoking transaction
commits:

1. the revoking process sends ``distrust:<token>`` (at once, outside its transaction) and
   waits until every listening connection (found in ``pg_stat_activity``) has answered on
   ``hostsync_keys_ack`` (at most :data:`HANDSHAKE_SECONDS`; a listener that does not answer
   in time is logged);
2. a listener that received it trusts no cached credential (generation None) until
3. ``changed:<token>``, sent by the revoking transaction itself and delivered at its commit,
   reaches it: the generation moves on and entries cached before it are void. If that never
   comes (the transaction rolled back), the distrust ends after :data:`DISTRUST_SECONDS`.

A listener that (re)connects trusts nothing for :data:`HANDSHAKE_SECONDS` (a handshake may
have started before it was listening); while its connection is down (not yet open, dropped,
the server restarting) the generation is None: every request then looks its key up, as with
no cache. A background thread per process keeps the connection open and answers handshakes
when no request is reading the socket.

``key_cache_seconds`` stays the upper bound of an entry's life whatever the signal says (a
network path that dies silently, a revocation written by hand in SQL, a connection pooler
in transaction mode, through which ``LISTEN`` receives nothing).
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import select as selectors
import sqlite3
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.request import pathname2url

from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.engine import make_url

from hostsync.store.tables import key_changes

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

CHANNEL = "hostsync_keys"
ACK_CHANNEL = "hostsync_keys_ack"
LISTENER_NAME = "hostsync-keys"
HANDSHAKE_SECONDS = 2.0
"""How long a revocation waits for every listener's answer, and a new listener distrusts."""
DISTRUST_SECONDS = 10.0
"""How long a listener distrusts its cache after a handshake whose change never came."""
_WAL_INDEX_HEADER = 48
_CONNECTION_OK = 0  # libpq's CONNECTION_OK (psycopg.pq.ConnStatus.OK)
_RECONNECT_SECONDS = 1.0
_LISTENERS = (
    "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()"
)


def announce(connection: Connection, *, revocation: bool = True) -> None:
    """Tell every process, by this transaction's commit, that cached keys may be stale.

    On PostgreSQL a revocation first completes the handshake of the module doc (a few
    milliseconds; at most :data:`HANDSHAKE_SECONDS`).
    """
    result = connection.execute(
        update(key_changes)
        .where(key_changes.c.id == 1)
        .values(generation=key_changes.c.generation + 1)
    )
    if not result.rowcount:  # a schema made before the row existed
        connection.execute(insert(key_changes).values(id=1, generation=1))
    if revocation and connection.dialect.name == "postgresql":
        conninfo = connection.engine.url.set(drivername="postgresql")
        token = f"{os.getpid()}:{uuid.uuid4().hex}"
        _handshake(conninfo.render_as_string(hide_password=False), token)
        connection.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": "changed:" + token},
        )


def _handshake(conninfo: str, token: str) -> None:
    """Have every listener distrust its cache before the revocation commits (module doc)."""
    import psycopg

    try:
        with psycopg.connect(
            conninfo, autocommit=True, connect_timeout=5, application_name="hostsync-revoke"
        ) as side:
            side.execute(f"LISTEN {ACK_CHANNEL}")
            waiting = {row[0] for row in side.execute(_LISTENERS, (LISTENER_NAME,))}
            side.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "distrust:" + token))
            deadline = time.monotonic() + HANDSHAKE_SECONDS
            while waiting and (left := deadline - time.monotonic()) > 0:
                for notice in side.notifies(timeout=min(left, 0.2)):
                    if notice.payload == token:
                        waiting.discard(notice.pid)
                if waiting:  # listeners that ended need not answer
                    waiting &= {row[0] for row in side.execute(_LISTENERS, (LISTENER_NAME,))}
            if waiting:
                log.warning(
                    "API key revocation: %d listening process(es) did not answer within %.0f s; "
                    "they trust their cache for at most key_cache_seconds",
                    len(waiting),
                    HANDSHAKE_SECONDS,
                )
    except psycopg.Error as exc:
        log.warning("API key revocation: no handshake with the listeners (%s)", exc)


def read_generation(connection: Connection) -> int:
    """The committed generation (0 before any change)."""
    value = connection.execute(select(key_changes.c.generation).where(key_changes.c.id == 1))
    return int(value.scalar() or 0)


class KeySignal:
    """The generation of the keys' state; None when it cannot be known (trust no cache)."""

    def generation(self) -> int | None:
        """The current generation, or None; cheap enough to call on every request."""
        return None

    def close(self) -> None:
        """Release the signal's connection (on shutdown); it is reopened if used again."""


_SIGNALS: dict[tuple[int, str], KeySignal] = {}
_SIGNALS_LOCK = threading.Lock()


def key_signal_for(url: str) -> KeySignal:
    """The process's signal for a database URL (SQLAlchemy form, as ``Database.url``).

    One per process and database, shared by every app and authenticator on it (one listening
    connection, one reading connection), kept until the process exits. A SQLite database in
    memory is private to each connection, so it has no signal (generation None: credentials
    are looked up on each request).
    """
    key = (os.getpid(), url)
    with _SIGNALS_LOCK:
        signal = _SIGNALS.get(key)
        if signal is None:
            signal = _SIGNALS[key] = _new_signal(url)
        return signal


def _new_signal(url: str) -> KeySignal:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresKeySignal(conninfo)
    if parsed.database in (None, "", ":memory:"):
        return KeySignal()
    return SqliteKeySignal(parsed.database)


class SqliteKeySignal(KeySignal):
    """Reads ``key_changes`` on a connection of its own, when the database changed.

    Whether anything was committed since the last check is told by the WAL index header (the
    first 48 bytes of the ``-shm`` file, https://www.sqlite.org/walformat.html: its change
    counter and last frame move with every commit), read through a memory map; only when it
    moved is the row read (a read transaction). The map is made while the signal's own
    connection is open, which keeps SQLite from deleting or recreating the file under it.
    Not in WAL mode (no ``-shm``), the row is read each time.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._index: mmap.mmap | None = None
        self._header = b""
        self._generation = 0
        self._lock = threading.Lock()

    def generation(self) -> int | None:
        """The committed generation; None if the file cannot be read right now."""
        with self._lock:
            index = self._index
            if index is not None:
                header = index[:_WAL_INDEX_HEADER]
                if header == self._header:
                    return self._generation  # nothing committed since the last read
            else:
                header = b""
            try:
                if self._connection is None:
                    self._connection = self._open()
                # fetchall: the statement runs to its end, so no read transaction stays open
                # (one would hold back the log's checkpoints).
                rows = self._connection.execute(
                    "SELECT generation FROM key_changes WHERE id = 1"
                ).fetchall()
            except sqlite3.Error as exc:
                self._drop(exc)
                return None
            # The header was taken before the read: a commit in between shows next time.
            self._header = header
            self._generation = int(rows[0][0]) if rows else 0
            if index is None:
                self._index = self._map_index()
            return self._generation

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            f"file:{pathname2url(self.path)}?mode=rw",  # never create a missing file
            uri=True,
            timeout=0.05,
            isolation_level=None,
            check_same_thread=False,
        )
        connection.execute("PRAGMA query_only=ON")
        return connection

    def _map_index(self) -> mmap.mmap | None:
        """The WAL index, mapped read-only, once this connection has it open; else None."""
        try:
            with open(self.path + "-shm", "rb") as file:
                if os.fstat(file.fileno()).st_size < _WAL_INDEX_HEADER:
                    return None
                return mmap.mmap(file.fileno(), _WAL_INDEX_HEADER, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None

    def _drop(self, exc: Exception) -> None:
        log.debug("API key signal unreadable: %s", exc)
        self.close_locked()

    def close_locked(self) -> None:
        """Close the connection and the map; called holding the lock."""
        if self._index is not None:
            self._index.close()
            self._index = None
        self._header = b""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        """Close the signal's connection (reopened if used again)."""
        with self._lock:
            self.close_locked()


class PostgresKeySignal(KeySignal):
    """Listens on ``hostsync_keys`` on a connection of its own (module doc).

    The connection is opened (and reopened after it drops) by a background thread, never on
    the request path; the thread also watches the socket, so handshakes are answered when no
    request reads it. Each opening starts a new epoch of generations.
    """

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._connection: psycopg.Connection[Any] | None = None
        self._generation = 0
        self._distrust: dict[str, float] = {}
        self._to_answer: list[str] = []
        self._trust_from = 0.0
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False  # the last attempt to listen failed (logged once)

    def generation(self) -> int | None:
        """The generation, or None while not listening or during a revocation."""
        with self._lock:
            if self._connection is None:
                self._start()
                return None
            if not self._poll():
                return None
            if self._distrust or time.monotonic() < self._trust_from:
                moment = time.monotonic()
                for token, until in list(self._distrust.items()):
                    if until <= moment:
                        del self._distrust[token]
                return None
            return self._generation

    def _poll(self) -> bool:
        """Take in what reached the socket and answer handshakes; False if it broke.

        Called holding the lock.
        """
        connection = self._connection
        if connection is None:
            return False
        try:
            pgconn = connection.pgconn
            pgconn.consume_input()  # never blocks: libpq's socket is non-blocking
            if pgconn.status != _CONNECTION_OK:
                raise ConnectionError("the listening connection closed")
            while (notice := pgconn.notifies()) is not None:
                self._heard(notice.extra.decode("utf-8", "replace"))
            while self._to_answer:  # may hear more meanwhile (psycopg's handler)
                connection.execute("SELECT pg_notify(%s, %s)", (ACK_CHANNEL, self._to_answer.pop()))
        except Exception as exc:  # the connection broke: reopen it in the background
            log.warning("API key signal connection lost (%s); reconnecting", exc)
            self._connection = None
            self._generation += 1
            _close_quietly(connection)
            self._wanted.set()
            return False
        return True

    def _heard(self, payload: str) -> None:
        kind, _, token = payload.partition(":")
        if kind == "distrust":
            self._distrust[token] = time.monotonic() + DISTRUST_SECONDS
            self._to_answer.append(token)
            return
        self._generation += 1
        if kind == "changed":
            self._distrust.pop(token, None)

    def _start(self) -> None:
        """Have the background thread (re)open the connection; called holding the lock."""
        self._wanted.set()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="hostsync-key-signal", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            connection = self._connect()
            if connection is None:
                time.sleep(_RECONNECT_SECONDS)
                continue
            with self._lock:
                if not self._wanted.is_set():  # closed meanwhile
                    _close_quietly(connection)
                    continue
                self._wanted.clear()
                self._generation += 1  # a new epoch: notifications may have been missed
                self._trust_from = time.monotonic() + HANDSHAKE_SECONDS
                self._connection = connection
            self._watch(connection)

    def _connect(self) -> psycopg.Connection[Any] | None:
        import psycopg

        try:
            connection = psycopg.connect(
                self.conninfo, autocommit=True, connect_timeout=5, application_name=LISTENER_NAME
            )
            # Notifications psycopg takes in while it answers a handshake.
            connection.add_notify_handler(lambda notice: self._heard(notice.payload))
            connection.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            # Once per outage: the thread retries every second until the database is back.
            level = logging.DEBUG if self._failing else logging.WARNING
            log.log(level, "API key signal cannot listen (%s); retrying", exc)
            self._failing = True
            return None
        if self._failing:
            log.warning("API key signal listening again")
            self._failing = False
        return connection

    def _watch(self, connection: psycopg.Connection[Any]) -> None:
        """Until the connection is replaced: wait for its socket, then take in what came."""
        while self._connection is connection:
            with contextlib.suppress(OSError, ValueError):  # closed under us
                selectors.select([connection.fileno()], [], [], 1.0)
            with self._lock:
                if self._connection is connection:
                    self._poll()

    def close(self) -> None:
        """Stop listening until the generation is asked for again."""
        with self._lock:
            connection, self._connection = self._connection, None
            self._wanted.clear()
            self._generation += 1
        if connection is not None:
            _close_quietly(connection)


def _close_quietly(connection: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(Exception):  # already broken: nothing to release
        connection.close()
