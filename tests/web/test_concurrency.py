"""Concurrent clients against a live server (real processes, real sockets, both backends).

On PostgreSQL the server runs two worker processes, so these also show that several workers
against one database lose no write.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hostsync.store.database import Database
from hostsync.store.tenants import create_key, create_tenant

from ..conftest import POSTGRES_URL
from ..live_server import served

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Live:
    base: str
    key: str

    def client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=50)
        return httpx.AsyncClient(
            base_url=self.base,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=60,
            limits=limits,
        )


@pytest.fixture(scope="module", params=["sqlite", *(["postgres"] if POSTGRES_URL else [])])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """A `hostsync serve` process (two workers on PostgreSQL) and a tenant key."""
    if request.param == "postgres":
        assert POSTGRES_URL is not None
        url, workers = POSTGRES_URL, 2
    else:
        url, workers = f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}", 1
    database = Database(url)
    database.migrate()
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, "Live")
        _, key = create_key(connection, tenant.id, "live")
    database.dispose()
    log = Path(tmp_path_factory.mktemp("log")) / "server.log"
    unthrottled = {"HOSTSYNC_KEY_CACHE_SECONDS": "5", "HOSTSYNC_RATE_LIMIT": "none"}
    with served(url, log, workers=workers, env=unthrottled) as (_, base):
        yield Live(base, key)


async def test_identical_creates_give_one_201_and_the_rest_409(live: Live) -> None:
    """Twenty identical POSTs at once: exactly one 201, nineteen 409, never a 5xx."""
    async with live.client() as client:
        body = {"userName": f"race-{time.time_ns()}@contoso.com"}
        responses = await asyncio.gather(*(client.post("/Users", json=body) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, statuses


async def test_concurrent_patches_of_different_attributes_all_survive(live: Live) -> None:
    """Twelve PATCHes of different attributes of one user at once: every value is kept."""
    attributes = [
        "displayName",
        "nickName",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "profileUrl",
        "name.givenName",
        "name.familyName",
        "name.middleName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    ]
    async with live.client() as client:
        user = (
            await client.post("/Users", json={"userName": f"patched-{time.time_ns()}@contoso.com"})
        ).json()
        responses = await asyncio.gather(
            *(
                client.patch(
                    f"/Users/{user['id']}",
                    json={
                        "schemas": [PATCH_OP],
                        "Operations": [{"op": "replace", "path": attr, "value": f"v-{attr}"}],
                    },
                )
                for attr in attributes
            )
        )
        assert [r.status_code for r in responses] == [200] * len(attributes)
        final = (await client.get(f"/Users/{user['id']}")).json()
    assert final["displayName"] == "v-displayName"
    assert final["name"]["middleName"] == "v-name.middleName"
    assert final["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"][
        "department"
    ].startswith("v-")
    assert final["meta"]["version"] == f'W/"{1 + len(attributes)}"'


async def test_two_hundred_concurrent_member_additions(live: Live) -> None:
    """Two hundred single-member PATCHes to one group at once → two hundred members."""
    async with live.client() as client:
        stamp = time.time_ns()
        created = await asyncio.gather(
            *(
                client.post("/Users", json={"userName": f"m{i}-{stamp}@contoso.com"})
                for i in range(200)
            )
        )
        ids = [r.json()["id"] for r in created]
        group = (await client.post("/Groups", json={"displayName": f"crowd-{stamp}"})).json()
        added = await asyncio.gather(
            *(
                client.patch(
                    f"/Groups/{group['id']}",
                    json={
                        "schemas": [PATCH_OP],
                        "Operations": [{"op": "add", "path": "members", "value": [{"value": i}]}],
                    },
                )
                for i in ids
            )
        )
        assert {r.status_code for r in added} == {200}
        final = (await client.get(f"/Groups/{group['id']}")).json()
    assert sorted(m["value"] for m in final["members"]) == sorted(ids)


async def test_many_writers_lose_nothing(live: Live) -> None:
    """Three hundred creates from many connections: every acknowledged user is listed."""
    async with live.client() as client:
        stamp = time.time_ns()
        responses = await asyncio.gather(
            *(
                client.post("/Users", json={"userName": f"w{i}-{stamp}@contoso.com"})
                for i in range(300)
            )
        )
        assert {r.status_code for r in responses} == {201}
        listed = await client.get(
            "/Users", params={"filter": f'userName ew "-{stamp}@contoso.com"', "count": 1000}
        )
    assert listed.json()["totalResults"] == 300
    assert {r["id"] for r in listed.json()["Resources"]} == {r.json()["id"] for r in responses}
