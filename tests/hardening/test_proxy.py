"""Issue 18 (behind a proxy): ``X-Forwarded-Proto``/``-For`` are believed only with
``--proxy-headers`` (``HOSTSYNC_PROXY_HEADERS``) and only from an address in
``--forwarded-allow-ips``; then a TLS proxy's ``https`` makes HSTS and ``https`` locations.
Without it (the default) the scheme is the socket's, whoever sends the header.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from hostsync.config import SCIM_PREFIX
from hostsync.store.database import Database

from ..live_server import served
from .conftest import USER_SCHEMA, new_tenant

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


@pytest.mark.parametrize(
    ("env", "https"),
    [
        ({}, False),  # default: uvicorn's own trust of 127.0.0.1 is switched off
        ({"HOSTSYNC_PROXY_HEADERS": "1"}, True),  # a proxy on 127.0.0.1, the default list
        ({"HOSTSYNC_PROXY_HEADERS": "1", "HOSTSYNC_FORWARDED_ALLOW_IPS": "10.9.9.9"}, False),
    ],
    ids=["off", "trusted-proxy", "untrusted-peer"],
)
def test_forwarded_scheme_is_believed_only_from_a_trusted_proxy(
    tmp_path: Path, env: dict[str, str], https: bool
) -> None:
    """A request from 127.0.0.1 that says it came over HTTPS: HSTS, ``https`` locations and
    ``Secure`` console cookies only when the server was told to trust a proxy at that address."""
    url = f"sqlite:///{tmp_path / 'proxy.db'}"
    database = Database(url)
    database.migrate()
    _, key = new_tenant(database, "Proxy")
    database.dispose()
    with served(url, tmp_path / "server.log", env=env) as (_, base):
        response = httpx.post(
            f"{base}/Users",
            json={"schemas": [USER_SCHEMA], "userName": "proxied@example.com"},
            headers={"Authorization": f"Bearer {key}", **FORWARDED},
        )
        signin = httpx.get(base.removesuffix(SCIM_PREFIX) + "/signin", headers=FORWARDED)
    assert response.status_code == 201, response.text
    assert signin.status_code == 200
    assert ("secure" in signin.headers["set-cookie"].lower()) is https
    scheme = "https" if https else "http"
    assert response.headers["location"].startswith(f"{scheme}://127.0.0.1:")
    assert ("strict-transport-security" in response.headers) is https
