"""Tenants and their API keys.

An API key is ``hsk_`` followed by 43 URL-safe characters (256 random bits). Only its SHA-256
digest is stored: the key is high-entropy, so a fast digest is as safe as a slow password hash
and lets every request be authenticated by one indexed lookup. The digest found is compared to
the presented one with :func:`hmac.compare_digest`. A key is shown once, when created.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from hostsync.store.clock import now
from hostsync.store.key_signal import announce
from hostsync.store.tables import api_keys, tenants

KEY_PREFIX = "hsk_"
_SHOWN_PREFIX = 12
_LAST_USED_GRANULARITY = timedelta(minutes=1)


class TenantError(LookupError):
    """A tenant or key named by an administrator does not exist (or a name is ambiguous)."""


class DuplicateTenantError(ValueError):
    """A tenant with this name exists: names are unique, so a name can stand for its tenant."""


@dataclass(frozen=True, slots=True)
class Tenant:
    """A company whose host directory this server keeps."""

    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's metadata; the key itself is never stored."""

    id: str
    tenant_id: str
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Credential:
    """Who a valid API key authenticates: the tenant and the key."""

    tenant_id: str
    key_id: str
    last_used_at: datetime | None
    extensions_version: int = 0
    """The version of the tenant's declared extensions when the key was looked up
    (store/extensions.py); 0: it never declared any."""


def digest(key: str) -> str:
    """SHA-256 of the key, hex-encoded."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_tenant(connection: Connection, name: str, *, refuse_duplicate: bool = False) -> Tenant:
    """Create a tenant named ``name``.

    With ``refuse_duplicate`` (the commands), :class:`DuplicateTenantError` if a tenant has that
    name already, so that a name can stand for its tenant; a name that several tenants share
    anyway is refused as ambiguous by :func:`resolve_tenant`, never resolved to one of them.
    """
    name = name.strip()
    if not name:
        raise ValueError("a tenant needs a non-empty name")
    existing = _tenants_named(connection, name) if refuse_duplicate else []
    if existing:
        raise DuplicateTenantError(
            f"a tenant named '{name[:80]}' exists (id {existing[0].id}); choose another name"
        )
    tenant = Tenant(uuid.uuid4().hex, name, now())
    connection.execute(
        insert(tenants).values(id=tenant.id, name=tenant.name, created_at=tenant.created_at)
    )
    return tenant


def get_tenant(connection: Connection, tenant_id: str) -> Tenant:
    """Return the tenant, or raise :class:`TenantError`."""
    row = connection.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
    if row is None:
        raise TenantError(f"no tenant has the id '{tenant_id}'")
    return Tenant(row.id, row.name, row.created_at)


def find_tenant_by_name(connection: Connection, name: str) -> Tenant | None:
    """Return the oldest tenant with this name, if any."""
    found = _tenants_named(connection, name)
    return found[0] if found else None


def _tenants_named(connection: Connection, name: str) -> list[Tenant]:
    rows = connection.execute(
        select(tenants).where(tenants.c.name == name).order_by(tenants.c.created_at).limit(10)
    )
    return [Tenant(row.id, row.name, row.created_at) for row in rows]


def resolve_tenant(connection: Connection, id_or_name: str) -> Tenant:
    """The tenant whose id, else whose name, is ``id_or_name``.

    :class:`TenantError` if none matches, or if several tenants share the name (created before
    names were unique): the message lists their ids, and no tenant is picked silently.
    """
    try:
        return get_tenant(connection, id_or_name)
    except TenantError:
        pass
    found = _tenants_named(connection, id_or_name.strip())
    if not found:
        raise TenantError(f"no tenant has the id or name '{id_or_name[:80]}'")
    if len(found) > 1:
        ids = ", ".join(tenant.id for tenant in found)
        raise TenantError(
            f"several tenants are named '{id_or_name[:80]}' (ids {ids}); give the id instead"
        )
    return found[0]


def create_key(connection: Connection, tenant_id: str, label: str) -> tuple[ApiKey, str]:
    """Create an API key for the tenant; return its metadata and the key (shown once)."""
    get_tenant(connection, tenant_id)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    meta = ApiKey(
        id=uuid.uuid4().hex,
        tenant_id=tenant_id,
        label=label,
        prefix=key[:_SHOWN_PREFIX],
        created_at=now(),
        last_used_at=None,
        revoked_at=None,
    )
    connection.execute(
        insert(api_keys).values(
            id=meta.id,
            tenant_id=tenant_id,
            label=label,
            prefix=meta.prefix,
            digest=digest(key),
            created_at=meta.created_at,
        )
    )
    announce(connection, revocation=False)  # void any refusal of it that a process cached
    return meta, key


def list_keys(connection: Connection, tenant_id: str) -> list[ApiKey]:
    """Return the tenant's keys, newest first, revoked ones included."""
    get_tenant(connection, tenant_id)
    rows = connection.execute(
        select(api_keys)
        .where(api_keys.c.tenant_id == tenant_id)
        .order_by(api_keys.c.created_at.desc())
    )
    return [
        ApiKey(r.id, r.tenant_id, r.label, r.prefix, r.created_at, r.last_used_at, r.revoked_at)
        for r in rows
    ]


def revoke_key(connection: Connection, tenant_id: str, key_id: str) -> None:
    """Revoke one of the tenant's keys; raise :class:`TenantError` if it has no such key.

    The same transaction announces the change (store/key_signal.py): once it commits, no
    server process answers the key from its cache any more.
    """
    result = connection.execute(
        update(api_keys)
        .where(
            api_keys.c.tenant_id == tenant_id,
            api_keys.c.id == key_id,
            api_keys.c.revoked_at.is_(None),
        )
        .values(revoked_at=now())
    )
    if not result.rowcount:
        known = connection.execute(
            select(api_keys.c.id).where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
        ).first()
        if known is None:
            raise TenantError(f"tenant '{tenant_id}' has no key '{key_id}'")
        return
    announce(connection)


def authenticate(connection: Connection, key: str) -> Credential | None:
    """Return the credential for a valid, unrevoked key, or None."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    presented = digest(key)
    row = connection.execute(
        select(
            api_keys.c.id,
            api_keys.c.tenant_id,
            api_keys.c.digest,
            api_keys.c.last_used_at,
            tenants.c.extensions_version,
        )
        .join(tenants, tenants.c.id == api_keys.c.tenant_id)
        .where(api_keys.c.digest == presented, api_keys.c.revoked_at.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row.digest, presented):
        return None
    return Credential(row.tenant_id, row.id, row.last_used_at, int(row.extensions_version or 0))


@dataclass(frozen=True, slots=True)
class PresentedKey:
    """The key a refused token names: the key itself (revoked) or one with its shown prefix."""

    tenant_id: str
    key_id: str
    label: str
    prefix: str
    revoked: bool
    """The token is this key, revoked; False: it only starts like it (unknown key)."""


def find_presented_key(connection: Connection, key: str) -> PresentedKey | None:
    """The tenant key that a token which failed to authenticate names, if any.

    Matched on the shown prefix (``hsk_`` and 8 characters, listed in the console); the token
    is that very key if the digests are equal. None for tokens that are not ``hsk_`` keys.
    """
    if not key.startswith(KEY_PREFIX) or len(key) > 200 or len(key) < _SHOWN_PREFIX:
        return None
    presented = digest(key)
    rows = connection.execute(
        select(
            api_keys.c.id,
            api_keys.c.tenant_id,
            api_keys.c.label,
            api_keys.c.prefix,
            api_keys.c.digest,
            api_keys.c.revoked_at,
        )
        .where(api_keys.c.prefix == key[:_SHOWN_PREFIX])
        .limit(20)
    ).all()
    if not rows:
        return None
    exact = [row for row in rows if hmac.compare_digest(row.digest, presented)]
    row = exact[0] if exact else rows[0]
    revoked = bool(exact) and row.revoked_at is not None
    return PresentedKey(row.tenant_id, row.id, row.label, row.prefix, revoked)


def mark_used(connection: Connection, key_id: str, last_used_at: datetime | None) -> None:
    """Record use of a key, at most once a minute, so hot paths rarely write."""
    moment = now()
    if last_used_at is not None and moment - last_used_at < _LAST_USED_GRANULARITY:
        return
    connection.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=moment))
