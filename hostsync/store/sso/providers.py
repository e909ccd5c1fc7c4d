"""Each tenant's SAML identity provider, and who a signed assertion names in the tenant.

The identity provider is saved whole (replacing the previous one: a new metadata file after
a certificate rollover). An assertion names a console administrator of the tenant when its
NameID or one of its e-mail claims is the administrator's e-mail, compared case-folded.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, insert, select, update

from hostsync.sso import IdentityProvider
from hostsync.sso.certificates import from_pem_bundle, to_pem_bundle
from hostsync.store.activity import records
from hostsync.store.activity.recording import RequestContext
from hostsync.store.admin_tables import admins
from hostsync.store.admins import Admin
from hostsync.store.clock import now
from hostsync.store.sso.tables import saml_providers
from hostsync.store.tenants import get_tenant


def save_provider(connection: Connection, tenant_id: str, provider: IdentityProvider) -> None:
    """Set the tenant's identity provider (:class:`TenantError` for an unknown tenant)."""
    get_tenant(connection, tenant_id)
    moment = now()
    values = {
        "idp_entity_id": provider.entity_id,
        "login_url": provider.login_url,
        "certificates": to_pem_bundle(provider.certificates),
        "allow_sha1": provider.allow_sha1,
        "metadata_url": provider.metadata_url,
        "modified_at": moment,
    }
    existing = connection.execute(
        select(saml_providers.c.tenant_id).where(saml_providers.c.tenant_id == tenant_id)
    ).first()
    if existing is None:
        connection.execute(
            insert(saml_providers).values(tenant_id=tenant_id, created_at=moment, **values)
        )
    else:
        connection.execute(
            update(saml_providers).where(saml_providers.c.tenant_id == tenant_id).values(**values)
        )


def load_provider(connection: Connection, tenant_id: str) -> IdentityProvider | None:
    """The tenant's identity provider, or None when single sign-on is not set up."""
    row = connection.execute(
        select(saml_providers).where(saml_providers.c.tenant_id == tenant_id)
    ).first()
    if row is None:
        return None
    return IdentityProvider(
        row.idp_entity_id,
        row.login_url,
        from_pem_bundle(row.certificates),
        allow_sha1=bool(row.allow_sha1),
        metadata_url=row.metadata_url,
    )


def admin_named(connection: Connection, tenant_id: str, names: Iterable[str]) -> Admin | None:
    """The tenant's administrator whose e-mail is one of ``names`` (first name first)."""
    folded = [name.strip().casefold() for name in names if name.strip()][:8]
    if not folded:
        return None
    rows = connection.execute(
        select(admins.c.id, admins.c.tenant_id, admins.c.email, admins.c.email_folded).where(
            admins.c.tenant_id == tenant_id, admins.c.email_folded.in_(folded)
        )
    ).all()
    by_name = {row.email_folded: row for row in rows}
    for name in folded:
        row = by_name.get(name)
        if row is not None:
            return Admin(row.id, row.tenant_id, row.email)
    return None


def record_sso_sign_in(connection: Connection, admin: Admin) -> None:
    """Note an administrator's single sign-on (the console lists the last sign-in)."""
    connection.execute(
        update(admins)
        .where(admins.c.id == admin.id, admins.c.tenant_id == admin.tenant_id)
        .values(last_sign_in_at=now())
    )


def record_refusal(
    connection: Connection,
    tenant_id: str,
    context: RequestContext,
    *,
    reason: str,
    message: str,
    status: int,
    address: str,
    name: str | None = None,
) -> None:
    """An activity row for a refused single sign-on: the reason, never the response itself.

    ``name`` is who a verified assertion named (None while no signature vouched for one).
    """
    records.audit(
        connection,
        tenant_id,
        context,
        "sso-refused",
        resource_type="Admin",
        resource_name=name[:320] if name else None,
        status=status,
        detail=f"SAML {reason} from {address}: {message}"[:1000],
    )
