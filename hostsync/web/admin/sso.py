"""Integrations > Single Sign-On > Microsoft Entra ID: what Entra needs, and what it sent.

The page shows the three values an administrator pastes into Entra's *Basic SAML
Configuration* (from ``HOSTSYNC_PUBLIC_URL``: without it, a warning instead), the service
provider's metadata download, the tenant's identity provider (issuer, login URL, each
signing certificate's expiry) and a link that starts sign-in as Entra's *Sign on URL* does.

Its form takes Entra's *Federation Metadata XML* as a file or pasted, at most
:data:`MAX_UPLOAD_BYTES` (read whole before parsing, only for a signed-in administrator).
A document that does not describe an identity provider answers the page again with the
reason, and nothing is written; a good one replaces the tenant's identity provider, leaves an
activity row and redirects to the page (Post/Redirect/Get). Everything is the session's
tenant's: no tenant id is ever read from the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hostsync.sso import (
    IdentityProvider,
    MetadataError,
    ProviderError,
    ServiceProvider,
    read_idp_metadata,
)
from hostsync.sso.documents import MAX_DOCUMENT_BYTES
from hostsync.store import admins as admin_store
from hostsync.store.activity import records
from hostsync.store.sso.providers import load_provider, save_provider
from hostsync.web.admin.console import AdminConsole
from hostsync.web.admin.flash import Flash
from hostsync.web.admin.forms import read_upload

SINGLE_SIGN_ON = "/integrations/single-sign-on"
SSO_PAGE = f"{SINGLE_SIGN_ON}/entra"
SSO_METADATA = f"{SSO_PAGE}/metadata"
MAX_UPLOAD_BYTES = MAX_DOCUMENT_BYTES + 16_384
"""Largest upload: a metadata document at its parsing cap, and the form around it."""
EXPIRY_WARNING = timedelta(days=30)
"""A certificate this close to its expiry is flagged: time to roll over in Entra."""


@dataclass(frozen=True, slots=True)
class _Certificate:
    thumbprint: str
    expires_at: datetime
    state: str  # valid | expiring | expired


async def to_entra(_request: Request) -> Response:
    """Single Sign-On has one provider page so far: Entra's."""
    return RedirectResponse(SSO_PAGE, 303)


async def read_metadata_form(request: Request) -> FormData:
    """The upload form's body, with the upload's own cap (the console's is for short forms)."""
    return await read_upload(request, MAX_UPLOAD_BYTES)


async def page(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """The page (and a form's flash)."""
    flash = console.flashes.take(session)
    provider = await run_in_threadpool(_load, console, session.admin.tenant_id)
    return _render(
        console,
        request,
        session,
        provider,
        notice=None if flash is None else flash.notice,
    )


async def upload(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """Replace the tenant's identity provider with the one Entra's metadata describes."""
    tenant_id = session.admin.tenant_id
    form: FormData = request.state.form
    allow_sha1 = form.get("allow_sha1") == "on"
    try:
        data = await _document(form)
    finally:
        await form.close()
    problem = None
    provider: IdentityProvider | None = None
    if not data.strip():
        problem = "Choose Entra's Federation Metadata XML file, or paste its content."
    else:
        try:
            provider = await run_in_threadpool(read_idp_metadata, data, allow_sha1=allow_sha1)
        except MetadataError as exc:
            problem = f"This is not usable Federation Metadata XML: {exc}. Nothing was changed."
    if provider is None:
        current = await run_in_threadpool(_load, console, tenant_id)
        return _render(console, request, session, current, problem=problem, status_code=400)
    context = console.context(request, session.admin.email)
    chosen = provider

    def save() -> None:
        with console.database.connect(write=True) as connection:
            save_provider(connection, tenant_id, chosen)
            records.audit(
                connection,
                tenant_id,
                context,
                "configure",
                resource_type="SingleSignOn",
                resource_name=chosen.entity_id[:320],
                detail=(
                    f"SAML identity provider {chosen.entity_id[:200]}, "
                    f"{len(chosen.certificates)} signing certificate(s), first expiring "
                    f"{chosen.first_expiry():%Y-%m-%d}"
                    + (", SHA-1 accepted" if chosen.allow_sha1 else "")
                ),
            )

    await run_in_threadpool(save)
    console.flashes.put(
        session,
        Flash(
            notice=f"Single sign-on now trusts {chosen.entity_id[:200]}. Its signing "
            f"certificate expires {chosen.first_expiry():%Y-%m-%d}."
        ),
    )
    return RedirectResponse(SSO_PAGE, 303)


async def _document(form: FormData) -> bytes:
    """The uploaded file's bytes, else the pasted text's (at most one byte over the cap)."""
    for upload in form.getlist("metadata"):
        if isinstance(upload, UploadFile) and upload.filename:
            content = await upload.read(MAX_DOCUMENT_BYTES + 1)
            if content:
                return content
    pasted = form.get("metadata_xml")
    if isinstance(pasted, str):
        return pasted.encode("utf-8")[: MAX_DOCUMENT_BYTES + 1]
    return b""


def _load(console: AdminConsole, tenant_id: str) -> IdentityProvider | None:
    with console.database.connect(write=False) as connection:
        return load_provider(connection, tenant_id)


def _render(
    console: AdminConsole,
    request: Request,
    session: admin_store.Session,
    provider: IdentityProvider | None,
    *,
    notice: str | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    sp: ServiceProvider | None = None
    unavailable = None
    try:
        sp = ServiceProvider.of(console.settings.public_url, session.admin.tenant_id)
    except ProviderError as exc:
        unavailable = str(exc)
    moment = datetime.now(UTC)
    certificates = []
    if provider is not None:
        for certificate in provider.certificates:
            expires = certificate.expires_at
            state = (
                "expired"
                if expires <= moment
                else "expiring"
                if expires - moment <= EXPIRY_WARNING
                else "valid"
            )
            certificates.append(_Certificate(certificate.thumbprint, expires, state))
    return console.render(
        request,
        "sso.html",
        {
            "title": "Single sign-on: Microsoft Entra ID",
            "sp": sp,
            "unavailable": unavailable,
            "provider": provider,
            "first_expiry": None if provider is None else provider.first_expiry(),
            "certificates": certificates,
            "notice": notice,
            "problem": problem,
            "max_kib": MAX_DOCUMENT_BYTES // 1024,
            "upload_action": SSO_METADATA,
        },
        status_code=status_code,
        session=session,
    )
