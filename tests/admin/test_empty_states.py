"""First-run empty states: a tenant with nothing provisioned is told where to connect Entra.

A filter that matches nothing still says so plainly, and another tenant's hosts and groups
never make this tenant's pages look provisioned. (The activity page is never empty for an
administrator: their own sign-in is its first entry.)
"""

from __future__ import annotations

import httpx

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store.database import Database
from hostsync.store.tenants import create_key, create_tenant
from tests.admin.conftest import console_app

ENTRA_LINK = (
    'href="/integrations/host-synchronization/entra">Integrations \u203a Host Synchronization'
)


async def _provision_other_tenant(database: Database, settings: Settings) -> None:
    """Another tenant gets a host and a group, with their activity rows."""
    with database.connect(write=True) as connection:
        other = create_tenant(connection, "Fabrikam").id
        _, key = create_key(connection, other, "fabrikam-key")
    app = console_app(database, settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://testserver{SCIM_PREFIX}"
    ) as scim:
        auth = {"Authorization": f"Bearer {key}"}
        user = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@fabrikam.example",
        }
        group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Lab"}
        assert (await scim.post("/Users", json=user, headers=auth)).status_code == 201
        assert (await scim.post("/Groups", json=group, headers=auth)).status_code == 201


async def test_a_new_tenant_is_pointed_at_the_entra_page(
    signed_in: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    """Hosts and groups each explain where their rows will come from."""
    await _provision_other_tenant(database, settings)
    hosts = await signed_in.get("/hosts")
    assert "No hosts yet." in hosts.text and ENTRA_LINK in hosts.text
    assert "ada@fabrikam.example" not in hosts.text
    groups = await signed_in.get("/groups")
    assert "No groups yet." in groups.text and ENTRA_LINK in groups.text
    assert "Lab" not in groups.text


async def test_a_filter_that_matches_nothing_says_so(signed_in: httpx.AsyncClient) -> None:
    """With a search or filter, the page says nothing matched, not that nothing exists."""
    hosts = await signed_in.get("/hosts", params={"q": "nobody"})
    assert "No hosts match." in hosts.text and "No hosts yet." not in hosts.text
    deactivated = await signed_in.get("/hosts", params={"status": "deactivated"})
    assert "No hosts match." in deactivated.text
    groups = await signed_in.get("/groups", params={"q": "nothing"})
    assert "No groups match." in groups.text and "No groups yet." not in groups.text
