"""Console sessions: idle timeout, absolute lifetime, rare last-seen writes, ``__Host-`` cookies."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update

from hostsync.config import Settings
from hostsync.store.admin_tables import admin_sessions
from hostsync.store.clock import now
from hostsync.store.database import Database
from tests.admin.conftest import console_app, sign_in


def _sessions(database: Database, admin_id_email: str) -> list[tuple[object, ...]]:
    with database.connect(write=False) as connection:
        return [
            tuple(row)
            for row in connection.execute(
                select(
                    admin_sessions.c.digest,
                    admin_sessions.c.created_at,
                    admin_sessions.c.expires_at,
                    admin_sessions.c.last_seen_at,
                ).where(admin_sessions.c.tenant_id == admin_id_email)
            )
        ]


def _age(database: Database, tenant_id: str, minutes: float) -> None:
    """Pretend the tenant's sessions were last seen ``minutes`` ago."""
    with database.connect(write=True) as connection:
        connection.execute(
            update(admin_sessions)
            .where(admin_sessions.c.tenant_id == tenant_id)
            .values(last_seen_at=now() - timedelta(minutes=minutes))
        )


async def test_a_session_ends_after_30_idle_minutes(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """29 minutes without a page view keeps the session; 31 minutes ends it."""
    _age(database, tenant_id, 29)
    assert (await signed_in.get("/")).status_code == 200
    _age(database, tenant_id, 31)
    answer = await signed_in.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/signin")


async def test_the_idle_timeout_is_a_setting(
    database: Database, settings: Settings, admin_email: str, tenant_id: str
) -> None:
    """``HOSTSYNC_SESSION_IDLE_MINUTES`` sets the idle timeout."""
    short = settings.model_copy(update={"session_idle_minutes": 5})
    app = console_app(database, short)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        assert (await sign_in(http, admin_email)).status_code == 303
        _age(database, tenant_id, 6)
        assert (await http.get("/")).status_code == 303


async def test_the_absolute_lifetime_is_a_setting(
    database: Database, settings: Settings, admin_email: str, tenant_id: str
) -> None:
    """A session expires its lifetime after sign-in (12 h by default) however busy."""
    for hours in (12, 2):
        lifetime = settings.model_copy(update={"session_lifetime_hours": hours})
        app = console_app(database, lifetime)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            signed = await sign_in(http, admin_email)
            assert f"Max-Age={hours * 3600}" in signed.headers["set-cookie"]
        newest = max(_sessions(database, tenant_id), key=lambda row: row[1])  # type: ignore[arg-type, return-value]
        created, expires = newest[1], newest[2]
        assert abs((expires - created) - timedelta(hours=hours)) < timedelta(seconds=5)  # type: ignore[operator]


async def test_page_views_write_last_seen_at_most_once_a_minute(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """A page view writes last_seen only when the stored one is a minute old or more."""
    _age(database, tenant_id, 0.5)
    before = _sessions(database, tenant_id)[0][3]
    for _ in range(3):
        assert (await signed_in.get("/hosts")).status_code == 200
    assert _sessions(database, tenant_id)[0][3] == before
    _age(database, tenant_id, 2)
    assert (await signed_in.get("/hosts")).status_code == 200
    seen = _sessions(database, tenant_id)[0][3]
    assert seen is not None and now() - seen < timedelta(seconds=30)  # type: ignore[operator]


async def test_cookies_get_the_host_prefix_over_https(
    database: Database, settings: Settings, admin_email: str
) -> None:
    """Over HTTPS the cookies are ``__Host-``, Secure, path /, no Domain, and still work."""
    app = console_app(database, settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as http:
        form = await http.get("/signin")
        assert form.headers["set-cookie"].startswith("__Host-hostsync_signin_csrf=")
        signed = await sign_in(http, admin_email)
        assert signed.status_code == 303
        cookies = signed.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("__Host-hostsync_session="))
        assert "Secure" in session and "Path=/" in session and "Domain" not in session
        assert (await http.get("/")).status_code == 200
        assert "hostsync_session" not in http.cookies  # the unprefixed name is not used


async def test_public_https_url_gives_host_prefixed_cookies(
    database: Database, settings: Settings
) -> None:
    """With HOSTSYNC_PUBLIC_URL on https, cookies are ``__Host-`` and Secure whatever the hop."""
    public = settings.model_copy(update={"public_url": "https://testserver"})
    app = console_app(database, public)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        form = await http.get("/signin")
    cookie = form.headers["set-cookie"]
    assert cookie.startswith("__Host-hostsync_signin_csrf=") and "Secure" in cookie
