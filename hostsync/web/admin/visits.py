"""Front desk > Visits: the filtered, paged list, its CSV export, one visit, check-out.

Filters take only what they know: a site id, a ``YYYY-MM-DD`` day (of each visit's site), a
host (an id from a link, or a piece of the host's name), a status (``on-site``,
``checked-out``); anything else is ignored rather than refused. A check-out by the front desk
names the administrator (``front desk: <e-mail>``) on the visit and in the activity log.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from hostsync.frontdesk.days import local_text, parse_day
from hostsync.frontdesk.sites import Site
from hostsync.store import admins as admin_store
from hostsync.store.activity import records
from hostsync.store.clock import now
from hostsync.store.frontdesk import console as frontdesk_console
from hostsync.store.frontdesk.console import STATUSES, VisitFilter, VisitRow
from hostsync.store.frontdesk.outbox import deliveries_of
from hostsync.store.frontdesk.sites import list_sites
from hostsync.store.frontdesk.visits import check_out
from hostsync.web.admin.activity import clean_text
from hostsync.web.admin.console import AdminConsole
from hostsync.web.admin.flash import Flash
from hostsync.web.admin.paging import page_number, paging
from hostsync.web.admin.sites import plain_id, plain_ids

VISITS_PAGE = "/visits"
ON_SITE_PAGE = "/on-site"
FILTERS = ("site", "day", "host", "host_id", "status")
_HOST_LIMIT = 200


def selected_filter(request: Request) -> VisitFilter:
    """The visits the query asks for; unknown statuses and malformed days are ignored."""
    params = request.query_params
    status = params.get("status", "")
    return VisitFilter(
        site_id=plain_id(params.get("site")),
        day=parse_day(params.get("day")),
        host_id=plain_id(params.get("host_id")),
        host=" ".join(clean_text(params.get("host"), _HOST_LIMIT).split()) or None,
        status=status if status in STATUSES else None,
    )


def visit_view(visit: VisitRow) -> dict[str, Any]:
    """What a template shows of a visit: its fields and its times in the site's zone."""
    zone = visit.zone
    return {
        "visit": visit,
        "checked_in": local_text(visit.checked_in_at, zone),
        "checked_out": local_text(visit.checked_out_at, zone),
    }


async def list_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """Visits, filtered and paged, newest arrival first."""
    selected = selected_filter(request)
    number = page_number(request)
    tenant_id = session.admin.tenant_id

    def load() -> tuple[list[Site], int, list[VisitRow]]:
        with console.database.connect(write=False) as connection:
            sites = list_sites(connection, tenant_id)
            total, rows = frontdesk_console.list_visits(
                connection,
                tenant_id,
                selected,
                offset=(number - 1) * frontdesk_console.VISITS_PAGE,
                limit=frontdesk_console.VISITS_PAGE,
            )
            return sites, total, rows

    sites, total, rows = await run_in_threadpool(load)
    host_label = None
    if selected.host_id is not None:
        host_label = next((r.host_label for r in rows if r.host_id == selected.host_id), None)
    return console.render(
        request,
        "visits.html",
        {
            "title": "Visits",
            "sites": sites,
            "rows": [visit_view(row) for row in rows],
            "selected": selected,
            "day": "" if selected.day is None else selected.day.isoformat(),
            "host_label": host_label or selected.host_id,
            "without_host": _query(request, drop="host_id"),
            "csv_query": _query(request, drop="page"),
            "total": total,
            "paging": paging(request, number, total, frontdesk_console.VISITS_PAGE),
        },
        session=session,
    )


def _query(request: Request, *, drop: str) -> str:
    return urlencode({k: v for k, v in request.query_params.items() if k in FILTERS and k != drop})


async def csv_export(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """The filtered visits as a CSV download (formula-safe cells, UTF-8 with a BOM)."""
    selected = selected_filter(request)
    chunks = frontdesk_console.stream_visits_csv(
        console.database, session.admin.tenant_id, selected
    )
    response = StreamingResponse(chunks, media_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="visits-{now():%Y%m%d-%H%M}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@plain_ids
async def visit_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """One visit: who, whom, when, by whom, and each notification's delivery."""
    visit_id = request.path_params["visit_id"]
    tenant_id = session.admin.tenant_id

    def load() -> tuple[VisitRow | None, list[Any]]:
        with console.database.connect(write=False) as connection:
            found = frontdesk_console.get_visit_row(connection, tenant_id, visit_id)
            if found is None:
                return None, []
            return found, deliveries_of(connection, tenant_id, visit_id)

    found, deliveries = await run_in_threadpool(load)
    if found is None:
        return console.not_found(request, session)
    flash = console.flashes.take(session)
    zone = found.zone
    return console.render(
        request,
        "visit.html",
        {
            "title": "Visit",
            **visit_view(found),
            "deliveries": [
                {
                    "delivery": d,
                    "created": local_text(d.created_at, zone),
                    "sent": local_text(d.sent_at, zone),
                }
                for d in deliveries
            ],
            "notice": None if flash is None else flash.notice,
        },
        session=session,
    )


@plain_ids
async def checkout(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """Check a visitor out on the front desk's behalf; back to the visit or the on-site list."""
    visit_id = request.path_params["visit_id"]
    back = str(request.state.form.get("back", ""))
    tenant_id = session.admin.tenant_id
    by = f"front desk: {session.admin.email}"
    context = console.context(request, session.admin.email)

    def update() -> tuple[VisitRow, bool] | None:
        with console.database.connect(write=True) as connection:
            found = frontdesk_console.get_visit_row(connection, tenant_id, visit_id)
            if found is None:
                return None
            done = check_out(connection, tenant_id, visit_id, by, site_id=found.site_id)
            if done is not None:
                records.audit(
                    connection,
                    tenant_id,
                    context,
                    "check-out",
                    resource_type="Visit",
                    resource_id=visit_id,
                    resource_name=f"visit at {found.site_name}",
                    detail=by,
                )
            return found, done is not None

    result = await run_in_threadpool(update)
    if result is None:
        return console.not_found(request, session)
    visit, done = result
    who = visit.visitor_name or "The visitor"
    notice = f"{who} is checked out." if done else f"{who} was checked out already."
    console.flashes.put(session, Flash(notice=notice))
    if back == "on-site":
        return RedirectResponse(f"{ON_SITE_PAGE}?{urlencode({'site': visit.site_id})}", 303)
    return RedirectResponse(f"{VISITS_PAGE}/{visit_id}", 303)
