"""Sign-in and console forms: capped before use, throttled on ``limits`` with bounded memory,
and at most N password verifications at once."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hostsync.config import Settings
from hostsync.store import admins as admin_store
from hostsync.store.database import Database
from hostsync.web.admin.security import SignInLimiter, address_bucket
from tests.admin.conftest import PASSWORD, console_app, csrf_of, sign_in


class SpyLimiter(SignInLimiter):
    """A limiter that remembers which e-mails it was asked about."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[str] = []

    async def retry_after(self, address: str, email: str) -> int:
        self.seen.append(email)
        return await super().retry_after(address, email)

    async def failed(self, address: str, email: str) -> None:
        self.seen.append(email)
        await super().failed(address, email)


def _client(
    database: Database,
    settings: Settings,
    limiter: SignInLimiter | None = None,
    address: str = "127.0.0.1",
) -> httpx.AsyncClient:
    app = console_app(database, settings, limiter=limiter)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 50000)),
        base_url="http://testserver",
    )


async def test_overlong_fields_are_refused_before_the_limiter_sees_them(
    database: Database, settings: Settings, admin_email: str
) -> None:
    """An e-mail over 320 or a password over 1,024 characters is 400 and never a limiter key."""
    limiter = SpyLimiter()
    async with _client(database, settings, limiter) as http:
        page = await http.get("/signin")
        token = csrf_of(page.text)
        for email, password in [("a" * 300 + "@" + "b" * 30, PASSWORD), (admin_email, "p" * 1025)]:
            answer = await http.post(
                "/signin", data={"csrf": token, "email": email, "password": password}
            )
            assert answer.status_code == 400, answer.status_code
            assert "too long" in answer.text
    assert limiter.seen == []


async def test_a_large_console_body_is_refused_without_reading_it_all(
    database: Database, settings: Settings
) -> None:
    """A body past 16 KiB answers 413 after reading just past the cap, not the whole body."""
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(256):  # 1 MiB in 4 KiB chunks
            sent += 1
            yield b"a" * 4096

    async with _client(database, settings) as http:
        answer = await http.post(
            "/signin",
            content=body(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 413
        assert sent <= 6
        declared = await http.post(
            "/signin",
            content=b"x",
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "content-length": "10000000",
            },
        )
        assert declared.status_code in (400, 413)


async def test_signed_in_forms_are_capped_too(signed_in: httpx.AsyncClient) -> None:
    """Every console POST reads its form with the cap: 413 past 16 KiB, 415 for multipart."""
    page = await signed_in.get("/integrations/host-synchronization/entra")
    token = csrf_of(page.text)
    big = await signed_in.post(
        "/integrations/host-synchronization/keys",
        data={"csrf": token, "label": "x", "filler": "y" * 20_000},
    )
    assert big.status_code == 413
    multipart = await signed_in.post(
        "/integrations/host-synchronization/keys",
        data={"csrf": token, "label": "x"},
        files={"upload": ("a.txt", b"hello")},
    )
    assert multipart.status_code == 415
    many = await signed_in.post(
        "/integrations/host-synchronization/keys",
        content="&".join(f"f{n}=1" for n in range(100)) + f"&csrf={token}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert many.status_code == 400
    assert "hsk_" not in (await signed_in.get("/integrations/host-synchronization/entra")).text


async def test_failures_are_limited_per_address_across_accounts(
    database: Database, settings: Settings, admin_email: str
) -> None:
    """One address trying many e-mails is stopped by the per-address limit (429)."""
    limiter = SignInLimiter(per_account=None, per_address=3, per_account_anywhere=None)
    async with _client(database, settings, limiter) as http:
        for n in range(3):
            answer = await sign_in(http, f"nobody{n}@example.com", "wrong password!!")
            assert answer.status_code == 401
        blocked = await sign_in(http, admin_email)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


async def test_failures_are_limited_per_account_from_any_address(
    database: Database, settings: Settings, admin_email: str
) -> None:
    """Guesses at one account from many addresses are stopped by the per-account limit."""
    limiter = SignInLimiter(per_account=None, per_address=None, per_account_anywhere=2)
    for n in range(2):
        async with _client(database, settings, limiter, f"10.0.0.{n + 1}") as http:
            assert (await sign_in(http, admin_email, "wrong password!!")).status_code == 401
    async with _client(database, settings, limiter, "10.0.0.9") as http:
        assert (await sign_in(http, admin_email)).status_code == 429


async def test_the_limiter_forgets_keys_after_their_window() -> None:
    """Counters expire with their window: many distinct accounts do not grow memory forever."""
    limiter = SignInLimiter(
        per_account=5, per_address=None, per_account_anywhere=None, window_seconds=1
    )
    for n in range(200):
        await limiter.failed("192.0.2.1", f"user{n}@example.com")
    events: dict[str, Any] = limiter.storage.events  # type: ignore[attr-defined]
    assert len(events) >= 200
    await asyncio.sleep(1.2)
    await limiter.failed("192.0.2.1", "late@example.com")  # any use sweeps expired counters
    await asyncio.sleep(0.2)
    assert len(events) <= 1


def test_ipv6_clients_count_per_slash_64() -> None:
    """IPv6 addresses of one /64 share a counter; IPv4 (also mapped) counts per address."""
    assert address_bucket("2001:db8::1") == address_bucket("2001:db8::ffff:1")
    assert address_bucket("2001:db8:0:1::1") != address_bucket("2001:db8::1")
    assert address_bucket("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_bucket("not an address" * 20) == ("not an address" * 20)[:64]


async def test_redis_shares_the_counts_between_workers(settings: Settings) -> None:
    """With HOSTSYNC_REDIS_URL two limiters (two workers) see one set of counts."""
    shared = settings.model_copy(
        update={
            "redis_url": "redis://127.0.0.1:6379/15",
            "signin_limit_per_address_account": "2/minute",
        }
    )
    first, second = SignInLimiter.from_settings(shared), SignInLimiter.from_settings(shared)
    account = f"{uuid.uuid4().hex}@example.com"
    try:
        try:
            await first.failed("198.51.100.1", account)
        except Exception:  # pragma: no cover - depends on the machine
            pytest.skip("no Redis at 127.0.0.1:6379")
        await first.failed("198.51.100.1", account)
        assert await second.retry_after("198.51.100.1", account) > 0
        assert await second.retry_after("198.51.100.2", account) == 0
    finally:
        await first.aclose()
        await second.aclose()


async def test_password_verifications_are_bounded_in_concurrency(
    database: Database, settings: Settings, admin_email: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At most N verifications run at once; past the short queue sign-in answers 503 at once."""
    release = threading.Event()
    running = {"now": 0, "most": 0}
    lock = threading.Lock()
    real = admin_store.password_matches

    def slow(*args: Any, **kwargs: Any) -> bool:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        release.wait(10)
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                running["now"] -= 1

    monkeypatch.setattr(admin_store, "password_matches", slow)
    one = settings.model_copy(update={"signin_max_verifications": 1})
    limiter = SignInLimiter(per_account=None, per_address=None, per_account_anywhere=None)
    async with _client(database, one, limiter) as http:
        queued = [asyncio.create_task(sign_in(http, admin_email)) for _ in range(3)]
        await asyncio.sleep(0.3)
        started = time.monotonic()
        refused = await sign_in(http, admin_email)
        assert time.monotonic() - started < 2
        assert refused.status_code == 503
        assert refused.headers["retry-after"]
        release.set()
        answers = await asyncio.gather(*queued)
    assert [a.status_code for a in answers] == [303, 303, 303]
    assert running["most"] == 1


async def test_an_overlong_next_parameter_is_not_echoed(browser: httpx.AsyncClient) -> None:
    """A ``next`` past 2,048 characters is replaced by ``/`` rather than put into the form."""
    page = await browser.get("/signin", params={"next": "/" + "a" * 5000})
    assert page.status_code == 200
    assert "a" * 2049 not in page.text
