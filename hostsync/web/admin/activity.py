"""The provisioning activity pages: the filtered, paged log, its CSV export, and pruning.

Filters take only known values (outcome, operation, resource type, period); anything else in
the query string is ignored, never an error. The person search and the resource id are
trimmed and cut to a bounded length, control characters removed. The filter chips are links
that change one filter and keep the others and the search; paging keeps them all. Pruning is
scoped to the session's tenant, clamped to :data:`MAX_PRUNE_DAYS`, and leaves an activity row
of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
MAX_SEARCH_CHARS = 200
MAX_ID_CHARS = 64
OUTCOME_ALIASES = {"success": "success", "ok": "success", "failure": "failure", "failed": "failure"}
FILTER_PARAMS = ("q", "op", "resource", "outcome", "period", "id")
"""The query parameters of the activity page that select rows (kept by chips, paging, CSV)."""
CHIPS = (
    ("op", "Operation", (("create", "Created"), ("update", "Changed"), ("delete", "Deleted"))),
    (
        "resource",
        "Resource",
        (
            ("User", "Hosts"),
            ("Group", "Groups"),
            ("ApiKey", "API keys"),
            ("Admin", "Admins"),
            ("Extension", "Extensions"),
        ),
    ),
    ("outcome", "Outcome", (("success", "OK"), ("failure", "Failed"))),
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_text(raw: str | None, limit: int) -> str:
    """A query parameter's text: control characters removed, trimmed, at most ``limit``."""
    return _CONTROL.sub("", raw or "").strip()[:limit].strip()


@dataclass(frozen=True, slots=True)
class Chosen:
    """The activity filters a query string asks for, each a known value or empty."""

    q: str = ""
    op: str = ""
    resource: str = ""
    outcome: str = ""
    period: str = ""
    id: str = ""

    def params(self, **changed: str) -> dict[str, str]:
        """The non-empty filters, with ``changed`` applied (an empty value drops one)."""
        values = {name: getattr(self, name) for name in FILTER_PARAMS} | changed
        return {name: value for name, value in values.items() if value}


def chosen(request: Request) -> Chosen:
    """The filters of the query string; unknown values are dropped (never an error)."""
    params = request.query_params
    op = params.get("op", "")
    resource = params.get("resource", "")
    period = params.get("period", "")
    return Chosen(
        q=clean_text(params.get("q"), MAX_SEARCH_CHARS),
        op=op if op in activity_log.OPERATIONS else "",
        resource=resource if resource in activity_log.RESOURCE_TYPES else "",
        outcome=OUTCOME_ALIASES.get(params.get("outcome", ""), ""),
        period=period if period in PERIODS else "",
        id=clean_text(params.get("id"), MAX_ID_CHARS),
    )


def selected_filter(request: Request) -> ActivityFilter:
    """The rows the query asks for; unknown outcomes, resource types and periods are ignored."""
    picked = chosen(request)
    period = PERIODS.get(picked.period)
    return ActivityFilter(
        outcome=picked.outcome or None,
        resource_type=picked.resource or None,
        resource_id=picked.id or None,
        since=None if period is None else now() - period,
        operation=picked.op or None,
        person=picked.q or None,
    )


def _href(params: dict[str, str]) -> str:
    return f"/activity?{urlencode(params)}" if params else "/activity"


def chips(picked: Chosen) -> list[dict[str, object]]:
    """The filter chips: per filter, "All" and each value, a link that keeps the other filters."""
    groups: list[dict[str, object]] = []
    for name, title, choices in CHIPS:
        current = getattr(picked, name)
        options = [{"text": "All", "href": _href(picked.params(**{name: ""})), "on": not current}]
        options += [
            {"text": text, "href": _href(picked.params(**{name: value})), "on": current == value}
            for value, text in choices
        ]
        groups.append({"name": name, "title": title, "options": options})
    return groups


async def list_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """Provisioning activity, filtered and paged, with names for the ids it holds."""
    picked = chosen(request)
    selected = selected_filter(request)
    number = page_number(request)
    tenant_id = session.admin.tenant_id
    await run_in_threadpool(console.pruner.maybe_prune, console.database)

    def load() -> tuple[int, list[activity_log.Readable]]:
        with console.database.connect(write=False) as connection:
            total, entries = activity_log.page(
                connection,
                tenant_id,
                selected,
                offset=(number - 1) * ACTIVITY_PAGE,
                limit=ACTIVITY_PAGE,
            )
            return total, activity_log.readable(connection, tenant_id, entries)

    total, entries = await run_in_threadpool(load)
    pruned = request.query_params.get("pruned")
    id_name = next((e.name for e in entries if e.name), None) if picked.id else None
    return console.render(
        request,
        "activity.html",
        {
            "title": "Provisioning activity",
            "entries": entries,
            "total": total,
            "picked": picked,
            "chips": chips(picked),
            "hidden": [(k, v) for k, v in picked.params().items() if k not in ("q", "period")],
            "id_chip": {"name": id_name or picked.id, "without": _href(picked.params(id=""))}
            if picked.id
            else None,
            "csv_query": urlencode(picked.params()),
            "retention_days": console.retention_days,
            "pruned": pruned if pruned and pruned.isascii() and pruned.isdigit() else None,
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
