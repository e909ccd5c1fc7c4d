"""Helpers shared by the hardening tests: tenants with keys, clients, live servers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from hostsync.config import SCIM_PREFIX
from hostsync.store.database import Database
from hostsync.store.tenants import create_key, create_tenant

SCIM_JSON = "application/scim+json; charset=utf-8"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BASE = f"http://testserver{SCIM_PREFIX}"


def new_tenant(database: Database, name: str = "Hardening") -> tuple[str, str]:
    """Create a tenant and an API key; return (tenant id, key)."""
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, name)
        _, key = create_key(connection, tenant.id, "hardening")
    return tenant.id, key


def client_for(app: Starlette, key: str | None) -> httpx.AsyncClient:
    """An in-process client of ``app`` authenticated with ``key``."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # 500s are answers
    return httpx.AsyncClient(transport=transport, base_url=BASE, headers=headers)


def assert_scim_error(response: httpx.Response, status: int | None = None) -> None:
    """The response is an RFC 7644 §3.12 error body (of ``status`` if given)."""
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"] == SCIM_JSON, response.text
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA], body
    assert body["status"] == str(response.status_code), body


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many requests the fuzzers sent and how many 5xx they saw."""
    from .fuzzstats import COUNTS, summary

    if COUNTS:
        terminalreporter.write_line(summary())


class SyncClient:
    """A synchronous in-process client (for Hypothesis tests) over one event loop."""

    def __init__(self, app: Starlette, key: str | None, base_url: str = BASE + "/") -> None:
        self._runner = asyncio.Runner()
        self._http = client_for(app, key)
        self._http.base_url = httpx.URL(base_url)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and wait for its response."""
        return self._runner.run(self._http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        """Close the client and its event loop."""
        self._runner.run(self._http.aclose())
        self._runner.close()
