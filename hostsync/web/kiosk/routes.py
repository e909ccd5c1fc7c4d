"""The kiosk's route table: pairing, the page, and the JSON API under ``/v1/kiosk``.

``kiosk_routes(database, settings)`` returns the routes to add to the application, and the
:class:`~hostsync.web.kiosk.pairing.KioskGate` to close at shutdown. Every API endpoint goes
through :meth:`KioskGate.api`, which hands it the kiosk's credential: the handler scopes
every query by ``credential.tenant_id`` and ``credential.site_id``.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hostsync.config import Settings
from hostsync.frontdesk.sites import Site
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import KioskCredential, get_site
from hostsync.web.kiosk.checkin import KioskVisits
from hostsync.web.kiosk.page import STATIC, KioskPage
from hostsync.web.kiosk.pairing import KioskGate, api_error, settings_document

API = "/v1/kiosk"


def kiosk_routes(database: Database, settings: Settings) -> tuple[list[BaseRoute], KioskGate]:
    """The kiosk's routes, and the gate that authenticates them."""
    gate = KioskGate(database, settings.key_cache_seconds, public_url=settings.public_url)

    async def kiosk_settings(request: Request, credential: KioskCredential) -> Response:
        site = await run_in_threadpool(site_of, database, credential)
        if site is None:
            return api_error(401, "unpaired", "This kiosk's site was archived")
        return JSONResponse(
            settings_document(credential, site, idle_seconds=settings.kiosk_idle_seconds)
        )

    visits = KioskVisits(database)
    page = KioskPage(database, gate, settings.kiosk_idle_seconds)
    routes: list[BaseRoute] = [
        Route("/kiosk", page.page, methods=["GET"]),
        Route("/kiosk/{secret}", gate.pair, methods=["GET"]),
        Mount("/static/kiosk", StaticFiles(directory=STATIC), name="kiosk_static"),
        Route(f"{API}/settings", gate.api(kiosk_settings), methods=["GET"]),
        Route(f"{API}/visits", gate.api(visits.check_in), methods=["POST"]),
        Route(f"{API}/visits", gate.api(visits.find), methods=["GET"]),
        Route(f"{API}/visits/{{visit_id}}/checkout", gate.api(visits.check_out), methods=["POST"]),
    ]
    return routes, gate


def site_of(database: Database, credential: KioskCredential) -> Site | None:
    """The kiosk's site, read in its own unit of work (None once archived)."""
    with database.connect(write=False) as connection:
        return get_site(connection, credential.tenant_id, credential.site_id)
