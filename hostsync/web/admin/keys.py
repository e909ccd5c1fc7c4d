"""The API key forms of the Entra page: generate, rotate, revoke.

Each form leaves an activity row and answers 303 to the Entra page (Post/Redirect/Get); a new
key reaches that page once through the session's flash, never through a URL or a cookie.
Rotating keeps the old key working until it is revoked.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hostsync.store import admins as admin_store
from hostsync.store import tenants as tenant_store
from hostsync.store.activity import records
from hostsync.store.clock import now
from hostsync.web.admin.console import AdminConsole
from hostsync.web.admin.flash import Flash
from hostsync.web.admin.integrations import ENTRA_PAGE


def flash_to_entra(console: AdminConsole, session: admin_store.Session, flash: Flash) -> Response:
    """Keep the result for one read and redirect to the Entra page (Post/Redirect/Get)."""
    console.flashes.put(session, flash)
    return RedirectResponse(ENTRA_PAGE, 303)


async def create(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """Generate a key and show it once."""
    label = str(request.state.form.get("label", "")).strip()[:200] or "Microsoft Entra ID"
    tenant_id = session.admin.tenant_id
    context = console.context(request, session.admin.email)

    def insert() -> tuple[str, str]:
        with console.database.connect(write=True) as connection:
            created, key = tenant_store.create_key(connection, tenant_id, label)
            records.audit(
                connection,
                tenant_id,
                context,
                "create",
                resource_type="ApiKey",
                resource_id=created.id,
                resource_name=_shown(created),
            )
            return created.id, key

    key_id, key = await run_in_threadpool(insert)
    return flash_to_entra(
        console,
        session,
        Flash(
            notice=f"Key “{label}” created. Copy it now: it is shown only once.",
            new_key=key,
            new_key_id=key_id,
        ),
    )


async def revoke(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """Revoke a key of the tenant."""
    key_id = request.path_params["key_id"]
    tenant_id = session.admin.tenant_id
    context = console.context(request, session.admin.email)

    def update() -> bool:
        with console.database.connect(write=True) as connection:
            try:
                tenant_store.revoke_key(connection, tenant_id, key_id)
            except tenant_store.TenantError:
                return False
            known = {k.id: k for k in tenant_store.list_keys(connection, tenant_id)}
            revoked = known.get(key_id)
            records.audit(
                connection,
                tenant_id,
                context,
                "revoke",
                resource_type="ApiKey",
                resource_id=key_id,
                resource_name=None if revoked is None else _shown(revoked),
            )
            return True

    if not await run_in_threadpool(update):
        return console.not_found(request, session)
    return flash_to_entra(
        console, session, Flash(notice="Key revoked. Requests using it are refused from now on.")
    )


async def rotate(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """Create a replacement for a key; the old one keeps working until revoked."""
    key_id = request.path_params["key_id"]
    tenant_id = session.admin.tenant_id
    context = console.context(request, session.admin.email)

    def replace() -> tuple[str, str] | None:
        with console.database.connect(write=True) as connection:
            old = next(
                (k for k in tenant_store.list_keys(connection, tenant_id) if k.id == key_id),
                None,
            )
            if old is None or old.revoked_at is not None:
                return None
            label = f"{old.label} (rotated {now():%Y-%m-%d})"[:200]
            created, key = tenant_store.create_key(connection, tenant_id, label)
            records.audit(
                connection,
                tenant_id,
                context,
                "rotate",
                resource_type="ApiKey",
                resource_id=created.id,
                resource_name=_shown(created),
                detail=f"replaces key {old.id} ({old.prefix}…), which keeps working until revoked",
            )
            return created.id, key

    rotated = await run_in_threadpool(replace)
    if rotated is None:
        return console.not_found(request, session)
    return flash_to_entra(
        console,
        session,
        Flash(
            notice="New key created; the old key keeps working until you revoke it. Paste "
            "the new key into your identity provider, test the connection, then revoke the "
            "old one.",
            new_key=rotated[1],
            new_key_id=rotated[0],
            replaced_key_id=key_id,
        ),
    )


def _shown(key: tenant_store.ApiKey) -> str:
    """A key as the activity log names it: its label and shown prefix, never the key."""
    return f"{key.label} ({key.prefix}…)"
