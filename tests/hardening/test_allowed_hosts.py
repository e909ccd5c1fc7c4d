"""Issue 18 (allowed hosts): a request whose ``Host`` is not a loopback name, the public URL's
host or one of ``HOSTSYNC_ALLOWED_HOSTS`` answers 400 on every route before anything else runs,
with a SCIM error body on SCIM paths and a plain message elsewhere. This is what stops a page
that DNS-rebinds its own name to 127.0.0.1 from driving a local ``hostsync demo``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store.database import Database
from hostsync.web.app import create_app
from hostsync.web.middleware import AllowedHosts, host_name

from ..live_server import served
from .conftest import USER_SCHEMA, assert_scim_error, client_for, new_tenant

ROOT = "http://testserver"
ROUTES = [
    f"{SCIM_PREFIX}/Users",
    f"{SCIM_PREFIX}/ServiceProviderConfig",
    "/healthz",
    "/openapi.json",
    "/signin",
    "/",
    "/static/admin/admin.css",
    "/no/such/page",
]


def _client(database: Database, settings: Settings) -> httpx.AsyncClient:
    _, key = new_tenant(database, "Hosts")
    return client_for(create_app(settings, database), key)


@pytest.mark.parametrize("route", ROUTES)
async def test_a_foreign_host_is_refused_on_every_route(database: Database, route: str) -> None:
    """With the default list, ``Host: rebind.attacker.test`` gets 400, SCIM or plain."""
    async with _client(database, Settings(allowed_hosts="")) as http:
        response = await http.get(ROOT + route, headers={"Host": "rebind.attacker.test"})
    if route.startswith(SCIM_PREFIX):
        assert_scim_error(response, 400)
        assert "rebind.attacker.test" in response.json()["detail"]
    else:
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("text/plain")
        assert "HOSTSYNC_ALLOWED_HOSTS" in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:8000", "127.0.0.1:8000", "[::1]", "[::1]:8443", "localhost."]
)
async def test_loopback_names_are_served_on_any_port(database: Database, host: str) -> None:
    """``localhost``, ``127.0.0.1`` and ``[::1]``, with or without a port, are always served."""
    async with _client(database, Settings(allowed_hosts="")) as http:
        response = await http.get(ROOT + "/healthz", headers={"Host": host})
    assert response.status_code == 200, response.text


async def test_a_refused_request_reaches_nothing(database: Database) -> None:
    """The refusal comes before authentication and before any write."""
    async with _client(database, Settings(allowed_hosts="", key_cache_seconds=0)) as http:
        body = {"schemas": [USER_SCHEMA], "userName": "rebound@example.com"}
        refused = await http.post("/Users", json=body, headers={"Host": "evil.test"})
        anonymous = await http.get(
            "/Users", headers={"Host": "evil.test", "Authorization": "Bearer hsk_wrong"}
        )
        after = await http.get(
            "/Users",
            params={"filter": 'userName eq "rebound@example.com"'},
            headers={"Host": "localhost"},
        )
    assert refused.status_code == 400
    assert anonymous.status_code == 400  # not 401: the key was never looked at
    assert after.json()["totalResults"] == 0


async def test_the_public_url_host_and_listed_names_are_served(database: Database) -> None:
    """The public URL's host, listed names and ``*.domain`` subdomains; not the bare domain."""
    settings = Settings(
        public_url="https://hosts.contoso.com:8443/",
        allowed_hosts="scim.contoso.com, *.internal.contoso.com",
    )
    async with _client(database, settings) as http:
        codes = {
            host: (await http.get(ROOT + "/healthz", headers={"Host": host})).status_code
            for host in (
                "hosts.contoso.com",
                "Hosts.Contoso.com:443",
                "scim.contoso.com",
                "a.internal.contoso.com",
                "internal.contoso.com",
                "contoso.com",
                "hosts.contoso.com.evil.test",
            )
        }
    assert codes == {
        "hosts.contoso.com": 200,
        "Hosts.Contoso.com:443": 200,
        "scim.contoso.com": 200,
        "a.internal.contoso.com": 200,
        "internal.contoso.com": 400,
        "contoso.com": 400,
        "hosts.contoso.com.evil.test": 400,
    }


async def test_a_star_serves_any_host(database: Database) -> None:
    """``HOSTSYNC_ALLOWED_HOSTS=*`` switches the check off."""
    async with _client(database, Settings(allowed_hosts="*")) as http:
        response = await http.get(ROOT + "/healthz", headers={"Host": "anything.test"})
    assert response.status_code == 200


async def test_a_request_without_host_is_refused(database: Database) -> None:
    """HTTP/1.0 may omit ``Host``; such a request is refused (no name, nothing to check)."""
    app = create_app(Settings(allowed_hosts=""), database)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.0",
        "method": "GET",
        "scheme": "http",
        "path": "/healthz",
        "raw_path": b"/healthz",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 400


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Example.COM:8443", "example.com"),
        ("example.com.", "example.com"),
        ("[::1]:8000", "[::1]"),
        ("::1", "[::1]"),
        ("[fe80::1", "[fe80::1"),
        ("localhost:", "localhost:"),
        ("localhost:80x", "localhost:80x"),
    ],
)
def test_host_names_drop_ports_and_case_only(raw: str, name: str) -> None:
    """Only a numeric port is dropped; anything malformed stays as it is (and is refused)."""
    assert host_name(raw) == name


def test_malformed_hosts_are_refused() -> None:
    """A malformed header never matches a loopback name."""
    hosts = AllowedHosts(["localhost", "[::1]"])
    for header in ("localhost:", "localhost:80x", "[::1", "localhost@evil.test", ""):
        assert not hosts.allows(header), header


def test_a_local_demo_refuses_a_rebound_name(tmp_path: Path) -> None:
    """A real ``hostsync serve`` on 127.0.0.1 with the default list: a browser that reached it
    through ``rebind.attacker.test`` (a name that now resolves to 127.0.0.1) is refused."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    with served(url, tmp_path / "server.log", env={"HOSTSYNC_ALLOWED_HOSTS": ""}) as (_, base):
        root = base.removesuffix(SCIM_PREFIX)
        rebound = httpx.get(f"{root}/signin", headers={"Host": "rebind.attacker.test"})
        direct = httpx.get(f"{root}/signin")
    assert rebound.status_code == 400
    assert direct.status_code == 200
