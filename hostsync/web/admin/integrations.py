"""Integrations > Host Synchronization > Microsoft Entra ID: the Tenant URL and the keys.

The page shows a form's result once (the Post/Redirect/Get flash of :mod:`.keys`) and is never
cached, and it warns when the Tenant URL cannot be reached from Entra's cloud.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store import admins as admin_store
from hostsync.store import tenants as tenant_store
from hostsync.web.admin.console import AdminConsole

HOST_SYNCHRONIZATION = "/integrations/host-synchronization"
ENTRA_PAGE = f"{HOST_SYNCHRONIZATION}/entra"


async def to_entra(_request: Request) -> Response:
    """Host Synchronization has one provider page so far: Entra's."""
    return RedirectResponse(ENTRA_PAGE, 303)


async def entra_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """Integrations > Host Synchronization > Microsoft Entra ID (and a form's flash)."""
    tenant_id = session.admin.tenant_id
    flash = console.flashes.take(session)

    def load() -> list[tenant_store.ApiKey]:
        with console.database.connect(write=False) as connection:
            return tenant_store.list_keys(connection, tenant_id)

    keys = await run_in_threadpool(load)
    url = tenant_url(console.settings, request)
    replaced_by = None
    if flash is not None and flash.replaced_key_id:
        replaced_by = next((k for k in keys if k.id == flash.new_key_id), None)
    response = console.render(
        request,
        "entra.html",
        {
            "title": "Microsoft Entra ID",
            "tenant_url": url,
            "unreachable": unreachable_from_cloud(url),
            "active_keys": [k for k in keys if k.revoked_at is None],
            "revoked_keys": [k for k in keys if k.revoked_at is not None],
            "new_key": None if flash is None else flash.new_key,
            "new_key_id": None if flash is None else flash.new_key_id,
            "replaced_key_id": None if flash is None else flash.replaced_key_id,
            "replaced_by": replaced_by,
            "notice": None if flash is None else flash.notice,
        },
        session=session,
    )
    response.headers["Cache-Control"] = "no-store"  # a one-time key is never cached
    return response


def tenant_url(settings: Settings, request: Request) -> str:
    """The SCIM base URL to paste into the identity provider."""
    if settings.public_url:
        return settings.public_url.rstrip("/") + SCIM_PREFIX
    return f"{request.url.scheme}://{request.url.netloc}{SCIM_PREFIX}"


def unreachable_from_cloud(url: str) -> str | None:
    """Why a cloud provisioning service cannot call ``url``, or None when it may.

    Entra's provisioning service runs in Microsoft's cloud: it needs ``https:`` and a public
    host name or address. Loopback, private, link-local and ``.local``/``.localhost`` hosts
    and plain ``http:`` are refused (docs/deploy.md explains how to expose the server).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_reserved
    ):
        return f"{host} is a loopback or private address"
    if address is None and (
        host in {"localhost", ""}
        or host.endswith((".localhost", ".local", ".internal", ".lan", ".home.arpa"))
        or "." not in host
    ):
        return f"{host or 'the host'} is not a public host name"
    if parts.scheme != "https":
        return "the address uses http:, and Entra requires https:"
    return None
