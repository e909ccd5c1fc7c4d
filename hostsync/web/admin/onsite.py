"""Front desk > On site now: a site's visitors not checked out, and its printable evacuation list.

The page shows one site at a time (``?site=<id>``; the first site by name otherwise), its
visitors by name with their check-in time in the site's zone, and a check-out button each. The
print page is the evacuation list: the site's name, when it was printed (site time), the head
count and the names, with no navigation or buttons on paper.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hostsync.frontdesk.days import local_text
from hostsync.frontdesk.sites import Site
from hostsync.frontdesk.visits import Visit
from hostsync.store import admins as admin_store
from hostsync.store.clock import now
from hostsync.store.frontdesk.sites import list_sites
from hostsync.store.frontdesk.visits import ON_SITE_LIMIT, on_site
from hostsync.web.admin.console import AdminConsole
from hostsync.web.admin.sites import plain_id


def _load(
    console: AdminConsole, tenant_id: str, wanted: str | None
) -> tuple[list[Site], Site | None, list[Visit]]:
    with console.database.connect(write=False) as connection:
        sites = list_sites(connection, tenant_id)
        if wanted:
            site = next((s for s in sites if s.id == wanted), None)
        else:
            site = sites[0] if sites else None
        visitors = [] if site is None else on_site(connection, tenant_id, site.id)
    return sites, site, visitors


def _rows(site: Site, visitors: list[Visit]) -> list[dict[str, object]]:
    zone = site.zone
    return [
        {
            "visit": visit,
            "host": "Front desk" if visit.front_desk else (visit.host_label or "—"),
            "checked_in": local_text(visit.checked_in_at, zone),
        }
        for visit in visitors
    ]


async def list_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """A site's visitors on site now, with a check-out button each."""
    raw = request.query_params.get("site", "")
    wanted = plain_id(raw)
    if raw and wanted is None:
        return console.not_found(request, session)
    sites, site, visitors = await run_in_threadpool(_load, console, session.admin.tenant_id, wanted)
    if wanted and site is None:
        return console.not_found(request, session)
    flash = console.flashes.take(session)
    return console.render(
        request,
        "onsite.html",
        {
            "title": "On site now",
            "sites": sites,
            "site": site,
            "rows": [] if site is None else _rows(site, visitors),
            "capped": len(visitors) >= ON_SITE_LIMIT,
            "notice": None if flash is None else flash.notice,
        },
        session=session,
    )


async def print_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """The evacuation list of a site, laid out for paper."""
    raw = request.query_params.get("site", "")
    wanted = plain_id(raw)
    if raw and wanted is None:
        return console.not_found(request, session)
    _, site, visitors = await run_in_threadpool(_load, console, session.admin.tenant_id, wanted)
    if site is None:
        return console.not_found(request, session)
    return console.render(
        request,
        "onsite_print.html",
        {
            "title": f"Evacuation list · {site.name}",
            "site": site,
            "rows": _rows(site, visitors),
            "printed": local_text(now(), site.zone),
            "capped": len(visitors) >= ON_SITE_LIMIT,
        },
        session=session,
    )
