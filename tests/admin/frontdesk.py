"""Helpers of the front-desk console tests: sites, groups and visits made in the store."""

from __future__ import annotations

import html as html_module
import re

import httpx

from hostsync.frontdesk.sites import Site
from hostsync.frontdesk.visits import Visit, arrival
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import create_kiosk, create_site, get_site
from hostsync.store.frontdesk.visits import CheckIn, check_in
from hostsync.store.tenants import create_tenant
from tests.admin.conftest import csrf_of


def new_site(
    database: Database, tenant_id: str, name: str = "Paris HQ", zone: str = "Europe/Paris"
) -> Site:
    """A site of the tenant."""
    with database.connect(write=True) as connection:
        return create_site(connection, tenant_id, name, timezone=zone)


def reload_site(database: Database, site: Site) -> Site:
    """The site as stored now."""
    with database.connect(write=False) as connection:
        found = get_site(connection, site.tenant_id, site.id)
    assert found is not None
    return found


def new_group(
    database: Database, tenant_id: str, name: str, members: list[str] | None = None
) -> str:
    """A SCIM group of the tenant; its id."""
    document = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}
    with database.directory(tenant_id) as directory:
        return directory.create_group(document, members or []).id


def new_kiosk(database: Database, site: Site, label: str = "Lobby") -> str:
    """A kiosk of the site; its id."""
    with database.connect(write=True) as connection:
        return create_kiosk(connection, site.tenant_id, site.id, label)[0].id


def visit(
    database: Database,
    site: Site,
    name: str,
    *,
    host: tuple[str, str] | None = None,
    company: str | None = None,
) -> Visit:
    """Check a visitor in at the site, for a host (id, label) or the front desk."""
    with database.connect(write=True) as connection:
        return check_in(
            connection,
            site,
            arrival(name, company, None, host[0] if host else None, host is None),
            CheckIn("kiosk Lobby"),
            host_label=host[1] if host else None,
        )


def other_tenant(database: Database) -> str:
    """A second tenant, whose data the signed-in administrator must never see."""
    with database.connect(write=True) as connection:
        return create_tenant(connection, "Fabrikam").id


async def post(
    http: httpx.AsyncClient, page: str, action: str, data: dict[str, str]
) -> httpx.Response:
    """Submit a form of ``page`` to ``action`` with the page's CSRF token, as a browser would."""
    shown = await http.get(page)
    return await http.post(action, data={"csrf": csrf_of(shown.text), **data})


async def token(http: httpx.AsyncClient) -> str:
    """The session's CSRF token (from any console page)."""
    return csrf_of((await http.get("/sites")).text)


def alert(html: str) -> str:
    """The text of the page's error alert."""
    found = re.search(r'<p class="alert error" role="alert"[^>]*>([^<]*)</p>', html)
    assert found, "no error alert on the page"
    return html_module.unescape(found.group(1))
