"""Key changes every server process sees before it trusts a credential it cached.

A process caches verified API keys (web/auth.py) so that a request costs no key lookup. A key
revoked by another process (the CLI, another worker) or by the console must stop working on
the next request, so the cache asks a :class:`KeySignal` for the current *generation* before
it trusts an entry, and trusts only entries made at that same generation.

- Every transaction that revokes a key calls :func:`announce`: it increments the one row of
  ``key_changes`` and, on PostgreSQL, sends ``NOTIFY hostsync_keys``. Both take effect at the
  commit, together with the revocation.
- SQLite: the generation is that row, read on a connection of the signal's own (about 3 µs:
  a read transaction on a one-row table). A revocation is visible to every process the
  moment it commits, so the first request after the revoke returned sees the new generation.
- PostgreSQL: a read there is a network round trip, so the signal keeps a connection that
  runs ``LISTEN`` and counts the notifications; each check reads what reached that socket
  without blocking (about 1 µs). PostgreSQL signals the listening sessions as part of the
  commit, so the notification is on its way before the revoking client hears of the commit;
  what remains is its delivery on loopback or the local network, much shorter than the
  revoking client's next request. While that connection is down (not yet open, dropped,
  the server restarting) the generation is unknown (None) and no cached credential is
  trusted: every request then looks its key up, as with no cache.

``key_cache_seconds`` stays the upper bound of an entry's life whatever the signal says (a
notification lost with a silently dead network path, a revocation written by hand in SQL).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.request import pathname2url

from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.engine import make_url

from hostsync.store.tables import key_changes

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

CHANNEL = "hostsync_keys"
_RECONNECT_SECONDS = 1.0


def announce(connection: Connection) -> None:
    """Tell every process, at this transaction's commit, that cached keys may be stale."""
    result = connection.execute(
        update(key_changes)
        .where(key_changes.c.id == 1)
        .values(generation=key_changes.c.generation + 1)
    )
    if not result.rowcount:  # a schema made before the row existed
        connection.execute(insert(key_changes).values(id=1, generation=1))
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"NOTIFY {CHANNEL}"))


def read_generation(connection: Connection) -> int:
    """The committed generation (0 before any revocation)."""
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
        return PostgresKeySignal(parsed.set(drivername="postgresql").render_as_string(False))
    if parsed.database in (None, "", ":memory:"):
        return KeySignal()
    return SqliteKeySignal(parsed.database)


class SqliteKeySignal(KeySignal):
    """Reads ``key_changes`` on a connection of its own (module doc)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def generation(self) -> int | None:
        """The committed generation; None if the file cannot be read right now."""
        with self._lock:
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
        return int(rows[0][0]) if rows else 0

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

    def _drop(self, exc: Exception) -> None:
        log.debug("API key signal unreadable: %s", exc)
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        """Close the signal's connection."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class PostgresKeySignal(KeySignal):
    """Counts ``NOTIFY hostsync_keys`` on a listening connection of its own (module doc).

    The connection is opened (and reopened after it drops) by a background thread, never on
    the request path; each opening starts a new epoch of generations, so nothing cached
    before it is trusted after it.
    """

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._connection: psycopg.Connection[Any] | None = None
        self._generation = 0
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None

    def generation(self) -> int | None:
        """The count of notifications received, or None while not listening."""
        with self._lock:
            connection = self._connection
            if connection is None:
                self._start()
                return None
            try:
                pgconn = connection.pgconn
                pgconn.consume_input()  # never blocks: libpq's socket is non-blocking
                while pgconn.notifies() is not None:
                    self._generation += 1
            except Exception as exc:  # the connection broke: reopen it in the background
                log.warning("API key signal connection lost (%s); reconnecting", exc)
                self._connection = None
                self._generation += 1
                _close_quietly(connection)
                self._wanted.set()
                return None
            return self._generation

    def _start(self) -> None:
        """Have the background thread (re)open the connection; called holding the lock."""
        self._wanted.set()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._connect_loop, name="hostsync-key-signal", daemon=True
            )
            self._thread.start()

    def _connect_loop(self) -> None:
        import psycopg

        while True:
            self._wanted.wait()
            try:
                connection = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
                connection.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error as exc:
                log.warning("API key signal cannot listen (%s); retrying", exc)
                time.sleep(_RECONNECT_SECONDS)
                continue
            with self._lock:
                if not self._wanted.is_set():  # closed meanwhile
                    _close_quietly(connection)
                    continue
                self._wanted.clear()
                self._generation += 1  # a new epoch: notifications may have been missed
                self._connection = connection

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
