"""The SAML endpoints end to end: sign-in, each refusal's page and activity row, isolation."""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from lxml import etree
from sqlalchemy import select

from hostsync.config import Settings
from hostsync.store.admin_tables import activity, admin_sessions
from hostsync.store.database import Database
from hostsync.store.tenants import create_tenant
from hostsync.web.app import create_app
from tests.sso.conftest import PUBLIC_URL, SsoTenant
from tests.sso.idp import PROTOCOL, Claims, encoded, issue


def claims_for(tenant: SsoTenant, name: str, **changes: object) -> Claims:
    values: dict[str, object] = {
        "name_id": name,
        "email": name,
        "audience": tenant.sp.entity_id,
        "recipient": tenant.sp.acs_url,
        "destination": tenant.sp.acs_url,
    }
    values.update(changes)
    return Claims(**values)  # type: ignore[arg-type]


async def post(
    web: httpx.AsyncClient, tenant_id: str, document: bytes, relay: str = ""
) -> httpx.Response:
    data = {"SAMLResponse": encoded(document)}
    if relay:
        data["RelayState"] = relay
    return await web.post(f"/saml/{tenant_id}/acs", data=data)


def log(database: Database, tenant_id: str) -> list[tuple[str, str | None, str | None, int]]:
    with database.connect(write=False) as connection:
        rows = connection.execute(
            select(
                activity.c.operation,
                activity.c.resource_name,
                activity.c.detail,
                activity.c.status,
            )
            .where(activity.c.tenant_id == tenant_id)
            .order_by(activity.c.pk)
        )
        return [(r.operation, r.resource_name, r.detail, r.status) for r in rows]


def sessions_of(database: Database, tenant_id: str) -> int:
    with database.connect(write=False) as connection:
        return len(
            connection.execute(
                select(admin_sessions.c.digest).where(admin_sessions.c.tenant_id == tenant_id)
            ).all()
        )


async def test_idp_initiated_sign_in_opens_a_console_session(
    web: httpx.AsyncClient, database: Database, tenant_a: SsoTenant
) -> None:
    document = issue(tenant_a.entra, claims_for(tenant_a, tenant_a.admin_email.upper()))
    answer = await post(web, tenant_a.id, document)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    assert "hostsync_session" in web.cookies
    console = await web.get("/status")
    assert console.status_code == 200
    assert tenant_a.admin_email in console.text
    assert sessions_of(database, tenant_a.id) == 1
    operation, name, detail, status = log(database, tenant_a.id)[-1]
    assert (operation, name, status) == ("sign-in", tenant_a.admin_email, 200)
    assert detail is not None and "SAML" in detail


async def test_the_email_claim_matches_when_the_name_id_is_the_upn(
    web: httpx.AsyncClient, tenant_a: SsoTenant
) -> None:
    made = claims_for(tenant_a, "ada@contoso.onmicrosoft.com", email=tenant_a.admin_email)
    answer = await post(web, tenant_a.id, issue(tenant_a.entra, made), relay="/hosts")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/hosts"


async def test_relay_state_outside_the_console_is_not_followed(
    web: httpx.AsyncClient, tenant_a: SsoTenant
) -> None:
    made = claims_for(tenant_a, tenant_a.admin_email)
    answer = await post(web, tenant_a.id, issue(tenant_a.entra, made), relay="//evil.example/")
    assert answer.headers["location"] == "/"


async def test_a_replayed_idp_initiated_response_is_refused(
    web: httpx.AsyncClient, database: Database, tenant_a: SsoTenant
) -> None:
    document = issue(tenant_a.entra, claims_for(tenant_a, tenant_a.admin_email))
    assert (await post(web, tenant_a.id, document)).status_code == 303
    web.cookies.clear()
    again = await post(web, tenant_a.id, document)
    assert again.status_code == 403
    assert "already used" in again.text
    assert "hostsync_session" not in again.cookies
    assert sessions_of(database, tenant_a.id) == 1
    operation, _name, detail, status = log(database, tenant_a.id)[-1]
    assert (operation, status) == ("sso-refused", 403)
    assert detail is not None and detail.startswith("SAML replayed")


def _request_id(location: str) -> tuple[str, str]:
    query = parse_qs(urlsplit(location).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    root = etree.fromstring(xml)
    assert root.tag == f"{{{PROTOCOL}}}AuthnRequest"
    return root.get("ID"), query.get("RelayState", [""])[0]


async def test_sp_initiated_sign_in_round_trip_and_its_replay(
    web: httpx.AsyncClient, database: Database, tenant_a: SsoTenant
) -> None:
    start = await web.get(f"/saml/{tenant_a.id}/login", params={"next": "/groups"})
    assert start.status_code == 302
    location = start.headers["location"]
    assert location.startswith(tenant_a.entra.login_url + "?SAMLRequest=")
    request_id, relay = _request_id(location)
    assert relay == "/groups"
    made = claims_for(tenant_a, tenant_a.admin_email, in_response_to=request_id)
    document = issue(tenant_a.entra, made, sign="both")
    answer = await post(web, tenant_a.id, document, relay=relay)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/groups"
    web.cookies.clear()
    replay = await post(web, tenant_a.id, document, relay=relay)
    assert replay.status_code == 403
    assert sessions_of(database, tenant_a.id) == 1
    assert log(database, tenant_a.id)[-1][2].startswith("SAML unknown-request")  # type: ignore[union-attr]


async def test_a_response_to_a_request_never_made_is_refused(
    web: httpx.AsyncClient, database: Database, tenant_a: SsoTenant
) -> None:
    made = claims_for(tenant_a, tenant_a.admin_email, in_response_to="id-never-issued")
    answer = await post(web, tenant_a.id, issue(tenant_a.entra, made))
    assert answer.status_code == 403
    assert "did not make" in answer.text
    assert sessions_of(database, tenant_a.id) == 0


async def test_an_unknown_user_gets_a_clear_page_and_no_session(
    web: httpx.AsyncClient, database: Database, tenant_a: SsoTenant
) -> None:
    made = claims_for(tenant_a, "host@contoso.com")
    answer = await post(web, tenant_a.id, issue(tenant_a.entra, made))
    assert answer.status_code == 403
    assert "No console account for host@contoso.com" in answer.text
    assert "Content-Security-Policy" in answer.headers
    assert sessions_of(database, tenant_a.id) == 0
    operation, name, detail, _status = log(database, tenant_a.id)[-1]
    assert (operation, name) == ("sso-refused", "host@contoso.com")
    assert detail is not None and "unknown-user" in detail


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"audience": "http://testserver/saml/" + "0" * 32}, "audience"),
        ({"recipient": "http://testserver/elsewhere"}, "recipient"),
        ({"destination": "http://testserver/elsewhere"}, "destination"),
        # Offsets from the moment the test runs (not from collection, minutes earlier).
        ({"issued": -timedelta(hours=2)}, "expired"),
        ({"issued": timedelta(minutes=10)}, "not-yet-valid"),
    ],
)
async def test_each_refusal_has_a_page_and_an_activity_row_without_the_response(
    web: httpx.AsyncClient,
    database: Database,
    tenant_a: SsoTenant,
    changes: dict[str, object],
    reason: str,
) -> None:
    changes = {
        key: datetime.now(UTC) + value if isinstance(value, timedelta) else value
        for key, value in changes.items()
    }
    document = issue(tenant_a.entra, claims_for(tenant_a, tenant_a.admin_email, **changes))
    answer = await post(web, tenant_a.id, document)
    assert answer.status_code == 403
    assert "Single sign-on refused" in answer.text
    assert "hostsync_session" not in answer.cookies
    operation, name, detail, status = log(database, tenant_a.id)[-1]
    assert (operation, status) == ("sso-refused", 403)
    assert name is None  # no signature vouched for anyone yet
    assert detail is not None and detail.startswith(f"SAML {reason} ")
    assert tenant_a.admin_email not in detail
    assert encoded(document)[:40] not in detail


async def test_unsigned_and_tampered_responses_are_refused_at_the_acs(
    web: httpx.AsyncClient, database: Database, tenant_a: SsoTenant
) -> None:
    made = claims_for(tenant_a, "someone@contoso.com")
    unsigned = issue(tenant_a.entra, made, sign="none")
    tampered = issue(tenant_a.entra, made).replace(
        b"someone@contoso.com</NameID>", tenant_a.admin_email.encode() + b"</NameID>"
    )
    for document, reason in ((unsigned, "unsigned"), (tampered, "tampered")):
        answer = await post(web, tenant_a.id, document)
        assert answer.status_code == 403
        assert log(database, tenant_a.id)[-1][2].startswith(f"SAML {reason} ")  # type: ignore[union-attr]
    assert sessions_of(database, tenant_a.id) == 0


async def test_tenant_as_response_posted_to_tenant_bs_acs_is_refused(
    web: httpx.AsyncClient, database: Database, tenant_a: SsoTenant, tenant_b: SsoTenant
) -> None:
    document = issue(tenant_a.entra, claims_for(tenant_a, tenant_a.admin_email))
    answer = await post(web, tenant_b.id, document)
    assert answer.status_code == 403
    assert sessions_of(database, tenant_b.id) == 0
    assert sessions_of(database, tenant_a.id) == 0
    assert log(database, tenant_b.id)[-1][0] == "sso-refused"
    assert log(database, tenant_a.id) == []  # A's log is not B's business


async def test_as_admin_gets_no_session_in_b_even_through_bs_own_idp(
    web: httpx.AsyncClient, database: Database, tenant_a: SsoTenant, tenant_b: SsoTenant
) -> None:
    """B's Entra vouches for A's administrator: still no console account in B."""
    made = claims_for(tenant_b, tenant_a.admin_email)
    answer = await post(web, tenant_b.id, issue(tenant_b.entra, made))
    assert answer.status_code == 403
    assert f"No console account for {tenant_a.admin_email}" in answer.text
    assert sessions_of(database, tenant_b.id) == 0
    assert sessions_of(database, tenant_a.id) == 0


async def test_the_same_assertion_id_in_two_tenants_is_each_tenants_own(
    web: httpx.AsyncClient, tenant_a: SsoTenant, tenant_b: SsoTenant
) -> None:
    shared = "_same-id-in-both"
    for tenant in (tenant_a, tenant_b):
        made = claims_for(tenant, tenant.admin_email, assertion_id=shared)
        answer = await post(web, tenant.id, issue(tenant.entra, made))
        assert answer.status_code == 303


async def test_metadata_is_served_for_an_existing_tenant_only(
    web: httpx.AsyncClient, database: Database, tenant_a: SsoTenant
) -> None:
    answer = await web.get(f"/saml/{tenant_a.id}/metadata")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/samlmetadata+xml")
    assert f'entityID="{PUBLIC_URL}/saml/{tenant_a.id}"'.encode() in answer.content
    assert (await web.get(f"/saml/{'f' * 32}/metadata")).status_code == 404
    assert (await web.get("/saml/not-a-tenant/metadata")).status_code == 404


async def test_a_tenant_without_sso_says_so(web: httpx.AsyncClient, database: Database) -> None:
    with database.connect(write=True) as connection:
        tenant_id = create_tenant(connection, "No SSO").id
    login = await web.get(f"/saml/{tenant_id}/login")
    assert login.status_code == 404
    assert "not set up single sign-on" in login.text
    acs = await web.post(f"/saml/{tenant_id}/acs", data={"SAMLResponse": "PHg+"})
    assert acs.status_code == 404
    assert log(database, tenant_id)[-1][2].startswith("SAML not-set-up")  # type: ignore[union-attr]


async def test_without_a_public_url_sso_is_unavailable(
    database: Database, tenant_a: SsoTenant
) -> None:
    app = create_app(Settings(key_cache_seconds=0), database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL
    ) as http:
        answer = await http.get(f"/saml/{tenant_a.id}/login")
    assert answer.status_code == 404
    assert "HOSTSYNC_PUBLIC_URL" in answer.text


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("SAMLResponse=%%%", "application/x-www-form-urlencoded", 400),
        ("RelayState=/", "application/x-www-form-urlencoded", 400),
        ('{"SAMLResponse": "x"}', "application/json", 415),
        ("SAMLResponse=" + "A" * 1_100_000, "application/x-www-form-urlencoded", 413),
    ],
)
async def test_unreadable_acs_posts_get_a_page_not_a_500(
    web: httpx.AsyncClient, tenant_a: SsoTenant, body: str, content_type: str, status: int
) -> None:
    answer = await web.post(
        f"/saml/{tenant_a.id}/acs", content=body, headers={"content-type": content_type}
    )
    assert answer.status_code == status
    assert "Single sign-on refused" in answer.text
