"""Issue 18 (response headers): every response, whatever produced it, carries the security
headers; SCIM and console answers are ``no-store``, static files may be cached; HSTS is sent
over HTTPS only; the console's pages keep their own Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store.database import Database
from hostsync.web.app import create_app
from hostsync.web.middleware import EdgeMiddleware

from .conftest import USER_SCHEMA, client_for, new_tenant

ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'"


def assert_security_headers(response: httpx.Response, *, cached: bool = False) -> None:
    """The headers every response carries, each exactly once."""
    for name, value in ALWAYS.items():
        assert response.headers.get_list(name) == [value], (name, response.headers)
    assert len(response.headers.get_list("content-security-policy")) == 1, response.headers
    if cached:
        assert "cache-control" not in response.headers, response.headers
    else:
        assert response.headers.get_list("cache-control") == ["no-store"], response.headers


async def _boom(_request: Request) -> Response:
    raise RuntimeError("an unexpected failure")


async def _stream(_request: Request) -> Response:
    async def rows() -> AsyncIterator[bytes]:
        yield b"a,b\n"

    return StreamingResponse(rows(), media_type="text/csv")


def _app(database: Database, settings: Settings | None = None) -> httpx.AsyncClient:
    _, key = new_tenant(database, "Headers")
    app = create_app(settings or Settings(key_cache_seconds=0, rate_limit="3/minute"), database)
    app.router.routes.append(Route("/test-boom", _boom))
    app.router.routes.append(Route("/test-stream", _stream))
    return client_for(app, key)


async def test_every_kind_of_response_carries_the_security_headers(database: Database) -> None:
    """SCIM JSON, 201, 404, 401, 429, 500, redirects, streamed bodies and healthz alike."""
    async with _app(database) as http:
        created = await http.post(
            "/Users", json={"schemas": [USER_SCHEMA], "userName": "headers@example.com"}
        )
        assert created.status_code == 201
        answers = [
            created,
            await http.get("/Users", params={"filter": 'userName eq "headers@example.com"'}),
            await http.get("/NoSuchEndpoint"),
            await http.get("/Users", headers={"Authorization": "Bearer hsk_unknown"}),
            await http.get("/Users"),  # the fourth request of a 3/minute key: 429
            await http.get("http://testserver/"),  # console redirect to sign-in
            await http.get("http://testserver/healthz"),
            await http.get("http://testserver/test-stream"),
            await http.get("http://testserver/test-boom"),
        ]
    assert [r.status_code for r in answers] == [201, 200, 404, 401, 429, 303, 200, 200, 500]
    for response in answers:
        assert_security_headers(response)
        assert response.headers["content-security-policy"] == STRICT_CSP


async def test_console_pages_keep_their_own_policy_once(database: Database) -> None:
    """The sign-in page's own CSP (which allows its stylesheet) is kept, not doubled."""
    async with _app(database) as http:
        page = await http.get("http://testserver/signin")
    assert page.status_code == 200
    assert_security_headers(page)
    assert "style-src 'self'" in page.headers["content-security-policy"]


async def test_static_files_may_be_cached(database: Database) -> None:
    """Static files get the security headers but no ``no-store``; a missing one is the
    console's HTML 404 page, which is not to be stored."""
    async with _app(database) as http:
        css = await http.get("http://testserver/static/admin/admin.css")
        missing = await http.get("http://testserver/static/admin/nothing.css")
    assert css.status_code == 200
    assert_security_headers(css, cached=True)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert_security_headers(missing)


@pytest.mark.parametrize(
    ("base", "public_url", "hsts"),
    [
        ("http://testserver", None, False),
        ("https://testserver", None, True),
        ("http://testserver", "https://hosts.example", True),
    ],
)
async def test_hsts_is_sent_over_https_only(
    database: Database, base: str, public_url: str | None, hsts: bool
) -> None:
    """``Strict-Transport-Security`` when the request came over HTTPS or the public URL is
    ``https``; never on plain HTTP otherwise (it would pin a name that has no certificate)."""
    settings = Settings(key_cache_seconds=0, public_url=public_url)
    async with _app(database, settings) as http:
        responses = [
            await http.get(f"{base}{SCIM_PREFIX}/Users"),
            await http.get(f"{base}/static/admin/admin.css"),
            await http.get(f"{base}/"),
        ]
    for response in responses:
        assert_security_headers(response, cached="/static/" in str(response.url))
        if hsts:
            assert response.headers["strict-transport-security"] == "max-age=31536000"
        else:
            assert "strict-transport-security" not in response.headers


async def test_headers_a_response_sets_itself_are_kept() -> None:
    """A response's own ``Cache-Control`` or CSP wins over the defaults, and is not doubled."""

    async def app(scope: object, receive: object, send: object) -> None:  # a bare ASGI app
        await Response(
            "x",
            headers={"Cache-Control": "max-age=60", "Content-Security-Policy": "default-src x"},
        )(scope, receive, send)  # type: ignore[arg-type]

    edge = EdgeMiddleware(app, Settings(allowed_hosts="*"))  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=edge), base_url="http://any.host"
    ) as http:
        response = await http.get("/")
    assert response.headers.get_list("cache-control") == ["max-age=60"]
    assert response.headers.get_list("content-security-policy") == ["default-src x"]
    assert response.headers["x-frame-options"] == "DENY"
