"""Retention: activity rows older than the retention period are deleted."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, func, select

from hostsync.store.admin_tables import activity
from hostsync.store.clock import now

if TYPE_CHECKING:
    from hostsync.store.database import Database

DEFAULT_RETENTION_DAYS = 90


def prune_each_tenant(connection: Connection, days: int) -> dict[str, int]:
    """Like :func:`prune` for every tenant; return how many rows each tenant lost."""
    cutoff = now() - timedelta(days=days)
    counted = connection.execute(
        select(activity.c.tenant_id, func.count())
        .where(activity.c.at < cutoff)
        .group_by(activity.c.tenant_id)
    )
    removed = {tenant: int(count) for tenant, count in counted}
    if removed:
        connection.execute(delete(activity).where(activity.c.at < cutoff))
    return removed


def prune(connection: Connection, days: int, tenant_id: str | None = None) -> int:
    """Delete rows older than ``days`` days (of one tenant, or all); return how many."""
    condition = activity.c.at < now() - timedelta(days=days)
    if tenant_id is not None:
        condition = condition & (activity.c.tenant_id == tenant_id)
    return int(connection.execute(delete(activity).where(condition)).rowcount or 0)


class Pruner:
    """Prunes every tenant's activity at most once per ``interval`` seconds (per process)."""

    def __init__(self, days: int = DEFAULT_RETENTION_DAYS, interval: float = 3600.0) -> None:
        self.days = days
        self.interval = interval
        self._next = 0.0
        self._lock = threading.Lock()

    def maybe_prune(self, database: Database) -> int | None:
        """Prune if the interval has passed since the last run; return rows deleted or None."""
        with self._lock:
            moment = time.monotonic()
            if moment < self._next:
                return None
            self._next = moment + self.interval
        with database.connect(write=True) as connection:
            return prune(connection, self.days)
