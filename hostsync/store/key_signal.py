"""Key changes every server process sees before it trusts a credential it cached.

A process caches verified API keys (web/auth.py) so that a request costs no key lookup. A key
revoked by another process (the CLI, another worker) or by the console must stop working on
the next request, so the cache asks a :class:`KeySignal` for the current *generation* before
it trusts an entry, and trusts only entries made at that same generation.

Every transaction that creates or revokes a key calls :func:`announce`, which increments the
one row of ``key_changes`` (taking effect at the commit, with the change; a creation voids
cached refusals). So does every change to a tenant's declared extensions
(store/extensions.py), as a revocation: a credential carries the version of its tenant's
declarations, and must be looked up again to show the new one.

**SQLite**: the generation is a counter in a file beside the database (``<file>-keys``, eight
bytes, owner-only), read through a memory map on every check (no system call). A transaction
that changed keys bumps it once it has ended (:class:`Bump`, handed to the database's
``SqliteWriter.after_unit``, which the units of work run as they end): after the commit, so a
process that sees the new value and looks a key up sees the change; and before the revoking
call returns, so the first request after it sees the new value. A bump is an increment under an
exclusive ``flock``, so every bump gives a value never seen before; a bump after a rolled-back
change is harmless (one lookup more per cached key). A process that dies between its commit and
its bump leaves the others trusting their cache for at most ``key_cache_seconds``. Any other
commit leaves the file alone, so writes cost the check nothing more than reads do. A file that
cannot be opened or created (a read-only directory) makes the generation None: keys are then
looked up on every request.

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
import fcntl
import logging
import mmap
import os
import select as selectors
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, text, update
from sqlalchemy.engine import make_url

from hostsync.store.sqlite.writer import writer_of
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
_CONNECTION_OK = 0  # libpq's CONNECTION_OK (psycopg.pq.ConnStatus.OK)
_RECONNECT_SECONDS = 1.0
_LISTENERS = (
    "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()"
)


def announce(connection: Connection, *, revocation: bool = True) -> None:
    """Tell every process, by this transaction's commit, that cached keys may be stale.

    On PostgreSQL a revocation first completes the handshake of the module doc (at most
    :data:`HANDSHAKE_SECONDS`).
    """
    result = connection.execute(
        update(key_changes)
        .where(key_changes.c.id == 1)
        .values(generation=key_changes.c.generation + 1)
    )
    if not result.rowcount:  # a schema made before the row existed
        connection.execute(insert(key_changes).values(id=1, generation=1))
    if connection.dialect.name == "sqlite":
        database = connection.engine.url.database
        writer = writer_of(connection)
        if database and database != ":memory:" and writer is not None:
            writer.after_unit(connection, Bump(database + SIGNAL_SUFFIX))  # once it has ended
        return
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


SIGNAL_SUFFIX = "-keys"
"""The SQLite key signal's file: the database file's name and this."""
_COUNTER = 8  # bytes of the signal file's counter


@dataclass(frozen=True, slots=True)
class Bump:
    """Bump the signal file ``path``: what a unit that changed keys runs once it has ended.

    Equal for one file, so a unit that changes several keys bumps once.
    """

    path: str

    def __call__(self) -> None:
        """Bump the counter (:func:`bump`)."""
        bump(self.path)


def bump(path: str) -> None:
    """Increment the counter in the signal file ``path`` (created if absent)."""
    try:
        descriptor = _open_signal(path)
    except OSError as exc:
        log.warning("API key signal file %s cannot be written (%s)", path, exc)
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        current = int.from_bytes(os.pread(descriptor, _COUNTER, 0).ljust(_COUNTER, b"\0"), "little")
        os.pwrite(descriptor, ((current + 1) % (1 << 63)).to_bytes(_COUNTER, "little"), 0)
    except OSError as exc:
        log.warning("API key signal file %s cannot be written (%s)", path, exc)
    finally:
        os.close(descriptor)  # releases the lock


def _open_signal(path: str) -> int:
    """The signal file, opened for reading and writing, at least :data:`_COUNTER` bytes."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(descriptor).st_size < _COUNTER:  # new: another creator only extends it too
            os.ftruncate(descriptor, _COUNTER)
    except OSError:
        os.close(descriptor)
        raise
    return descriptor


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
    """Reads the counter of the signal file beside a SQLite database (module doc).

    The file is mapped once (created if absent) and read through the map, eight bytes per
    check. None while it cannot be opened (tried again at most once a second).
    """

    def __init__(self, path: str) -> None:
        self.path = path + SIGNAL_SUFFIX
        self._map: mmap.mmap | None = None
        self._raw = b""
        self._value = 0
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def generation(self) -> int | None:
        """The counter; None if the file cannot be read right now."""
        counter = self._map
        if counter is None:
            counter = self._open()
            if counter is None:
                return None
        try:
            raw = counter[:_COUNTER]
        except ValueError:  # closed meanwhile (shutdown)
            return None
        if raw != self._raw:  # a bump since the last check (or the first check)
            self._value, self._raw = int.from_bytes(raw, "little"), raw
        return self._value

    def _open(self) -> mmap.mmap | None:
        with self._lock:
            if self._map is not None:
                return self._map
            moment = time.monotonic()
            if moment < self._retry_at:
                return None
            try:
                descriptor = _open_signal(self.path)
                try:
                    self._map = mmap.mmap(descriptor, _COUNTER, access=mmap.ACCESS_READ)
                finally:
                    os.close(descriptor)  # the map keeps the file
            except (OSError, ValueError) as exc:
                self._retry_at = moment + 1.0
                log.warning("API key signal file %s unreadable (%s)", self.path, exc)
                return None
            return self._map

    def close(self) -> None:
        """Unmap the file (mapped again if used again)."""
        with self._lock:
            counter, self._map = self._map, None
            self._raw = b""
        if counter is not None:
            counter.close()


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

        connection: psycopg.Connection[Any] | None = None
        try:
            connection = psycopg.connect(
                self.conninfo, autocommit=True, connect_timeout=5, application_name=LISTENER_NAME
            )
            # Notifications psycopg takes in while it answers a handshake.
            connection.add_notify_handler(lambda notice: self._heard(notice.payload))
            connection.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            if connection is not None:  # opened, then LISTEN failed: never left to the GC
                _close_quietly(connection)
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
