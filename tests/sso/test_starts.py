"""SP-initiated starts are bounded: per client address (429) and per tenant (oldest removed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.store.sso.once import REQUEST, StoredOneTimeIds
from hostsync.store.sso.tables import saml_once
from hostsync.store.tenants import create_tenant
from hostsync.web.app import create_app
from tests.sso.conftest import PUBLIC_URL, SsoTenant
from tests.sso.test_acs import _request_id

Clients = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


def _clients(database: Database, settings: Settings) -> Clients:
    """Clients of one app (one set of counters), each from its own address."""
    app = create_app(settings, database)

    @asynccontextmanager
    async def client(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as http:
            yield http

    return client


def requests_of(database: Database, tenant_id: str) -> int:
    with database.connect(write=False) as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(saml_once)
                .where(saml_once.c.tenant_id == tenant_id, saml_once.c.kind == REQUEST)
            ).scalar_one()
        )


async def test_starts_past_the_limit_get_429_and_write_nothing(
    database: Database, tenant_a: SsoTenant, tenant_b: SsoTenant
) -> None:
    settings = Settings(key_cache_seconds=0, public_url=PUBLIC_URL, sso_start_limit="3/minute")
    client = _clients(database, settings)
    async with client("198.51.100.7") as flood:
        answers = [(await flood.get(f"/saml/{tenant_a.id}/login")) for _ in range(5)]
    assert [a.status_code for a in answers] == [302, 302, 302, 429, 429]
    refused = answers[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Too many sign-in attempts" in refused.text
    assert "Try again in" in refused.text
    assert requests_of(database, tenant_a.id) == 3
    async with client("203.0.113.9") as other:  # another address: A and B both start
        assert (await other.get(f"/saml/{tenant_a.id}/login")).status_code == 302
        assert (await other.get(f"/saml/{tenant_b.id}/login")).status_code == 302
    assert requests_of(database, tenant_b.id) == 1


async def test_ipv6_neighbours_share_one_budget(database: Database, tenant_a: SsoTenant) -> None:
    settings = Settings(key_cache_seconds=0, public_url=PUBLIC_URL, sso_start_limit="2/minute")
    client = _clients(database, settings)
    statuses = []
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2::3"):
        async with client(host) as http:
            statuses.append((await http.get(f"/saml/{tenant_a.id}/login")).status_code)
    assert statuses == [302, 302, 429]


async def test_no_limit_when_switched_off(database: Database, tenant_a: SsoTenant) -> None:
    settings = Settings(key_cache_seconds=0, public_url=PUBLIC_URL, sso_start_limit="none")
    async with _clients(database, settings)("198.51.100.8") as http:
        statuses = {(await http.get(f"/saml/{tenant_a.id}/login")).status_code for _ in range(40)}
    assert statuses == {302}


async def test_a_tenants_flood_keeps_its_newest_requests_and_never_touches_another(
    database: Database, tenant_a: SsoTenant, tenant_b: SsoTenant
) -> None:
    settings = Settings(
        key_cache_seconds=0,
        public_url=PUBLIC_URL,
        sso_start_limit="none",
        sso_outstanding_requests=4,
    )
    client = _clients(database, settings)
    async with client("198.51.100.10") as http:
        b_first = _request_id((await http.get(f"/saml/{tenant_b.id}/login")).headers["location"])
        ids = []
        for _ in range(10):
            start = await http.get(f"/saml/{tenant_a.id}/login")
            assert start.status_code == 302
            ids.append(_request_id(start.headers["location"])[0])
            assert requests_of(database, tenant_a.id) <= 4
        assert requests_of(database, tenant_a.id) == 4
        assert requests_of(database, tenant_b.id) == 1
        assert (await http.get(f"/saml/{tenant_b.id}/login")).status_code == 302
    moment = datetime.now(UTC)
    with database.connect(write=True) as connection:
        a_ids = StoredOneTimeIds(connection, tenant_a.id)
        assert not a_ids.redeem_request(ids[0], moment)  # the oldest went
        assert all(a_ids.redeem_request(i, moment) for i in ids[-4:])  # the newest stay
        assert StoredOneTimeIds(connection, tenant_b.id).redeem_request(b_first[0], moment)


def test_the_cap_removes_the_oldest_by_expiry_and_only_requests(database: Database) -> None:
    with database.connect(write=True) as connection:
        a = create_tenant(connection, "Cap A").id
        b = create_tenant(connection, "Cap B").id
    base = datetime.now(UTC) + timedelta(minutes=20)
    with database.connect(write=True) as connection:
        ids = StoredOneTimeIds(connection, a, outstanding=3)
        assert ids.first_use("_assertion", base + timedelta(hours=1))
        StoredOneTimeIds(connection, b, outstanding=3).issue_request("b-1", base)
        for minute in (5, 1, 3, 2, 4):  # issued out of expiry order
            ids.issue_request(f"a-{minute}", base + timedelta(minutes=minute))
    assert requests_of(database, a) == 3
    moment = datetime.now(UTC)
    with database.connect(write=True) as connection:
        ids = StoredOneTimeIds(connection, a)
        kept = [m for m in range(1, 6) if ids.redeem_request(f"a-{m}", moment)]
        assert not ids.first_use("_assertion", base)  # the assertion ID stays remembered
        assert StoredOneTimeIds(connection, b).redeem_request("b-1", moment)
    assert kept == [3, 4, 5]
