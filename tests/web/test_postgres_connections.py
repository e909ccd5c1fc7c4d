"""PostgreSQL: SCIM units of work run no more at once than the pool keeps connections open.

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


async def test_concurrent_requests_share_the_kept_connections() -> None:
    assert POSTGRES_URL is not None
    database = Database(POSTGRES_URL, postgres_connections=CONNECTIONS)
    database.migrate()
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, "Pool")
        key = create_key(connection, tenant.id, "pool")[1]
    opened: list[object] = []
    event.listen(database.engine, "connect", lambda *_: opened.append(1))
    busiest = 0

    def watch(*_: object) -> None:
        nonlocal busiest
        busiest = max(busiest, database.engine.pool.checkedout())  # type: ignore[attr-defined]

    event.listen(database.engine, "checkout", watch)
    app = create_app(Settings(key_cache_seconds=60, rate_limit="none"), database)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=f"http://testserver{SCIM_PREFIX}",
            headers={"Authorization": f"Bearer {key}"},
        ) as http:
            created = await http.post("/Users", json={"userName": "pool@contoso.com"})
            assert created.status_code == 201
            lookup = {"filter": 'userName eq "pool@contoso.com"'}
            for _ in range(3):  # many requests in flight at once, three times over
                answers = await asyncio.gather(
                    *(http.get("/Users", params=lookup) for _ in range(IN_FLIGHT))
                )
                assert [answer.json()["totalResults"] for answer in answers] == [1] * IN_FLIGHT
        assert busiest <= CONNECTIONS
        assert len(opened) <= CONNECTIONS  # each opened once, then kept
    finally:
        database.dispose()
