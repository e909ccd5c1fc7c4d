"""The console's reads of the activity log: filtered pages, recent summary, request totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from hostsync.store.admin_tables import activity, request_counts
from hostsync.store.clock import now

OUTCOMES = ("success", "failure")
RESOURCE_TYPES = ("User", "Group", "ApiKey", "Admin", "Extension")


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the activity log."""

    id: int
    at: datetime
    client: str | None
    actor: str
    method: str
    path: str
    operation: str
    resource_type: str | None
    resource_id: str | None
    resource_name: str | None
    status: int
    changes: list[dict[str, Any]]
    detail: str | None

    @property
    def outcome(self) -> str:
        """``success`` or ``failure``."""
        return "failure" if self.status >= 400 else "success"


@dataclass(frozen=True, slots=True)
class ActivityFilter:
    """Which rows a page shows: outcome, resource type or id, and a time window."""

    outcome: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def filter_conditions(tenant_id: str, selected: ActivityFilter) -> list[Any]:
    """The WHERE conditions of the tenant's rows that ``selected`` shows."""
    c = activity.c
    conditions: list[Any] = [c.tenant_id == tenant_id]
    if selected.outcome == "failure":
        conditions.append(c.status >= 400)
    elif selected.outcome == "success":
        conditions.append(c.status < 400)
    if selected.resource_type:
        conditions.append(c.resource_type == selected.resource_type)
    if selected.resource_id:
        conditions.append(c.resource_id == selected.resource_id)
    if selected.since is not None:
        conditions.append(c.at >= selected.since)
    if selected.until is not None:
        conditions.append(c.at < selected.until)
    return conditions


def entry_of(row: Any) -> Entry:
    """The :class:`Entry` of an ``activity`` row."""
    return Entry(
        id=row.pk,
        at=row.at,
        client=row.client,
        actor=row.actor,
        method=row.method,
        path=row.path,
        operation=row.operation,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        resource_name=row.resource_name,
        status=row.status,
        changes=list(row.changes or []),
        detail=row.detail,
    )


def page(
    connection: Connection,
    tenant_id: str,
    selected: ActivityFilter,
    *,
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[Entry]]:
    """The total matching and one page of rows, newest first."""
    conditions = filter_conditions(tenant_id, selected)
    total = connection.execute(
        select(func.count()).select_from(activity).where(*conditions)
    ).scalar_one()
    rows = connection.execute(
        select(activity)
        .where(*conditions)
        .order_by(activity.c.at.desc(), activity.c.pk.desc())
        .offset(offset)
        .limit(limit)
    )
    return total, [entry_of(row) for row in rows]


@dataclass(frozen=True, slots=True)
class Summary:
    """Recent activity of a tenant: counts in a window and the last entries' outcomes."""

    changes: int
    failures: int
    last_at: datetime | None
    recent_failure_ratio: float
    recent_count: int


def summary(connection: Connection, tenant_id: str, window: timedelta, recent: int = 20) -> Summary:
    """Changes and failures in ``window``, and the failure ratio of the last ``recent`` rows."""
    since = now() - window
    c = activity.c
    counted = connection.execute(
        select(
            func.count().filter(c.status < 400),
            func.count().filter(c.status >= 400),
        ).where(c.tenant_id == tenant_id, c.at >= since)
    ).one()
    last_at = connection.execute(
        select(func.max(c.at)).where(c.tenant_id == tenant_id)
    ).scalar_one()
    statuses = [
        status
        for (status,) in connection.execute(
            select(c.status)
            .where(c.tenant_id == tenant_id, c.at >= since)
            .order_by(c.at.desc(), c.pk.desc())
            .limit(recent)
        )
    ]
    ratio = sum(1 for s in statuses if s >= 400) / len(statuses) if statuses else 0.0
    return Summary(int(counted[0]), int(counted[1]), last_at, ratio, len(statuses))


@dataclass(frozen=True, slots=True)
class RequestTotals:
    """Requests and failed requests in a window."""

    requests: int
    errors: int

    @property
    def error_ratio(self) -> float:
        """Failed requests as a share of all requests (0 when there were none)."""
        return self.errors / self.requests if self.requests else 0.0


def request_totals(connection: Connection, tenant_id: str, window: timedelta) -> RequestTotals:
    """Requests and errors counted for the tenant in the last ``window`` (whole hours)."""
    since = (now() - window).replace(minute=0, second=0, microsecond=0)
    c = request_counts.c
    requests, errors = connection.execute(
        select(func.coalesce(func.sum(c.requests), 0), func.coalesce(func.sum(c.errors), 0)).where(
            c.tenant_id == tenant_id, c.hour >= since
        )
    ).one()
    return RequestTotals(int(requests), int(errors))
