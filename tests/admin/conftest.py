"""Fixtures for the admin console: an administrator, and the app with the console mounted."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette

import hostsync.store.admin_tables  # noqa: F401 - registers the console's tables
from hostsync.config import Settings
from hostsync.store.admins import create_admin
from hostsync.store.database import Database
from hostsync.web.admin.security import SignInLimiter
from hostsync.web.app import create_app

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _release_thread_connections(request: pytest.FixtureRequest) -> Iterator[None]:
    """Close the connections the test's worker threads kept (each test has its own loop and
    threads; the session's database would otherwise run out of pooled connections)."""
    yield
    if "database" in request.fixturenames:
        database: Database = request.getfixturevalue("database")
        database.dispose()


def console_app(
    database: Database, settings: Settings, limiter: SignInLimiter | None = None
) -> Starlette:
    """The SCIM app with the console mounted, as the lead's wiring will build it."""
    return create_app(settings, database, sign_in_limiter=limiter)


@pytest.fixture
def admin_email(database: Database, tenant_id: str) -> str:
    """An administrator of the test's tenant (unique e-mail per tenant)."""
    email = f"admin-{tenant_id}@example.com"
    with database.connect(write=True) as connection:
        create_admin(connection, tenant_id, email, PASSWORD)
    return email


@pytest.fixture
async def browser(database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the console, keeping cookies, not signed in."""
    app = console_app(database, settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in through the form, as a browser would."""
    page = await http.get("/signin")
    return await http.post(
        "/signin",
        data={"csrf": csrf_of(page.text), "email": email, "password": password, "next": "/"},
    )


@pytest.fixture
async def signed_in(browser: httpx.AsyncClient, admin_email: str) -> httpx.AsyncClient:
    """The console client, signed in as the tenant's administrator."""
    response = await sign_in(browser, admin_email)
    assert response.status_code == 303
    return browser
