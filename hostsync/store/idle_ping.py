"""PostgreSQL's pool: a connection is pinged before use only if it sat idle.

SQLAlchemy's ``pool_pre_ping`` costs every request a round trip. A connection checked in a
moment ago was alive a moment ago, so :class:`IdlePing` pings only one that sat in the pool for
at least ``after_seconds`` (the server may have restarted, a proxy may have timed it out) and
replaces it if the ping fails; under load no request pays for a ping.

A connection that dies while in use fails its request (503 with ``Retry-After``,
:func:`hostsync.store.sqlite.units.unit_error`), and SQLAlchemy then invalidates every
connection the pool holds. The ping is a ``checkout`` listener: raising
:class:`~sqlalchemy.exc.DisconnectionError` there makes the pool discard that connection and
check out another (up to three attempts), as SQLAlchemy documents for custom pessimistic pings.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

PING_AFTER_IDLE_SECONDS = 2.0
"""A pooled connection idle at least this long is pinged before it is used."""

_IDLE_SINCE = "hostsync_idle_since"


class IdlePing:
    """Ping ``engine``'s pooled connections that sat idle, and replace the dead ones."""

    def __init__(self, engine: Engine, after_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
        self.engine = engine
        self.after_seconds = after_seconds
        self.pings = 0
        self.replaced = 0
        event.listen(engine, "checkin", self._checked_in)
        event.listen(engine, "checkout", self._checked_out)

    def _checked_in(self, _dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    def _checked_out(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < self.after_seconds:
            return  # new, or back in the pool only a moment ago
        self.pings += 1
        try:
            self.engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: the connection cannot be trusted
            self.replaced += 1
            record.info.pop(_IDLE_SINCE, None)
            raise DisconnectionError(f"a pooled connection failed its ping: {exc}") from exc
