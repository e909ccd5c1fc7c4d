"""Item 1: per-tenant rate limits → 429 + integer Retry-After + SCIM error; others unaffected."""

from __future__ import annotations

import asyncio
import os

import pytest
import redis

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.web.app import create_app
from hostsync.web.ratelimit import TenantRateLimiter, bucket_for

from .conftest import assert_scim_error, client_for, new_tenant

REDIS_URL = os.environ.get("HOSTSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


async def test_over_the_limit_is_429_with_retry_after(database: Database) -> None:
    """The 6th request in a second is refused; another tenant still gets through."""
    settings = Settings(
        key_cache_seconds=0, rate_limit="5/second", rate_limit_strategy="moving-window"
    )
    app = create_app(settings, database)
    _, key_a = new_tenant(database, "A")
    _, key_b = new_tenant(database, "B")
    async with client_for(app, key_a) as a, client_for(app, key_b) as b:
        statuses = [(await a.get("/Users")).status_code for _ in range(5)]
        assert statuses == [200] * 5
        refused = await a.get("/Users")
        assert_scim_error(refused, 429)
        retry_after = refused.headers["retry-after"]
        assert retry_after.isdigit() and 1 <= int(retry_after) <= 1
        # Another tenant has its own budget.
        assert (await b.get("/Users")).status_code == 200
        # Writes are refused before anything is applied.
        created = await a.post("/Users", json={"userName": "never-created"})
        assert created.status_code == 429
        await asyncio.sleep(int(retry_after) + 0.05)
        assert (await a.get("/Users", params={"filter": 'userName eq "never-created"'})).json()[
            "totalResults"
        ] == 0


async def test_minute_limit_gives_retry_after_in_seconds(database: Database) -> None:
    """A per-minute limit answers an integer Retry-After of at most 60 seconds."""
    settings = Settings(key_cache_seconds=0, rate_limit="3/minute")
    app = create_app(settings, database)
    _, key = new_tenant(database)
    async with client_for(app, key) as http:
        for _ in range(3):
            assert (await http.get("/Users")).status_code == 200
        refused = await http.get("/Users")
        assert_scim_error(refused, 429)
        assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_health_and_openapi_are_not_limited(database: Database) -> None:
    """Health checks and the API description never count against a tenant."""
    app = create_app(Settings(rate_limit="1/minute"), database)
    async with client_for(app, None) as http:
        for _ in range(3):
            assert (await http.get("http://testserver/healthz")).status_code == 200
            assert (await http.get("http://testserver/openapi.json")).status_code == 200


async def test_disabled_limit_lets_everything_through(database: Database) -> None:
    """``rate_limit = "none"`` switches limiting off."""
    app = create_app(Settings(key_cache_seconds=0, rate_limit="none"), database)
    _, key = new_tenant(database)
    async with client_for(app, key) as http:
        responses = await asyncio.gather(*(http.get("/Users") for _ in range(30)))
    assert {r.status_code for r in responses} == {200}


def test_default_limit_is_generous_enough_for_entra() -> None:
    """Entra's gallery bar is 25 requests/second per tenant; the default sustains 100."""
    limiter = TenantRateLimiter(Settings())
    per_second = [item.amount / item.get_expiry() for item in limiter.items]
    assert min(per_second) >= 100


def test_bucket_is_the_key_digest_never_the_key() -> None:
    """Counters are keyed by the SHA-256 of the bearer token, so the key is never stored."""
    scope = {"headers": [(b"authorization", b"Bearer hsk_secret")], "client": ("10.0.0.1", 1)}
    bucket = bucket_for(scope)
    assert "hsk_secret" not in bucket and bucket.startswith("key:") and len(bucket) == 68
    assert bucket_for({"headers": [], "client": ("10.0.0.1", 1)}) == "anon:10.0.0.1"


@pytest.mark.skipif(
    not _redis_up() and os.environ.get("CI") != "true",
    reason="no Redis at HOSTSYNC_TEST_REDIS_URL (CI starts one, so there it must run)",
)
async def test_redis_counters_are_shared_by_processes(database: Database) -> None:
    """Two apps (as two worker processes would) sharing Redis share one budget per tenant."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    settings = Settings(key_cache_seconds=0, rate_limit="4/minute", redis_url=REDIS_URL)
    worker_1, worker_2 = create_app(settings, database), create_app(settings, database)
    _, key = new_tenant(database)
    async with client_for(worker_1, key) as one, client_for(worker_2, key) as two:
        statuses = [(await (one if i % 2 else two).get("/Users")).status_code for i in range(4)]
        assert statuses == [200] * 4
        assert_scim_error(await one.get("/Users"), 429)
        assert_scim_error(await two.get("/Users"), 429)
    await worker_1.state.rate_limiter.aclose()
    await worker_2.state.rate_limiter.aclose()


async def test_counter_store_down_fails_open(database: Database) -> None:
    """An unreachable Redis never turns requests into errors: they are let through."""
    settings = Settings(
        key_cache_seconds=0, rate_limit="1/minute", redis_url="redis://127.0.0.1:1/0"
    )
    app = create_app(settings, database)
    _, key = new_tenant(database)
    async with client_for(app, key) as http:
        for _ in range(3):
            assert (await http.get("/Users")).status_code == 200
    await app.state.rate_limiter.aclose()
