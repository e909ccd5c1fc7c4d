"""Fixtures for single sign-on: the test IdP's keys, a tenant set up with it, the app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from hostsync.config import Settings
from hostsync.sso import ServiceProvider, read_idp_metadata
from hostsync.store.admins import create_admin
from hostsync.store.database import Database
from hostsync.store.sso.providers import save_provider
from hostsync.store.tenants import create_tenant
from hostsync.web.app import create_app
from tests.sso.idp import EntraIdp, KeyPair, key_pair

PUBLIC_URL = "http://testserver"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _release_thread_connections(request: pytest.FixtureRequest) -> Iterator[None]:
    """Close the connections the test's worker threads kept (tests/admin/conftest.py)."""
    yield
    if "database" in request.fixturenames:
        database: Database = request.getfixturevalue("database")
        database.dispose()


@pytest.fixture(scope="session")
def idp_keys() -> KeyPair:
    return key_pair()


@pytest.fixture
def sso_settings() -> Settings:
    return Settings(key_cache_seconds=0, public_url=PUBLIC_URL)


class SsoTenant:
    """A tenant whose SSO is set up with its own Entra tenant, and one administrator."""

    def __init__(self, database: Database, keys: KeyPair, name: str) -> None:
        self.entra = EntraIdp(keys)
        with database.connect(write=True) as connection:
            self.id = create_tenant(connection, name).id
            self.admin_email = f"admin-{self.id}@contoso.com"
            create_admin(connection, self.id, self.admin_email, PASSWORD)
            save_provider(connection, self.id, read_idp_metadata(self.entra.metadata()))
        self.sp = ServiceProvider.of(PUBLIC_URL, self.id)


@pytest.fixture
def tenant_a(database: Database, idp_keys: KeyPair) -> SsoTenant:
    return SsoTenant(database, idp_keys, "Contoso")


@pytest.fixture
def tenant_b(database: Database, idp_keys: KeyPair) -> SsoTenant:
    return SsoTenant(database, key_pair("Fabrikam's certificate"), "Fabrikam")


@pytest.fixture
async def web(database: Database, sso_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of the whole app (cookies kept), not signed in."""
    app = create_app(sso_settings, database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL
    ) as http:
        yield http
