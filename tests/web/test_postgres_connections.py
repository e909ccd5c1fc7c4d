"""PostgreSQL: SCIM units of work run no more at once than the pool keeps connections open,
and writes to one resource wait their turn before they take one (web/queues.py).

With fewer connections kept than units in flight, the pool closed every extra connection
when it came back and opened a new one for the next request: a PostgreSQL server process
forked per request. Skipped without ``HOSTSYNC_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import event

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store.database import Database
from hostsync.store.tenants import create_key, create_tenant
from hostsync.web.app import create_app
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(POSTGRES_URL is None, reason="needs HOSTSYNC_TEST_POSTGRES_URL")

CONNECTIONS = 3
IN_FLIGHT = 24
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Watched:
    """A PostgreSQL database whose pool is watched: connections opened, most checked out."""

    def __init__(self, connections: int) -> None:
        assert POSTGRES_URL is not None
        self.database = Database(POSTGRES_URL, postgres_connections=connections)
        self.database.migrate()
        with self.database.connect(write=True) as connection:
            tenant = create_tenant(connection, "Pool")
            self.key = create_key(connection, tenant.id, "pool")[1]
        self.opened = 0
        self.busiest = 0
        event.listen(self.database.engine, "connect", self._opened)
        event.listen(self.database.engine, "checkout", self._checked_out)

    def _opened(self, *_: object) -> None:
        self.opened += 1

    def _checked_out(self, *_: object) -> None:
        pool = self.database.engine.pool
        self.busiest = max(self.busiest, pool.checkedout())  # type: ignore[attr-defined]

    def client(self) -> httpx.AsyncClient:
        app = create_app(Settings(key_cache_seconds=60, rate_limit="none"), self.database)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=f"http://testserver{SCIM_PREFIX}",
            headers={"Authorization": f"Bearer {self.key}"},
        )


async def test_concurrent_requests_share_the_kept_connections() -> None:
    watched = Watched(CONNECTIONS)
    try:
        async with watched.client() as http:
            created = await http.post("/Users", json={"userName": "pool@contoso.com"})
            assert created.status_code == 201
            lookup = {"filter": 'userName eq "pool@contoso.com"'}
            for _ in range(3):  # many requests in flight at once, three times over
                answers = await asyncio.gather(
                    *(http.get("/Users", params=lookup) for _ in range(IN_FLIGHT))
                )
                assert [answer.json()["totalResults"] for answer in answers] == [1] * IN_FLIGHT
        assert watched.busiest <= CONNECTIONS
        assert watched.opened <= CONNECTIONS  # each opened once, then kept
    finally:
        watched.database.dispose()


async def test_concurrent_writes_to_one_group_take_one_connection_in_turn() -> None:
    watched = Watched(8)
    try:
        async with watched.client() as http:
            users = []
            for number in range(IN_FLIGHT):
                created = await http.post("/Users", json={"userName": f"m{number}@contoso.com"})
                users.append(created.json()["id"])
            group = (await http.post("/Groups", json={"displayName": "Lobby"})).json()
            watched.busiest = 0

            def add(user_id: str) -> dict[str, object]:
                operation = {"op": "add", "path": "members", "value": [{"value": user_id}]}
                return {"schemas": [PATCH_OP], "Operations": [operation]}

            answers = await asyncio.gather(
                *(http.patch(f"/Groups/{group['id']}", json=add(user)) for user in users)
            )
            assert [answer.status_code for answer in answers] == [200] * IN_FLIGHT
            assert watched.busiest == 1  # the others waited in the queue, not on the row
            stored = (await http.get(f"/Groups/{group['id']}")).json()
            assert sorted(member["value"] for member in stored["members"]) == sorted(users)
            versions = {answer.headers["etag"] for answer in answers}
            assert len(versions) == IN_FLIGHT  # one after another, each saw the one before
    finally:
        watched.database.dispose()
