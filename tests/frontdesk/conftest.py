"""Front-desk fixtures: a site of the test's tenant, a kiosk of it, hosts made over the port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import trustme

from hostsync.config import Settings
from hostsync.frontdesk.sites import Site
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import create_kiosk, create_site
from hostsync.web.app import create_app
from tests.frontdesk.servers import Receiver, SmtpServer

ORIGIN = "http://testserver"


def make_host(
    database: Database,
    tenant_id: str,
    given: str,
    family: str,
    *,
    active: bool = True,
    **extra: Any,
) -> str:
    """Create a host (a SCIM user) in the tenant; return its id."""
    user_name = f"{given}.{family}@contoso.example".lower().replace(" ", "")
    document: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "displayName": f"{given} {family}",
        "name": {"givenName": given, "familyName": family},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": active,
        **extra,
    }
    with database.directory(tenant_id) as directory:
        return directory.create_user(document).id


@pytest.fixture
def site(database: Database, tenant_id: str) -> Site:
    """A site of the test's tenant, in Paris time."""
    with database.connect(write=True) as connection:
        return create_site(connection, tenant_id, "Paris HQ", timezone="Europe/Paris")


@pytest.fixture
def kiosk_secret(database: Database, site: Site) -> str:
    """The secret of a kiosk of :func:`site`."""
    with database.connect(write=True) as connection:
        return create_kiosk(connection, site.tenant_id, site.id, "Lobby")[1]


@pytest.fixture
async def kiosk(
    database: Database, settings: Settings, kiosk_secret: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the app that presents the kiosk's secret as a bearer token."""
    app = create_app(settings, database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=ORIGIN,
        headers={"Authorization": f"Bearer {kiosk_secret}"},
    ) as http:
        yield http


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on loopback, running (tests/frontdesk/servers.py)."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback answering 200 (tests/frontdesk/servers.py)."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def ca() -> trustme.CA:
    """A throw-away CA, trusted by nothing unless named."""
    return trustme.CA()
