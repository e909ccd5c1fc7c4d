"""Integrations > Single Sign-On > Microsoft Entra ID: the values, the IdP, the upload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from hostsync.config import Settings
from hostsync.sso import IdentityProvider, read_idp_metadata
from hostsync.store.admin_tables import activity
from hostsync.store.admins import create_admin
from hostsync.store.database import Database
from hostsync.store.sso.providers import load_provider, save_provider
from hostsync.store.tenants import create_tenant
from hostsync.web.admin.sso import MAX_UPLOAD_BYTES, SSO_METADATA, SSO_PAGE
from tests.admin.conftest import PASSWORD, console_app, csrf_of, sign_in
from tests.sso.idp import EntraIdp, KeyPair, key_pair

PUBLIC_URL = "http://testserver"


@pytest.fixture
def settings() -> Settings:
    return Settings(key_cache_seconds=0, public_url=PUBLIC_URL)


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return key_pair()


@pytest.fixture
def entra(keys: KeyPair) -> EntraIdp:
    return EntraIdp(keys)


def provider_of(database: Database, tenant_id: str) -> IdentityProvider | None:
    with database.connect(write=False) as connection:
        return load_provider(connection, tenant_id)


def sso_rows(database: Database, tenant_id: str) -> list[tuple[str, str | None, str | None]]:
    with database.connect(write=False) as connection:
        rows = connection.execute(
            select(activity.c.operation, activity.c.actor, activity.c.detail).where(
                activity.c.tenant_id == tenant_id, activity.c.resource_type == "SingleSignOn"
            )
        )
        return [(r.operation, r.actor, r.detail) for r in rows]


async def upload(
    http: httpx.AsyncClient,
    *,
    file: bytes | None = None,
    pasted: str = "",
    csrf: str | None = None,
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    if csrf is None:
        csrf = csrf_of((await http.get(SSO_PAGE)).text)
    data = {"csrf": csrf, "metadata_xml": pasted, **(extra or {})}
    files = {"metadata": ("hostsync.xml", file or b"", "text/xml")}
    return await http.post(SSO_METADATA, data=data, files=files)


async def test_the_page_shows_the_three_values_and_no_idp_yet(
    signed_in: httpx.AsyncClient, tenant_id: str
) -> None:
    page = await signed_in.get(SSO_PAGE)
    assert page.status_code == 200
    entity = f"{PUBLIC_URL}/saml/{tenant_id}"
    for field, value in (
        ("entity-id", entity),
        ("acs-url", f"{entity}/acs"),
        ("sign-on-url", f"{entity}/login"),
    ):
        assert f'value="{value}" data-testid="{field}"' in page.text
        assert f'data-copy="{field}"' in page.text
    assert f'href="{entity}/metadata"' in page.text
    assert 'data-testid="idp-none"' in page.text
    assert 'data-testid="test-link"' not in page.text
    assert 'data-testid="no-public-url"' not in page.text
    assert (await signed_in.get("/integrations/single-sign-on")).headers["location"] == SSO_PAGE
    provisioning = await signed_in.get("/integrations/host-synchronization/entra")
    assert f'href="{SSO_PAGE}"' in provisioning.text


async def test_uploading_entras_file_sets_up_the_idp_and_is_audited(
    signed_in: httpx.AsyncClient,
    database: Database,
    tenant_id: str,
    admin_email: str,
    entra: EntraIdp,
    keys: KeyPair,
) -> None:
    answer = await upload(signed_in, file=entra.metadata())
    assert answer.status_code == 303
    assert answer.headers["location"] == SSO_PAGE
    provider = provider_of(database, tenant_id)
    assert provider is not None
    assert provider.entity_id == entra.entity_id
    assert provider.login_url == entra.login_url
    assert not provider.allow_sha1
    page = await signed_in.get(SSO_PAGE)
    expiry = keys.certificate.not_valid_after_utc
    assert f'data-testid="idp-issuer">{entra.entity_id}<' in page.text
    assert expiry.strftime("%Y-%m-%d %H:%M UTC") in page.text
    assert provider.certificates[0].thumbprint in page.text
    assert f"Single sign-on now trusts {entra.entity_id}" in page.text
    assert f'href="{PUBLIC_URL}/saml/{tenant_id}/login" data-testid="test-link"' in page.text
    ((operation, actor, detail),) = sso_rows(database, tenant_id)
    assert (operation, actor) == ("configure", admin_email)
    assert detail is not None and expiry.strftime("%Y-%m-%d") in detail
    again = await signed_in.get(SSO_PAGE)
    assert "now trusts" not in again.text  # the flash is shown once


async def test_pasted_xml_and_sha1_are_accepted(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, entra: EntraIdp
) -> None:
    answer = await upload(signed_in, pasted=entra.metadata().decode(), extra={"allow_sha1": "on"})
    assert answer.status_code == 303
    provider = provider_of(database, tenant_id)
    assert provider is not None and provider.allow_sha1
    assert provider.entity_id == entra.entity_id
    page = await signed_in.get(SSO_PAGE)
    assert 'name="allow_sha1" checked' in page.text


async def test_a_url_encoded_paste_works_too(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, entra: EntraIdp
) -> None:
    csrf = csrf_of((await signed_in.get(SSO_PAGE)).text)
    answer = await signed_in.post(
        SSO_METADATA, data={"csrf": csrf, "metadata_xml": entra.metadata().decode()}
    )
    assert answer.status_code == 303
    provider = provider_of(database, tenant_id)
    assert provider is not None and provider.entity_id == entra.entity_id


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (b"<not xml", "cannot be read"),
        (b'<?xml version="1.0"?><html/>', "not SAML metadata"),
        (b"", "Metadata XML file, or paste its content"),
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", "cannot be read"),
    ],
)
async def test_bad_metadata_answers_the_page_again_and_changes_nothing(
    signed_in: httpx.AsyncClient,
    database: Database,
    tenant_id: str,
    entra: EntraIdp,
    document: bytes,
    says: str,
) -> None:
    assert (await upload(signed_in, file=entra.metadata())).status_code == 303
    before = provider_of(database, tenant_id)
    answer = await upload(signed_in, file=document)
    assert answer.status_code == 400
    assert 'data-testid="problem"' in answer.text
    assert says in answer.text
    assert "Nothing was changed" in answer.text or not document
    assert f'data-testid="idp-issuer">{entra.entity_id}<' in answer.text  # still the old one
    assert provider_of(database, tenant_id) == before
    assert len(sso_rows(database, tenant_id)) == 1


async def test_metadata_without_a_certificate_is_refused(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, entra: EntraIdp
) -> None:
    stripped = entra.metadata().replace(entra.keys.cert_base64.encode(), b"")
    answer = await upload(signed_in, file=stripped)
    assert answer.status_code == 400
    assert "Nothing was changed" in answer.text
    assert provider_of(database, tenant_id) is None
    assert sso_rows(database, tenant_id) == []


async def test_an_oversized_upload_is_refused_before_parsing(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    answer = await upload(signed_in, file=b"<x>" + b" " * MAX_UPLOAD_BYTES + b"</x>")
    assert answer.status_code == 413
    assert "too large" in answer.text
    assert provider_of(database, tenant_id) is None


async def test_an_upload_without_the_csrf_token_is_refused(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, entra: EntraIdp
) -> None:
    answer = await upload(signed_in, file=entra.metadata(), csrf="forged")
    assert answer.status_code == 403
    assert provider_of(database, tenant_id) is None


async def test_an_upload_without_a_session_goes_to_sign_in(
    browser: httpx.AsyncClient, database: Database, tenant_id: str, entra: EntraIdp
) -> None:
    answer = await upload(browser, file=entra.metadata(), csrf="x")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/signin")
    assert provider_of(database, tenant_id) is None


async def test_without_a_public_url_the_page_warns(
    database: Database, tenant_id: str, admin_email: str, entra: EntraIdp
) -> None:
    app = console_app(database, Settings(key_cache_seconds=0))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL
    ) as http:
        assert (await sign_in(http, admin_email)).status_code == 303
        page = await http.get(SSO_PAGE)
        assert 'data-testid="no-public-url"' in page.text
        assert "HOSTSYNC_PUBLIC_URL" in page.text
        assert 'data-testid="entity-id"' not in page.text
        assert (await upload(http, file=entra.metadata())).status_code == 303
        page = await http.get(SSO_PAGE)
        assert entra.entity_id in page.text
        assert 'data-testid="test-link"' not in page.text


async def test_an_expiring_certificate_is_flagged(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    soon = key_pair(not_after=datetime.now(UTC) + timedelta(days=10))
    assert (await upload(signed_in, file=EntraIdp(soon).metadata())).status_code == 303
    page = await signed_in.get(SSO_PAGE)
    assert "expires soon" in page.text


async def test_an_admin_of_b_never_sees_or_changes_as_sso(
    database: Database, settings: Settings, entra: EntraIdp
) -> None:
    other = EntraIdp(key_pair("Fabrikam"))
    with database.connect(write=True) as connection:
        a = create_tenant(connection, "Contoso SSO").id
        b = create_tenant(connection, "Fabrikam SSO").id
        create_admin(connection, b, f"admin-{b}@example.com", PASSWORD)
        save_provider(connection, a, read_idp_metadata(entra.metadata()))
    app = console_app(database, settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL
    ) as http:
        assert (await sign_in(http, f"admin-{b}@example.com")).status_code == 303
        page = await http.get(SSO_PAGE)
        assert entra.entity_id not in page.text
        assert a not in page.text
        assert f"/saml/{b}" in page.text
        assert (await upload(http, file=other.metadata())).status_code == 303
        assert (await upload(http, file=b"<broken")).status_code == 400
        answer = await http.get(SSO_PAGE, params={"tenant": a})
        assert entra.entity_id not in answer.text
    a_provider = provider_of(database, a)
    b_provider = provider_of(database, b)
    assert a_provider is not None and a_provider.entity_id == entra.entity_id
    assert b_provider is not None and b_provider.entity_id == other.entity_id
    assert sso_rows(database, a) == []
    assert len(sso_rows(database, b)) == 1
