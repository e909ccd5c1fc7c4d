"""``GET /v1/kiosk/hosts?q=``: authentication, the site's scope and privacy, isolation, 429."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hostsync.config import Settings
from hostsync.frontdesk.sites import Site
from hostsync.scim.resources import normalize_resource
from hostsync.scim.schema import GROUP_RESOURCE
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import (
    archive_site,
    create_kiosk,
    create_site,
    set_site_groups,
    update_site,
)
from hostsync.store.tenants import create_tenant
from hostsync.web.app import create_app
from tests.conftest import BASE
from tests.frontdesk.conftest import ORIGIN, make_host

HOSTS = "/v1/kiosk/hosts"
ENTERPRISE_DEPARTMENT: dict[str, Any] = {
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
}


def kiosk_client(database: Database, settings: Settings, secret: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, database)),
        base_url=ORIGIN,
        headers=headers,
    )


async def labels(kiosk: httpx.AsyncClient, query: str) -> list[str]:
    answer = await kiosk.get(HOSTS, params={"q": query})
    assert answer.status_code == 200, answer.text
    return [host["label"] for host in answer.json()["hosts"]]


def group(database: Database, tenant_id: str, name: str, members: list[str]) -> str:
    document = normalize_resource(
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name},
        GROUP_RESOURCE,
    )
    with database.directory(tenant_id) as directory:
        return directory.create_group(document, members).id


async def test_without_a_kiosk_secret_401(
    database: Database, settings: Settings, site: Site, api_key: str
) -> None:
    make_host(database, site.tenant_id, "José", "Núñez")
    for secret in (None, api_key, "hsk_kiosk_nope"):
        async with kiosk_client(database, settings, secret) as http:
            answer = await http.get(HOSTS, params={"q": "jose"})
        assert answer.status_code == 401
        assert answer.json()["error"] == "unpaired"
        assert "Núñez" not in answer.text


async def test_finds_active_hosts_never_addresses(
    database: Database, site: Site, kiosk: httpx.AsyncClient
) -> None:
    jose = make_host(database, site.tenant_id, "José", "Núñez", title="CTO")
    make_host(database, site.tenant_id, "Joséphine", "Baker", active=False)
    answer = await kiosk.get(HOSTS, params={"q": "jose"})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json() == {"hosts": [{"id": jose, "label": "José Núñez", "detail": None}]}
    assert await labels(kiosk, "j") == []
    assert await labels(kiosk, "") == []
    for query in ("jose.nunez", "contoso", "example"):
        answer = await kiosk.get(HOSTS, params={"q": query})
        assert "@" not in answer.text
        assert "contoso" not in answer.text


async def test_a_deactivation_over_scim_shows_in_the_next_search(
    database: Database, settings: Settings, site: Site, kiosk_secret: str, api_key: str
) -> None:
    """Entra deactivates a host: the kiosk's very next search no longer offers them.

    One app serves both (as one server does): two apps on one SQLite database would each
    take turns over the database's one commit group (web/turns.py), which one app never does.
    """
    host = make_host(database, site.tenant_id, "Zoë", "Saldaña")
    app = create_app(settings, database)
    transport = httpx.ASGITransport(app=app)
    kiosk = httpx.AsyncClient(
        transport=transport, base_url=ORIGIN, headers={"Authorization": f"Bearer {kiosk_secret}"}
    )
    client = httpx.AsyncClient(
        transport=transport, base_url=BASE, headers={"Authorization": f"Bearer {api_key}"}
    )
    assert await labels(kiosk, "zoe") == ["Zoë Saldaña"]
    patch: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    assert (await client.patch(f"/Users/{host}", json=patch)).status_code == 200
    assert await labels(kiosk, "zoe") == []
    patch["Operations"][0]["value"] = "True"
    assert (await client.patch(f"/Users/{host}", json=patch)).status_code == 200
    assert await labels(kiosk, "zoe") == ["Zoë Saldaña"]
    assert (await client.delete(f"/Users/{host}")).status_code == 204
    assert await labels(kiosk, "zoe") == []
    await kiosk.aclose()
    await client.aclose()


async def test_the_sites_privacy_and_detail(
    database: Database, site: Site, kiosk: httpx.AsyncClient
) -> None:
    make_host(
        database,
        site.tenant_id,
        "José",
        "Núñez",
        **ENTERPRISE_DEPARTMENT,
    )
    with database.connect(write=True) as connection:
        update_site(connection, site.tenant_id, site.id, detail="department")
    answer = await kiosk.get(HOSTS, params={"q": "nun"})
    assert answer.json()["hosts"][0]["detail"] == "R&D"
    with database.connect(write=True) as connection:
        update_site(connection, site.tenant_id, site.id, privacy="initial")
    answer = await kiosk.get(HOSTS, params={"q": "nun"})
    assert [(h["label"], h["detail"]) for h in answer.json()["hosts"]] == [("José N.", None)]
    with database.connect(write=True) as connection:
        update_site(connection, site.tenant_id, site.id, privacy="exact")
    assert await labels(kiosk, "jose") == []
    assert await labels(kiosk, "José Núñez") == ["José Núñez"]


async def test_only_the_sites_hosts_never_another_sites(
    database: Database, settings: Settings, site: Site, kiosk: httpx.AsyncClient
) -> None:
    tenant_id = site.tenant_id
    paris = make_host(database, tenant_id, "Anne", "Paris")
    lyon = make_host(database, tenant_id, "Anne", "Lyon")
    make_host(database, tenant_id, "Anne", "Nowhere")
    paris_group = group(database, tenant_id, "Paris hosts", [paris])
    lyon_group = group(database, tenant_id, "Lyon hosts", [lyon])
    assert len(await labels(kiosk, "anne")) == 3  # no group mapped: every active host
    with database.connect(write=True) as connection:
        set_site_groups(connection, tenant_id, site.id, [paris_group])
        lyon_site = create_site(connection, tenant_id, "Lyon")
        set_site_groups(connection, tenant_id, lyon_site.id, [lyon_group])
        lyon_secret = create_kiosk(connection, tenant_id, lyon_site.id, "Lyon lobby")[1]
    assert await labels(kiosk, "anne") == ["Anne Paris"]
    async with kiosk_client(database, settings, lyon_secret) as lyon_kiosk:
        assert await labels(lyon_kiosk, "anne") == ["Anne Lyon"]
    with database.connect(write=True) as connection:
        set_site_groups(connection, tenant_id, site.id, [])
        update_site(
            connection,
            tenant_id,
            site.id,
            match_attribute="name.familyName",
            match_value="nowhere",
        )
    assert await labels(kiosk, "anne") == ["Anne Nowhere"]


async def test_another_tenants_kiosk_never_finds_these_hosts(
    database: Database, settings: Settings, site: Site, kiosk: httpx.AsyncClient
) -> None:
    make_host(database, site.tenant_id, "Ada", "Lovelace")
    with database.connect(write=True) as connection:
        other = create_tenant(connection, "Fabrikam").id
        other_site = create_site(connection, other, "Fabrikam HQ")
        other_secret = create_kiosk(connection, other, other_site.id)[1]
    make_host(database, other, "Ada", "Byron")
    async with kiosk_client(database, settings, other_secret) as theirs:
        assert await labels(theirs, "ada") == ["Ada Byron"]
        assert await labels(theirs, "lovel") == []
    assert await labels(kiosk, "ada") == ["Ada Lovelace"]


async def test_an_archived_site_answers_401(
    database: Database, site: Site, kiosk: httpx.AsyncClient
) -> None:
    make_host(database, site.tenant_id, "Ada", "Lovelace")
    with database.connect(write=True) as connection:
        archive_site(connection, site.tenant_id, site.id)
    answer = await kiosk.get(HOSTS, params={"q": "ada"})
    assert answer.status_code == 401
    assert "Lovelace" not in answer.text


async def test_bad_queries_and_sites_get_json_errors(
    database: Database, site: Site, kiosk: httpx.AsyncClient
) -> None:
    answer = await kiosk.get(HOSTS, params={"q": "x" * 201})
    assert answer.status_code == 400
    assert answer.json()["error"] == "query_too_long"
    with database.connect(write=True) as connection:
        update_site(
            connection, site.tenant_id, site.id, match_attribute="no such]path", match_value="x"
        )
    answer = await kiosk.get(HOSTS, params={"q": "ada"})
    assert answer.status_code == 409
    assert set(answer.json()) == {"status", "error", "detail"}


@pytest.fixture
def limited() -> Settings:
    return Settings(key_cache_seconds=0, kiosk_search_limit="3/minute")


async def test_searches_are_limited_per_kiosk(
    database: Database, limited: Settings, site: Site, kiosk_secret: str
) -> None:
    make_host(database, site.tenant_id, "Ada", "Lovelace")
    with database.connect(write=True) as connection:
        second = create_kiosk(connection, site.tenant_id, site.id, "Second")[1]
    app = create_app(limited, database)

    def client(secret: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=ORIGIN,
            headers={"Authorization": f"Bearer {secret}"},
        )

    async with client(kiosk_secret) as first, client(second) as other:
        answers: list[Any] = [await first.get(HOSTS, params={"q": "ada"}) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"] == "rate_limited"
        assert "Lovelace" not in refused.text
        assert (await other.get(HOSTS, params={"q": "ada"})).status_code == 200
