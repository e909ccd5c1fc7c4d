"""The provisioning activity pages: the filtered, paged log, its CSV export, and pruning.

Filters take only known values (outcome, resource type, period); pruning is scoped to the
session's tenant, clamped to :data:`MAX_PRUNE_DAYS`, and leaves an activity row of its own.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from hostsync.store import admins as admin_store
from hostsync.store.activity import export, pruning, records
from hostsync.store.activity import queries as activity_log
from hostsync.store.activity.queries import ActivityFilter
from hostsync.store.clock import now
from hostsync.web.admin.console import AdminConsole
from hostsync.web.admin.paging import page_number, paging, parse_number

PERIODS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
ACTIVITY_PAGE = 50
MAX_PRUNE_DAYS = 36_500


def selected_filter(request: Request) -> ActivityFilter:
    """The rows the query asks for; unknown outcomes, resource types and periods are ignored."""
    params = request.query_params
    outcome = params.get("outcome", "")
    resource = params.get("resource", "")
    period = PERIODS.get(params.get("period", ""))
    return ActivityFilter(
        outcome=outcome if outcome in activity_log.OUTCOMES else None,
        resource_type=resource if resource in activity_log.RESOURCE_TYPES else None,
        resource_id=params.get("id") or None,
        since=None if period is None else now() - period,
    )


async def list_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """Provisioning activity, filtered and paged."""
    selected = selected_filter(request)
    number = page_number(request)
    await run_in_threadpool(console.pruner.maybe_prune, console.database)

    def load() -> tuple[int, list[activity_log.Entry]]:
        with console.database.connect(write=False) as connection:
            return activity_log.page(
                connection,
                session.admin.tenant_id,
                selected,
                offset=(number - 1) * ACTIVITY_PAGE,
                limit=ACTIVITY_PAGE,
            )

    total, entries = await run_in_threadpool(load)
    params = request.query_params
    return console.render(
        request,
        "activity.html",
        {
            "title": "Provisioning activity",
            "entries": entries,
            "total": total,
            "outcome": params.get("outcome", ""),
            "resource": params.get("resource", ""),
            "period": params.get("period", ""),
            "csv_query": urlencode(
                {k: v for k, v in params.items() if k in ("outcome", "resource", "period")}
            ),
            "retention_days": console.retention_days,
            "pruned": params.get("pruned"),
            "paging": paging(request, number, total, ACTIVITY_PAGE),
        },
        session=session,
    )


async def csv_export(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """The filtered activity as a CSV download."""
    selected = selected_filter(request)
    chunks = export.stream_csv(console.database, session.admin.tenant_id, selected)
    response = StreamingResponse(chunks, media_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="provisioning-activity-{now():%Y%m%d-%H%M}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def prune(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """Delete this tenant's activity older than N days (default: the retention period)."""
    days = parse_number(request.state.form.get("days"), console.retention_days, 1, MAX_PRUNE_DAYS)
    context = console.context(request, session.admin.email)

    def run() -> int:
        with console.database.connect(write=True) as connection:
            removed = pruning.prune(connection, days, session.admin.tenant_id)
            records.audit(
                connection,
                session.admin.tenant_id,
                context,
                "prune",
                resource_type="Admin",
                resource_id=session.admin.id,
                resource_name=session.admin.email,
                detail=f"{removed} entries older than {days} days removed",
            )
            return removed

    removed = await run_in_threadpool(run)
    return RedirectResponse(f"/activity?pruned={removed}", 303)
