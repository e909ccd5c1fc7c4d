"""The sign-in page of a server with no administrator says how to create one, and nothing else.

These tests use a database of their own: the session's shared database has administrators.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hostsync.config import Settings
from hostsync.store.admins import create_admin
from hostsync.store.database import Database
from hostsync.store.tenants import create_tenant, find_tenant_by_name
from tests.admin.conftest import PASSWORD, console_app, csrf_of

HINT = "hostsync admin create TENANT"
TENANT_NAME = "Wingtip Confidential"


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[Database]:
    """A migrated database with one tenant and no administrator."""
    database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    database.migrate()
    with database.connect(write=True) as connection:
        create_tenant(connection, TENANT_NAME)
    yield database
    database.dispose()


async def _client(database: Database) -> httpx.AsyncClient:
    app = console_app(database, Settings(key_cache_seconds=0))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_with_no_administrator_the_signin_page_shows_the_command_to_create_one(
    empty_database: Database,
) -> None:
    """No administrator anywhere: the public sign-in page shows `hostsync admin create ...`,
    and names no tenant (neither its name nor its id)."""
    with empty_database.connect(write=False) as connection:
        found = find_tenant_by_name(connection, TENANT_NAME)
    assert found is not None
    async with await _client(empty_database) as http:
        page = await http.get("/signin")
        failed = await http.post(
            "/signin",
            data={
                "csrf": csrf_of(page.text),
                "email": "someone@example.com",
                "password": "not the right one",
                "next": "/",
            },
        )
    assert page.status_code == 200
    assert HINT in page.text
    assert failed.status_code == 401
    assert HINT in failed.text
    for text in (page.text, failed.text):
        assert TENANT_NAME not in text
        assert found.id not in text


async def test_once_an_administrator_exists_the_signin_page_shows_no_hint(
    empty_database: Database,
) -> None:
    """The hint is for a first run only: with any administrator, the page is the plain form."""
    with empty_database.connect(write=True) as connection:
        found = find_tenant_by_name(connection, TENANT_NAME)
        assert found is not None
        create_admin(connection, found.id, "first@example.com", PASSWORD)
    async with await _client(empty_database) as http:
        page = await http.get("/signin")
    assert page.status_code == 200
    assert "Sign in" in page.text
    assert HINT not in page.text


async def test_the_signin_page_has_a_title(empty_database: Database) -> None:
    """The browser tab reads "Sign in · hostsync", not "· hostsync"."""
    async with await _client(empty_database) as http:
        page = await http.get("/signin")
    assert "<title>Sign in · hostsync</title>" in page.text
