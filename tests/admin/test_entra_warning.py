"""The Entra page warns when its Tenant URL cannot be reached from Microsoft's cloud."""

from __future__ import annotations

import uuid

import httpx
import pytest

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.store.tenants import create_tenant
from hostsync.web.admin.integrations import unreachable_from_cloud
from tests.admin.conftest import console_app, sign_in

ENTRA = "/integrations/host-synchronization/entra"


@pytest.fixture
def tenant_id(database: Database) -> str:
    """A fresh tenant with a name of its own (tenant names are unique)."""
    with database.connect(write=True) as connection:
        return create_tenant(connection, f"Contoso {uuid.uuid4().hex[:8]}").id


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1/usersync/SCIM",
        "https://localhost/v1/usersync/SCIM",
        "https://10.1.2.3/v1/usersync/SCIM",
        "https://192.168.1.20:8443/v1/usersync/SCIM",
        "https://[::1]/v1/usersync/SCIM",
        "https://[fd00::1]/v1/usersync/SCIM",
        "https://hostsync.local/v1/usersync/SCIM",
        "https://testserver/v1/usersync/SCIM",
        "http://scim.example.com/v1/usersync/SCIM",
    ],
)
def test_loopback_private_or_plain_http_urls_are_unreachable(url: str) -> None:
    """Loopback, private, single-label or .local hosts and http: are flagged."""
    assert unreachable_from_cloud(url) is not None


@pytest.mark.parametrize(
    "url", ["https://scim.example.com/v1/usersync/SCIM", "https://52.1.2.3:8443/scim"]
)
def test_public_https_urls_are_reachable(url: str) -> None:
    """A public host name or address over https: gets no warning."""
    assert unreachable_from_cloud(url) is None


async def test_entra_page_warns_on_a_loopback_tenant_url(signed_in: httpx.AsyncClient) -> None:
    """Served on a local address without HOSTSYNC_PUBLIC_URL, the page shows the warning."""
    page = (await signed_in.get(ENTRA)).text
    assert 'data-testid="unreachable"' in page
    assert "cannot reach this address" in page
    assert "docs/deploy.md" in page


async def test_entra_page_is_quiet_with_a_public_https_url(
    database: Database, settings: Settings, admin_email: str
) -> None:
    """With HOSTSYNC_PUBLIC_URL on public HTTPS, no warning is shown."""
    public = settings.model_copy(update={"public_url": "https://scim.example.com"})
    app = console_app(database, public)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://scim.example.com") as http:
        assert (await sign_in(http, admin_email)).status_code == 303
        page = (await http.get(ENTRA)).text
    assert "https://scim.example.com/v1/usersync/SCIM" in page
    assert 'data-testid="unreachable"' not in page
