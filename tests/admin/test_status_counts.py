"""Sync status you can trust: the request-error tile agrees with the failures table.

Request counts are flushed on a timer in the app's lifespan, so a burst of failures shows in
the tiles without any later request to carry the flush.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store.activity.queries import request_totals
from hostsync.store.admins import create_admin
from hostsync.store.database import Database
from hostsync.store.tenants import create_key, create_tenant
from tests.admin.conftest import PASSWORD, console_app, csrf_of


@pytest.fixture
def tenant_id(database: Database) -> str:
    """A fresh tenant with a name of its own (tenant names are unique)."""
    with database.connect(write=True) as connection:
        return create_tenant(connection, f"Contoso {uuid.uuid4().hex[:8]}").id


@asynccontextmanager
async def _running(database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running (its timers too), and a client keeping cookies."""
    app = console_app(database, settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def _tile(html: str, label: str) -> int:
    found = re.search(rf"<dt>{label}</dt><dd[^>]*>(\d+)</dd>", html)
    assert found, f"no tile {label!r}"
    return int(found.group(1))


async def test_error_tile_agrees_with_failures_after_a_burst(
    database: Database, tenant_id: str
) -> None:
    """After a burst of failing requests, with no request since, the tile counts them all."""
    settings = Settings(key_cache_seconds=0, request_count_flush_seconds=0.3)
    email = f"admin-{tenant_id}@example.com"
    with database.connect(write=True) as connection:
        create_admin(connection, tenant_id, email, PASSWORD)
        key = create_key(connection, tenant_id, "entra")[1]
    async with _running(database, settings) as http:
        page = await http.get("/signin")
        signed = await http.post(
            "/signin",
            data={"csrf": csrf_of(page.text), "email": email, "password": PASSWORD, "next": "/"},
        )
        assert signed.status_code == 303
        await asyncio.sleep(
            0.4
        )  # the counter's flush is due: the first request of the burst flushes
        auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/scim+json"}
        for _ in range(3):  # invalid users: 400, recorded as failures
            failed = await http.post(f"{SCIM_PREFIX}/Users", json={"active": True}, headers=auth)
            assert failed.status_code == 400
        await asyncio.sleep(1.0)  # the burst is over; no SCIM request follows
        status = (await http.get("/status")).text
    failures_table = re.search(r"<h2>Latest failures</h2>(.*?)</table>", status, re.S)
    assert failures_table is not None
    rows = failures_table.group(1).count("<tr") - 1  # less the header row
    assert rows == 3
    assert _tile(status, "Request errors, last 24 h") == 3
    assert _tile(status, "SCIM requests, last 24 h") == 3


async def test_timer_flushes_each_tenants_counts_to_its_own_rows(
    database: Database, tenant_id: str
) -> None:
    """While the app runs, the timer writes a tenant's counts, and to that tenant's rows only."""
    with database.connect(write=True) as connection:
        other = create_tenant(connection, f"Fabrikam {uuid.uuid4().hex[:8]}").id
        key = create_key(connection, other, "entra")[1]
    settings = Settings(request_count_flush_seconds=1.0)  # keys cached: quick requests
    async with _running(database, settings) as http:
        await asyncio.sleep(1.1)  # due: the first request flushes itself, the second waits
        auth = {"Authorization": f"Bearer {key}"}
        for _ in range(2):
            assert (await http.get(f"{SCIM_PREFIX}/Users/nope", headers=auth)).status_code == 404
        await asyncio.sleep(1.5)  # the app still runs: only the timer can have flushed
        with database.connect(write=False) as connection:
            assert request_totals(connection, other, timedelta(days=1)).errors == 2
            assert request_totals(connection, tenant_id, timedelta(days=1)).requests == 0
