"""The console's route table, and its page for requests no route answers.

``admin_routes(database, settings)`` returns the routes to add to the application (see
docs/admin-console.md): every page but sign-in goes through :meth:`AdminConsole.guarded`.
:func:`error_page` is what the application's handler answers for an unknown console URL (404)
or a wrong method (405): the console's look, no session.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hostsync.config import Settings
from hostsync.store.activity.pruning import DEFAULT_RETENTION_DAYS
from hostsync.store.database import Database
from hostsync.web.admin import (
    activity,
    erasure,
    groups,
    hosts,
    integrations,
    keys,
    notifications,
    onsite,
    pages,
    signin,
    sites,
    sso,
    status,
    visits,
)
from hostsync.web.admin.console import AdminConsole, Handler, Page
from hostsync.web.admin.security import SignInLimiter


def admin_routes(
    database: Database,
    settings: Settings,
    *,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    limiter: SignInLimiter | None = None,
) -> list[BaseRoute]:
    """The console's routes, to add to the application's."""
    console = AdminConsole(database, settings, retention_days=retention_days, limiter=limiter)
    g = console.guarded
    sync = integrations.HOST_SYNCHRONIZATION
    return [
        Route("/", g(status.status_page), methods=["GET"], name="admin_home"),
        Route("/signin", console.public(signin.sign_in), methods=["GET", "POST"]),
        Route("/signout", g(signin.sign_out), methods=["POST"]),
        Route("/status", g(status.status_page), methods=["GET"]),
        Route(sync, integrations.to_entra, methods=["GET"]),
        Route(f"{sync}/entra", g(integrations.entra_page), methods=["GET"]),
        Route(f"{sync}/keys", g(keys.create), methods=["POST"]),
        Route(f"{sync}/keys/{{key_id}}/revoke", g(keys.revoke), methods=["POST"]),
        Route(f"{sync}/keys/{{key_id}}/rotate", g(keys.rotate), methods=["POST"]),
        Route(sso.SINGLE_SIGN_ON, sso.to_entra, methods=["GET"]),
        Route(sso.SSO_PAGE, g(sso.page), methods=["GET"]),
        Route(sso.SSO_METADATA, g(sso.upload, reader=sso.read_metadata_form), methods=["POST"]),
        Route("/hosts", g(hosts.list_page), methods=["GET"]),
        Route("/hosts/{host_id}", g(hosts.host_page), methods=["GET"]),
        Route("/hosts/{host_id}/purge", g(hosts.purge), methods=["GET", "POST"]),
        Route("/groups", g(groups.list_page), methods=["GET"]),
        Route("/groups/{group_id}", g(groups.group_page), methods=["GET"]),
        Route("/activity", g(activity.list_page), methods=["GET"]),
        Route("/activity.csv", g(activity.csv_export), methods=["GET"]),
        Route("/activity/prune", g(activity.prune), methods=["POST"]),
        Route(erasure.PAGE, g(erasure.retention_page), methods=["GET", "POST"]),
        Route(erasure.ERASE, g(erasure.erase), methods=["GET", "POST"]),
        *frontdesk_routes(g),
        Route("/notifications", g(notifications.page), methods=["GET"]),
        Route("/notifications/{channel}", g(notifications.save), methods=["POST"]),
        Route("/notifications/{channel}/remove", g(notifications.remove), methods=["POST"]),
        Route("/notifications/{channel}/test", g(notifications.send_test), methods=["POST"]),
        Mount("/static/admin", StaticFiles(directory=pages.HERE / "static"), name="admin_static"),
    ]


def frontdesk_routes(g: Callable[[Page], Handler]) -> list[BaseRoute]:
    """Front desk: sites and their kiosks, visits, on site now (docs/front-desk.md)."""
    site = "/sites/{site_id}"
    return [
        Route("/sites", g(sites.list_page), methods=["GET"]),
        Route("/sites", g(sites.create), methods=["POST"]),
        Route(site, g(sites.site_page), methods=["GET"]),
        Route(site, g(sites.save), methods=["POST"]),
        Route(f"{site}/groups", g(sites.add_group), methods=["POST"]),
        Route(f"{site}/groups/{{group_id}}/remove", g(sites.remove_group), methods=["POST"]),
        Route(f"{site}/rule", g(sites.save_rule), methods=["POST"]),
        Route(f"{site}/kiosks", g(sites.create_kiosk), methods=["POST"]),
        Route(f"{site}/kiosks/{{kiosk_id}}/revoke", g(sites.revoke_kiosk), methods=["POST"]),
        Route("/visits", g(visits.list_page), methods=["GET"]),
        Route("/visits.csv", g(visits.csv_export), methods=["GET"]),
        Route("/visits/{visit_id}", g(visits.visit_page), methods=["GET"]),
        Route("/visits/{visit_id}/checkout", g(visits.checkout), methods=["POST"]),
        Route("/on-site", g(onsite.list_page), methods=["GET"]),
        Route("/on-site/print", g(onsite.print_page), methods=["GET"]),
    ]


def error_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    """The console's error page outside a route (unknown URLs, wrong methods): no session."""
    return pages.render(
        _error_environment(),
        request,
        "error.html",
        {"title": title, "message": message},
        status_code=status_code,
    )


@lru_cache(maxsize=1)
def _error_environment() -> Environment:
    return pages.environment()
