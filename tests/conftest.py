"""Shared fixtures: a real database per backend, a tenant per test, an in-process client.

Every test that takes ``database`` runs on SQLite, and on PostgreSQL too when
``HOSTSYNC_TEST_POSTGRES_URL`` is set (``scripts/test`` sets it). Each test gets its own
tenant, so tests never see each other's data even though they share a database.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store.database import Database
from hostsync.store.tables import metadata
from hostsync.store.tenants import create_key, create_tenant
from hostsync.web.app import create_app

# The Host of the in-process clients (testserver) and the names tests send (hosts.example, …):
# any other name still gets the 400 of tests/hardening/test_allowed_hosts.py.
os.environ.setdefault("HOSTSYNC_ALLOWED_HOSTS", "testserver,*.example")
POSTGRES_URL = os.environ.get("HOSTSYNC_TEST_POSTGRES_URL") or None  # "" means none (scripts/test)
BACKENDS = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]
BASE = f"http://testserver{SCIM_PREFIX}"


def _fresh_postgres(url: str) -> Database:
    database = Database(url)
    with database.engine.begin() as connection:
        metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    database.migrate()
    return database


@pytest.fixture(scope="session", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A migrated database shared by the session (one per backend)."""
    if request.param == "postgres":
        assert POSTGRES_URL is not None
        db = _fresh_postgres(POSTGRES_URL)
    else:
        path: Path = tmp_path_factory.mktemp("db") / "hostsync.db"
        db = Database(f"sqlite:///{path}")
        db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def settings() -> Settings:
    """Default settings with a tiny key cache so revocation tests run fast."""
    return Settings(key_cache_seconds=0)


@pytest.fixture
def tenant_id(database: Database) -> str:
    """A fresh tenant for this test."""
    with database.connect(write=True) as connection:
        return create_tenant(connection, "Contoso").id


@pytest.fixture
def api_key(database: Database, tenant_id: str) -> str:
    """An API key of the test's tenant."""
    with database.connect(write=True) as connection:
        return create_key(connection, tenant_id, "test")[1]


@pytest.fixture
async def client(
    database: Database, settings: Settings, api_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the app, authenticated as the test's tenant."""
    app = create_app(settings, database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url=BASE,
        headers={"Authorization": f"Bearer {api_key}"},
    ) as http:
        yield http


@pytest.fixture
async def anonymous(database: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client with no credentials."""
    app = create_app(settings, database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http
