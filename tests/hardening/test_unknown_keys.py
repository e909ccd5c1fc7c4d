"""Issue 18, item 4: unknown and revoked keys are throttled per client and recorded.

A token that is not a valid key costs a lookup only while its client address is within its
failure budget (``auth_failure_limit``); past it the answer is 429 with ``Retry-After`` and no
lookup, except for keys this process has verified (a tenant behind the same address keeps
working). Refusals are recorded at a bounded rate: in the activity of the tenant whose key
(or key prefix) the token is, else as a warning in the server log; never the token itself.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

import hostsync.web.auth as auth_module
from hostsync.config import Settings
from hostsync.store.admin_tables import activity
from hostsync.store.admins import create_admin
from hostsync.store.database import Database
from hostsync.store.key_signal import key_signal_for
from hostsync.store.tenants import list_keys, revoke_key
from hostsync.web.app import create_app
from hostsync.web.auth_failures import FailedAuthentications

from ..admin.conftest import PASSWORD, sign_in
from .conftest import BASE, assert_scim_error, new_tenant

THROTTLED = Settings(key_cache_seconds=0, auth_failure_limit="5/minute", rate_limit="none")


def _client(app: Any, key: str, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(
        transport=transport, base_url=BASE, headers={"Authorization": f"Bearer {key}"}
    )


def _random_key() -> str:
    return "hsk_" + secrets.token_urlsafe(32)


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every key the authenticator looks up in the database, in order."""
    seen: list[str] = []
    real = auth_module.authenticate

    def counting(connection: Any, key: str) -> Any:
        seen.append(key)
        return real(connection, key)

    monkeypatch.setattr(auth_module, "authenticate", counting)
    return seen


def _signal_ready(database: Database) -> None:
    """Wait until the process can tell key changes apart (PostgreSQL: it listens)."""
    signal = key_signal_for(database.url)
    deadline = time.monotonic() + 10
    while signal.generation() is None:
        assert time.monotonic() < deadline, "the key signal never became ready"
        time.sleep(0.05)


def _revoke_all(database: Database, tenant_id: str) -> None:
    with database.connect(write=True) as connection:
        for key in list_keys(connection, tenant_id):
            if key.revoked_at is None:
                revoke_key(connection, tenant_id, key.id)


def _authentication_rows(database: Database, tenant_id: str) -> list[Any]:
    with database.connect(write=False) as connection:
        return list(
            connection.execute(
                select(activity)
                .where(activity.c.tenant_id == tenant_id, activity.c.operation == "authenticate")
                .order_by(activity.c.pk)
            )
        )


async def test_random_keys_from_one_address_get_429_after_the_budget_without_a_lookup(
    database: Database, lookups: list[str]
) -> None:
    """Past ``auth_failure_limit`` refusals, an address's further unknown keys answer 429 with
    ``Retry-After`` and cost no lookup; a key verified earlier from that address still works,
    and another address keeps its own budget."""
    _, valid = new_tenant(database, "Behind the NAT")
    app = create_app(THROTTLED, database)
    nat = "198.51.100.7"
    async with _client(app, valid, nat) as tenant:
        assert (await tenant.get("/Users")).status_code == 200  # verified from the NAT
    lookups.clear()
    for _ in range(5):
        async with _client(app, _random_key(), nat) as guesser:
            assert_scim_error(await guesser.get("/Users"), 401)
    assert len(lookups) == 5
    for _ in range(20):
        async with _client(app, _random_key(), nat) as guesser:
            refused = await guesser.get("/Users")
        assert_scim_error(refused, 429)
        assert refused.headers["Retry-After"].isdigit()
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(lookups) == 5  # no lookup for any of the 20
    async with _client(app, valid, nat) as tenant:
        assert (await tenant.get("/Users")).status_code == 200
    async with _client(app, _random_key(), "192.0.2.55") as elsewhere:
        assert_scim_error(await elsewhere.get("/Users"), 401)


async def test_the_same_revoked_key_again_costs_no_lookup_and_no_budget(
    database: Database, lookups: list[str]
) -> None:
    """A client that keeps sending one revoked key (an Entra job nobody updated) costs one
    lookup per ``key_cache_seconds`` and does not spend its address's failure budget."""
    tenant_id, key = new_tenant(database, "Stale Entra job")
    _revoke_all(database, tenant_id)
    settings = Settings(key_cache_seconds=300, auth_failure_limit="5/minute", rate_limit="none")
    app = create_app(settings, database)
    _signal_ready(database)
    async with _client(app, key, "198.51.100.8") as stale:
        for _ in range(30):
            assert_scim_error(await stale.get("/Users"), 401)
    assert lookups == [key]
    async with _client(app, _random_key(), "198.51.100.8") as other:
        assert_scim_error(await other.get("/Users"), 401)  # budget not spent: looked up


async def test_a_revoked_key_in_use_is_recorded_in_its_tenant_activity_only(
    database: Database,
) -> None:
    """A revoked key presented to the API leaves a 401 ``authenticate`` entry in its own
    tenant's activity naming the key's prefix and "revoked", without the key; another
    tenant's activity gets nothing."""
    owner, key = new_tenant(database, "Owner")
    bystander, _ = new_tenant(database, "Bystander")
    _revoke_all(database, owner)
    app = create_app(THROTTLED, database)
    async with _client(app, key, "203.0.113.20") as stale:
        stale.headers["User-Agent"] = "Azure AD SCIM provisioning"
        assert_scim_error(await stale.get("/Users"), 401)
    rows = _authentication_rows(database, owner)
    assert len(rows) == 1
    row = rows[0]
    assert row.status == 401
    assert key[:12] in row.detail and "revoked" in row.detail and "203.0.113.20" in row.detail
    assert key not in row.detail and key[12:20] not in row.detail
    assert row.client == "Azure AD SCIM provisioning"
    assert _authentication_rows(database, bystander) == []


async def test_an_unknown_key_with_a_tenant_prefix_is_recorded_as_unknown(
    database: Database,
) -> None:
    """A token that starts like one of a tenant's keys but is not it is recorded in that
    tenant's activity as "unknown"."""
    owner, key = new_tenant(database, "Prefix owner")
    app = create_app(THROTTLED, database)
    forged = key[:12] + secrets.token_urlsafe(32)[:31]
    async with _client(app, forged, "203.0.113.21") as guesser:
        assert_scim_error(await guesser.get("/Users"), 401)
    (row,) = _authentication_rows(database, owner)
    assert "unknown" in row.detail and "revoked" not in row.detail
    assert forged not in row.detail


async def test_failed_authentications_are_recorded_at_a_bounded_rate(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """At most one record per address and interval, carrying the count since the last, and
    at most ``records_per_interval`` in all; unknown keys go to the log, cut to their prefix."""
    owner, key = new_tenant(database, "Flooded")
    _revoke_all(database, owner)
    settings = Settings(key_cache_seconds=0, auth_failure_limit="none", rate_limit="none")
    app = create_app(settings, database)
    recorder = FailedAuthentications(database, interval=0.5, records_per_interval=3)
    app.state.authenticator.recorder = recorder
    async with _client(app, key, "203.0.113.30") as stale:
        for _ in range(30):
            assert_scim_error(await stale.get("/Users"), 401)
        assert len(_authentication_rows(database, owner)) == 1
        time.sleep(0.6)
        assert_scim_error(await stale.get("/Users"), 401)
    rows = _authentication_rows(database, owner)
    assert len(rows) == 2
    assert "30 refusals" in rows[1].detail  # the 29 not recorded, and this one
    time.sleep(0.6)
    unknown = [_random_key() for _ in range(10)]
    with caplog.at_level(logging.WARNING, logger="hostsync.web.auth"):
        for number, token in enumerate(unknown):
            async with _client(app, token, f"192.0.2.{number + 1}") as guesser:
                assert_scim_error(await guesser.get("/Users"), 401)
    warnings = [r for r in caplog.records if "authentication refused" in r.getMessage()]
    assert len(warnings) == 3  # records_per_interval, across ten addresses
    logged = caplog.text
    assert all(token not in logged and token[12:24] not in logged for token in unknown)
    assert unknown[0][:12] in logged


async def test_refused_tokens_share_the_budget_across_apps_sharing_a_counter_store(
    database: Database, lookups: list[str]
) -> None:
    """Two server processes sharing counters (as with ``HOSTSYNC_REDIS_URL``) share one
    failure budget per address."""
    first = create_app(THROTTLED, database)
    second = create_app(THROTTLED, database, rate_limiter=first.state.rate_limiter)
    address = "198.51.100.9"
    for app in (first, second, first, second, first):
        async with _client(app, _random_key(), address) as guesser:
            assert_scim_error(await guesser.get("/Users"), 401)
    lookups.clear()
    async with _client(second, _random_key(), address) as guesser:
        assert_scim_error(await guesser.get("/Users"), 429)
    assert lookups == []


async def test_a_revoked_key_in_use_shows_on_the_tenant_console_activity_page(
    database: Database,
) -> None:
    """The administrator sees the refused revoked key on the console's activity page."""
    owner, key = new_tenant(database, "Console view")
    email = f"admin-{owner}@example.com"
    with database.connect(write=True) as connection:
        create_admin(connection, owner, email, PASSWORD)
    _revoke_all(database, owner)
    app = create_app(THROTTLED, database)
    async with _client(app, key, "203.0.113.40") as stale:
        assert_scim_error(await stale.get("/Users"), 401)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        assert (await sign_in(browser, email, PASSWORD)).status_code == 303
        page = await browser.get("/activity")
    assert page.status_code == 200
    assert "Authentication refused" in page.text and key[:12] in page.text
    assert key not in page.text
