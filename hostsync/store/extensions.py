"""The extension schemas each tenant declares (hostsync.scim.extensions), kept in SQL.

One row of ``tenant_extensions`` per declared URN. Every change (a declaration, attributes
added to one, a removal) bumps the tenant's ``extensions_version`` and announces itself on
the key signal (store/key_signal.py) in the same transaction: a credential carries the
version it was looked up with (store/tenants.py), so once the change commits every server
process looks the key up again, sees the new version and rebuilds the tenant's registry
(web/registries.py). A tenant whose version is 0 never declared anything and is served the
built-in registry with no read at all.

Removing a declaration stops publishing and accepting its attributes; values already stored
stay in the users' documents (declaring the URN again brings them back into ``schemas``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hostsync.scim.extensions import (
    Declaration,
    DeclarationError,
    DeclaredAttribute,
    Registry,
    attribute_type,
    canonical_urn,
    merged,
    registry_for,
)
from hostsync.store.clock import now
from hostsync.store.key_signal import announce
from hostsync.store.tables import tenant_extensions, tenants
from hostsync.store.tenants import get_tenant


def _attributes_json(attributes: Sequence[DeclaredAttribute]) -> list[dict[str, Any]]:
    return [
        {
            "name": attribute.name,
            "type": attribute.type.value,
            "caseExact": attribute.case_exact,
            "description": attribute.description,
        }
        for attribute in attributes
    ]


def _declaration(urn: str, description: str, attributes: Any) -> Declaration:
    return Declaration(
        urn,
        tuple(
            DeclaredAttribute(
                str(item["name"]),
                attribute_type(str(item["type"])),
                bool(item.get("caseExact", False)),
                str(item.get("description", "")),
            )
            for item in attributes
        ),
        description,
    )


def declarations(connection: Connection, tenant_id: str) -> list[Declaration]:
    """The tenant's declarations, oldest first (the order ``/Schemas`` lists them in)."""
    rows = connection.execute(
        select(
            tenant_extensions.c.urn, tenant_extensions.c.description, tenant_extensions.c.attributes
        )
        .where(tenant_extensions.c.tenant_id == tenant_id)
        .order_by(tenant_extensions.c.created_at, tenant_extensions.c.urn_key)
    )
    return [_declaration(row.urn, row.description, row.attributes) for row in rows]


def tenant_registry(connection: Connection, tenant_id: str) -> tuple[int, Registry]:
    """The tenant's extensions version and registry, read in one transaction."""
    version = connection.execute(
        select(tenants.c.extensions_version).where(tenants.c.id == tenant_id)
    ).scalar()
    if not version:
        return 0, registry_for(())
    return int(version), registry_for(declarations(connection, tenant_id))


def declare(
    connection: Connection,
    tenant_id: str,
    urn: str,
    attributes: Sequence[DeclaredAttribute],
    description: str = "",
) -> Declaration:
    """Declare ``urn`` for the tenant with ``attributes``, or add them to its declaration.

    :class:`DeclarationError` for a URN, name or type against the rules
    (hostsync.scim.extensions) or a name the extension declares already;
    :class:`~hostsync.store.tenants.TenantError` for an unknown tenant. Nothing is written
    unless everything is valid.
    """
    get_tenant(connection, tenant_id)
    canonical = canonical_urn(urn)
    key = canonical.lower()
    row = connection.execute(
        select(
            tenant_extensions.c.urn, tenant_extensions.c.description, tenant_extensions.c.attributes
        )
        .where(tenant_extensions.c.tenant_id == tenant_id, tenant_extensions.c.urn_key == key)
        .with_for_update()  # PostgreSQL: two additions to one declaration take turns
    ).first()
    existing = None if row is None else _declaration(row.urn, row.description, row.attributes)
    declaration = merged(
        existing, canonical if existing is None else existing.urn, attributes, description
    )
    moment = now()
    values = {
        "description": declaration.description,
        "attributes": _attributes_json(declaration.attributes),
        "modified_at": moment,
    }
    if existing is None:
        try:
            connection.execute(
                insert(tenant_extensions).values(
                    tenant_id=tenant_id,
                    urn_key=key,
                    urn=declaration.urn,
                    created_at=moment,
                    **values,
                )
            )
        except IntegrityError:  # declared by another transaction since the read above
            raise DeclarationError(
                f"{declaration.urn} was declared meanwhile; run the command again"
            ) from None
    else:
        connection.execute(
            update(tenant_extensions)
            .where(tenant_extensions.c.tenant_id == tenant_id, tenant_extensions.c.urn_key == key)
            .values(**values)
        )
    _changed(connection, tenant_id)
    return declaration


def remove_declaration(connection: Connection, tenant_id: str, urn: str) -> Declaration:
    """Remove the tenant's declaration of ``urn``; return what it declared.

    :class:`DeclarationError` if the tenant has not declared it (or the URN is malformed);
    stored values stay in the documents (module doc).
    """
    get_tenant(connection, tenant_id)
    key = urn.strip().lower()
    row = connection.execute(
        select(
            tenant_extensions.c.urn, tenant_extensions.c.description, tenant_extensions.c.attributes
        ).where(tenant_extensions.c.tenant_id == tenant_id, tenant_extensions.c.urn_key == key)
    ).first()
    if row is None:
        canonical_urn(urn)  # a malformed URN is reported as such
        raise DeclarationError(f"the tenant has not declared '{urn.strip()[:120]}'")
    connection.execute(
        delete(tenant_extensions).where(
            tenant_extensions.c.tenant_id == tenant_id, tenant_extensions.c.urn_key == key
        )
    )
    _changed(connection, tenant_id)
    return _declaration(row.urn, row.description, row.attributes)


def _changed(connection: Connection, tenant_id: str) -> None:
    """Bump the tenant's version and void every process's cached credentials at the commit."""
    connection.execute(
        update(tenants)
        .where(tenants.c.id == tenant_id)
        .values(extensions_version=tenants.c.extensions_version + 1)
    )
    announce(connection)
