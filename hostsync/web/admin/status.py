"""The sync status page: last request, host and group counts, recent changes and errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hostsync.store import admins as admin_store
from hostsync.store import console as queries
from hostsync.store import tenants as tenant_store
from hostsync.store.activity import queries as activity_log
from hostsync.store.activity.queries import ActivityFilter
from hostsync.web.admin.console import AdminConsole

QUARANTINE_RATIO = 0.4


async def status_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """Sync status: last request, host and group counts, recent changes and errors."""
    tenant_id = session.admin.tenant_id
    await run_in_threadpool(console.pruner.maybe_prune, console.database)

    def load() -> dict[str, Any]:
        with console.database.connect(write=False) as connection:
            tenant = tenant_store.get_tenant(connection, tenant_id)
            counted = queries.counts(connection, tenant_id)
            recent = activity_log.summary(connection, tenant_id, timedelta(days=1))
            totals = activity_log.request_totals(connection, tenant_id, timedelta(days=1))
            _, failures = activity_log.page(
                connection, tenant_id, ActivityFilter(outcome="failure"), limit=5
            )
        return {
            "tenant": tenant,
            "counts": counted,
            "recent": recent,
            "totals": totals,
            "failures": failures,
        }

    data = await run_in_threadpool(load)
    recent: activity_log.Summary = data["recent"]
    counted: queries.Counts = data["counts"]
    last_request = max(
        (m for m in (counted.last_key_use, recent.last_at) if m is not None), default=None
    )
    totals: activity_log.RequestTotals = data["totals"]
    # docs/reference/entra-engine.md#quarantine: Entra quarantines a job when most of its calls
    # fail (escrow: over 40 % of events). Warn on the day's request error ratio, or on the
    # latest changes when the counters have not been flushed yet.
    quarantine = (totals.requests >= 10 and totals.error_ratio > QUARANTINE_RATIO) or (
        recent.recent_count >= 5 and recent.recent_failure_ratio >= 0.5
    )
    return console.render(
        request,
        "status.html",
        {
            **data,
            "last_request": last_request,
            "quarantine": quarantine,
            "title": "Sync status",
        },
        session=session,
    )
