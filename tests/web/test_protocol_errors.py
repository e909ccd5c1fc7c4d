"""Errors, media types and authentication at the HTTP edge.

RFC 7644 §3.12 and docs/reference/entra-wire.md#wire-transport.
"""

from __future__ import annotations

import httpx
import pytest

from hostsync.store.database import Database
from hostsync.store.tenants import list_keys, revoke_key

SCIM_JSON = "application/scim+json; charset=utf-8"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def assert_error(response: httpx.Response, status: int, scim_type: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == SCIM_JSON
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body["detail"]
    if scim_type is not None:
        assert body["scimType"] == scim_type


async def test_missing_token_is_401_with_challenge(anonymous: httpx.AsyncClient) -> None:
    """No Authorization header → 401 SCIM error with WWW-Authenticate: Bearer."""
    response = await anonymous.get("/Users")
    assert_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_wrong_token_is_401(anonymous: httpx.AsyncClient) -> None:
    """An unknown key is 401, and so is a malformed header."""
    assert_error(await anonymous.get("/Users", headers={"Authorization": "Bearer hsk_nope"}), 401)
    assert_error(await anonymous.get("/Users", headers={"Authorization": "Basic abc"}), 401)


async def test_revoked_key_is_401(
    client: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """A revoked key stops working (the cache TTL is 0 in tests)."""
    assert (await client.get("/Users")).status_code == 200
    with database.connect(write=True) as connection:
        (key,) = list_keys(connection, tenant_id)
        revoke_key(connection, tenant_id, key.id)
    assert_error(await client.get("/Users"), 401)


async def test_service_provider_config_needs_no_auth(anonymous: httpx.AsyncClient) -> None:
    """/ServiceProviderConfig is public and advertises patch, filter, bulk, sort and etag."""
    response = await anonymous.get("/ServiceProviderConfig")
    assert response.status_code == 200
    body = response.json()
    assert body["patch"]["supported"] is True
    assert body["filter"]["maxResults"] == 1000


async def test_unknown_route_is_scim_404(client: httpx.AsyncClient) -> None:
    """An unknown endpoint is a SCIM 404, not an HTML page."""
    assert_error(await client.get("/Nope"), 404)


async def test_wrong_method_is_scim_405(client: httpx.AsyncClient) -> None:
    """DELETE on /Users is 405 with a SCIM body."""
    assert_error(await client.delete("/Users"), 405)


async def test_malformed_json_is_invalid_syntax(client: httpx.AsyncClient) -> None:
    """A body that is not JSON is 400 invalidSyntax."""
    response = await client.post(
        "/Users", content=b'{"userName": ', headers={"Content-Type": "application/scim+json"}
    )
    assert_error(response, 400, "invalidSyntax")


async def test_non_json_media_type_is_415(client: httpx.AsyncClient) -> None:
    """A text/plain body is 415."""
    response = await client.post(
        "/Users", content=b"userName=x", headers={"Content-Type": "text/plain"}
    )
    assert_error(response, 415)


async def test_body_over_the_cap_is_413(client: httpx.AsyncClient) -> None:
    """A body larger than the advertised maxPayloadSize is 413."""
    big = b'{"userName": "' + b"x" * 1_100_000 + b'"}'
    response = await client.post(
        "/Users", content=big, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413)


async def test_missing_username_is_400(client: httpx.AsyncClient) -> None:
    """POST without userName is 400 invalidValue (Microsoft Postman "garbage" suite)."""
    assert_error(await client.post("/Users", json={"displayName": "x"}), 400, "invalidValue")


async def test_bad_filter_is_invalid_filter_never_unfiltered(client: httpx.AsyncClient) -> None:
    """Unknown attribute, unknown operator and bad syntax are all 400 invalidFilter."""
    for bad in ['nosuch eq "x"', 'userName zz "x"', 'userName eq "x', "(userName eq 1"]:
        assert_error(await client.get("/Users", params={"filter": bad}), 400, "invalidFilter")


async def test_doubled_slash_is_tolerated(client: httpx.AsyncClient) -> None:
    """A Tenant URL entered with a trailing slash yields ``//Users``; it still works."""
    response = await client.get("http://testserver/v1/usersync/SCIM//Users")
    assert response.status_code == 200


async def test_if_match_mismatch_is_412_and_if_none_match_is_304(client: httpx.AsyncClient) -> None:
    """RFC 7644 §3.14: ETags on GET, PATCH precondition, 304 on an unchanged resource."""
    created = (await client.post("/Users", json={"userName": "etag@contoso.com"})).json()
    version = created["meta"]["version"]
    not_modified = await client.get(f"/Users/{created['id']}", headers={"If-None-Match": version})
    assert not_modified.status_code == 304
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Boss"}],
    }
    stale = await client.patch(
        f"/Users/{created['id']}", json=body, headers={"If-Match": 'W/"999"'}
    )
    assert_error(stale, 412)
    fresh = await client.patch(f"/Users/{created['id']}", json=body, headers={"If-Match": version})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] != version


async def test_unexpected_failure_is_a_generic_scim_500(
    database: Database, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception becomes a SCIM 500 whose detail reveals nothing internal."""
    from hostsync.config import Settings
    from hostsync.scim.service import ScimService
    from hostsync.web.app import create_app

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(ScimService, "list_users", explode)
    app = create_app(Settings(key_cache_seconds=0), database)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver/v1/usersync/SCIM",
        headers={"Authorization": f"Bearer {api_key}"},
    ) as client:
        response = await client.get("/Users")
    assert_error(response, 500)
    assert "secret" not in response.text


async def test_deep_or_huge_bodies_are_refused_and_change_nothing(
    client: httpx.AsyncClient,
) -> None:
    """A body nested too deep is 400 invalidSyntax; an over-long value 400 invalidValue."""
    deep: object = "x"
    for _ in range(40):
        deep = [deep]
    response = await client.post("/Users", json={"userName": "deep@contoso.com", "title": deep})
    assert_error(response, 400, "invalidSyntax")
    long_value = await client.post(
        "/Users", json={"userName": "long@contoso.com", "title": "x" * 70_000}
    )
    assert_error(long_value, 400, "invalidValue")
    listed = await client.get(
        "/Users", params={"filter": 'userName sw "deep" or userName sw "long"'}
    )
    assert listed.json()["totalResults"] == 0
