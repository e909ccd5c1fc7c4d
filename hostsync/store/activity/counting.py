"""Authenticated SCIM requests counted per tenant and hour (reads too, which the log skips)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hostsync.store.admin_tables import request_counts

if TYPE_CHECKING:
    from hostsync.store.database import Database


class RequestCounter:
    """Counts authenticated SCIM requests per tenant and hour, in memory, flushed in batches.

    Counting costs a dictionary update; the totals reach the ``request_counts`` table at most
    every ``flush_seconds`` (and when the application stops), so a crash loses at most that
    many seconds of counts. Reads are counted too, which the activity log does not record.
    """

    def __init__(self, flush_seconds: float = 5.0) -> None:
        self.flush_seconds = flush_seconds
        self._pending: dict[tuple[str, datetime], list[int]] = {}
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._current: tuple[float, float, datetime] = (0.0, 0.0, datetime.min)

    def _hour(self) -> datetime:
        """The current UTC hour (naive), worked out once per hour rather than per request."""
        moment = time.time()
        begins, ends, hour = self._current
        if not begins <= moment < ends:
            begins = moment - moment % 3600  # POSIX time has no leap seconds: hours align
            hour = datetime.fromtimestamp(begins, UTC).replace(tzinfo=None)
            self._current = (begins, begins + 3600, hour)
        return hour

    def count(self, tenant_id: str, *, failed: bool) -> bool:
        """Count one request; return True when a flush is due."""
        hour = self._hour()
        with self._lock:
            totals = self._pending.setdefault((tenant_id, hour), [0, 0])
            totals[0] += 1
            totals[1] += int(failed)
            return time.monotonic() - self._last_flush >= self.flush_seconds

    def flush(self, database: Database) -> None:
        """Add the pending counts to the table, in one short transaction."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._last_flush = time.monotonic()
        if not pending:
            return
        rows = [
            {"tenant_id": tenant, "hour": hour, "requests": totals[0], "errors": totals[1]}
            for (tenant, hour), totals in pending.items()
        ]
        dialect_insert = pg_insert if database.dialect == "postgresql" else sqlite_insert
        statement = dialect_insert(request_counts)
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id", "hour"],
            set_={
                "requests": request_counts.c.requests + statement.excluded.requests,
                "errors": request_counts.c.errors + statement.excluded.errors,
            },
        )
        with database.connect(write=True) as connection:
            connection.execute(statement, rows)
